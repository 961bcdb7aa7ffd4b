package search

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"frontdesk/store"
)

// syncBuffer is a log sink safe for the index's concurrent workers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestIndexExpungedWhileListed: messages listed for indexing and expunged
// before their files are read get no document and no warning; the ones
// left are indexed in full.
func TestIndexExpungedWhileListed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, a := newStore(t, filepath.Join(dir, "data"))
	defer st.Close()
	inbox := mailboxID(t, st, a.ID, "INBOX")
	var logs syncBuffer
	ix, err := Open(filepath.Join(dir, "index"), st, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()

	for i := range 40 {
		deliver(t, st, a.ID, "INBOX", fmt.Sprintf("racing kumquat number%02d", i))
	}
	// The state apply and catchUp see: every message listed.
	_, msgs, err := st.Messages(ctx, a.ID, inbox)
	if err != nil {
		t.Fatal(err)
	}
	var todo []item
	var gone, kept []uint32
	for i, m := range msgs {
		todo = append(todo, item{msgKey{a.ID, inbox, m.UID}, m})
		if i%2 == 0 {
			gone = append(gone, m.UID)
		} else {
			kept = append(kept, m.UID)
		}
	}
	// Then the expunge commits and removes the files, before they are read.
	if _, err := st.SetFlags(ctx, a.ID, inbox, gone, store.FlagsAdd, []string{store.FlagDeleted}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Expunge(ctx, a.ID, inbox, gone); err != nil {
		t.Fatal(err)
	}
	if err := ix.indexItems(ctx, todo, nil, false); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "cannot read message") {
		t.Errorf("log has a read failure for expunged messages:\n%s", logs.String())
	}
	if got := candidates(t, ix, a.ID, inbox, FieldBody, "kumquat"); !slices.Equal(got, kept) {
		t.Errorf("candidates = %v, want only the messages kept %v", got, kept)
	}
}
