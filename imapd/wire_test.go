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

// wireConn is a raw IMAP connection for tests that check responses byte
// for byte.
type wireConn struct {
	tb   testing.TB
	conn net.Conn
	r    *bufio.Reader
	n    int
}

// dialWire connects and logs in as the test user.
func (e *testEnv) dialWire(tb testing.TB) *wireConn {
	tb.Helper()
	conn, err := net.Dial("tcp", e.addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	w := &wireConn{tb: tb, conn: conn, r: bufio.NewReader(conn)}
	if line := w.line(); !strings.HasPrefix(line, "* OK") {
		tb.Fatalf("greeting %q", line)
	}
	w.ok(fmt.Sprintf("LOGIN %q %q", testUser, testPass))
	return w
}

// line reads one response line, literals included (their announcement,
// "{n}" or "~{n}", and their bytes stay in the line), without the CRLF.
func (w *wireConn) line() string {
	w.tb.Helper()
	var b strings.Builder
	for {
		s, err := w.r.ReadString('\n')
		if err != nil {
			w.tb.Fatalf("read: %v (after %q)", err, b.String()+s)
		}
		s = strings.TrimSuffix(s, "\r\n")
		b.WriteString(s)
		if !strings.HasSuffix(s, "}") {
			return b.String()
		}
		open := strings.LastIndexByte(s, '{')
		n, err := strconv.Atoi(strings.TrimSuffix(s[open+1:len(s)-1], "+"))
		if open < 0 || err != nil {
			return b.String()
		}
		b.WriteString("\r\n")
		lit := make([]byte, n)
		if _, err := io.ReadFull(w.r, lit); err != nil {
			w.tb.Fatalf("read literal: %v", err)
		}
		b.Write(lit)
	}
}

// cmd sends a command and returns the untagged responses and the tagged
// status line (without the tag).
func (w *wireConn) cmd(command string) (untagged []string, status string) {
	w.tb.Helper()
	w.n++
	tag := fmt.Sprintf("w%d", w.n)
	if _, err := fmt.Fprintf(w.conn, "%s %s\r\n", tag, command); err != nil {
		w.tb.Fatal(err)
	}
	for {
		l := w.line()
		if rest, ok := strings.CutPrefix(l, tag+" "); ok {
			return untagged, rest
		}
		untagged = append(untagged, l)
	}
}

// ok sends a command that must succeed and returns its untagged responses.
func (w *wireConn) ok(command string) []string {
	w.tb.Helper()
	untagged, status := w.cmd(command)
	if !strings.HasPrefix(status, "OK") {
		w.tb.Fatalf("%s: %s", command, status)
	}
	return untagged
}

// dialWire connects without logging in, for tests of the states before
// login.
func dialWire(tb testing.TB, addr string) *wireConn {
	tb.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(30 * time.Second))
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

// wireHas reports whether one of the lines equals want.
func wireHas(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}
