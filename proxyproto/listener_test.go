package proxyproto

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func listen(t *testing.T, trusted ...string) (*Listener, *logBuf) {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var ps []netip.Prefix
	for _, s := range trusted {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	lb := &logBuf{}
	// A long header timeout: a test that waited on it would hang, not pass.
	l := NewListener(inner, Config{Trusted: ps, HeaderTimeout: time.Minute, Logger: slog.New(slog.NewTextHandler(lb, nil))})
	t.Cleanup(func() { l.Close() })
	return l, lb
}

func dial(t *testing.T, l net.Listener, send string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if send != "" {
		if _, err := io.WriteString(c, send); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func TestListenerTrustedProxy(t *testing.T) {
	l, _ := listen(t, "127.0.0.0/8")
	// A silent trusted peer first: its header is awaited in its own
	// goroutine, so the next connection is accepted all the same.
	silent := dial(t, l, "")
	h := Header{Version: 2, Command: Proxy, Source: netip.MustParseAddrPort("192.0.2.7:40000"), Destination: netip.MustParseAddrPort("198.51.100.1:25")}
	dial(t, l, string(h.Format())+"EHLO client\r\n")
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.RemoteAddr().String(); got != "192.0.2.7:40000" {
		t.Errorf("RemoteAddr = %s, want the header's 192.0.2.7:40000", got)
	}
	if got := c.LocalAddr().String(); got != "198.51.100.1:25" {
		t.Errorf("LocalAddr = %s", got)
	}
	if _, ok := c.RemoteAddr().(*net.TCPAddr); !ok {
		t.Errorf("RemoteAddr is %T, want *net.TCPAddr", c.RemoteAddr())
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "EHLO client\r\n" {
		t.Errorf("first line after the header: %q, %v", line, err)
	}

	// v1 from the same proxy.
	dial(t, l, "PROXY TCP6 2001:db8::7 2001:db8::1 1234 143\r\n")
	c2, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if got := c2.RemoteAddr().String(); got != "[2001:db8::7]:1234" {
		t.Errorf("v1 RemoteAddr = %s", got)
	}
	silent.Close()
}

func TestListenerTrustedPeerWithoutHeader(t *testing.T) {
	l, logs := listen(t, "127.0.0.0/8")
	bad := dial(t, l, "EHLO client\r\n")
	malformed := dial(t, l, "PROXY TCP4 192.0.2.300 198.51.100.1 1 25\r\n")
	for _, c := range []net.Conn{bad, malformed} {
		// The server closes it without a byte: no greeting.
		if b, err := io.ReadAll(c); err != nil || len(b) != 0 {
			t.Errorf("refused connection read %q, %v", b, err)
		}
	}
	h := Header{Version: 1, Command: Proxy, Source: netip.MustParseAddrPort("192.0.2.8:1"), Destination: netip.MustParseAddrPort("192.0.2.1:25")}
	dial(t, l, string(h.Format()))
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if got := c.RemoteAddr().String(); got != "192.0.2.8:1" {
		t.Errorf("Accept returned %s, want only the good connection", got)
	}
	out := logs.String()
	for _, want := range []string{"no PROXY protocol header", "not an IP address", "peer=127.0.0.1:"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestListenerUntrustedPeer(t *testing.T) {
	l, logs := listen(t, "192.0.2.0/24")
	// A direct client: served as it is.
	dial(t, l, "EHLO direct\r\n")
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !strings.HasPrefix(c.RemoteAddr().String(), "127.0.0.1:") {
		t.Errorf("direct client's RemoteAddr = %s", c.RemoteAddr())
	}
	if line, _ := bufio.NewReader(c).ReadString('\n'); line != "EHLO direct\r\n" {
		t.Errorf("direct client read %q", line)
	}

	// A header it may not send: refused at the first read, and closed.
	spoof := dial(t, l, "PROXY TCP4 192.0.2.7 198.51.100.1 50000 25\r\nEHLO x\r\n")
	c2, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if !strings.HasPrefix(c2.RemoteAddr().String(), "127.0.0.1:") {
		t.Errorf("untrusted header changed RemoteAddr to %s", c2.RemoteAddr())
	}
	n, err := c2.Read(make([]byte, 100))
	if n != 0 || !errors.Is(err, ErrUntrustedHeader) {
		t.Errorf("Read = %d, %v; want ErrUntrustedHeader", n, err)
	}
	if b, _ := io.ReadAll(spoof); len(b) != 0 {
		t.Errorf("spoofing client got %q", b)
	}
	if out := logs.String(); !strings.Contains(out, "untrusted peer refused") || !strings.Contains(out, "peer=127.0.0.1:") {
		t.Errorf("log:\n%s", out)
	}
}

func TestListenerClose(t *testing.T) {
	l, _ := listen(t)
	l.Close()
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v", err)
	}
}

// An HTTP server behind the listener sees the client in r.RemoteAddr.
func TestListenerHTTP(t *testing.T) {
	l, _ := listen(t, "127.0.0.0/8")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.RemoteAddr)
	})}
	go srv.Serve(l)
	defer srv.Close()
	c := dial(t, l, "PROXY TCP4 203.0.113.4 127.0.0.1 5555 80\r\nGET / HTTP/1.0\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "203.0.113.4:5555" {
		t.Errorf("handler saw RemoteAddr %q", body)
	}
}

func BenchmarkReadHeader(b *testing.B) {
	h := Header{Version: 2, Command: Proxy, Source: netip.MustParseAddrPort("192.0.2.7:40000"), Destination: netip.MustParseAddrPort("198.51.100.1:25")}
	v2 := h.Format()
	h.Version = 1
	v1 := h.Format()
	for name, in := range map[string][]byte{"v1": v1, "v2": v2} {
		b.Run(name, func(b *testing.B) {
			r := bufio.NewReader(nil)
			for b.Loop() {
				r.Reset(bytes.NewReader(in))
				if _, err := ReadHeader(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
