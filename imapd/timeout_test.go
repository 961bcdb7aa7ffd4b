package imapd

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"frontdesk/authn"
)

// timeoutEnv is newTestEnv's store served with short timeouts.
func timeoutEnv(t *testing.T, login, autologout time.Duration) string {
	t.Helper()
	e := newTestEnv(t)
	srv := New(e.st, authn.New(e.st), Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		LoginTimeout: login, Autologout: autologout})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

// rawIMAP is a client on a socket that reads whole lines.
type rawIMAP struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialIMAP(t *testing.T, addr string) *rawIMAP {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	r := &rawIMAP{t: t, c: c, r: bufio.NewReader(c)}
	r.until("* OK")
	return r
}

// until reads lines up to one starting with prefix, and returns it.
func (r *rawIMAP) until(prefix string) string {
	r.t.Helper()
	for {
		line, err := r.r.ReadString('\n')
		if err != nil {
			r.t.Fatalf("waiting for %q: %v", prefix, err)
		}
		if strings.HasPrefix(line, prefix) {
			return line
		}
	}
}

func (r *rawIMAP) send(line string) {
	r.t.Helper()
	if _, err := r.c.Write([]byte(line + "\r\n")); err != nil {
		r.t.Fatal(err)
	}
}

// closed reports whether the server has closed the connection.
func (r *rawIMAP) closed() bool {
	_, err := r.r.ReadByte()
	return err == io.EOF
}

// TestAutologout: a client silent past the timeouts gets * BYE and the
// connection closes: before login, logged in between commands, and in
// IDLE (RFC 9051 §5.4).
func TestAutologout(t *testing.T) {
	addr := timeoutEnv(t, 300*time.Millisecond, 300*time.Millisecond)

	r := dialIMAP(t, addr)
	if bye := r.until("* BYE"); !strings.Contains(bye, "Autologout") {
		t.Errorf("before login: %q", bye)
	}
	if !r.closed() {
		t.Error("still open after BYE before login")
	}

	r = dialIMAP(t, addr)
	r.send("a LOGIN " + testUser + ` "` + testPass + `"`)
	r.until("a OK")
	r.send("b SELECT INBOX")
	r.until("b OK")
	if bye := r.until("* BYE"); !strings.Contains(bye, "Autologout") {
		t.Errorf("logged in: %q", bye)
	}
	if !r.closed() {
		t.Error("still open after BYE when logged in")
	}

	r = dialIMAP(t, addr)
	r.send("a LOGIN " + testUser + ` "` + testPass + `"`)
	r.until("a OK")
	r.send("b SELECT INBOX")
	r.until("b OK")
	r.send("c IDLE")
	r.until("+ ")
	if bye := r.until("* BYE"); !strings.Contains(bye, "Autologout") {
		t.Errorf("in IDLE: %q", bye)
	}
	if !r.closed() {
		t.Error("still open after BYE in IDLE")
	}
}

// TestBusyClientNotLoggedOut: commands keep a session alive past the
// autologout timeout.
func TestBusyClientNotLoggedOut(t *testing.T) {
	addr := timeoutEnv(t, time.Second, 400*time.Millisecond)
	r := dialIMAP(t, addr)
	r.send("a LOGIN " + testUser + ` "` + testPass + `"`)
	r.until("a OK")
	for i := range 6 {
		time.Sleep(100 * time.Millisecond)
		tag := string(rune('b' + i))
		r.send(tag + " NOOP")
		if line := r.until(tag + " "); !strings.HasPrefix(line, tag+" OK") {
			t.Fatalf("NOOP %d: %q", i, line)
		}
	}
}
