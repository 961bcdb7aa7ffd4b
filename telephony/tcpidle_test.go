package telephony

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestTCPIdleConnectionClosed: a SIP-over-TCP peer that goes silent past
// TCPIdleTimeout is disconnected; one that sends RFC 5626 keep-alives
// (CRLFCRLF, answered with CRLF) stays connected.
func TestTCPIdleConnectionClosed(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.TCPIdleTimeout = 500 * time.Millisecond })
	_, addr := h.s.Addr()

	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(20 * time.Second))
		local := c.LocalAddr().String()
		fmt.Fprintf(c, "OPTIONS sip:100@%s;transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP %s;branch=z9hG4bK-idle%d\r\n"+
			"From: <sip:probe@%s>;tag=1\r\nTo: <sip:100@%s>\r\nCall-ID: idle-%s\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"+
			"Content-Length: 0\r\n\r\n", addr, local, time.Now().UnixNano(), local, addr, local)
		r := bufio.NewReader(c)
		status, err := r.ReadString('\n')
		if err != nil || !strings.HasPrefix(status, "SIP/2.0 ") {
			t.Fatalf("OPTIONS over TCP: %q, %v", status, err)
		}
		return c, r
	}

	_, r := dial()
	if _, err := io.Copy(io.Discard, r); err != nil {
		t.Errorf("silent peer: %v, want the server to close the connection", err)
	}

	c, r := dial()
	for range 8 { // 8 × 150 ms: past the timeout, never silent that long
		time.Sleep(150 * time.Millisecond)
		if _, err := c.Write([]byte("\r\n\r\n")); err != nil {
			t.Fatalf("keep-alive refused: %v", err)
		}
	}
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	buf := make([]byte, 4096)
	for {
		_, err := r.Read(buf)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			break // still open, nothing more to read
		}
		if err != nil {
			t.Fatalf("peer sending keep-alives was disconnected: %v", err)
		}
	}
}
