package queue

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

func TestNullMXAndNoAddress(t *testing.T) {
	srv := startServer(t, "127.0.0.1", 0, nil)
	e := newEnv(t, srv.port)
	e.dns.MustAdd(t, "n.test. 300 IN MX 0 .") // RFC 7505
	e.start()
	e.enqueue(sender, []string{"x@n.test", "y@nowhere.test"}, testMessage("nullmx"))
	waitFor(t, "DSN", func() bool { return len(e.inbox()) == 1 && e.empty() })
	_, status, _ := dsnParts(t, e.inbox()[0])
	for _, want := range []string{
		"Final-Recipient: rfc822; x@n.test\r\nAction: failed\r\nStatus: 5.1.10\r\n",
		"Diagnostic-Code: smtp; 556 5.1.10",
		"Final-Recipient: rfc822; y@nowhere.test\r\nAction: failed\r\nStatus: 5.1.2\r\n",
	} {
		if !strings.Contains(status, want) {
			t.Errorf("delivery-status lacks %q:\n%s", want, status)
		}
	}
	if len(srv.messages()) != 0 {
		t.Errorf("server got mail")
	}
}

func TestTempFailThenSuccess(t *testing.T) {
	srv := startServer(t, "127.0.0.1", 0, nil)
	srv.rcptErr = func(rcpt string, n int) error {
		if n == 0 {
			return smtpErr(451, smtp.EnhancedCode{4, 7, 1}, "greylisted, try again")
		}
		return nil
	}
	e := newEnv(t, srv.port)
	e.dns.MustAdd(t, "b.test. 300 IN MX 10 mx.b.test.", "mx.b.test. 300 IN A 127.0.0.1")
	e.start()
	id := e.enqueue(sender, []string{"bob@b.test"}, testMessage("greylist"))
	waitFor(t, "delivery", e.empty)
	if n := srv.seen("bob@b.test"); n != 2 {
		t.Errorf("RCPT offered %d times, want 2", n)
	}
	if len(srv.messages()) != 1 {
		t.Errorf("server got %d messages", len(srv.messages()))
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "id="+id+" rcpt=bob@b.test host=mx.b.test result=deferred tls=false reply=\"451 4.7.1 greylisted, try again\"") ||
		!strings.Contains(logs, "result=delivered") {
		t.Errorf("log:\n%s", logs)
	}
	if len(e.inbox()) != 0 {
		t.Errorf("DSN sent for a delivered message")
	}
}

func TestPermFailDSN(t *testing.T) {
	srv := startServer(t, "127.0.0.1", 0, nil)
	srv.rcptErr = func(rcpt string, n int) error {
		if strings.HasPrefix(rcpt, "bad") {
			return smtpErr(550, smtp.EnhancedCode{5, 1, 1}, "no such user here")
		}
		return nil
	}
	e := newEnv(t, srv.port)
	e.dns.MustAdd(t, "b.test. 300 IN MX 10 mx.b.test.", "mx.b.test. 300 IN A 127.0.0.1")
	e.start()
	e.enqueue(sender, []string{"ok@b.test", "bad@b.test"}, testMessage("permfail"))
	waitFor(t, "DSN", func() bool { return len(e.inbox()) == 1 && e.empty() })

	if got := srv.messages(); len(got) != 1 || strings.Join(got[0].to, ",") != "ok@b.test" {
		t.Errorf("server got %+v", got)
	}
	if srv.seen("bad@b.test") != 1 {
		t.Errorf("permanent failure retried: %d", srv.seen("bad@b.test"))
	}
	human, status, headers := dsnParts(t, e.inbox()[0])
	for _, want := range []string{
		"Reporting-MTA: dns; out.a.test\r\n",
		"Arrival-Date: ",
		"Final-Recipient: rfc822; bad@b.test\r\nAction: failed\r\nStatus: 5.1.1\r\n",
		"Remote-MTA: dns; mx.b.test\r\n",
		"Diagnostic-Code: smtp; 550 5.1.1 no such user here\r\n",
	} {
		if !strings.Contains(status, want) {
			t.Errorf("delivery-status lacks %q:\n%s", want, status)
		}
	}
	if strings.Contains(status, "ok@b.test") {
		t.Errorf("delivered recipient in DSN:\n%s", status)
	}
	if !strings.Contains(human, "bad@b.test") || !strings.Contains(human, "no such user here") {
		t.Errorf("human part:\n%s", human)
	}
	if !strings.Contains(headers, "Subject: permfail\r\n") || strings.Contains(headers, "Hello Bob") {
		t.Errorf("headers part:\n%s", headers)
	}
	if !strings.Contains(e.logs.String(), "rcpt=bad@b.test host=mx.b.test result=failed") {
		t.Errorf("log:\n%s", e.logs)
	}
}

func TestExpiry(t *testing.T) {
	srv := startServer(t, "127.0.0.1", 0, nil)
	srv.rcptErr = func(string, int) error {
		return smtpErr(451, smtp.EnhancedCode{4, 3, 0}, "mailbox busy")
	}
	e := newEnv(t, srv.port)
	e.cfg.MaxAge = 300 * time.Millisecond
	e.dns.MustAdd(t, "b.test. 300 IN MX 10 mx.b.test.", "mx.b.test. 300 IN A 127.0.0.1")
	e.start()
	e.enqueue(sender, []string{"slow@b.test"}, testMessage("expiry"))
	waitFor(t, "DSN", func() bool { return len(e.inbox()) == 1 && e.empty() })
	if n := srv.seen("slow@b.test"); n < 2 {
		t.Errorf("only %d attempts before giving up", n)
	}
	human, status, _ := dsnParts(t, e.inbox()[0])
	for _, want := range []string{
		"Final-Recipient: rfc822; slow@b.test\r\nAction: failed\r\nStatus: 5.4.7\r\n",
		"Diagnostic-Code: smtp; 451 4.3.0 mailbox busy\r\n",
	} {
		if !strings.Contains(status, want) {
			t.Errorf("delivery-status lacks %q:\n%s", want, status)
		}
	}
	if !strings.Contains(human, "gave up after") {
		t.Errorf("human part:\n%s", human)
	}
}

func TestRetryAndDrop(t *testing.T) {
	srv := startServer(t, "127.0.0.1", 0, nil)
	var fail atomic.Bool
	fail.Store(true)
	srv.rcptErr = func(string, int) error {
		if fail.Load() {
			return smtpErr(421, smtp.EnhancedCode{4, 3, 2}, "not now")
		}
		return nil
	}
	e := newEnv(t, srv.port)
	e.cfg.Retry = []time.Duration{time.Hour}
	e.dns.MustAdd(t, "b.test. 300 IN MX 10 mx.b.test.", "mx.b.test. 300 IN A 127.0.0.1")
	q := e.start()
	ctx := context.Background()
	toDrop := e.enqueue(sender, []string{"drop@b.test"}, testMessage("drop"))
	toRetry := e.enqueue(sender, []string{"retry@b.test"}, testMessage("retry"))
	deferred := func(id string) func() bool {
		return func() bool { it := e.item(id); return it != nil && it.Recipients[0].Attempts == 1 }
	}
	waitFor(t, "first attempts", func() bool { return deferred(toDrop)() && deferred(toRetry)() })
	if it := e.item(toRetry); it.Recipients[0].NextAttempt.Before(time.Now().Add(50 * time.Minute)) {
		t.Fatalf("next attempt %v, want about an hour from now", it.Recipients[0].NextAttempt)
	}

	if err := q.Drop(ctx, toDrop); err != nil {
		t.Fatal(err)
	}
	if e.item(toDrop) != nil {
		t.Error("dropped message still listed")
	}
	if _, err := os.Stat(filepath.Join(e.dir, "msg", toDrop)); !os.IsNotExist(err) {
		t.Errorf("dropped message file: %v", err)
	}
	if err := q.Drop(ctx, toDrop); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Drop = %v, want ErrNotFound", err)
	}

	fail.Store(false)
	if err := q.Retry(ctx, toRetry); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "retried delivery", e.empty)
	got := srv.messages()
	if len(got) != 1 || got[0].to[0] != "retry@b.test" {
		t.Fatalf("deliveries: %+v", got)
	}
	if err := q.Retry(ctx, "nosuchid"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Retry(unknown) = %v", err)
	}
	if err := q.Retry(ctx, "../../etc"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Retry(path) = %v", err)
	}
	if len(e.inbox()) != 0 {
		t.Error("Drop sent a DSN")
	}
}

func TestNullSenderNotBounced(t *testing.T) {
	srv := startServer(t, "127.0.0.1", 0, nil)
	srv.rcptErr = func(string, int) error { return smtpErr(550, smtp.EnhancedCode{5, 1, 1}, "unknown") }
	e := newEnv(t, srv.port)
	e.dns.MustAdd(t, "b.test. 300 IN MX 10 mx.b.test.", "mx.b.test. 300 IN A 127.0.0.1")
	e.start()
	e.enqueue("", []string{"gone@b.test"}, testMessage("bounce"))
	waitFor(t, "drop", e.empty)
	if !strings.Contains(e.logs.String(), "DSN not sent for a message with null sender") {
		t.Errorf("log:\n%s", e.logs)
	}
	if len(e.inbox()) != 0 {
		t.Error("bounce of a bounce")
	}
}

func TestRemoteSenderDSNQueued(t *testing.T) {
	srv := startServer(t, "127.0.0.1", 0, nil)
	srv.rcptErr = func(rcpt string, _ int) error {
		if rcpt == "gone@b.test" {
			return smtpErr(550, smtp.EnhancedCode{5, 1, 1}, "unknown")
		}
		return nil
	}
	e := newEnv(t, srv.port)
	e.dns.MustAdd(t, "b.test. 300 IN MX 10 mx.b.test.", "r.test. 300 IN MX 10 mx.b.test.",
		"mx.b.test. 300 IN A 127.0.0.1")
	e.start()
	e.enqueue("someone@r.test", []string{"gone@b.test"}, testMessage("remote"))
	waitFor(t, "DSN delivered to remote sender", func() bool { return len(srv.messages()) == 1 && e.empty() })
	got := srv.messages()[0]
	if got.from != "" || got.to[0] != "someone@r.test" {
		t.Fatalf("DSN envelope %q → %q, want null sender", got.from, got.to)
	}
	_, status, _ := dsnParts(t, got.data)
	if !strings.Contains(status, "Final-Recipient: rfc822; gone@b.test") {
		t.Errorf("delivery-status:\n%s", status)
	}
}

func TestDNSTempFailDefers(t *testing.T) {
	srv := startServer(t, "127.0.0.1", 0, nil)
	e := newEnv(t, srv.port)
	e.cfg.Retry = []time.Duration{time.Hour}
	e.dns.ServFail("b.test")
	e.start()
	id := e.enqueue(sender, []string{"bob@b.test"}, testMessage("servfail"))
	waitFor(t, "deferral", func() bool { it := e.item(id); return it != nil && it.Recipients[0].Attempts == 1 })
	r := e.item(id).Recipients[0]
	if r.Status != StatusQueued || !strings.HasPrefix(r.LastError, "451 4.4.3 MX lookup for b.test") {
		t.Errorf("after SERVFAIL: %+v", r)
	}
	if len(e.inbox()) != 0 {
		t.Error("temporary DNS failure bounced")
	}
}

func TestCloseInterruptsAttempt(t *testing.T) {
	srv := startServer(t, "127.0.0.1", 0, nil)
	srv.dataDelay = 3 * time.Second
	e := newEnv(t, srv.port)
	e.dns.MustAdd(t, "b.test. 300 IN MX 10 mx.b.test.", "mx.b.test. 300 IN A 127.0.0.1")
	e.start()
	id := e.enqueue(sender, []string{"bob@b.test"}, testMessage("interrupt"))
	waitFor(t, "DATA in progress", func() bool { srv.mu.Lock(); defer srv.mu.Unlock(); return srv.inData == 1 })
	start := time.Now()
	e.stop()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v with an attempt in flight", d)
	}
	e.open()
	it := e.item(id)
	if it == nil || it.Recipients[0].Status != StatusQueued || it.Recipients[0].Attempts != 0 {
		t.Fatalf("after interrupted attempt: %+v", it)
	}
}
