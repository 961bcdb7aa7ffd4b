package queue

import (
	"fmt"
	"testing"
)

// Messages to one destination in a row share one SMTP session.
func TestSessionReuse(t *testing.T) {
	srv := startServer(t, "127.0.0.1", 0, nil)
	e := newEnv(t, srv.port)
	e.dns.MustAdd(t, "b.test. 300 IN MX 10 mx.b.test.", "mx.b.test. 300 IN A 127.0.0.1")
	e.start()
	const n = 5
	for i := 0; i < n; i++ {
		e.enqueue(sender, []string{"bob@b.test"}, testMessage(fmt.Sprint("reuse ", i)))
		waitFor(t, "queue to empty", e.empty)
	}
	if got := len(srv.messages()); got != n {
		t.Fatalf("server got %d messages, want %d", got, n)
	}
	srv.mu.Lock()
	sessions := srv.sessions
	srv.mu.Unlock()
	if sessions != 1 {
		t.Errorf("%d SMTP sessions for %d messages in a row, want 1", sessions, n)
	}
}
