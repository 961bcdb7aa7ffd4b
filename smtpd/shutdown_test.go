package smtpd

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// TestShutdownLetsDataFinish starts DATA, calls Shutdown, then finishes the
// message: it must get 250 and be stored, and Shutdown must return after.
func TestShutdownLetsDataFinish(t *testing.T) {
	e := newEnv(t, MX, nil)
	idle := dialRaw(t, e.addr) // an idle session is not waited for
	idle.cmd("EHLO idle.example", 250, "")

	c, err := smtp.Dial(e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("bob@remote.test", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt(alice, nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "Subject: shutdown\r\n\r\nfirst half\r\n")

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- e.srv.Shutdown(ctx)
	}()
	for !e.srv.isClosing() {
		time.Sleep(time.Millisecond)
	}
	// New connections are refused once Shutdown has begun.
	if nc, err := net.DialTimeout("tcp", e.addr, time.Second); err == nil {
		nc.Close()
		t.Error("new connection accepted during Shutdown")
	}
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v while a transaction was in DATA", err)
	case <-time.After(100 * time.Millisecond):
	}
	io.WriteString(w, "second half\r\n")
	if err := w.Close(); err != nil {
		t.Fatalf("finishing DATA during Shutdown: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not return after the transaction finished")
	}
	msgs := e.inbox()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	if _, rest := splitReceived(t, msgs[0]); string(rest) != "Subject: shutdown\r\n\r\nfirst half\r\nsecond half\r\n" {
		t.Errorf("stored %q", rest)
	}
	// Every connection is closed afterwards.
	idle.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idle.tp.ReadLine(); err == nil {
		// go-smtp may write nothing; a read must end with EOF, not time out.
		if _, err := idle.tp.ReadLine(); err == nil {
			t.Error("idle connection still open after Shutdown")
		}
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Error("idle connection still open after Shutdown")
	}
	if err := e.srv.Shutdown(context.Background()); !errors.Is(err, ErrServerClosed) {
		t.Errorf("second Shutdown: %v", err)
	}
}

// A transaction that never finishes holds Shutdown only until ctx ends;
// nothing of it is stored.
func TestShutdownDeadline(t *testing.T) {
	e := newEnv(t, MX, nil)
	r := dialRaw(t, e.addr)
	r.cmd("EHLO client.example", 250, "")
	r.cmd("MAIL FROM:<bob@remote.test>", 250, "")
	r.cmd("RCPT TO:<alice@example.test>", 250, "")
	r.cmd("DATA", 354, "")
	r.send("Subject: stuck\r\n\r\nnever ends")
	e.waitLog("msg=connected") // the transaction is under way
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := e.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want deadline exceeded", err)
	}
	e.waitLog("msg=aborted")
	if n := len(e.inbox()); n != 0 {
		t.Fatalf("%d messages stored", n)
	}
	if !strings.Contains(e.logs.String(), "msg=shutdown") {
		t.Error("shutdown not logged")
	}
}
