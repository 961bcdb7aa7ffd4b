package e2e

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

// smtpConv is a raw SMTP conversation, as a hostile client has one.
type smtpConv struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialSMTP(t *testing.T, addr string) *smtpConv {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	s := &smtpConv{t: t, c: c, r: bufio.NewReader(c)}
	s.reply() // greeting
	return s
}

// reply reads one (possibly multi-line) reply and returns its last line.
func (s *smtpConv) reply() string {
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return "EOF: " + err.Error()
		}
		if len(line) < 4 || line[3] != '-' {
			return strings.TrimRight(line, "\r\n")
		}
	}
}

func (s *smtpConv) cmd(format string, args ...any) string {
	fmt.Fprintf(s.c, format+"\r\n", args...)
	return s.reply()
}

// TestBadInput: hostile and broken clients get the right reply, nothing
// partial is stored, and the server keeps serving.
func TestBadInput(t *testing.T) {
	srv := newAliceServer(t)
	mx := srv.addr("smtp")
	header := "From: carol@outside.test\r\nTo: alice@example.test\r\nSubject: %s\r\n\r\n"

	// An overlong command line.
	s := dialSMTP(t, mx)
	if r := s.cmd("EHLO %s", strings.Repeat("x", 5000)); !strings.HasPrefix(r, "500") {
		t.Errorf("overlong line: %q, want 500", r)
	}
	// go-smtp closes the session after that reply, as it cannot know
	// where the client's next command starts; the server itself goes on.
	s.c.Close()

	// A message over SIZE: declared, then sent anyway.
	s = dialSMTP(t, mx)
	s.cmd("EHLO outside.test")
	if r := s.cmd("MAIL FROM:<carol@outside.test> SIZE=999999999"); !strings.HasPrefix(r, "552") {
		t.Errorf("MAIL with SIZE over the limit: %q, want 552", r)
	}
	s.c.Close()

	// NUL bytes in the body.
	s = dialSMTP(t, mx)
	s.cmd("EHLO outside.test")
	s.cmd("MAIL FROM:<carol@outside.test>")
	s.cmd("RCPT TO:<alice@example.test>")
	s.cmd("DATA")
	if r := s.cmd(header+"nul\x00byte\r\n.", "nul"); !strings.HasPrefix(r, "554") {
		t.Errorf("NUL bytes: %q, want 554", r)
	}
	// Malformed MIME is stored as sent: a transport does not judge it.
	s.cmd("MAIL FROM:<carol@outside.test>")
	s.cmd("RCPT TO:<alice@example.test>")
	s.cmd("DATA")
	broken := "Content-Type: multipart/mixed; boundary=\"b\"\r\nSubject: broken mime\r\n\r\n--b\r\nContent-Type: text/plain\r\nno closing boundary, bad base64: ====\r\n"
	if r := s.cmd(broken + "."); !strings.HasPrefix(r, "250") {
		t.Errorf("malformed MIME: %q, want 250", r)
	}
	s.c.Close()

	// A client that drops in the middle of DATA.
	s = dialSMTP(t, mx)
	s.cmd("EHLO outside.test")
	s.cmd("MAIL FROM:<carol@outside.test>")
	s.cmd("RCPT TO:<alice@example.test>")
	s.cmd("DATA")
	fmt.Fprintf(s.c, header+"half of a message\r\n", "dropped")
	s.c.Close()

	// Still serving: a good message gets through, and the mailbox holds
	// exactly the malformed one and the good one.
	deliver(t, mx, "still serving")
	c := imapLogin(t, srv.addr("imap"), "alice@example.test", alicePass, "")
	// The dropped session's DATA may still be in flight on the server;
	// wait for the good message, then check nothing else arrived.
	var subjects []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		var all imap.SeqSet
		all.AddRange(1, 0)
		msgs, err := c.Fetch(all, &imap.FetchOptions{Envelope: true}).Collect()
		if err != nil {
			t.Fatal(err)
		}
		subjects = subjects[:0]
		for _, m := range msgs {
			subjects = append(subjects, m.Envelope.Subject)
		}
		if len(subjects) >= 2 {
			break
		}
	}
	if strings.Join(subjects, "|") != "broken mime|still serving" {
		t.Errorf("INBOX subjects = %q, want the malformed message and the good one only", subjects)
	}
}
