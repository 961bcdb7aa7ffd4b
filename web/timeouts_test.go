package web

import (
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestEventStreamOutlivesTimeouts: a live-update stream stays open past
// the server's read and write timeouts and still carries events.
func TestEventStreamOutlivesTimeouts(t *testing.T) {
	e := newDeskEnv(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := Timeouts{Read: 200 * time.Millisecond, Write: 200 * time.Millisecond, Idle: 200 * time.Millisecond}.HTTPServer(e.srv, slog.New(slog.DiscardHandler))
	go hs.Serve(l)
	t.Cleanup(func() { hs.Close() })
	base := "http://" + l.Addr().String()

	c := e.client()
	c.mustLogin(agentIn, deskPW)
	u, _ := http.NewRequest("GET", e.ts.URL, nil)
	stream := openStream(t, base, "", c.hc.Jar.Cookies(u.URL)...)
	time.Sleep(time.Second) // five times both timeouts
	n := e.mail("carol@example.org", "Printer", "broken")
	if ev := readEvent(t, stream); ev["ticket"] != float64(n) {
		t.Errorf("event after the timeouts: %v, want ticket %d", ev, n)
	}
}
