package e2e

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"
)

// newAliceServer starts a server with example.test and alice in it.
func newAliceServer(t testing.TB) *server {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	srv := startServer(t, data)
	mustFrontdesk(t, "", "domain", "add", "example.test", "--data", data)
	mustFrontdesk(t, alicePass+"\n", "user", "add", "alice@example.test", "--password-stdin", "--data", data)
	return srv
}

func deliver(t testing.TB, addr, subject string) {
	t.Helper()
	deliverRaw(t, addr, "From: carol@outside.test\r\nTo: alice@example.test\r\nSubject: "+subject+"\r\n\r\nhi\r\n")
}

// deliverRaw sends a message to alice through the MX.
func deliverRaw(t testing.TB, addr, msg string) {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendMail("carol@outside.test", []string{"alice@example.test"}, strings.NewReader(msg)); err != nil {
		t.Fatalf("deliver: %v", err)
	}
}

// TestLiveUpdates: a client in IDLE hears of new mail, and flags set by
// one session reach another.
func TestLiveUpdates(t *testing.T) {
	srv := newAliceServer(t)
	deliver(t, srv.addr("smtp"), "first")

	exists := make(chan uint32, 16)
	flags := make(chan []imap.Flag, 16)
	watcher, err := imapclient.DialInsecure(srv.addr("imap"), &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					exists <- *d.NumMessages
				}
			},
			Fetch: func(m *imapclient.FetchMessageData) {
				if buf, err := m.Collect(); err == nil && buf.Flags != nil {
					flags <- buf.Flags
				}
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close()
	if err := watcher.Login("alice@example.test", alicePass).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := watcher.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := watcher.Idle()
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	deliver(t, srv.addr("smtp"), "second")
	select {
	case n := <-exists:
		if n != 2 {
			t.Errorf("EXISTS %d, want 2", n)
		}
		t.Logf("EXISTS reached the idling client %v after the 250", time.Since(start))
	case <-time.After(10 * time.Second):
		t.Fatal("no EXISTS in IDLE after delivery")
	}

	other := imapLogin(t, srv.addr("imap"), "alice@example.test", alicePass, "INBOX")
	if err := other.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case f := <-flags:
		if !bytes.Contains([]byte(flagString(f)), []byte(`\Flagged`)) {
			t.Errorf("FETCH FLAGS %v lacks \\Flagged", f)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("flags set by another session never reached the idling client")
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
}

func flagString(fs []imap.Flag) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(string(f) + " ")
	}
	return b.String()
}
