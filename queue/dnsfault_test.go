package queue

import (
	"strings"
	"testing"
	"time"

	"frontdesk/dnscheck"
	"frontdesk/dnscheck/dnstest"
)

// TestMXLookupTimeoutRetried: while the resolver does not answer, the MX
// lookup fails temporarily and the message stays queued (no bounce);
// once DNS answers again the next attempt delivers it.
func TestMXLookupTimeoutRetried(t *testing.T) {
	srv := startServer(t, "127.0.0.1", 0, nil)
	e := newEnv(t, srv.port)
	e.res = e.res.WithTimeout(100 * time.Millisecond)
	e.cfg.Retry = []time.Duration{100 * time.Millisecond}
	e.dns.MustAdd(t, "b.test. 300 IN MX 10 mx.b.test.", "mx.b.test. 300 IN A 127.0.0.1")
	e.dns.Silence("b.test")
	e.start()
	id := e.enqueue(sender, []string{"bob@b.test"}, testMessage("dns timeout"))
	waitFor(t, "two deferrals", func() bool { it := e.item(id); return it != nil && it.Recipients[0].Attempts >= 2 })
	r := e.item(id).Recipients[0]
	if r.Status != StatusQueued || !strings.HasPrefix(r.LastError, "451 4.4.3 MX lookup for b.test") {
		t.Errorf("while DNS is silent: %+v", r)
	}
	if len(e.inbox()) != 0 {
		t.Error("a DNS timeout bounced the message")
	}
	e.dns.Unsilence("b.test")
	waitFor(t, "delivery once DNS answers", e.empty)
	if len(srv.messages()) != 1 {
		t.Errorf("remote got %d messages, want 1", len(srv.messages()))
	}
	if len(e.inbox()) != 0 {
		t.Error("DSN sent for a delivered message")
	}
}

// TestMXLookupResolverDown: with nothing listening at the resolver's
// address, the MX lookup is refused at once; the message is deferred,
// never bounced.
func TestMXLookupResolverDown(t *testing.T) {
	srv := startServer(t, "127.0.0.1", 0, nil)
	e := newEnv(t, srv.port)
	res, err := dnscheck.NewResolver(dnstest.DeadAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	e.res = res.WithTimeout(100 * time.Millisecond)
	e.cfg.Retry = []time.Duration{50 * time.Millisecond}
	e.start()
	id := e.enqueue(sender, []string{"bob@b.test"}, testMessage("dns down"))
	waitFor(t, "two deferrals", func() bool { it := e.item(id); return it != nil && it.Recipients[0].Attempts >= 2 })
	if r := e.item(id).Recipients[0]; r.Status != StatusQueued || !strings.HasPrefix(r.LastError, "451 4.4.3 MX lookup for b.test") {
		t.Errorf("with the resolver down: %+v", r)
	}
	if len(e.inbox()) != 0 {
		t.Error("a dead resolver bounced the message")
	}
}
