package imapd

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// wireConn is a raw IMAP connection: the test writes command lines and
// reads the answers as the server sent them.
type wireConn struct {
	tb   testing.TB
	conn net.Conn
	r    *bufio.Reader
	n    int
}

func dialWire(tb testing.TB, addr string) *wireConn {
	tb.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	w := &wireConn{tb: tb, conn: conn, r: bufio.NewReader(conn)}
	if g := w.line(); !strings.HasPrefix(g, "* OK") {
		tb.Fatalf("greeting: %q", g)
	}
	return w
}

// loginWire dials and logs in as the test user.
func (e *testEnv) loginWire(tb testing.TB) *wireConn {
	tb.Helper()
	w := dialWire(tb, e.addr)
	w.ok(fmt.Sprintf("LOGIN %q %q", testUser, testPass))
	return w
}

// line reads one response line; a literal at its end is read along with
// the rest of the response, so a response is one string.
func (w *wireConn) line() string {
	w.tb.Helper()
	w.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var out strings.Builder
	for {
		l, err := w.r.ReadString('\n')
		if err != nil {
			w.tb.Fatalf("read: %v (after %q)", err, out.String()+l)
		}
		out.WriteString(l)
		t := strings.TrimRight(l, "\r\n")
		if !strings.HasSuffix(t, "}") {
			return strings.TrimRight(out.String(), "\r\n")
		}
		i := strings.LastIndexByte(t, '{')
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(t[i+1:len(t)-1], "~"), "+"))
		if i < 0 || err != nil {
			return strings.TrimRight(out.String(), "\r\n")
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(w.r, buf); err != nil {
			w.tb.Fatalf("read literal: %v", err)
		}
		out.Write(buf)
	}
}

// cmd sends one command and returns the untagged responses and the
// tagged status line without its tag.
func (w *wireConn) cmd(command string) (untagged []string, status string) {
	w.tb.Helper()
	w.n++
	tag := fmt.Sprintf("w%d", w.n)
	if _, err := fmt.Fprintf(w.conn, "%s %s\r\n", tag, command); err != nil {
		w.tb.Fatalf("write %q: %v", command, err)
	}
	for {
		l := w.line()
		if strings.HasPrefix(l, tag+" ") {
			return untagged, strings.TrimPrefix(l, tag+" ")
		}
		untagged = append(untagged, l)
	}
}

// ok sends a command that must succeed and returns its untagged responses.
func (w *wireConn) ok(command string) []string {
	w.tb.Helper()
	u, st := w.cmd(command)
	if !strings.HasPrefix(st, "OK") {
		w.tb.Fatalf("%s: %s\n%s", command, st, strings.Join(u, "\n"))
	}
	return u
}

// wireHas reports whether one of the lines equals want.
func wireHas(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}
