package smtpd

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"frontdesk/authn"
)

// fakeOutbound records what submission hands to the queue.
type fakeOutbound struct {
	mu   sync.Mutex
	from string
	to   []string
	data []byte
}

func (f *fakeOutbound) Enqueue(_ context.Context, from string, to []string, data []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.from, f.to, f.data = from, to, data
	return nil
}

type panicOutbound struct{}

func (panicOutbound) Enqueue(context.Context, string, []string, []byte) error {
	panic("queue exploded")
}

func plainIR(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
}

// dialAuth connects on loopback and authenticates as alice with PLAIN.
func dialAuth(t *testing.T, addr string) *smtp.Client {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePW)); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSubmissionRequiresAuth(t *testing.T) {
	e := newEnv(t, Submission, nil)
	r := dialRaw(t, e.addr)
	msg := r.cmd("EHLO client.example", 250, "")
	if !strings.Contains(msg, "AUTH PLAIN LOGIN") {
		t.Errorf("loopback submission does not offer AUTH PLAIN LOGIN:\n%s", msg)
	}
	r.cmd("MAIL FROM:<alice@example.test>", 530, "5.7.0 Authentication required")
	r.cmd("RCPT TO:<alice@example.test>", 502, "")
}

func TestAuthPlainAndLogin(t *testing.T) {
	e := newEnv(t, Submission, nil)
	for _, mech := range []sasl.Client{
		sasl.NewPlainClient("", alice, alicePW),
		sasl.NewLoginClient("ALICE@example.test", alicePW),
	} {
		c, err := smtp.Dial(e.addr)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Auth(mech); err != nil {
			t.Fatalf("auth: %v", err)
		}
		// The sender may differ in case from the account (RFC 5321 §2.4
		// keeps local parts as given; our accounts fold them).
		body := "From: Alice <Alice@Example.TEST>\r\nTo: alice@example.test\r\nSubject: self\r\n\r\nhi\r\n"
		if err := c.SendMail("Alice@example.test", []string{alice}, strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
		c.Quit()
	}
	msgs := e.inbox()
	if len(msgs) != 2 {
		t.Fatalf("%d messages", len(msgs))
	}
	hdr, _ := splitReceived(t, msgs[1])
	if !strings.Contains(hdr, " with ESMTPA id ") {
		t.Errorf("Received lacks ESMTPA: %q", hdr)
	}
	logs := e.logs.String()
	if strings.Contains(logs, alicePW) || strings.Contains(logs, base64.StdEncoding.EncodeToString([]byte(alicePW))) {
		t.Errorf("password logged:\n%s", logs)
	}
	if !regexp.MustCompile(`msg=authenticated .*mech=LOGIN user=alice@example.test`).MatchString(logs) {
		t.Errorf("no auth log line:\n%s", logs)
	}
	// LOGIN by hand, without and with an initial response.
	r := dialRaw(t, e.addr)
	r.cmd("EHLO client.example", 250, "")
	r.cmd("AUTH LOGIN", 334, "VXNlcm5hbWU6")
	r.cmd(base64.StdEncoding.EncodeToString([]byte(alice)), 334, "UGFzc3dvcmQ6")
	r.cmd(base64.StdEncoding.EncodeToString([]byte(alicePW)), 235, "2.0.0")
	r.cmd("AUTH PLAIN "+plainIR(alice, alicePW), 503, "5.5.1")
	r2 := dialRaw(t, e.addr)
	r2.cmd("EHLO client.example", 250, "")
	r2.cmd("AUTH LOGIN "+base64.StdEncoding.EncodeToString([]byte(alice)), 334, "UGFzc3dvcmQ6")
	r2.cmd(base64.StdEncoding.EncodeToString([]byte(alicePW)), 235, "")
	r3 := dialRaw(t, e.addr)
	r3.cmd("EHLO client.example", 250, "")
	r3.cmd("AUTH PLAIN", 334, "")
	r3.cmd(base64.StdEncoding.EncodeToString([]byte("someone@else.test\x00"+alice+"\x00"+alicePW)), 535, "5.7.8")
	r3.cmd("AUTH CRAM-MD5", 504, "")
}

func TestAuthFailuresRateLimited(t *testing.T) {
	e := newEnv(t, Submission, nil)
	r := dialRaw(t, e.addr)
	r.cmd("EHLO client.example", 250, "")
	for i := 0; i < 10; i++ {
		r.cmd("AUTH PLAIN "+plainIR(alice, fmt.Sprintf("wrong-%d", i)), 535, "5.7.8")
	}
	// The 11th attempt in the window is refused even with the right password.
	r.cmd("AUTH PLAIN "+plainIR(alice, alicePW), 454, "4.7.0 Too many failed logins")
	if logs := e.logs.String(); strings.Contains(logs, "wrong-") || strings.Contains(logs, alicePW) {
		t.Errorf("auth data logged:\n%s", logs)
	}
}

// TestAuthNeedsTLSOffLoopback drives the per-connection rule with a
// connection that claims to come from 192.0.2.1.
func TestAuthNeedsTLSOffLoopback(t *testing.T) {
	st, a := newStore(t)
	pl := newPipeListener()
	srv := New(st, authn.New(st), Config{Mode: Submission, Hostname: testHost, TLS: testTLS(t),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	go srv.Serve(pl)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })

	r := newRaw(t, pl.dial("192.0.2.1"))
	msg := r.cmd("EHLO client.example", 250, "STARTTLS")
	if strings.Contains(msg, "AUTH") {
		t.Errorf("AUTH advertised on a plain non-loopback connection:\n%s", msg)
	}
	r.cmd("AUTH PLAIN "+plainIR(alice, alicePW), 538, "5.7.11 Encryption required")
	r.cmd("AUTH LOGIN", 538, "5.7.11")
	r.cmd("MAIL FROM:<alice@example.test>", 530, "")

	// Inside TLS the same client may authenticate.
	c, err := smtp.NewClientStartTLS(pl.dial("192.0.2.1"), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.SupportsAuth("PLAIN") {
		t.Error("AUTH PLAIN not offered inside TLS")
	}
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePW)); err != nil {
		t.Fatalf("auth inside TLS: %v", err)
	}
	if err := c.SendMail(alice, []string{alice}, strings.NewReader("From: alice@example.test\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	msgs := inbox(t, st, a.ID)
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	if hdr, _ := splitReceived(t, msgs[0]); !strings.Contains(hdr, "[192.0.2.1]") || !strings.Contains(hdr, "ESMTPSA") {
		t.Errorf("Received: %q", hdr)
	}
}

func TestSenderOwnership(t *testing.T) {
	e := newEnv(t, Submission, nil)
	c := dialAuth(t, e.addr)
	err := c.Mail("boss@example.test", nil)
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 553 || se.EnhancedCode != (smtp.EnhancedCode{5, 7, 1}) {
		t.Fatalf("MAIL FROM not owned: got %v, want 553 5.7.1", err)
	}
	for _, hdrFrom := range []string{
		"From: boss@example.test",
		"From: alice@example.test, boss@example.test",
		"From: =?windows-1252?q?Al=E9?= <boss@example.test>",
		"Subject: no from",
	} {
		err := c.SendMail(alice, []string{alice}, strings.NewReader(hdrFrom+"\r\n\r\nbody\r\n"))
		if !errors.As(err, &se) || se.Code != 550 || se.EnhancedCode != (smtp.EnhancedCode{5, 7, 1}) {
			t.Errorf("%q: got %v, want 550 5.7.1", hdrFrom, err)
		}
	}
	if n := len(e.inbox()); n != 0 {
		t.Fatalf("%d messages stored", n)
	}
	// An encoded display name in any charset is fine when the address is ours.
	if err := c.SendMail(alice, []string{alice}, strings.NewReader("From: =?windows-1252?q?Al=E9?= <alice@example.test>\r\n\r\nok\r\n")); err != nil {
		t.Fatal(err)
	}
}

func TestRemoteRecipients(t *testing.T) {
	t.Run("not configured", func(t *testing.T) {
		e := newEnv(t, Submission, nil)
		c := dialAuth(t, e.addr)
		if err := c.Mail(alice, nil); err != nil {
			t.Fatal(err)
		}
		err := c.Rcpt("bob@remote.test", nil)
		var se *smtp.SMTPError
		if !errors.As(err, &se) || se.Code != 550 || !strings.Contains(se.Message, "not configured") {
			t.Fatalf("got %v", err)
		}
		if err := c.Rcpt("nobody@example.test", nil); !errors.As(err, &se) || se.Code != 550 {
			t.Fatalf("unknown local user: %v", err)
		}
	})
	t.Run("queued", func(t *testing.T) {
		ob := &fakeOutbound{}
		e := newEnv(t, Submission, func(c *Config) { c.Outbound = ob })
		c := dialAuth(t, e.addr)
		body := "From: alice@example.test\r\nTo: bob@remote.test\r\n\r\nhello bob\r\n"
		if err := c.SendMail(alice, []string{"Bob@Remote.test", alice}, strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
		ob.mu.Lock()
		defer ob.mu.Unlock()
		if ob.from != alice || len(ob.to) != 1 || ob.to[0] != "Bob@Remote.test" {
			t.Errorf("enqueued from %q to %q", ob.from, ob.to)
		}
		if _, rest := splitReceived(t, ob.data); string(rest) != body {
			t.Errorf("enqueued %q", ob.data)
		}
		if n := len(e.inbox()); n != 1 {
			t.Errorf("%d local copies", n)
		}
	})
}

// TestImplicitTLS serves submissions (port 465 style) with ServeTLS.
func TestImplicitTLS(t *testing.T) {
	e := newEnv(t, Submission, func(c *Config) { c.TLS = testTLS(t) })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go e.srv.ServeTLS(l)
	c, err := smtp.DialTLS(l.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePW)); err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail(alice, []string{alice}, strings.NewReader("From: alice@example.test\r\n\r\n465\r\n")); err != nil {
		t.Fatal(err)
	}
	hdr, _ := splitReceived(t, e.inbox()[0])
	if !strings.Contains(hdr, "ESMTPSA") {
		t.Errorf("Received: %q", hdr)
	}
}
