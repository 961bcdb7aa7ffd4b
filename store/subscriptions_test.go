package store

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestSubscriptionsMigrated opens an account database written before
// subscriptions were their own set, when each mailbox carried a
// "subscribed" field, and checks that the subscriptions are kept.
func TestSubscriptionsMigrated(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddDomain(ctx, "example.test"); err != nil {
		t.Fatal(err)
	}
	a, err := s.AddAccount(ctx, "alice@example.test", "password123", RoleUser)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"Old", "Plain"} {
		if _, err := s.CreateMailbox(ctx, a.ID, n, ""); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()

	// Rewrite the database as the old layout had it.
	db, err := bolt.Open(filepath.Join(dir, "accounts", strconv.FormatUint(a.ID, 10)+".db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketSubs); err != nil {
			return err
		}
		b := tx.Bucket(bucketMailboxes)
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var m map[string]any
			if err := json.Unmarshal(v, &m); err != nil {
				return err
			}
			m["subscribed"] = m["name"] != "Plain"
			nv, _ := json.Marshal(m)
			if err := b.Put(k, nv); err != nil {
				return err
			}
		}
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	subs, err := s.Subscriptions(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Archive", "Drafts", "INBOX", "Junk", "Old", "Sent", "Trash"}
	if !slices.Equal(subs, want) {
		t.Fatalf("subscriptions after migration: %q, want %q", subs, want)
	}
	// Migrated once: a later unsubscribe is not undone by the next open.
	if err := s.SetSubscribed(ctx, a.ID, "Old", false); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if subs, _ := s.Subscriptions(ctx, a.ID); slices.Contains(subs, "Old") {
		t.Fatalf("Old subscribed again after reopening: %q", subs)
	}
}
