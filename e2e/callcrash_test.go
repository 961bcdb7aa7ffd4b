package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestCrashDuringCall kills the server with SIGKILL while a caller it
// answered is in the IVR. After a restart `calls list` shows the call once,
// as interrupted, and it is on the caller's ticket: a call answered always
// leaves a record.
func TestCrashDuringCall(t *testing.T) {
	srv := newAliceServer(t)
	const caller = "+15550999"
	call := startSipp(t, srv.addr("sip"), "caller_hold", freeUDPPort(t), "-s", "100", "-key", "caller", caller, "-d", "30000")
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(srv.Log(), `msg="call answered"`); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the call was not answered:\n%s\n%s", srv.Log(), tailOf(call.out.String()))
		}
	}
	srv.kill()

	srv = startServer(t, srv.data)
	calls := mustFrontdesk(t, "", "calls", "list", "--data", srv.data)
	if n := strings.Count(calls, caller); n != 1 || !strings.Contains(calls, "interrupted") {
		t.Errorf("after the crash calls list shows the answered call %d times (want once, interrupted):\n%s", n, calls)
	}
	tickets := mustFrontdesk(t, "", "tickets", "list", "--data", srv.data)
	if n := strings.Count(tickets, "Call from "+caller); n != 1 {
		t.Errorf("the call is on %d tickets:\n%s", n, tickets)
	}
	// A second restart adds nothing: the record was handed on once.
	srv.stop()
	srv = startServer(t, srv.data)
	if again := mustFrontdesk(t, "", "calls", "list", "--data", srv.data); again != calls {
		t.Errorf("calls list changed on a second restart:\n%s\nwas:\n%s", again, calls)
	}
	if again := mustFrontdesk(t, "", "tickets", "list", "--data", srv.data); strings.Count(again, "Call from "+caller) != 1 {
		t.Errorf("tickets after a second restart:\n%s", again)
	}
}
