package telephony

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// TestVersionNotSupported: RFC 4475's badvers request gets 505 with a
// SIP/2.0 status line; a request line cut by a bare LF gets no answer at
// all rather than a broken one; the server still answers afterwards.
func TestVersionNotSupported(t *testing.T) {
	s, err := New(Config{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), RTPPortMin: 33000, RTPPortMax: 33019,
		Queues: []QueueConfig{{Name: "sales"}, {Name: "support"}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	udp, _ := s.Addr()
	badvers, err := os.ReadFile("testdata/rfc4475/badvers.txt")
	if err != nil {
		t.Fatal(err)
	}
	badvers = bytes.ReplaceAll(badvers, []byte("\n"), []byte("\r\n"))

	c, err := net.Dial("udp", udp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	read := func() string {
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		buf := make([]byte, 65536)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		return string(buf[:n])
	}
	c.Write(badvers)
	got := read()
	if !strings.HasPrefix(got, "SIP/2.0 505 Version Not Supported\r\n") || !strings.Contains(got, "Call-ID: badvers.31415@c.example.com") {
		t.Fatalf("badvers answered %q", got)
	}

	bareLF := strings.ReplaceAll(optionsReq("udp", c.LocalAddr().String()), "\r\n", "\n")
	c.Write([]byte(bareLF))
	c.Write([]byte(optionsReq("udp", c.LocalAddr().String())))
	if got := read(); !strings.HasPrefix(got, "SIP/2.0 200 ") || !strings.Contains(got, "CSeq: 1 OPTIONS") {
		t.Fatalf("after a bare-LF request the first answer was %q", got)
	}
}
