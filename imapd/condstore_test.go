package imapd

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// runPython runs a client script from testdata against e; it must print
// "done" last.
func runPython(t *testing.T, e *testEnv, script string) {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("python3 is required in CI")
		}
		t.Skip("python3 not installed")
	}
	host, port, _ := net.SplitHostPort(e.addr)
	out, err := exec.Command(py, script, host, port, testUser, testPass).CombinedOutput()
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "done") {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
}

// TestCondStoreQResync drives CONDSTORE and QRESYNC (RFC 7162) over raw
// sockets: MODSEQ in FETCH, STORE and SEARCH, UNCHANGEDSINCE conflicts,
// STATUS HIGHESTMODSEQ, and a QRESYNC resync after flag changes, expunges
// and moves made by another session.
func TestCondStoreQResync(t *testing.T) {
	e := newTestEnv(t)
	for i := 1; i <= 5; i++ {
		e.deliver(t, "INBOX", msg("message "+string(rune('0'+i)), "bob@example.org", "body"))
	}
	runPython(t, e, "testdata/condstore_client.py")
}
