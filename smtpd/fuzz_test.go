package smtpd

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"frontdesk/authn"
)

// scriptConn plays a whole client conversation at once: reads return the
// script then EOF, writes are recorded. Unlike net.Pipe it never blocks on
// a reply nobody reads, so every input runs to completion deterministically.
type scriptConn struct {
	in     *bytes.Reader
	mu     sync.Mutex
	out    bytes.Buffer
	once   sync.Once
	closed chan struct{}
}

func newScriptConn(script []byte) *scriptConn {
	return &scriptConn{in: bytes.NewReader(script), closed: make(chan struct{})}
}

func (c *scriptConn) Read(b []byte) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.in.Read(b)
}

func (c *scriptConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Write(b)
}

func (c *scriptConn) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

func (c *scriptConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *scriptConn) LocalAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 25} }
func (c *scriptConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
}
func (c *scriptConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }

type noResolver struct{}

func (noResolver) LookupAddr(context.Context, string) ([]string, error) { return nil, nil }

// FuzzSession feeds arbitrary bytes as a whole SMTP conversation (the
// first byte picks MX or submission) and checks that the server never
// panics and that the store gains exactly the messages it answered
// "250 ... queued" for, each whole: our Received header, no NUL, within
// the size limit.
func FuzzSession(f *testing.F) {
	for _, seed := range []string{
		"\x00EHLO a\r\nMAIL FROM:<b@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nSubject: x\r\n\r\nhi\r\n..dot\r\n.\r\nQUIT\r\n",
		"\x00EHLO a\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nbody without header\r\n.\r\nMAIL FROM:<c@d.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\ncut off",
		"\x00EHLO a\r\nMAIL FROM:<b@remote.test>\r\nRCPT TO:<alice@example.test>\r\nBDAT 5\r\nhelloBDAT 3 LAST\r\nabc",
		"\x01EHLO a\r\nAUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABwYXNzd29yZDEyMw==\r\nMAIL FROM:<alice@example.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nFrom: alice@example.test\r\n\r\nx\r\n.\r\n",
		"\x00HELO a\r\nMAIL FROM:<b@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nnul\x00\r\n.\r\nRSET\r\nVRFY x\r\nSTARTTLS\r\n",
	} {
		f.Add([]byte(seed))
	}
	st, _ := newStore(f)
	acct, _ := st.Account(context.Background(), alice)
	auth := authn.New(st)
	const maxSize = 4096
	f.Fuzz(func(t *testing.T, script []byte) {
		mode := MX
		if len(script) > 0 {
			if script[0]&1 == 1 {
				mode = Submission
			}
			script = script[1:]
		}
		before := len(inbox(t, st, acct.ID))
		srv := New(st, auth, Config{Mode: mode, Hostname: testHost, MaxSize: maxSize, Resolver: noResolver{},
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		pl := newPipeListener()
		sc := newScriptConn(script)
		pl.conns <- sc
		served := make(chan struct{})
		go func() { srv.Serve(pl); close(served) }()
		select {
		case <-sc.closed:
		case <-time.After(30 * time.Second):
			t.Fatalf("session did not end; output so far:\n%s", sc.output())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		<-served

		out := sc.output()
		accepted := bytes.Count([]byte(out), []byte("250 2.0.0 OK: queued"))
		msgs := inbox(t, st, acct.ID)[before:]
		if len(msgs) != accepted {
			t.Fatalf("store gained %d messages, server acknowledged %d; output:\n%s", len(msgs), accepted, out)
		}
		for _, m := range msgs {
			_, rest := splitReceived(t, m)
			if bytes.IndexByte(rest, 0) >= 0 || len(rest) > maxSize {
				t.Fatalf("stored an invalid message: %q", m)
			}
		}
	})
}
