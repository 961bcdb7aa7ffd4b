package loadgen

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/mail"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-smtp"
)

func TestGenMessageDeterministic(t *testing.T) {
	a := genMessage(42, 7, "a@x.test", "b@y.test", 8192)
	b := genMessage(42, 7, "a@x.test", "b@y.test", 8192)
	if !bytes.Equal(a, b) {
		t.Fatal("same seed and number gave different messages")
	}
	if bytes.Equal(a, genMessage(43, 7, "a@x.test", "b@y.test", 8192)) {
		t.Error("different seeds gave identical messages")
	}
	if bytes.Equal(a, genMessage(42, 8, "a@x.test", "b@y.test", 8192)) {
		t.Error("different message numbers gave identical messages")
	}
}

func TestGenMessageShape(t *testing.T) {
	for _, size := range []int{8192, 1000, 65536} {
		msg := genMessage(1, 3, "load@loadgen.test", "rcpt@frontdesk.test", size)
		// Truncating the last line may cost a trailing character or two, and
		// anything short of a full line would mean the fill loop stopped early.
		if len(msg) > size || len(msg) < size-80 {
			t.Errorf("size %d: got %d bytes", size, len(msg))
		}
		if bytes.Contains(bytes.ReplaceAll(msg, []byte("\r\n"), nil), []byte("\n")) ||
			bytes.Contains(bytes.ReplaceAll(msg, []byte("\r\n"), nil), []byte("\r")) {
			t.Errorf("size %d: bare CR or LF in message", size)
		}
		if !bytes.HasSuffix(msg, []byte("\r\n")) {
			t.Errorf("size %d: message does not end in CRLF", size)
		}
		for i, line := range strings.Split(strings.TrimSuffix(string(msg), "\r\n"), "\r\n") {
			if len(line) > 78 {
				t.Errorf("size %d: line %d is %d chars", size, i+1, len(line))
			}
		}

		m, err := mail.ReadMessage(bytes.NewReader(msg))
		if err != nil {
			t.Fatalf("size %d: not RFC 5322: %v", size, err)
		}
		for _, h := range []string{"From", "To", "Subject", "Date", "Message-Id"} {
			if m.Header.Get(h) == "" {
				t.Errorf("size %d: missing %s header", size, h)
			}
		}
		if _, err := m.Header.Date(); err != nil {
			t.Errorf("size %d: bad Date: %v", size, err)
		}
		if _, err := mail.ParseAddress(m.Header.Get("From")); err != nil {
			t.Errorf("size %d: bad From: %v", size, err)
		}
		if got := m.Header.Get("Message-Id"); got != "<1.3@loadgen.test>" {
			t.Errorf("size %d: Message-ID %q", size, got)
		}
	}
}

func TestGenMessageTinySize(t *testing.T) {
	// Headers alone exceed the size: the message must still have a body.
	msg := genMessage(1, 1, "a@x.test", "b@y.test", 10)
	i := bytes.Index(msg, []byte("\r\n\r\n"))
	if i < 0 || len(msg) <= i+4 {
		t.Fatalf("no body in %q", msg)
	}
}

func TestPercentile(t *testing.T) {
	var lats []time.Duration
	for i := 100; i >= 1; i-- { // reversed, to check that sorting happens
		lats = append(lats, time.Duration(i)*time.Millisecond)
	}
	p50, p99 := percentiles(lats)
	if p50 != 50*time.Millisecond || p99 != 99*time.Millisecond {
		t.Errorf("1..100ms: p50 %v p99 %v, want 50ms 99ms", p50, p99)
	}

	cases := []struct {
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 50, 0},
		{[]time.Duration{7}, 50, 7},
		{[]time.Duration{7}, 99, 7},
		{[]time.Duration{1, 2}, 50, 1},
		{[]time.Duration{1, 2}, 99, 2},
		{[]time.Duration{1, 2, 3}, 50, 2},
		{[]time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 99, 10},
		{[]time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0, 1},
		{[]time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 100, 10},
	}
	for _, c := range cases {
		if got := percentile(c.in, c.p); got != c.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", c.in, c.p, got, c.want)
		}
	}
}

func TestFmtDur(t *testing.T) {
	for d, want := range map[time.Duration]string{
		3100 * time.Microsecond: "3.1ms",
		12 * time.Millisecond:   "12ms",
		450 * time.Microsecond:  "450µs",
		2100 * time.Millisecond: "2.1s",
	} {
		if got := fmtDur(d); got != want {
			t.Errorf("fmtDur(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestProgress(t *testing.T) {
	var out bytes.Buffer
	w := &syncWriter{w: &out}
	var accepted, failed atomic.Int64
	accepted.Store(12)
	failed.Store(1)
	stop := progress(w, time.Now(), 5*time.Millisecond, &accepted, &failed)
	time.Sleep(30 * time.Millisecond)
	stop()
	got := out.String() // stop has returned, so nothing writes any more
	if !strings.Contains(got, "12 accepted, 1 failed") {
		t.Errorf("progress output %q", got)
	}
}

func TestRefusesNonLoopback(t *testing.T) {
	for _, o := range []Options{
		{SMTPAddr: "192.0.2.1:25", IMAPAddr: "127.0.0.1:143", User: "u", Rcpt: "r@x.test"},
		{SMTPAddr: "127.0.0.1:25", IMAPAddr: "[2001:db8::1]:143", User: "u", Rcpt: "r@x.test"},
	} {
		_, err := Run(context.Background(), o)
		if err == nil || !strings.Contains(err.Error(), "non-loopback") {
			t.Errorf("%s / %s: err = %v, want non-loopback refusal", o.SMTPAddr, o.IMAPAddr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:25", "127.8.9.10:25", "[::1]:25", "localhost:25"} {
		if _, err := loopbackAddr(context.Background(), addr); err != nil {
			t.Errorf("loopbackAddr(%s): %v", addr, err)
		}
	}
}

// memBackend is an SMTP backend that files every accepted message into an
// imapmemserver INBOX, a little later, as a queueing server would.
type memBackend struct {
	user   *imapmemserver.User
	reject func(n int64) bool // which DATA commands to refuse
	seen   atomic.Int64
	wg     sync.WaitGroup
}

func (b *memBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return &memSession{b: b}, nil }

type memSession struct{ b *memBackend }

func (s *memSession) Reset()                                    {}
func (s *memSession) Logout() error                             { return nil }
func (s *memSession) Mail(string, *smtp.MailOptions) error      { return nil }
func (s *memSession) Rcpt(to string, _ *smtp.RcptOptions) error { return nil }

func (s *memSession) Data(r io.Reader) error {
	buf, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if n := s.b.seen.Add(1); s.b.reject != nil && s.b.reject(n) {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "rejected by test"}
	}
	// The delay makes visibility lag acceptance, so the poll is exercised.
	s.b.wg.Go(func() {
		time.Sleep(20 * time.Millisecond)
		s.b.user.Append("INBOX", bytes.NewReader(buf), &imap.AppendOptions{})
	})
	return nil
}

// startServers runs an SMTP and an IMAP server on loopback sharing one user,
// whose INBOX already holds preload messages.
func startServers(t *testing.T, preload int, reject func(int64) bool) (smtpAddr, imapAddr string) {
	t.Helper()
	quiet := log.New(io.Discard, "", 0)

	user := imapmemserver.NewUser("load", "secret")
	if err := user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	for i := range preload {
		msg := genMessage(99, i, "old@x.test", "load@frontdesk.test", 500)
		if _, err := user.Append("INBOX", bytes.NewReader(msg), &imap.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mem := imapmemserver.New()
	mem.AddUser(user)
	imapSrv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}},
		InsecureAuth: true,
		Logger:       quiet,
	})
	iln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go imapSrv.Serve(iln)
	t.Cleanup(func() { imapSrv.Close() })

	be := &memBackend{user: user, reject: reject}
	smtpSrv := smtp.NewServer(be)
	smtpSrv.Domain = "localhost"
	smtpSrv.ErrorLog = quiet
	sln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go smtpSrv.Serve(sln)
	t.Cleanup(func() { smtpSrv.Close(); be.wg.Wait() })

	return sln.Addr().String(), iln.Addr().String()
}

func TestRunAgainstMemServers(t *testing.T) {
	smtpAddr, imapAddr := startServers(t, 3, nil)
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := Run(ctx, Options{
		SMTPAddr: smtpAddr, IMAPAddr: imapAddr,
		User: "load", Password: "secret", Rcpt: "load@frontdesk.test",
		Messages: 200, Concurrency: 4, Seed: 1, Out: &out,
	})
	t.Logf("output:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 200 || res.Failed != 0 {
		t.Errorf("accepted %d failed %d, want 200 and 0", res.Accepted, res.Failed)
	}
	if res.VisibleSeconds <= 0 || res.VisibleSeconds < res.AcceptSeconds {
		t.Errorf("VisibleSeconds %v, AcceptSeconds %v", res.VisibleSeconds, res.AcceptSeconds)
	}
	if res.Fetched != 203 {
		t.Errorf("fetched %d envelopes, want 203 (3 preloaded + 200)", res.Fetched)
	}
	if res.P50 <= 0 || res.P99 < res.P50 || res.AcceptPerSec <= 0 || res.FetchEnvelopes <= 0 {
		t.Errorf("implausible figures: %+v", res)
	}
	if first, _, _ := strings.Cut(out.String(), "\n"); !strings.Contains(first, "INBOX holds 3") {
		t.Errorf("first output line %q does not report the baseline", first)
	}
	if !strings.Contains(out.String(), "accepted 200 messages in ") {
		t.Errorf("report missing from output")
	}
}

func TestRunCountsRejections(t *testing.T) {
	smtpAddr, imapAddr := startServers(t, 0, func(n int64) bool { return n%10 == 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := Run(ctx, Options{
		SMTPAddr: smtpAddr, IMAPAddr: imapAddr,
		User: "load", Password: "secret", Rcpt: "load@frontdesk.test",
		Messages: 100, Concurrency: 3, Size: 2048,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 90 || res.Failed != 10 || res.Fetched != 90 {
		t.Errorf("accepted %d failed %d fetched %d, want 90, 10, 90", res.Accepted, res.Failed, res.Fetched)
	}
}

func TestRunCountsBrokenConnection(t *testing.T) {
	_, imapAddr := startServers(t, 0, nil)
	// Nothing listens here once the listener is closed, so every dial fails.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := ln.Addr().String()
	ln.Close()

	res, err := Run(context.Background(), Options{
		SMTPAddr: deadAddr, IMAPAddr: imapAddr,
		User: "load", Password: "secret", Rcpt: "load@frontdesk.test",
		Messages: 10, Concurrency: 2,
	})
	if err == nil || !strings.Contains(err.Error(), "no message accepted") {
		t.Errorf("err = %v, want no message accepted", err)
	}
	if res == nil || res.Failed != 10 || res.Accepted != 0 {
		t.Errorf("result %+v, want 10 failed", res)
	}
}

func TestRunHonoursCancel(t *testing.T) {
	smtpAddr, imapAddr := startServers(t, 0, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	// Far more messages than fit in the timeout, so the run must be cut short.
	_, err := Run(ctx, Options{
		SMTPAddr: smtpAddr, IMAPAddr: imapAddr,
		User: "load", Password: "secret", Rcpt: "load@frontdesk.test",
		Messages: 1_000_000, Size: 512,
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run took %v after cancellation", d)
	}
}
