package search

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"frontdesk/store"
)

func candidates(t *testing.T, ix *Index, acct, mb uint64, f Field, text string) []uint32 {
	t.Helper()
	got, ok, err := ix.Candidates(context.Background(), acct, mb, f, text)
	if err != nil || !ok {
		t.Fatalf("Candidates(%q): ok=%v err=%v", text, ok, err)
	}
	return got
}

func deliver(t *testing.T, st *store.Store, acct uint64, mailbox, body string) uint32 {
	t.Helper()
	msg := fmt.Sprintf("From: a@example.org\r\nSubject: note\r\n\r\n%s\r\n", body)
	d, err := st.Deliver(context.Background(), []byte(msg), time.Time{}, store.Delivery{Account: acct, Mailbox: mailbox})
	if err != nil {
		t.Fatal(err)
	}
	return d[0].UID
}

// TestFollowsStore: Run indexes deliveries and drops expunged messages;
// a deleted, corrupted or stale index is rebuilt or caught up by Open.
func TestFollowsStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, a := newStore(t, filepath.Join(dir, "data"))
	defer st.Close()
	inbox := mailboxID(t, st, a.ID, "INBOX")
	archive := mailboxID(t, st, a.ID, "Archive")
	idxDir := filepath.Join(dir, "data", "index")

	for i := range 20 {
		deliver(t, st, a.ID, "INBOX", fmt.Sprintf("common words and token%02d", i))
	}
	ix, err := Open(idxDir, st, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error)
	go func() { ran <- ix.Run(runCtx) }()

	uid := deliver(t, st, a.ID, "INBOX", "a fresh Pineapple arrives")
	if err := ix.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := candidates(t, ix, a.ID, inbox, FieldBody, "PINEAPPLE"); !slices.Equal(got, []uint32{uid}) {
		t.Fatalf("after delivery: %v, want [%d]", got, uid)
	}
	if got := candidates(t, ix, a.ID, inbox, FieldBody, "common words"); len(got) != 20 {
		t.Fatalf("common: %d candidates", len(got))
	}

	// Expunge and move.
	if _, err := st.SetFlags(ctx, a.ID, inbox, []uint32{1, 2}, store.FlagsAdd, []string{store.FlagDeleted}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Expunge(ctx, a.ID, inbox, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Move(ctx, a.ID, inbox, []uint32{3}, "Archive"); err != nil {
		t.Fatal(err)
	}
	if err := ix.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	answers := func(ix *Index) [3][]uint32 {
		return [3][]uint32{
			candidates(t, ix, a.ID, inbox, FieldBody, "common words"),
			candidates(t, ix, a.ID, archive, FieldBody, "token02"),
			candidates(t, ix, a.ID, inbox, FieldBody, "token01"),
		}
	}
	before := answers(ix)
	if len(before[0]) != 17 || len(before[1]) != 1 || len(before[2]) != 0 {
		t.Fatalf("after expunge and move: %v", before)
	}
	stop()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}

	// Simulate kill -9 right after a delivery: the store has it, Run never
	// saw it. Reopening catches up.
	late := deliver(t, st, a.ID, "INBOX", "delivered just before the crash: Kumquat")
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	ix, err = Open(idxDir, st, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	if got := candidates(t, ix, a.ID, inbox, FieldBody, "kumquat"); !slices.Equal(got, []uint32{late}) {
		t.Fatalf("after reopen: %v, want [%d]", got, late)
	}
	// And an expunge the index never heard of.
	st.SetFlags(ctx, a.ID, inbox, []uint32{late}, store.FlagsAdd, []string{store.FlagDeleted})
	st.Expunge(ctx, a.ID, inbox, nil)
	ix.Close()

	// Deleted index: rebuilt with the same answers.
	os.RemoveAll(idxDir)
	ix, err = Open(idxDir, st, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	if got := answers(ix); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("rebuilt: %v, want %v", got, before)
	}
	if got := candidates(t, ix, a.ID, inbox, FieldBody, "kumquat"); len(got) != 0 {
		t.Fatalf("expunged while closed: %v", got)
	}
	ix.Close()

	// Corrupt index: rebuilt too.
	os.RemoveAll(idxDir)
	os.MkdirAll(idxDir, 0o700)
	os.WriteFile(filepath.Join(idxDir, "index_meta.json"), []byte("{garbage"), 0o600)
	ix, err = Open(idxDir, st, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if got := answers(ix); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("after corruption: %v, want %v", got, before)
	}
	sctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := ix.Sync(sctx); err == nil {
		t.Fatal("Sync without Run returned nil")
	}
}
