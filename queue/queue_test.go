package queue

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"frontdesk/certs"
)

func TestDeliver(t *testing.T) {
	srv := startServer(t, "127.0.0.1", 0, nil)
	other := startServer(t, "127.0.0.1", 0, nil) // not an MX of b.test: must get nothing
	e := newEnv(t, srv.port)
	e.dns.MustAdd(t, "b.test. 300 IN MX 10 mx.b.test.", "mx.b.test. 300 IN A 127.0.0.1")
	e.start()
	msg := testMessage("deliver")
	id := e.enqueue(sender, []string{"bob@b.test", "carol@b.test"}, msg)
	waitFor(t, "queue to empty", e.empty)

	got := srv.messages()
	if len(got) != 1 {
		t.Fatalf("server got %d messages, want 1", len(got))
	}
	if got[0].from != sender || strings.Join(got[0].to, ",") != "bob@b.test,carol@b.test" {
		t.Errorf("envelope = %q → %q", got[0].from, got[0].to)
	}
	if !bytes.Equal(got[0].data, msg) {
		t.Errorf("data differs:\n got %q\nwant %q", got[0].data, msg)
	}
	if n := srv.seen("bob@b.test"); n != 1 {
		t.Errorf("bob offered %d times, want once", n)
	}
	if n := len(other.messages()); n != 0 {
		t.Errorf("other server got %d messages", n)
	}
	logs := e.logs.String()
	for _, want := range []string{"msg=delivery id=" + id + " rcpt=bob@b.test host=mx.b.test result=delivered tls=false reply=",
		"rcpt=carol@b.test host=mx.b.test result=delivered"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	// The record goes first, then the file (a crash between leaves an
	// orphan that Open removes), so the file may outlive the record a moment.
	waitFor(t, "message file removed", func() bool {
		_, err := os.Stat(filepath.Join(e.dir, "msg", id))
		return os.IsNotExist(err)
	})
	if n := len(e.inbox()); n != 0 {
		t.Errorf("sender got %d messages (DSN?)", n)
	}
}

func TestEnqueueInvalid(t *testing.T) {
	e := newEnv(t, 1)
	q := e.open()
	ctx := context.Background()
	for _, tc := range []struct {
		from string
		to   []string
	}{
		{sender, nil},
		{sender, []string{"nobody"}},
		{sender, []string{"a@b.test>\r\nRCPT TO:<x@y.test"}},
		{"bad sender", []string{"bob@b.test"}},
	} {
		if _, err := q.Enqueue(ctx, tc.from, tc.to, []byte("x")); !errors.Is(err, ErrInvalid) {
			t.Errorf("Enqueue(%q, %q) = %v, want ErrInvalid", tc.from, tc.to, err)
		}
	}
}

func TestMXPreference(t *testing.T) {
	srvLow := startServer(t, "127.0.0.1", 0, nil) // MX 20
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.2", strconv.Itoa(srvLow.port)))
	if err != nil {
		t.Skipf("no second loopback address: %v", err)
	}
	l.Close()
	srvHigh := startServer(t, "127.0.0.2", srvLow.port, nil) // MX 10, same port
	e := newEnv(t, srvLow.port)
	e.dns.MustAdd(t,
		"b.test. 300 IN MX 20 mx2.b.test.",
		"b.test. 300 IN MX 10 mx1.b.test.",
		"mx1.b.test. 300 IN A 127.0.0.2",
		"mx2.b.test. 300 IN A 127.0.0.1")
	e.start()

	e.enqueue(sender, []string{"bob@b.test"}, testMessage("first"))
	waitFor(t, "first delivery", e.empty)
	if len(srvHigh.messages()) != 1 || len(srvLow.messages()) != 0 {
		t.Fatalf("preferred MX got %d, other got %d; want 1, 0", len(srvHigh.messages()), len(srvLow.messages()))
	}

	srvHigh.srv.Close() // now the first MX refuses connections
	e.enqueue(sender, []string{"bob@b.test"}, testMessage("second"))
	waitFor(t, "second delivery", e.empty)
	if len(srvLow.messages()) != 1 {
		t.Fatalf("second MX got %d messages, want 1", len(srvLow.messages()))
	}
	if !strings.Contains(e.logs.String(), "host=mx2.b.test result=delivered") {
		t.Errorf("log does not show delivery via mx2:\n%s", e.logs)
	}
}

func TestImplicitMX(t *testing.T) {
	srv := startServer(t, "127.0.0.1", 0, nil)
	e := newEnv(t, srv.port)
	e.dns.MustAdd(t, "c.test. 300 IN A 127.0.0.1") // no MX: RFC 5321 §5.1
	e.start()
	e.enqueue(sender, []string{"dave@c.test"}, testMessage("implicit"))
	waitFor(t, "delivery", e.empty)
	if len(srv.messages()) != 1 {
		t.Fatalf("server got %d messages", len(srv.messages()))
	}
	if !strings.Contains(e.logs.String(), "host=c.test result=delivered") {
		t.Errorf("log:\n%s", e.logs)
	}
}

func TestStartTLS(t *testing.T) {
	tlsConfig, err := certs.SelfSigned(t.TempDir(), []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, "127.0.0.1", 0, tlsConfig)
	e := newEnv(t, srv.port)
	e.dns.MustAdd(t, "b.test. 300 IN MX 10 mx.b.test.", "mx.b.test. 300 IN A 127.0.0.1")
	e.start()
	msg := testMessage("tls")
	e.enqueue(sender, []string{"bob@b.test"}, msg)
	waitFor(t, "delivery", e.empty)
	got := srv.messages()
	if len(got) != 1 || !got[0].tls || !bytes.Equal(got[0].data, msg) {
		t.Fatalf("got %+v, want one message over TLS", got)
	}
	if !strings.Contains(e.logs.String(), "result=delivered tls=true") {
		t.Errorf("log:\n%s", e.logs)
	}
}

func TestSurvivesReopen(t *testing.T) {
	srv := startServer(t, "127.0.0.1", 0, nil)
	e := newEnv(t, srv.port)
	e.dns.MustAdd(t, "b.test. 300 IN MX 10 mx.b.test.", "mx.b.test. 300 IN A 127.0.0.1")
	e.open() // not running: the message only sits in the queue
	msg := testMessage("reopen")
	id := e.enqueue(sender, []string{"bob@b.test"}, msg)
	// A leftover of a crash during Enqueue: a file without a record.
	orphan := filepath.Join(e.dir, "msg", "0123abcd")
	if err := os.WriteFile(orphan, []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.stop()

	e.open()
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("orphaned file not removed: %v", err)
	}
	if it := e.item(id); it == nil || it.Recipients[0].Status != StatusQueued || it.Size != int64(len(msg)) {
		t.Fatalf("after reopen: %+v", it)
	}
	e.start()
	waitFor(t, "delivery after reopen", e.empty)
	if got := srv.messages(); len(got) != 1 || !bytes.Equal(got[0].data, msg) {
		t.Fatalf("got %+v", got)
	}
}

func TestDeliveredNotResentAfterReopen(t *testing.T) {
	srv := startServer(t, "127.0.0.1", 0, nil)
	var blockY atomic.Bool
	blockY.Store(true)
	srv.rcptErr = func(rcpt string, n int) error {
		if rcpt == "y@b.test" && blockY.Load() {
			return smtpErr(452, smtp.EnhancedCode{4, 2, 2}, "mailbox full")
		}
		return nil
	}
	e := newEnv(t, srv.port)
	e.cfg.Retry = []time.Duration{300 * time.Millisecond}
	e.dns.MustAdd(t, "b.test. 300 IN MX 10 mx.b.test.", "mx.b.test. 300 IN A 127.0.0.1")
	e.start()
	id := e.enqueue(sender, []string{"x@b.test", "y@b.test"}, testMessage("partial"))
	waitFor(t, "x delivered, y deferred", func() bool {
		it := e.item(id)
		return it != nil && it.Recipients[0].Status == StatusDelivered && it.Recipients[1].Attempts == 1
	})
	e.stop()

	blockY.Store(false)
	e.start()
	if it := e.item(id); it == nil || it.Recipients[0].Status != StatusDelivered ||
		it.Recipients[1].Status != StatusQueued || it.Recipients[1].LastError != "452 4.2.2 mailbox full" {
		t.Fatalf("state after reopen: %+v", it)
	}
	waitFor(t, "y delivered", e.empty)
	got := srv.messages()
	if len(got) != 2 || strings.Join(got[0].to, ",") != "x@b.test" || strings.Join(got[1].to, ",") != "y@b.test" {
		t.Fatalf("deliveries: %+v", got)
	}
	if srv.seen("x@b.test") != 1 {
		t.Errorf("x offered %d times", srv.seen("x@b.test"))
	}
}

func TestPerDestinationLimit(t *testing.T) {
	srv := startServer(t, "127.0.0.1", 0, nil)
	srv.dataDelay = 100 * time.Millisecond
	e := newEnv(t, srv.port)
	e.cfg.PerDestination = 2
	// Two domains behind one MX host: the limit is per host.
	e.dns.MustAdd(t, "b.test. 300 IN MX 10 mx.b.test.", "c.test. 300 IN MX 10 mx.b.test.",
		"mx.b.test. 300 IN A 127.0.0.1")
	e.start()
	for i := range 10 {
		to := "u" + strconv.Itoa(i) + "@b.test"
		if i%2 == 1 {
			to = "u" + strconv.Itoa(i) + "@c.test"
		}
		e.enqueue(sender, []string{to}, testMessage("limit"+strconv.Itoa(i)))
	}
	waitFor(t, "all delivered", e.empty)
	srv.mu.Lock()
	maxIn := srv.maxInData
	srv.mu.Unlock()
	if n := len(srv.messages()); n != 10 {
		t.Errorf("delivered %d, want 10", n)
	}
	if maxIn > 2 || maxIn < 1 {
		t.Errorf("max concurrent sessions = %d, want 1..2", maxIn)
	}
	t.Logf("max concurrent sessions: %d", maxIn)
}

func BenchmarkEnqueue(b *testing.B) {
	for _, parallel := range []bool{false, true} {
		name := "serial"
		if parallel {
			name = "parallel"
		}
		b.Run(name, func(b *testing.B) {
			e := newEnv(b, 25)
			q, err := Open(b.TempDir(), e.st, e.res, e.cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer q.Close()
			data := bytes.Repeat([]byte("0123456789abcdef\r\n"), 8192/18)
			data = append(data, bytes.Repeat([]byte("x"), 8192-len(data))...)
			ctx := context.Background()
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			enqueue := func() {
				if _, err := q.Enqueue(ctx, sender, []string{"bob@b.test"}, data); err != nil {
					b.Error(err)
				}
			}
			if !parallel {
				for b.Loop() {
					enqueue()
				}
				return
			}
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					enqueue()
				}
			})
		})
	}
}

func TestBrokenTLSFallsBackToPlain(t *testing.T) {
	// STARTTLS offered, but every handshake fails (no certificate).
	srv := startServer(t, "127.0.0.1", 0, &tls.Config{})
	e := newEnv(t, srv.port)
	e.dns.MustAdd(t, "b.test. 300 IN MX 10 mx.b.test.", "mx.b.test. 300 IN A 127.0.0.1")
	e.start()
	e.enqueue(sender, []string{"bob@b.test"}, testMessage("tlsfail"))
	waitFor(t, "delivery", e.empty)
	if got := srv.messages(); len(got) != 1 || got[0].tls {
		t.Fatalf("got %+v, want one message in clear text", got)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "STARTTLS failed, retrying without TLS") || !strings.Contains(logs, "result=delivered tls=false") {
		t.Errorf("log:\n%s", logs)
	}
}
