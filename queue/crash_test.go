package queue

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"frontdesk/dnscheck"
	"frontdesk/store"
)

// TestCrashRecovery kills a process running the queue with SIGKILL while
// deliveries are in flight, then reopens its directory: every message
// whose Enqueue returned is delivered at least once.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child process")
	}
	srv := startServer(t, "127.0.0.1", 0, nil)
	srv.dataDelay = 20 * time.Millisecond
	e := newEnv(t, srv.port)
	e.dns.MustAdd(t, "b.test. 300 IN MX 10 mx.b.test.", "mx.b.test. 300 IN A 127.0.0.1")

	const n = 30
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), "QUEUE_CRASH_DIR="+e.dir, "QUEUE_CRASH_STORE="+t.TempDir(),
		"QUEUE_CRASH_DNS="+e.dns.Addr, "QUEUE_CRASH_PORT="+strconv.Itoa(srv.port), "QUEUE_CRASH_N="+strconv.Itoa(n))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]bool{} // subjects whose Enqueue returned
	sc := bufio.NewScanner(out)
	for len(acked) < n && sc.Scan() {
		if subj, ok := strings.CutPrefix(sc.Text(), "queued "); ok {
			acked[subj] = true
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()
	waitFor(t, "some deliveries before the kill", func() bool { return len(srv.messages()) >= 3 })
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no cleanup at all
		t.Fatal(err)
	}
	cmd.Wait()
	if len(acked) != n {
		t.Fatalf("child acknowledged %d of %d messages", len(acked), n)
	}
	before := len(srv.messages())

	e.start()
	waitFor(t, "queue to drain after restart", e.empty)
	got := map[string]int{}
	for _, m := range srv.messages() {
		for _, line := range strings.Split(string(m.data), "\r\n") {
			if subj, ok := strings.CutPrefix(line, "Subject: "); ok {
				got[subj]++
			}
		}
	}
	dups := 0
	for subj := range acked {
		if got[subj] == 0 {
			t.Errorf("%s lost", subj)
		}
		dups += got[subj] - 1
	}
	t.Logf("%d delivered before the kill, %d after; %d duplicates (at-least-once)",
		before, len(srv.messages())-before, dups)
}

// TestCrashChild is the process TestCrashRecovery kills.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv("QUEUE_CRASH_DIR")
	if dir == "" {
		t.Skip("only run by TestCrashRecovery")
	}
	port, _ := strconv.Atoi(os.Getenv("QUEUE_CRASH_PORT"))
	n, _ := strconv.Atoi(os.Getenv("QUEUE_CRASH_N"))
	st, err := store.Open(os.Getenv("QUEUE_CRASH_STORE"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := dnscheck.NewResolver(os.Getenv("QUEUE_CRASH_DNS"))
	if err != nil {
		t.Fatal(err)
	}
	q, err := Open(dir, st, res, Config{Hostname: "out.a.test", OutboundPort: port, PerDestination: 2,
		Retry: []time.Duration{50 * time.Millisecond}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	go q.Run(context.Background())
	for i := range n {
		subj := fmt.Sprintf("crash-%d", i)
		if _, err := q.Enqueue(context.Background(), sender, []string{"bob@b.test"}, testMessage(subj)); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("queued %s\n", subj)
	}
	time.Sleep(time.Minute) // until killed
}
