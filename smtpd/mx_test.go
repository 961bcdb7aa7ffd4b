package smtpd

import (
	"crypto/tls"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
)

func TestEHLOExtensions(t *testing.T) {
	e := newEnv(t, MX, func(c *Config) { c.TLS = testTLS(t) })
	r := dialRaw(t, e.addr)
	msg := r.cmd("EHLO client.example", 250, "Hello client.example")
	for _, want := range []string{"PIPELINING", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "STARTTLS",
		fmt.Sprintf("SIZE %d", DefaultMaxSize)} {
		if !strings.Contains(msg, want) {
			t.Errorf("EHLO lacks %s:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "AUTH") {
		t.Errorf("MX advertises AUTH:\n%s", msg)
	}
	r.cmd("AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABwYXNzd29yZDEyMw==", 502, "submission")
	r.cmd("QUIT", 221, "")
}

// TestDeliverExactBytes checks that the stored message is our Received
// header followed by exactly the client's bytes after dot-unstuffing,
// including bare LF lines, a missing header/body separator and no header.
func TestDeliverExactBytes(t *testing.T) {
	e := newEnv(t, MX, nil)
	cases := []struct{ name, wire, want string }{
		{"plain", "From: bob@remote.test\r\nSubject: hi\r\n\r\nHello\r\n..dot\r\n.\r\n",
			"From: bob@remote.test\r\nSubject: hi\r\n\r\nHello\r\n.dot\r\n"},
		{"bare LF", "Subject: lf\n\nline1\nline2\r\n.\r\n", "Subject: lf\n\nline1\nline2\r\n"},
		{"no separator", "Subject: only header\r\n.\r\n", "Subject: only header\r\n"},
		{"no header", "just a body line\r\n\r\nmore\r\n.\r\n", "just a body line\r\n\r\nmore\r\n"},
		{"bad MIME", "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nbroken\r\n.\r\n",
			"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nbroken\r\n"},
		{"8bit", "Subject: caf\xc3\xa9\r\n\r\n\xff\xfe raw\r\n.\r\n", "Subject: caf\xc3\xa9\r\n\r\n\xff\xfe raw\r\n"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, e.addr)
			r.cmd("EHLO client.example", 250, "")
			r.cmd("MAIL FROM:<bob@remote.test> BODY=8BITMIME", 250, "")
			r.cmd("RCPT TO:<Alice@EXAMPLE.test>", 250, "")
			r.cmd("DATA", 354, "")
			r.send(tc.wire)
			r.expect(250, "2.0.0")
			r.cmd("QUIT", 221, "")

			msgs := e.inbox()
			if len(msgs) != i+1 {
				t.Fatalf("inbox holds %d messages, want %d", len(msgs), i+1)
			}
			hdr, rest := splitReceived(t, msgs[i])
			if string(rest) != tc.want {
				t.Errorf("stored body %q, want %q", rest, tc.want)
			}
			re := regexp.MustCompile(`^Received: from client\.example \((localhost )?\[127\.0\.0\.1\]\)\r\n` +
				`\tby mx\.example\.test \(Frontdesk\) with ESMTP id [0-9a-v]{16}\r\n` +
				`\tfor <alice@example\.test>;\r\n\t[A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [-+]\d{4}\r\n$`)
			if !re.MatchString(hdr) {
				t.Errorf("Received header %q does not match %s", hdr, re)
			}
		})
	}
	logs := e.logs.String()
	if !regexp.MustCompile(`msg=delivered .*id=[0-9a-v]{16} from=bob@remote.test to=alice@example.test size=\d+ tls=false`).MatchString(logs) {
		t.Errorf("no delivery log line:\n%s", logs)
	}
}

func TestGoClientDelivery(t *testing.T) {
	e := newEnv(t, MX, nil)
	body := "From: bob@remote.test\r\nTo: alice@example.test\r\nSubject: go\r\n\r\nvia go-smtp\r\n"
	if err := sendPlain(e.addr, "bob@remote.test", []string{alice}, strings.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	msgs := e.inbox()
	if len(msgs) != 1 {
		t.Fatalf("%d messages stored", len(msgs))
	}
	if _, rest := splitReceived(t, msgs[0]); string(rest) != body {
		t.Errorf("stored %q, want %q", rest, body)
	}
}

func TestRcptRejections(t *testing.T) {
	e := newEnv(t, MX, nil)
	r := dialRaw(t, e.addr)
	r.cmd("EHLO client.example", 250, "")
	r.cmd("MAIL FROM:<bob@remote.test>", 250, "")
	r.cmd("RCPT TO:<nobody@example.test>", 550, "5.1.1 No such user here")
	r.cmd("RCPT TO:<victim@elsewhere.test>", 550, "5.7.1 Relaying denied")
	r.cmd("RCPT TO:<alice@example.test>", 250, "")
	r.cmd("QUIT", 221, "")
	logs := e.logs.String()
	if !strings.Contains(logs, `reason="Relaying denied"`) || !strings.Contains(logs, `reason="No such user here"`) {
		t.Errorf("rejections not logged:\n%s", logs)
	}
}

func TestMaxRecipients(t *testing.T) {
	e := newEnv(t, MX, nil)
	r := dialRaw(t, e.addr)
	r.cmd("EHLO client.example", 250, "")
	r.cmd("MAIL FROM:<bob@remote.test>", 250, "")
	for i := 0; i < MaxRecipients; i++ {
		r.cmd("RCPT TO:<alice@example.test>", 250, "")
	}
	r.cmd("RCPT TO:<alice@example.test>", 452, "4.5.3")
	r.cmd("DATA", 354, "")
	r.send("Subject: many\r\n\r\nx\r\n.\r\n")
	r.expect(250, "")
	// One account named 100 times gets one copy, and "for" is left out.
	msgs := e.inbox()
	if len(msgs) != 1 {
		t.Fatalf("%d copies stored, want 1", len(msgs))
	}
	if hdr, _ := splitReceived(t, msgs[0]); strings.Contains(hdr, "for <") {
		t.Errorf("Received names a recipient of a multi-recipient transaction: %q", hdr)
	}
}

func TestSizeLimit(t *testing.T) {
	e := newEnv(t, MX, func(c *Config) { c.MaxSize = 1000 })
	r := dialRaw(t, e.addr)
	r.cmd("EHLO client.example", 250, "SIZE 1000")
	r.cmd("MAIL FROM:<bob@remote.test> SIZE=5000", 552, "5.3.4")
	r.cmd("MAIL FROM:<bob@remote.test>", 250, "")
	r.cmd("RCPT TO:<alice@example.test>", 250, "")
	r.cmd("DATA", 354, "")
	r.send("Subject: big\r\n\r\n" + strings.Repeat("0123456789012345678901234567890123456789\r\n", 100) + ".\r\n")
	r.expect(552, "5.3.4 Message too big")
	if n := len(e.inbox()); n != 0 {
		t.Fatalf("%d messages stored after 552", n)
	}
	// The session goes on, and a message under the limit passes.
	r.cmd("MAIL FROM:<bob@remote.test>", 250, "")
	r.cmd("RCPT TO:<alice@example.test>", 250, "")
	r.cmd("DATA", 354, "")
	r.send("Subject: small\r\n\r\n" + strings.Repeat("x", 900) + "\r\n.\r\n")
	r.expect(250, "")
	if n := len(e.inbox()); n != 1 {
		t.Fatalf("%d messages stored, want 1", n)
	}
}

func TestNULRejected(t *testing.T) {
	e := newEnv(t, MX, nil)
	r := dialRaw(t, e.addr)
	r.cmd("EHLO client.example", 250, "")
	r.cmd("MAIL FROM:<bob@remote.test>", 250, "")
	r.cmd("RCPT TO:<alice@example.test>", 250, "")
	r.cmd("DATA", 354, "")
	r.send("Subject: nul\r\n\r\nbad\x00byte\r\n.\r\n")
	r.expect(554, "5.6.0")
	r.cmd("NOOP", 250, "")
	if n := len(e.inbox()); n != 0 {
		t.Fatalf("%d messages stored after 554", n)
	}
}

// go-smtp answers an overlong line with 500 and closes that connection;
// the server goes on serving others.
func TestOverlongLine(t *testing.T) {
	e := newEnv(t, MX, nil)
	r := dialRaw(t, e.addr)
	r.cmd("EHLO client.example", 250, "")
	r.cmd("NOOP "+strings.Repeat("a", 3000), 500, "")
	r2 := dialRaw(t, e.addr)
	r2.cmd("EHLO client.example", 250, "")
	r2.cmd("MAIL FROM:<bob@remote.test>", 250, "")
	r2.cmd("RCPT TO:<alice@example.test>", 250, "")
	r2.cmd("DATA", 354, "")
	r2.send("Subject: after\r\n\r\nok\r\n.\r\n")
	r2.expect(250, "")
	// A long line inside DATA refuses the message, stores nothing.
	r3 := dialRaw(t, e.addr)
	r3.cmd("EHLO client.example", 250, "")
	r3.cmd("MAIL FROM:<bob@remote.test>", 250, "")
	r3.cmd("RCPT TO:<alice@example.test>", 250, "")
	r3.cmd("DATA", 354, "")
	r3.send("Subject: long\r\n\r\n" + strings.Repeat("b", 5000) + "\r\n.\r\n")
	r3.expect(500, "")
	if n := len(e.inbox()); n != 1 {
		t.Fatalf("%d messages stored, want 1", n)
	}
}

func TestClientDropsMidData(t *testing.T) {
	e := newEnv(t, MX, nil)
	r := dialRaw(t, e.addr)
	r.cmd("EHLO client.example", 250, "")
	r.cmd("MAIL FROM:<bob@remote.test>", 250, "")
	r.cmd("RCPT TO:<alice@example.test>", 250, "")
	r.cmd("DATA", 354, "")
	r.send("Subject: partial\r\n\r\nhalf a mess")
	r.c.Close()
	e.waitLog("msg=aborted")
	if n := len(e.inbox()); n != 0 {
		t.Fatalf("%d messages stored from an aborted DATA", n)
	}
	if err := sendPlain(e.addr, "bob@remote.test", []string{alice}, strings.NewReader("Subject: next\r\n\r\nok\r\n")); err != nil {
		t.Fatalf("server unusable after a dropped client: %v", err)
	}
	if n := len(e.inbox()); n != 1 {
		t.Fatalf("%d messages stored, want 1", n)
	}
}

// go-smtp always offers CHUNKING; a BDAT chunk cut short by the client
// leaving must not be stored as if whole.
func TestClientDropsMidBDAT(t *testing.T) {
	e := newEnv(t, MX, nil)
	r := dialRaw(t, e.addr)
	r.cmd("EHLO client.example", 250, "CHUNKING")
	r.cmd("MAIL FROM:<bob@remote.test>", 250, "")
	r.cmd("RCPT TO:<alice@example.test>", 250, "")
	r.send("BDAT 10\r\nSubject: x")
	r.expect(250, "Continue")
	r.send("BDAT 100 LAST\r\n\r\nonly part")
	r.c.Close()
	e.waitLog("msg=aborted")
	if n := len(e.inbox()); n != 0 {
		t.Fatalf("%d messages stored from a truncated BDAT", n)
	}
	r2 := dialRaw(t, e.addr)
	r2.cmd("EHLO client.example", 250, "")
	r2.cmd("MAIL FROM:<bob@remote.test>", 250, "")
	r2.cmd("RCPT TO:<alice@example.test>", 250, "")
	r2.send("BDAT 14 LAST\r\nSubject: x\r\n\r\n")
	r2.expect(250, "")
	if n := len(e.inbox()); n != 1 {
		t.Fatalf("%d messages stored, want 1", n)
	}
}

func TestSTARTTLS(t *testing.T) {
	e := newEnv(t, MX, func(c *Config) { c.TLS = testTLS(t) })
	c, err := smtp.DialStartTLS(e.addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.TLSConnectionState(); !ok {
		t.Fatal("not TLS after STARTTLS")
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Error("STARTTLS still advertised inside TLS")
	}
	body := "Subject: tls\r\n\r\nsecret\r\n"
	if err := c.SendMail("bob@remote.test", []string{alice}, strings.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	c.Quit()
	msgs := e.inbox()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	hdr, rest := splitReceived(t, msgs[0])
	if !strings.Contains(hdr, " with ESMTPS id ") || string(rest) != body {
		t.Errorf("got %q + %q", hdr, rest)
	}
	e.waitLog("tls=true")
}

// A panic while handling one client answers 421 to it and leaves the
// server serving others.
func TestPanicRecovered(t *testing.T) {
	e := newEnv(t, Submission, func(c *Config) { c.Outbound = panicOutbound{} })
	c := dialAuth(t, e.addr)
	err := c.SendMail(alice, []string{"bob@remote.test"}, strings.NewReader("From: alice@example.test\r\n\r\nboom\r\n"))
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 421 {
		t.Fatalf("got %v, want 421", err)
	}
	c2 := dialAuth(t, e.addr)
	if err := c2.SendMail(alice, []string{alice}, strings.NewReader("From: alice@example.test\r\n\r\nfine\r\n")); err != nil {
		t.Fatal(err)
	}
	e.waitLog("smtp panic")
	if n := len(e.inbox()); n != 1 {
		t.Fatalf("%d messages stored, want 1", n)
	}
}
