package queue

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"frontdesk/durable/disktest"
	"frontdesk/store"
)

// TestEnqueueDiskFull fills the queue's file system, once before the
// message file and once after it (no room for the record): Enqueue fails
// with an error the protocols answer as "storage full", nothing is left
// half queued, and once there is room the same queue takes the message
// and delivers it.
func TestEnqueueDiskFull(t *testing.T) {
	dir := disktest.Mount(t, 4<<20) // first, so it is unmounted after the queue closes
	srv := startServer(t, "127.0.0.1", 0, nil)
	e := newEnv(t, srv.port)
	e.dns.MustAdd(t, "b.test. 300 IN MX 10 mx.b.test.", "mx.b.test. 300 IN A 127.0.0.1")
	e.dir = dir
	q := e.open()
	msg := testMessage("full")
	// A record big enough to need fresh database pages.
	var to []string
	for i := 0; i < 300; i++ {
		to = append(to, fmt.Sprintf("rcpt%03d.%s@b.test", i, strings.Repeat("x", 60)))
	}
	check := func(what string, err error, want string) {
		t.Helper()
		if !store.IsNoSpace(err) || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: Enqueue on a full disk: %v, want a disk-full error from %q", what, err, want)
		}
		if ents, _ := os.ReadDir(filepath.Join(e.dir, "msg")); len(ents) != 0 {
			t.Fatalf("%s: %d message files left by a refused Enqueue", what, len(ents))
		}
		if items, err := q.List(context.Background()); err != nil || len(items) != 0 {
			t.Fatalf("%s: List after a refused Enqueue: %v %+v", what, err, items)
		}
	}

	f := disktest.Fill(t, e.dir, 0)
	_, err := q.Enqueue(context.Background(), sender, to, msg)
	check("no room", err, "write message")
	f.Free()

	f = disktest.Fill(t, e.dir, int64(len(msg)))
	_, err = q.Enqueue(context.Background(), sender, to, msg)
	check("room for the file only", err, "commit")
	f.Free()

	e.start()
	e.enqueue(sender, to[:2], msg)
	waitFor(t, "delivery once there is room", func() bool { return srv.seen(to[1]) == 1 })
}
