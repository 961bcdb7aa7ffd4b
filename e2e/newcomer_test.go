package e2e

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const alicePass = "correct horse battery"

// The message swaks sends; CRLF throughout, as on the wire.
const welcome = "From: Carol <carol@outside.test>\r\n" +
	"To: Alice <alice@example.test>\r\n" +
	"Subject: Welcome aboard\r\n" +
	"Date: Sat, 21 Nov 2026 10:00:00 +0000\r\n" +
	"Message-ID: <welcome-1@outside.test>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"\r\n" +
	"Hello Alice,\r\n" +
	"..a line that starts with a dot, and UTF-8: café 你好.\r\n" +
	"\r\n" +
	"Carol\r\n"

// TestNewcomerPath is the first hour of a new admin and their first user:
// a fresh data directory, serve, a domain and a user added while the
// server runs, mail in over SMTP, read with imaplib, synced with mbsync,
// read again with curl.
func TestNewcomerPath(t *testing.T) {
	swaks := needTool(t, "swaks")
	mbsync := needTool(t, "mbsync")
	curl := needTool(t, "curl")

	data := filepath.Join(t.TempDir(), "data")
	srv := startServer(t, data)

	if out, err := frontdesk(t, "", "domian", "add", "example.test", "--data", data); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Errorf("a mistyped command: err = %v, out %q; want a clear unknown-command error", err, out)
	}
	out := mustFrontdesk(t, "", "domain", "add", "example.test", "--data", data)
	if !strings.Contains(out, "example.test") {
		t.Errorf("domain add printed %q", out)
	}
	out = mustFrontdesk(t, alicePass+"\n", "user", "add", "alice@example.test", "--password-stdin", "--data", data)
	if !strings.Contains(out, "alice@example.test") {
		t.Errorf("user add printed %q", out)
	}
	if !strings.Contains(srv.Log(), `cmd="user add" code=0`) {
		t.Errorf("user add did not go through the running server's control socket:\n%s", srv.Log())
	}

	// swaks delivers to alice over the MX port.
	msgFile := filepath.Join(t.TempDir(), "welcome.eml")
	// swaks ends DATA with CRLF "." CRLF after the file's last byte, so the
	// file leaves out the final CRLF that the message keeps.
	os.WriteFile(msgFile, []byte(strings.TrimSuffix(welcome, "\r\n")), 0o600)
	host, port, _ := net.SplitHostPort(srv.addr("smtp"))
	out, err := runTool(t, nil, swaks, "--server", host, "--port", port, "--from", "carol@outside.test",
		"--to", "alice@example.test", "--data", msgFile, "--helo", "outside.test")
	if err != nil || !strings.Contains(out, "<-  250 ") {
		t.Fatalf("swaks: %v\n%s", err, out)
	}

	// imaplib: FETCH BODY[] is the message byte for byte below the trace headers.
	imapHost, imapPort, _ := net.SplitHostPort(srv.addr("imap"))
	got, err := python(t, `
import imaplib, sys
m = imaplib.IMAP4(sys.argv[1], int(sys.argv[2]))
m.login("alice@example.test", sys.argv[3])
typ, data = m.select("INBOX")
assert typ == "OK" and data[0] == b"1", (typ, data)
typ, data = m.fetch("1", "(BODY[])")
assert typ == "OK", typ
sys.stdout.buffer.write(data[0][1])
m.logout()
`, imapHost, imapPort, alicePass)
	if err != nil {
		t.Fatalf("imaplib: %v\n%s", err, got)
	}
	if body := bodyBelowTrace([]byte(got)); !bytes.Equal(body, []byte(welcome)) {
		t.Fatalf("FETCH BODY[] below trace headers differs:\n got %q\nwant %q", body, welcome)
	}
	if trace := got[:len(got)-len(welcome)]; !strings.Contains(trace, "Received: from outside.test") || !strings.Contains(trace, "Authentication-Results: mx.example.test") {
		t.Errorf("trace headers lack Received or Authentication-Results: %q", trace)
	}

	// mbsync pulls the account into a Maildir, then pushes a local message.
	home := t.TempDir()
	maildir := filepath.Join(home, "Mail")
	os.MkdirAll(maildir, 0o700)
	rc := fmt.Sprintf(`IMAPAccount frontdesk
Host %s
Port %s
User alice@example.test
Pass "%s"
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account frontdesk

MaildirStore local
Path %s/
Inbox %s/INBOX
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
`, imapHost, imapPort, alicePass, maildir, maildir)
	rcFile := filepath.Join(home, "mbsyncrc")
	os.WriteFile(rcFile, []byte(rc), 0o600)
	if out, err := runTool(t, nil, mbsync, "-c", rcFile, "-a"); err != nil {
		t.Fatalf("mbsync pull: %v\n%s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(maildir, "INBOX", "cur", "*"))
	newFiles, _ := filepath.Glob(filepath.Join(maildir, "INBOX", "new", "*"))
	files = append(files, newFiles...)
	if len(files) != 1 {
		t.Fatalf("Maildir INBOX holds %d messages after sync, want 1", len(files))
	}
	local, _ := os.ReadFile(files[0])
	if !bytes.Contains(local, []byte("Subject: Welcome aboard")) {
		t.Errorf("synced message lacks the subject: %q", local)
	}
	for _, special := range []string{"Sent", "Drafts", "Junk", "Trash", "Archive"} {
		if _, err := os.Stat(filepath.Join(maildir, special)); err != nil {
			t.Errorf("special-use folder %s not synced: %v", special, err)
		}
	}

	draft := "From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: Written offline\r\nDate: Sat, 21 Nov 2026 11:00:00 +0000\r\nMessage-ID: <offline-1@example.test>\r\n\r\nComposed on the train.\r\n"
	os.WriteFile(filepath.Join(maildir, "INBOX", "new", "1763722800.M1P1.laptop"), []byte(draft), 0o600)
	if out, err := runTool(t, nil, mbsync, "-c", rcFile, "-a"); err != nil {
		t.Fatalf("mbsync push: %v\n%s", err, out)
	}

	// curl reads the pushed message over imap://.
	url := fmt.Sprintf("imap://%s:%s/INBOX;UID=2", imapHost, imapPort)
	out, err = runTool(t, nil, curl, "-sS", "--max-time", "30", "-u", "alice@example.test:"+alicePass, url)
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	if !strings.Contains(out, "Composed on the train.") || !strings.Contains(out, "Subject: Written offline") {
		t.Errorf("curl read %q, want the message pushed by mbsync", out)
	}
	out, err = runTool(t, nil, curl, "-sS", "--max-time", "30", "-u", "alice@example.test:"+alicePass,
		fmt.Sprintf("imap://%s:%s/INBOX;UID=1", imapHost, imapPort))
	if err != nil || !strings.Contains(out, "Subject: Welcome aboard") {
		t.Errorf("curl UID 1: %v %q", err, out)
	}
}
