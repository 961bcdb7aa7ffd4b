package smtpd

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"frontdesk/authn"
	"frontdesk/certs"
	"frontdesk/store"
)

const (
	alice    = "alice@example.test"
	alicePW  = "password123"
	testHost = "mx.example.test"
)

// syncBuffer collects log output from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type env struct {
	t     testing.TB
	st    *store.Store
	auth  *authn.Authenticator
	srv   *Server
	addr  string // plain (or STARTTLS) listener
	alice *store.Account
	logs  *syncBuffer
}

func newStore(t testing.TB) (*store.Store, *store.Account) {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	if _, err := st.AddDomain(ctx, "example.test"); err != nil {
		t.Fatal(err)
	}
	a, err := st.AddAccount(ctx, alice, alicePW, store.RoleUser)
	if err != nil {
		t.Fatal(err)
	}
	return st, a
}

// newEnv starts a server on 127.0.0.1:0 over a fresh store. The store is
// closed after the server has shut down.
func newEnv(t testing.TB, mode Mode, tweak func(*Config)) *env {
	t.Helper()
	st, a := newStore(t)
	e := &env{t: t, st: st, auth: authn.New(st), alice: a, logs: &syncBuffer{}}
	cfg := Config{
		Mode:     mode,
		Hostname: testHost,
		Logger:   slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if tweak != nil {
		tweak(&cfg)
	}
	e.srv = New(st, e.auth, cfg)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = l.Addr().String()
	go e.srv.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.srv.Shutdown(ctx)
		if t.Failed() {
			t.Logf("server log:\n%s", e.logs.String())
		}
	})
	return e
}

func testTLS(t testing.TB) *tls.Config {
	t.Helper()
	cfg, err := certs.SelfSigned(t.TempDir(), []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// inbox returns alice's INBOX messages, oldest first.
func (e *env) inbox() [][]byte {
	return inbox(e.t, e.st, e.alice.ID)
}

func inbox(t testing.TB, st *store.Store, acct uint64) [][]byte {
	t.Helper()
	ctx := context.Background()
	mb, err := st.MailboxByName(ctx, acct, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	_, msgs, err := st.Messages(ctx, acct, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, m := range msgs {
		b, err := st.ReadMessage(acct, m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// splitReceived splits a stored message into our Received header (a
// folded field: continuation lines start with a tab) and the rest.
func splitReceived(t testing.TB, msg []byte) (hdr string, rest []byte) {
	t.Helper()
	if !bytes.HasPrefix(msg, []byte("Received: ")) {
		t.Fatalf("stored message does not start with Received: %q", msg[:min(len(msg), 80)])
	}
	i := 0
	for {
		j := bytes.Index(msg[i:], []byte("\r\n"))
		if j < 0 {
			t.Fatalf("unterminated Received header: %q", msg)
		}
		i += j + 2
		if i >= len(msg) || msg[i] != '\t' {
			return string(msg[:i]), msg[i:]
		}
	}
}

// waitLog waits until the server log contains s.
func (e *env) waitLog(s string) {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(e.logs.String(), s) {
		if time.Now().After(deadline) {
			e.t.Fatalf("log never contained %q:\n%s", s, e.logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// raw is a hand-driven SMTP conversation, for what real clients never send.
type raw struct {
	t  testing.TB
	c  net.Conn
	tp *textproto.Conn
}

func dialRaw(t testing.TB, addr string) *raw {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return newRaw(t, c)
}

func newRaw(t testing.TB, c net.Conn) *raw {
	t.Helper()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	r := &raw{t: t, c: c, tp: textproto.NewConn(c)}
	t.Cleanup(func() { c.Close() })
	r.expect(220, "")
	return r
}

// expect reads one (possibly multi-line) reply and checks its code and
// that its text contains want.
func (r *raw) expect(code int, want string) string {
	r.t.Helper()
	got, msg, err := r.tp.ReadResponse(0)
	if err != nil && got == 0 {
		r.t.Fatalf("reading reply (want %d %q): %v", code, want, err)
	}
	if got != code || !strings.Contains(msg, want) {
		r.t.Fatalf("got %d %q, want %d %q", got, msg, code, want)
	}
	return msg
}

// cmd sends a line and checks the reply.
func (r *raw) cmd(line string, code int, want string) string {
	r.t.Helper()
	if err := r.tp.PrintfLine("%s", line); err != nil {
		r.t.Fatalf("send %q: %v", line, err)
	}
	return r.expect(code, want)
}

// send writes bytes as they are.
func (r *raw) send(s string) {
	r.t.Helper()
	if _, err := r.c.Write([]byte(s)); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// pipeListener serves exactly one net.Pipe connection whose remote address
// is whatever the test says, to exercise per-connection rules (TLS or
// loopback) without a non-loopback interface.
type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

type addrConn struct {
	net.Conn
	remote net.Addr
}

func (c addrConn) RemoteAddr() net.Addr { return c.remote }

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn, 16), closed: make(chan struct{})}
}

// dial returns the client end of a new connection that appears to come from remote.
func (l *pipeListener) dial(remote string) net.Conn {
	client, server := net.Pipe()
	l.conns <- addrConn{server, &net.TCPAddr{IP: net.ParseIP(remote), Port: 40000}}
	return client
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 25} }

// sendPlain sends one message without TLS (smtp.SendMail insists on STARTTLS).
func sendPlain(addr, from string, to []string, r io.Reader) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SendMail(from, to, r); err != nil {
		return err
	}
	return c.Quit()
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
