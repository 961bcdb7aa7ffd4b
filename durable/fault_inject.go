//go:build faultinject

package durable

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Built with -tags faultinject, Fault counts the durable writes of the
// process and kills it with SIGKILL just before the Nth one, as a power
// cut or kill -9 would: no deferred function runs, nothing is closed.
//
//	FRONTDESK_FAULT_AT=N        die before the Nth write (1-based); 0 or unset: never
//	FRONTDESK_FAULT_POINT=NAME  count only the points named NAME or NAME.*
//	FRONTDESK_FAULT_LOG=1       print every counted point to stderr
//
// Point names: store.file, store.dir, store.commit, store.remove,
// durable.file, durable.dir, queue.commit, tickets.commit, calls.commit.
var fault = struct {
	sync.Mutex
	at     int
	filter string
	log    bool
	n      int
}{}

func init() {
	fault.at, _ = strconv.Atoi(os.Getenv("FRONTDESK_FAULT_AT"))
	fault.filter = os.Getenv("FRONTDESK_FAULT_POINT")
	fault.log = os.Getenv("FRONTDESK_FAULT_LOG") != ""
}

// Fault counts one durable write named point and kills the process when
// it is the chosen one.
func Fault(point string) {
	if fault.filter != "" && point != fault.filter && !strings.HasPrefix(point, fault.filter+".") {
		return
	}
	// The lock is held through the kill so no other write slips past it.
	fault.Lock()
	defer fault.Unlock()
	fault.n++
	if fault.log || fault.n == fault.at {
		fmt.Fprintf(os.Stderr, "faultinject: point %d %s\n", fault.n, point)
	}
	if fault.n == fault.at {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way; never return to the write
	}
}
