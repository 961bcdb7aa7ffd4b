package store

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestClaimRecentPersists checks that the \Recent claim survives a
// restart and that concurrent claims share out each message once.
func TestClaimRecentPersists(t *testing.T) {
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
	deliver := func(s *Store) {
		if _, err := s.Deliver(ctx, []byte("Subject: x\r\n\r\nx\r\n"), time.Now(), Delivery{Account: a.ID, Mailbox: "INBOX"}); err != nil {
			t.Fatal(err)
		}
	}
	deliver(s)
	deliver(s)
	mb := inbox(t, s, a)
	if st, _ := s.Status(ctx, a.ID, "INBOX"); st.Recent != 2 {
		t.Fatalf("Recent before a claim: %d", st.Recent)
	}
	var wg sync.WaitGroup
	prevs := make([]uint32, 2)
	for i := range prevs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := s.ClaimRecent(ctx, a.ID, mb.ID, 2)
			if err != nil {
				t.Error(err)
			}
			prevs[i] = p
		}()
	}
	wg.Wait()
	if !(prevs[0] == 0 && prevs[1] == 2 || prevs[0] == 2 && prevs[1] == 0) {
		t.Fatalf("concurrent claims got %v, want one 0 and one 2", prevs)
	}
	s.Close()

	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if c, err := s.RecentClaimed(ctx, a.ID, mb.ID); err != nil || c != 2 {
		t.Fatalf("claim after restart: %d %v", c, err)
	}
	deliver(s)
	if st, _ := s.Status(ctx, a.ID, "INBOX"); st.Recent != 1 {
		t.Fatalf("Recent after restart and a delivery: %d", st.Recent)
	}
	if p, err := s.ClaimRecent(ctx, a.ID, mb.ID, 1); err != nil || p != 2 {
		t.Fatalf("claim below the claimed UID: %d %v", p, err)
	}
}
