package queue

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"frontdesk/dnscheck"
	"frontdesk/dnscheck/dnstest"
	"frontdesk/store"
)

// received is one message a test MX accepted.
type received struct {
	from string
	to   []string
	data []byte
	tls  bool
}

// mailServer is a remote MX for tests, built on go-smtp's server. It
// records what it accepted and can be told to refuse recipients.
type mailServer struct {
	addr string
	port int
	srv  *smtp.Server

	// rcptErr, when set, decides RCPT replies: n counts earlier RCPTs of
	// the same address. Set before the queue runs.
	rcptErr   func(rcpt string, n int) error
	dataDelay time.Duration

	mu        sync.Mutex
	msgs      []received     // guarded by mu
	rcptSeen  map[string]int // guarded by mu
	inData    int            // guarded by mu
	maxInData int            // guarded by mu
	sessions  int            // guarded by mu: SMTP sessions begun
}

// startServer listens on ip:port (port 0: any) and serves until the test
// ends. tlsConfig non-nil offers STARTTLS.
func startServer(t testing.TB, ip string, port int, tlsConfig *tls.Config) *mailServer {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	s := &mailServer{addr: l.Addr().String(), port: l.Addr().(*net.TCPAddr).Port, rcptSeen: map[string]int{}}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		s.mu.Lock()
		s.sessions++
		s.mu.Unlock()
		return &testSession{s: s, c: c}, nil
	}))
	s.srv.Domain = "mx.test"
	s.srv.TLSConfig = tlsConfig
	s.srv.ReadTimeout = 10 * time.Second
	s.srv.WriteTimeout = 10 * time.Second
	go s.srv.Serve(l)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

func (s *mailServer) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

func (s *mailServer) seen(rcpt string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rcptSeen[rcpt]
}

type testSession struct {
	s    *mailServer
	c    *smtp.Conn
	from string
	to   []string
}

func (ts *testSession) Reset()        { ts.from, ts.to = "", nil }
func (ts *testSession) Logout() error { return nil }

func (ts *testSession) Mail(from string, _ *smtp.MailOptions) error {
	ts.from = from
	return nil
}

func (ts *testSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ts.s.mu.Lock()
	n := ts.s.rcptSeen[to]
	ts.s.rcptSeen[to]++
	ts.s.mu.Unlock()
	if ts.s.rcptErr != nil {
		if err := ts.s.rcptErr(to, n); err != nil {
			return err
		}
	}
	ts.to = append(ts.to, to)
	return nil
}

func (ts *testSession) Data(r io.Reader) error {
	s := ts.s
	s.mu.Lock()
	s.inData++
	s.maxInData = max(s.maxInData, s.inData)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inData--
		s.mu.Unlock()
	}()
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	time.Sleep(s.dataDelay)
	_, isTLS := ts.c.TLSConnectionState()
	s.mu.Lock()
	s.msgs = append(s.msgs, received{from: ts.from, to: ts.to, data: data, tls: isTLS})
	s.mu.Unlock()
	return nil
}

func smtpErr(code int, enh smtp.EnhancedCode, msg string) error {
	return &smtp.SMTPError{Code: code, EnhancedCode: enh, Message: msg}
}

// syncBuffer collects log output from concurrent goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// env is one queue with its store, DNS server and log.
type env struct {
	t     testing.TB
	dir   string
	st    *store.Store
	dns   *dnstest.Server
	res   *dnscheck.Resolver
	cfg   Config
	logs  *syncBuffer
	alice *store.Account

	q      *Queue
	cancel context.CancelFunc
	done   chan error
}

const sender = "alice@a.test"

// newEnv sets up a store with the local sender alice@a.test and a DNS
// server; port is the test MX's port.
func newEnv(t testing.TB, port int) *env {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.AddDomain(ctx, "a.test"); err != nil {
		t.Fatal(err)
	}
	alice, err := st.AddAccount(ctx, sender, "password1", store.RoleUser)
	if err != nil {
		t.Fatal(err)
	}
	dns := dnstest.New(t)
	res, err := dnscheck.NewResolver(dns.Addr)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	e := &env{t: t, dir: t.TempDir(), st: st, dns: dns, res: res.WithTimeout(time.Second), logs: logs, alice: alice,
		cfg: Config{
			Hostname:     "out.a.test",
			OutboundPort: port,
			Retry:        []time.Duration{50 * time.Millisecond, 100 * time.Millisecond},
			Timeout:      5 * time.Second,
			Logger:       slog.New(slog.NewTextHandler(logs, nil)),
		}}
	t.Cleanup(e.stop)
	return e
}

// open opens the queue without running it.
func (e *env) open() *Queue {
	e.t.Helper()
	q, err := Open(e.dir, e.st, e.res, e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.q = q
	return q
}

// start opens the queue if needed and runs it.
func (e *env) start() *Queue {
	e.t.Helper()
	if e.q == nil {
		e.open()
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan error, 1)
	go func() { e.done <- e.q.Run(ctx) }()
	return e.q
}

// stop ends Run and closes the queue.
func (e *env) stop() {
	if e.cancel != nil {
		e.cancel()
		if err := <-e.done; err != nil {
			e.t.Errorf("Run: %v", err)
		}
		e.cancel = nil
	}
	if e.q != nil {
		if err := e.q.Close(); err != nil {
			e.t.Errorf("Close: %v", err)
		}
		e.q = nil
	}
}

func (e *env) enqueue(from string, to []string, data []byte) string {
	e.t.Helper()
	id, err := e.q.Enqueue(context.Background(), from, to, data)
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

// inbox returns the messages in alice's INBOX.
func (e *env) inbox() [][]byte {
	e.t.Helper()
	ctx := context.Background()
	mb, err := e.st.MailboxByName(ctx, e.alice.ID, "INBOX")
	if err != nil {
		e.t.Fatal(err)
	}
	_, msgs, err := e.st.Messages(ctx, e.alice.ID, mb.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	var out [][]byte
	for _, m := range msgs {
		data, err := e.st.ReadMessage(e.alice.ID, m)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

// empty reports whether the queue holds nothing any more.
func (e *env) empty() bool {
	items, err := e.q.List(context.Background())
	if err != nil && !errors.Is(err, ErrClosed) {
		e.t.Fatal(err)
	}
	return err == nil && len(items) == 0
}

func (e *env) item(id string) *Item {
	e.t.Helper()
	items, err := e.q.List(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	for i := range items {
		if items[i].ID == id {
			return &items[i]
		}
	}
	return nil
}

// waitFor polls cond until it holds, failing the test after 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testMessage(subject string) []byte {
	return []byte("From: Alice <alice@a.test>\r\nTo: <bob@b.test>\r\nSubject: " + subject +
		"\r\nMessage-ID: <" + subject + "@a.test>\r\n\r\nHello Bob,\r\n.leading dot\r\nbye\r\n")
}

// dsnParts checks the structure of a DSN (RFC 3464, RFC 6522) and returns
// its three parts: human-readable text, delivery-status, original headers.
func dsnParts(t *testing.T, raw []byte) (human, status, headers string) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if from := m.Header.Get("From"); !strings.Contains(from, "MAILER-DAEMON@out.a.test") {
		t.Errorf("DSN From = %q", from)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["report-type"] != "delivery-status" {
		t.Fatalf("DSN Content-Type = %q (%v)", m.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	var types, bodies []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		types = append(types, ct)
		bodies = append(bodies, string(body))
	}
	want := []string{"text/plain", "message/delivery-status", "text/rfc822-headers"}
	if strings.Join(types, ",") != strings.Join(want, ",") {
		t.Fatalf("DSN parts = %v, want %v", types, want)
	}
	return bodies[0], bodies[1], bodies[2]
}
