package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestDropFileKeepsReferencedFile: after a failed commit the message file
// goes only if no record refers to it, since a commit whose last fsync
// failed may still be visible.
func TestDropFileKeepsReferencedFile(t *testing.T) {
	s, acct := newTestStore(t)
	ctx := context.Background()
	d, err := s.Deliver(ctx, []byte("Subject: kept\r\n\r\nhi\r\n"), time.Time{}, Delivery{Account: acct.ID, Mailbox: "INBOX"})
	if err != nil {
		t.Fatal(err)
	}
	_, msgs, err := s.Messages(ctx, acct.ID, d[0].Mailbox)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("messages: %v %d", err, len(msgs))
	}
	a, err := s.account(acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	kept := msgs[0].File
	a.dropFile(d[0], kept)
	if _, err := os.Stat(filepath.Join(a.dir, kept)); err != nil {
		t.Fatalf("a file its record refers to was removed: %v", err)
	}
	if _, err := s.ReadMessage(acct.ID, msgs[0]); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		d    Delivered
	}{
		{"no record", Delivered{}},
		{"record of another file", d[0]},
	} {
		stray, err := a.writeFile([]byte("Subject: stray\r\n\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		a.dropFile(c.d, stray)
		if _, err := os.Stat(filepath.Join(a.dir, stray)); !os.IsNotExist(err) {
			t.Errorf("%s: file not removed (%v)", c.name, err)
		}
	}
}
