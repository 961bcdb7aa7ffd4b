package store

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
)

// snapshot is every message of every mailbox of an account, by mailbox
// name, as "uid flags" → bytes.
func snapshot(t *testing.T, s *Store, acct uint64) map[string]map[string][]byte {
	t.Helper()
	ctx := context.Background()
	mbs, err := s.Mailboxes(ctx, acct)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string][]byte{}
	for _, mb := range mbs {
		_, msgs, err := s.Messages(ctx, acct, mb.ID)
		if err != nil {
			t.Fatal(err)
		}
		out[mb.Name] = map[string][]byte{}
		for _, m := range msgs {
			b, err := s.ReadMessage(acct, m)
			if err != nil {
				t.Fatalf("%s uid %d: %v", mb.Name, m.UID, err)
			}
			out[mb.Name][fmt.Sprint(m.UID, m.Flags)] = b
		}
	}
	return out
}

func TestBackupCopiesAccountsAndMessages(t *testing.T) {
	t.Run("linked", func(t *testing.T) { testBackup(t, newFileCopier()) })
	// As when the backup is on another file system.
	t.Run("copied", func(t *testing.T) {
		c := newFileCopier()
		c.copying = true
		testBackup(t, c)
	})
}

func testBackup(t *testing.T, copier *fileCopier) {
	s, a := newTestStore(t)
	ctx := context.Background()
	for i := range 5 {
		msg := fmt.Appendf(nil, "Subject: %d\r\n\r\nbody %d\r\n", i, i)
		if _, err := s.Deliver(ctx, msg, time.Time{}, Delivery{Account: a.ID, Mailbox: "INBOX", Flags: []string{FlagSeen}}); err != nil {
			t.Fatal(err)
		}
	}
	in := inbox(t, s, a)
	if _, err := s.Copy(ctx, a.ID, in.ID, []uint32{1, 2}, "Archive"); err != nil {
		t.Fatal(err)
	}
	// A leftover of a crash: no metadata names it, so it stays behind.
	orphan := filepath.Join(s.dir, "msg", fmt.Sprint(a.ID), "00", "orphan")
	os.MkdirAll(filepath.Dir(orphan), 0o700)
	os.WriteFile(orphan, []byte("x"), 0o600)
	want := snapshot(t, s, a.ID)

	dir := filepath.Join(t.TempDir(), "backup")
	if err := s.backup(dir, copier); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "msg", fmt.Sprint(a.ID), "00", "orphan")); err == nil {
		t.Error("an unreferenced message file was backed up")
	}
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Authenticate(ctx, "alice@example.test", "password123"); err != nil {
		t.Fatalf("login on the copy: %v", err)
	}
	if ok, _ := c.IsLocalDomain(ctx, "example.test"); !ok {
		t.Error("domain missing from the copy")
	}
	got := snapshot(t, c, a.ID)
	if len(got) != len(want) {
		t.Fatalf("copy has %d mailboxes, want %d", len(got), len(want))
	}
	for name, msgs := range want {
		if len(got[name]) != len(msgs) {
			t.Errorf("%s: %d messages in the copy, want %d", name, len(got[name]), len(msgs))
		}
		for k, b := range msgs {
			if !bytes.Equal(got[name][k], b) {
				t.Errorf("%s %s differs in the copy", name, k)
			}
		}
	}
	// The INBOX message and its Archive copy share one file in the backup.
	cin, _ := c.MailboxByName(ctx, a.ID, "INBOX")
	carch, _ := c.MailboxByName(ctx, a.ID, "Archive")
	m1, _ := c.MessagesByUID(ctx, a.ID, cin.ID, []uint32{1})
	m2, _ := c.MessagesByUID(ctx, a.ID, carch.ID, []uint32{1})
	f1, _ := c.OpenMessage(a.ID, m1[0])
	f2, _ := c.OpenMessage(a.ID, m2[0])
	defer f1.Close()
	defer f2.Close()
	fi1, _ := f1.Stat()
	fi2, _ := f2.Stat()
	if !os.SameFile(fi1, fi2) {
		t.Error("a message copied between mailboxes takes two files in the backup")
	}
	src, _ := s.OpenMessage(a.ID, m1[0])
	defer src.Close()
	fis, _ := src.Stat()
	if linked := os.SameFile(fi1, fis); linked == copier.copying {
		t.Errorf("backup file shares the original's inode: %v, want %v", linked, !copier.copying)
	}
	if fi1.Mode().Perm() != 0o600 {
		t.Errorf("message file mode %v, want 0600", fi1.Mode().Perm())
	}
}

// TestBackupDuringDeliveries: every message the copied metadata names has
// its file, while deliveries, copies and expunges go on.
func TestBackupDuringDeliveries(t *testing.T) {
	s, a := newTestStore(t)
	ctx := context.Background()
	in := inbox(t, s, a)
	var stop atomic.Bool
	var wg sync.WaitGroup
	defer func() { stop.Store(true); wg.Wait() }()
	for w := range 4 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				msg := fmt.Appendf(nil, "Subject: %d-%d\r\n\r\nbody\r\n", w, i)
				d, err := s.Deliver(ctx, msg, time.Time{}, Delivery{Account: a.ID, Mailbox: "INBOX"})
				if err != nil {
					t.Error(err)
					return
				}
				uid := d[0].UID
				if _, err := s.Copy(ctx, a.ID, in.ID, []uint32{uid}, "Archive"); err != nil {
					t.Error(err)
					return
				}
				if i%3 == 0 {
					s.SetFlags(ctx, a.ID, in.ID, []uint32{uid}, FlagsAdd, []string{FlagDeleted})
					if _, err := s.Expunge(ctx, a.ID, in.ID, []uint32{uid}); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	var dirs []string
	for i := range 3 {
		dir := filepath.Join(t.TempDir(), fmt.Sprint("backup", i))
		if err := s.Backup(dir); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, dir)
		time.Sleep(20 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	for _, dir := range dirs {
		c, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		got := snapshot(t, c, a.ID) // fails on a missing file
		if len(got["INBOX"])+len(got["Archive"]) == 0 {
			t.Errorf("%s: no messages", dir)
		}
		c.Close()
	}
}
