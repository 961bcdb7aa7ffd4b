package telephony

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// statusLine is what every datagram the server sends back must start with.
var statusLine = regexp.MustCompile(`^SIP/2\.0 [1-6][0-9][0-9] `)

// FuzzSIPMessage sends each input as one UDP datagram to a running server,
// seeded with RFC 4475's torture messages, then checks the server still
// answers an OPTIONS and that everything it sent back was a well-formed
// response.
func FuzzSIPMessage(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/rfc4475/*.txt")
	if len(seeds) == 0 {
		f.Fatal("no RFC 4475 seeds in testdata/rfc4475")
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")))
	}
	f.Add([]byte("\x00\x01garbage\r\n\r\n"))

	dir := f.TempDir()
	// Each fuzzing worker is its own process with its own server.
	base := 30000 + os.Getpid()%150*200
	s, err := New(Config{
		Addr: "127.0.0.1:0", DataDir: dir, RTPPortMin: base, RTPPortMax: base + 199,
		Queues:       []QueueConfig{{Name: "sales"}, {Name: "support"}},
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		MediaTimeout: 5 * time.Second,
	})
	if err != nil {
		f.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	udp, _ := s.Addr()

	n := 0
	f.Fuzz(func(t *testing.T, msg []byte) {
		if len(msg) > 60000 {
			return // beyond one UDP datagram
		}
		c, err := net.Dial("udp", udp)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		n++
		probe := fmt.Sprintf("fuzz-probe-%d-%d", os.Getpid(), n)
		opt := strings.Replace(optionsReq("udp", c.LocalAddr().String()), "Call-ID: probe-", "Call-ID: "+probe+"-", 1)
		if _, err := c.Write([]byte(opt)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 65536)
		for {
			k, err := c.Read(buf)
			if err != nil {
				t.Fatalf("no answer to OPTIONS after %q: %v", msg, err)
			}
			resp := buf[:k]
			first, _ := bufio.NewReader(bytes.NewReader(resp)).ReadString('\n')
			if !statusLine.MatchString(first) {
				t.Fatalf("after %q the server sent %q", msg, resp)
			}
			if bytes.Contains(resp, []byte(probe)) {
				if !strings.HasPrefix(first, "SIP/2.0 200") {
					t.Fatalf("OPTIONS after %q: %q", msg, first)
				}
				return
			}
		}
	})
}
