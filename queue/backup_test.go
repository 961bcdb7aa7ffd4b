package queue

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestBackupCopiesRecordsAndFiles(t *testing.T) {
	e := newEnv(t, 1)
	e.dns.MustAdd(t, "b.test. 300 IN MX 10 mx.b.test.", "mx.b.test. 300 IN A 127.0.0.1")
	q := e.open() // not running: messages stay queued
	ids := map[string][]byte{}
	for i := range 3 {
		msg := testMessage(fmt.Sprint("backup", i))
		ids[e.enqueue(sender, []string{"bob@b.test"}, msg)] = msg
	}
	// A record whose file is gone (a disk that lost data) has no place in
	// a backup; the others do.
	lost := e.enqueue(sender, []string{"bob@b.test"}, testMessage("lost"))
	os.Remove(q.msgPath(lost))

	dir := filepath.Join(t.TempDir(), "queue")
	if err := q.Backup(dir); err != nil {
		t.Fatal(err)
	}
	want, err := q.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c, err := Open(dir, e.st, e.res, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := c.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ids) || len(want) != len(ids)+1 {
		t.Fatalf("copy lists %d messages, original %d; want %d and %d", len(got), len(want), len(ids), len(ids)+1)
	}
	for _, it := range got {
		msg, ok := ids[it.ID]
		if !ok {
			t.Errorf("copy has %s, which it should not", it.ID)
			continue
		}
		b, err := os.ReadFile(c.msgPath(it.ID))
		if err != nil || !bytes.Equal(b, msg) {
			t.Errorf("%s in the copy: %q, %v", it.ID, b, err)
		}
		if it.Recipients[0].Addr != "bob@b.test" || it.Recipients[0].Status != StatusQueued {
			t.Errorf("%s in the copy: %+v", it.ID, it.Recipients)
		}
	}
	if logs := e.logs.String(); bytes.Contains([]byte(logs), []byte("message file missing")) {
		t.Errorf("opening the copy found records without files:\n%s", logs)
	}
}

// TestBackupWhileDelivering: messages come and go while backups are
// taken; every record in every backup has its file.
func TestBackupWhileDelivering(t *testing.T) {
	srv := startServer(t, "127.0.0.1", 0, nil)
	e := newEnv(t, srv.port)
	e.dns.MustAdd(t, "b.test. 300 IN MX 10 mx.b.test.", "mx.b.test. 300 IN A 127.0.0.1")
	q := e.start()
	var stop atomic.Bool
	var wg sync.WaitGroup
	defer func() { stop.Store(true); wg.Wait() }()
	for w := range 4 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				if _, err := q.Enqueue(context.Background(), sender, []string{"bob@b.test"}, testMessage(fmt.Sprint(w, "-", i))); err != nil {
					if !stop.Load() {
						t.Error(err)
					}
					return
				}
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	var records int
	for i := range 5 {
		dir := filepath.Join(t.TempDir(), fmt.Sprint("queue", i))
		if err := q.Backup(dir); err != nil {
			t.Fatal(err)
		}
		db, err := bolt.Open(filepath.Join(dir, "queue.db"), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		inDB := map[string]bool{}
		db.View(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketMsgs).ForEach(func(k, _ []byte) error {
				records++
				inDB[string(k)] = true
				if _, err := os.Stat(filepath.Join(dir, "msg", string(k))); err != nil {
					t.Errorf("backup %d: record %s without its file: %v", i, k, err)
				}
				return nil
			})
		})
		db.Close()
		entries, _ := os.ReadDir(filepath.Join(dir, "msg"))
		for _, en := range entries {
			if !inDB[en.Name()] {
				t.Errorf("backup %d: file %s without a record", i, en.Name())
			}
		}
	}
	if records == 0 {
		t.Error("no backup held a queued message: the test proved nothing")
	}
	if len(srv.messages()) == 0 {
		t.Error("nothing was delivered during the backups: the test proved nothing")
	}
}
