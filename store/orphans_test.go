package store

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestOrphanFilesRemovedOnOpen: the files a crash leaves behind (written
// but never committed, or expunged but not yet removed) are deleted when
// the account next opens; every message's file stays.
func TestOrphanFilesRemovedOnOpen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s.AddDomain(ctx, "example.test")
	a, _ := s.AddAccount(ctx, "a@example.test", "password123", RoleUser)
	for _, body := range []string{"kept\r\n", "copied\r\n"} {
		if _, err := s.Deliver(ctx, []byte(body), time.Time{}, Delivery{Account: a.ID, Mailbox: "INBOX"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Copy(ctx, a.ID, inbox(t, s, a).ID, []uint32{2}, "Archive"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// What a crash leaves: a message file whose metadata never committed,
	// in an existing shard and in a new one.
	msgDir := filepath.Join(dir, "msg", strconv.FormatUint(a.ID, 10))
	shards, _ := os.ReadDir(msgDir)
	if len(shards) == 0 {
		t.Fatal("no shard directory")
	}
	orphans := []string{filepath.Join(msgDir, shards[0].Name(), "orphan1"), filepath.Join(msgDir, "ff", "orphan2")}
	os.MkdirAll(filepath.Join(msgDir, "ff"), 0o700)
	for _, p := range orphans {
		if err := os.WriteFile(p, []byte("half a mess"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, name := range []string{"INBOX", "Archive"} {
		mb, err := s.MailboxByName(ctx, a.ID, name)
		if err != nil {
			t.Fatal(err)
		}
		_, msgs, err := s.Messages(ctx, a.ID, mb.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if _, err := s.ReadMessage(a.ID, m); err != nil {
				t.Errorf("%s uid %d lost its file: %v", name, m.UID, err)
			}
		}
	}
	for _, p := range orphans {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("orphan %s still there (%v)", p, err)
		}
	}
	var files int
	filepath.WalkDir(msgDir, func(_ string, d os.DirEntry, _ error) error {
		if !d.IsDir() {
			files++
		}
		return nil
	})
	if files != 3 {
		t.Errorf("%d message files, want 3 (two in INBOX, one copy in Archive)", files)
	}
}
