package connlimit

import (
	"bufio"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"frontdesk/certs"
)

// serve accepts on a limited listener and holds every admitted
// connection open, greeting it, until the test ends.
func serve(t *testing.T, perIP, total int) (string, *Limiter) {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lim := New(perIP, total)
	l := NewListener(inner, lim, Config{Goodbye: func(r Refusal) string {
		if r == TooManyFromIP {
			return "421 too many from you\r\n"
		}
		return "421 too many\r\n"
	}})
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("220 hello\r\n"))
			go func() {
				buf := make([]byte, 1)
				c.Read(buf) // until the client closes
				c.Close()
			}()
		}
	}()
	return inner.Addr().String(), lim
}

func dialLine(t *testing.T, addr string) (net.Conn, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the first line: %v", err)
	}
	return c, line
}

func TestPerIPLimitAndRelease(t *testing.T) {
	addr, lim := serve(t, 2, 10)
	a, _ := dialLine(t, addr)
	dialLine(t, addr)
	c, line := dialLine(t, addr)
	if line != "421 too many from you\r\n" {
		t.Fatalf("third connection got %q", line)
	}
	// Closed at once after the goodbye.
	if _, err := bufio.NewReader(c).ReadString('\n'); err == nil {
		t.Error("refused connection stayed open")
	}
	a.Close()
	deadline := time.Now().Add(5 * time.Second)
	for lim.Open() != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if _, line := dialLine(t, addr); line != "220 hello\r\n" {
		t.Errorf("after a close, got %q", line)
	}
}

func TestTotalLimit(t *testing.T) {
	addr, _ := serve(t, 0, 1)
	dialLine(t, addr)
	if _, line := dialLine(t, addr); line != "421 too many\r\n" {
		t.Errorf("over the total: %q", line)
	}
}

// TestGoodbyeOverTLS: on an implicit-TLS port the refused client reads
// the goodbye inside TLS, as its client library expects.
func TestGoodbyeOverTLS(t *testing.T) {
	conf, err := certs.SelfSigned(t.TempDir(), []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(inner, New(0, 0), Config{TLS: conf, Goodbye: func(Refusal) string { return "* BYE Too many connections\r\n" }})
	t.Cleanup(func() { l.Close() })
	l.lim.mu.Lock() // one connection held already: the next is over the total
	l.lim.total, l.lim.count = 1, 1
	l.lim.mu.Unlock()
	go l.Accept()

	c, err := tls.Dial("tcp", inner.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if line != "* BYE Too many connections\r\n" {
		t.Errorf("over TLS: %q, %v", line, err)
	}
}
