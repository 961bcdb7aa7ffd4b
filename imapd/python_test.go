package imapd

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPythonImaplib drives the server with a client we did not write.
func TestPythonImaplib(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("python3 is required in CI")
		}
		t.Skip("python3 not installed")
	}
	e := newTestEnv(t)
	raw := msg("hello from python", "bob@example.org", "imaplib says hi")
	e.deliver(t, "INBOX", raw)
	bodyPath := filepath.Join(t.TempDir(), "body.eml")
	if err := os.WriteFile(bodyPath, []byte(raw), 0o600); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(e.addr)
	out, err := exec.Command(py, "testdata/imaplib_client.py", host, port, testUser, testPass, bodyPath).CombinedOutput()
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "done") {
		t.Fatalf("imaplib client: %v\n%s", err, out)
	}
}

// TestPythonRFC checks \Recent, ID, CLOSE after EXAMINE, MOVE into the
// selected mailbox, subscriptions and keyword announcements with imaplib.
func TestPythonRFC(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("python3 is required in CI")
		}
		t.Skip("python3 not installed")
	}
	e := newTestEnv(t)
	e.deliver(t, "INBOX", msg("one", "bob@example.org", "1"))
	e.deliver(t, "INBOX", msg("two", "bob@example.org", "2"), `\Deleted`)
	host, port, _ := net.SplitHostPort(e.addr)
	out, err := exec.Command(py, "testdata/rfc_client.py", host, port, testUser, testPass).CombinedOutput()
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "done") {
		t.Fatalf("imaplib client: %v\n%s", err, out)
	}
}
