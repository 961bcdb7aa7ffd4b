package imapd

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"frontdesk/store"
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

// Without tombstones old enough, VANISHED (EARLIER) names every UID of the
// set that is not in the mailbox; with them, only the expunged ones, and
// never a message the client still counts.
func TestVanishedSince(t *testing.T) {
	v := &selected{msgs: []viewMsg{{uid: 1}, {uid: 3}, {uid: 5, gone: true}}, maxUID: 6}
	all := imap.UIDSet{{Start: 1, Stop: 0}}
	if got := v.vanishedSince(&store.Changes{Complete: false}, all).String(); got != "2,4,6" {
		t.Errorf("without tombstones: %s, want 2,4,6", got)
	}
	if got := v.vanishedSince(&store.Changes{Complete: true, Vanished: []uint32{2, 3, 5, 6}}, all).String(); got != "2,6" {
		t.Errorf("with tombstones: %s, want 2,6", got)
	}
	if got := v.vanishedSince(&store.Changes{Complete: true, Vanished: []uint32{2, 6}}, imap.UIDSet{{Start: 3, Stop: 6}}).String(); got != "6" {
		t.Errorf("within 3:6: %s, want 6", got)
	}
}
