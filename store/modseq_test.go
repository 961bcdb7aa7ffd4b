package store

import (
	"context"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestChangedSince(t *testing.T) {
	s, a := newTestStore(t)
	ctx := context.Background()
	var uids []uint32
	for i := 0; i < 4; i++ {
		d, err := s.Deliver(ctx, []byte("Subject: x\r\n\r\nbody\r\n"), time.Now(), Delivery{Account: a.ID, Mailbox: "INBOX"})
		if err != nil {
			t.Fatal(err)
		}
		uids = append(uids, d[0].UID)
	}
	mb := inbox(t, s, a)
	since := mb.HighestModSeq
	// uid 2 flagged; uid 3 deleted and expunged; uid 4 moved away.
	if _, err := s.SetFlags(ctx, a.ID, mb.ID, []uint32{uids[1]}, FlagsAdd, []string{FlagFlagged}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetFlags(ctx, a.ID, mb.ID, []uint32{uids[2]}, FlagsAdd, []string{FlagDeleted}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Expunge(ctx, a.ID, mb.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Move(ctx, a.ID, mb.ID, []uint32{uids[3]}, "Trash"); err != nil {
		t.Fatal(err)
	}
	ch, err := s.ChangedSince(ctx, a.ID, mb.ID, since)
	if err != nil {
		t.Fatal(err)
	}
	if !ch.Complete {
		t.Error("a new mailbox should have every tombstone")
	}
	if len(ch.Changed) != 1 || ch.Changed[0].UID != uids[1] || !ch.Changed[0].HasFlag(FlagFlagged) {
		t.Errorf("changed = %+v, want uid %d flagged", ch.Changed, uids[1])
	}
	if !slices.Equal(ch.Vanished, []uint32{uids[2], uids[3]}) {
		t.Errorf("vanished = %v, want %v", ch.Vanished, uids[2:])
	}
	if ch.Mailbox.HighestModSeq != since+4 {
		t.Errorf("HIGHESTMODSEQ = %d, want %d (four changes)", ch.Mailbox.HighestModSeq, since+4)
	}
	// Nothing changed after the newest MODSEQ.
	ch, err = s.ChangedSince(ctx, a.ID, mb.ID, since+4)
	if err != nil || len(ch.Changed) != 0 || len(ch.Vanished) != 0 {
		t.Errorf("since HIGHESTMODSEQ: %+v, %v; want nothing", ch, err)
	}

	// UNCHANGEDSINCE: uid 1 is unchanged since `since`, uid 2 is not.
	upd, mod, err := s.SetFlagsUnchangedSince(ctx, a.ID, mb.ID, uids[:2], FlagsAdd, []string{FlagSeen}, since)
	if err != nil {
		t.Fatal(err)
	}
	if len(upd) != 1 || upd[0].UID != uids[0] || !slices.Equal(mod, []uint32{uids[1]}) {
		t.Errorf("updated %+v modified %v; want uid %d stored and uid %d refused", upd, mod, uids[0], uids[1])
	}
}

func TestMessageStatesMatchMessages(t *testing.T) {
	s, a := newTestStore(t)
	ctx := context.Background()
	for i, flags := range [][]string{nil, {FlagSeen}, {FlagFlagged, "project-x", FlagSeen}} {
		if _, err := s.Deliver(ctx, []byte("Subject: x\r\n\r\nbody\r\n"), time.Now(), Delivery{Account: a.ID, Mailbox: "INBOX", Flags: flags}); err != nil {
			t.Fatal(i, err)
		}
	}
	mb := inbox(t, s, a)
	_, full, err := s.Messages(ctx, a.ID, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, states, err := s.MessageStates(ctx, a.ID, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != len(full) {
		t.Fatalf("%d states for %d messages", len(states), len(full))
	}
	for i, m := range full {
		st := states[i]
		if st.UID != m.UID || st.ModSeq != m.ModSeq || !slices.Equal(st.Flags, m.Flags) {
			t.Errorf("state %+v, message %+v", st, m)
		}
	}
}

// An account database from before the change index gets one when opened;
// expunges older than that left no tombstone, and ChangedSince says so.
func TestChangeIndexBuiltOnOpen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.AddDomain(ctx, "example.test"); err != nil {
		t.Fatal(err)
	}
	acct, err := s.AddAccount(ctx, "bob@example.test", "password123", RoleUser)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := s.Deliver(ctx, []byte("Subject: x\r\n\r\nbody\r\n"), time.Now(), Delivery{Account: acct.ID, Mailbox: "INBOX"}); err != nil {
			t.Fatal(err)
		}
	}
	mb := inbox(t, s, acct)
	a, err := s.account(acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(chKey(mb.ID)) }); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	old := mb.HighestModSeq
	ch, err := s.ChangedSince(ctx, acct.ID, mb.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Complete || len(ch.Changed) != 3 {
		t.Errorf("since 1: complete %v, %d changed; want incomplete and 3", ch.Complete, len(ch.Changed))
	}
	if _, err := s.SetFlags(ctx, acct.ID, mb.ID, []uint32{2}, FlagsAdd, []string{FlagDeleted}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Expunge(ctx, acct.ID, mb.ID, nil); err != nil {
		t.Fatal(err)
	}
	ch, err = s.ChangedSince(ctx, acct.ID, mb.ID, old)
	if err != nil {
		t.Fatal(err)
	}
	if !ch.Complete || !slices.Equal(ch.Vanished, []uint32{2}) || len(ch.Changed) != 0 {
		t.Errorf("since the rebuild: %+v; want complete, uid 2 vanished", ch)
	}
}
