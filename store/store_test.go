package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func newTestStore(t testing.TB) (*Store, *Account) {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	if _, err := s.AddDomain(ctx, "Example.TEST."); err != nil {
		t.Fatal(err)
	}
	a, err := s.AddAccount(ctx, "Alice@example.test", "password123", RoleUser)
	if err != nil {
		t.Fatal(err)
	}
	return s, a
}

func inbox(t testing.TB, s *Store, a *Account) *Mailbox {
	t.Helper()
	mb, err := s.MailboxByName(context.Background(), a.ID, "inbox")
	if err != nil {
		t.Fatal(err)
	}
	return mb
}

func TestAccountsAndAuth(t *testing.T) {
	s, a := newTestStore(t)
	ctx := context.Background()
	if a.Address != "alice@example.test" {
		t.Errorf("address = %q", a.Address)
	}
	if _, err := s.AddAccount(ctx, "alice@EXAMPLE.test", "password123", RoleUser); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate account: err = %v, want ErrExists", err)
	}
	if _, err := s.AddAccount(ctx, "bob@elsewhere.test", "password123", RoleUser); !errors.Is(err, ErrNotFound) {
		t.Errorf("account in unknown domain: err = %v, want ErrNotFound", err)
	}
	if _, err := s.AddDomain(ctx, "example.test"); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate domain: err = %v", err)
	}
	if _, err := s.AddDomain(ctx, "not a domain"); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad domain: err = %v", err)
	}
	if got, err := s.Authenticate(ctx, "ALICE@example.test", "password123"); err != nil || got.ID != a.ID {
		t.Errorf("Authenticate = %v, %v", got, err)
	}
	for _, tc := range [][2]string{{"alice@example.test", "wrong-password"}, {"nobody@example.test", "password123"}} {
		if _, err := s.Authenticate(ctx, tc[0], tc[1]); !errors.Is(err, ErrAuthFailed) {
			t.Errorf("Authenticate(%s) err = %v, want ErrAuthFailed", tc[0], err)
		}
	}
	mbs, err := s.Mailboxes(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mb := range mbs {
		names = append(names, mb.Name+mb.SpecialUse)
	}
	want := `[INBOX Archive\Archive Drafts\Drafts Junk\Junk Sent\Sent Trash\Trash]`
	if fmt.Sprint(names) != want {
		t.Errorf("mailboxes = %v, want %v", names, want)
	}
}

func TestDeliverReadFlagsExpunge(t *testing.T) {
	s, a := newTestStore(t)
	ctx := context.Background()
	mb := inbox(t, s, a)
	sub := s.Subscribe(a.ID)
	defer sub.Close()

	msg := []byte("Subject: hi\r\n\r\nhello\r\n")
	got, err := s.Deliver(ctx, msg, time.Time{}, Delivery{Account: a.ID, Mailbox: "INBOX"}, Delivery{Account: a.ID, Mailbox: "Archive", Flags: []string{`\seen`}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].UID != 1 || got[0].UIDValidity != mb.UIDValidity {
		t.Fatalf("Deliver = %+v", got)
	}
	_, msgs, err := s.Messages(ctx, a.ID, mb.ID)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("Messages = %v, %v", msgs, err)
	}
	data, err := s.ReadMessage(a.ID, msgs[0])
	if err != nil || !bytes.Equal(data, msg) {
		t.Fatalf("ReadMessage = %q, %v", data, err)
	}
	st, _ := s.Status(ctx, a.ID, "Archive")
	if st.Messages != 1 || st.Unseen != 0 {
		t.Errorf("Archive status = %+v", st)
	}

	upd, err := s.SetFlags(ctx, a.ID, mb.ID, []uint32{1, 99}, FlagsAdd, []string{`\DELETED`, "$label1"})
	if err != nil || len(upd) != 1 || fmt.Sprint(upd[0].Flags) != `[$label1 \Deleted]` {
		t.Fatalf("SetFlags = %v, %v", upd, err)
	}
	removed, err := s.Expunge(ctx, a.ID, mb.ID, nil)
	if err != nil || fmt.Sprint(removed) != "[1]" {
		t.Fatalf("Expunge = %v, %v", removed, err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "msg", "1", msgs[0].File)); !os.IsNotExist(err) {
		t.Errorf("expunged file still present: %v", err)
	}
	// The Archive copy shares nothing but bytes: still readable.
	arch, _ := s.MailboxByName(ctx, a.ID, "Archive")
	_, am, _ := s.Messages(ctx, a.ID, arch.ID)
	if data, err := s.ReadMessage(a.ID, am[0]); err != nil || !bytes.Equal(data, msg) {
		t.Errorf("Archive copy = %q, %v", data, err)
	}

	var kinds []ChangeKind
	for _, c := range sub.Drain() {
		kinds = append(kinds, c.Kind)
	}
	if fmt.Sprint(kinds) != fmt.Sprint([]ChangeKind{ChangeNew, ChangeNew, ChangeFlags, ChangeExpunge}) {
		t.Errorf("changes = %v", kinds)
	}
}

func TestCopyMoveRename(t *testing.T) {
	s, a := newTestStore(t)
	ctx := context.Background()
	mb := inbox(t, s, a)
	for i := 0; i < 3; i++ {
		if _, err := s.Deliver(ctx, []byte(fmt.Sprintf("Subject: %d\r\n\r\nx\r\n", i)), time.Time{}, Delivery{Account: a.ID, Mailbox: "INBOX"}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := s.Copy(ctx, a.ID, mb.ID, []uint32{2, 3}, "Archive")
	if err != nil || fmt.Sprint(res.Source, res.Dest) != "[2 3] [1 2]" {
		t.Fatalf("Copy = %+v, %v", res, err)
	}
	res, err = s.Move(ctx, a.ID, mb.ID, []uint32{1}, "Trash")
	if err != nil || fmt.Sprint(res.Source, res.Dest) != "[1] [1]" {
		t.Fatalf("Move = %+v, %v", res, err)
	}
	if _, err := s.Move(ctx, a.ID, mb.ID, []uint32{2}, "Nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Move to missing mailbox: %v", err)
	}
	if _, err := s.CreateMailbox(ctx, a.ID, "Projects/2026", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.RenameMailbox(ctx, a.ID, "Projects", "Work"); !errors.Is(err, ErrNotFound) {
		// Only the child exists; renaming the absent parent fails.
		t.Errorf("rename absent parent: %v", err)
	}
	s.CreateMailbox(ctx, a.ID, "Projects", "")
	if err := s.RenameMailbox(ctx, a.ID, "Projects", "Work"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MailboxByName(ctx, a.ID, "Work/2026"); err != nil {
		t.Errorf("child not renamed: %v", err)
	}
	if err := s.RenameMailbox(ctx, a.ID, "INBOX", "Old"); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Status(ctx, a.ID, "INBOX"); st.Messages != 0 {
		t.Errorf("INBOX after rename has %d messages", st.Messages)
	}
	if st, _ := s.Status(ctx, a.ID, "Old"); st.Messages != 2 {
		t.Errorf("Old has %d messages, want 2", st.Messages)
	}
	if err := s.DeleteMailbox(ctx, a.ID, "inbox"); !errors.Is(err, ErrInvalid) {
		t.Errorf("delete INBOX: %v", err)
	}
	if err := s.DeleteMailbox(ctx, a.ID, "Old"); err != nil {
		t.Fatal(err)
	}
	old, _ := s.Mailboxes(ctx, a.ID)
	s.CreateMailbox(ctx, a.ID, "Old", "")
	nu, _ := s.MailboxByName(ctx, a.ID, "Old")
	for _, m := range old {
		if m.UIDValidity == nu.UIDValidity {
			t.Errorf("recreated mailbox reuses UIDVALIDITY %d of %s", nu.UIDValidity, m.Name)
		}
	}
}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s.AddDomain(ctx, "example.test")
	a, _ := s.AddAccount(ctx, "a@example.test", "password123", RoleAdmin)
	s.Deliver(ctx, []byte("x\r\n"), time.Time{}, Delivery{Account: a.ID, Mailbox: "INBOX"})
	mb := inbox(t, s, a)
	if _, err := Open(dir); err == nil {
		t.Error("second Open of a held data directory succeeded")
	}
	s.Close()
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mb2 := inbox(t, s, a)
	if mb2.UIDValidity != mb.UIDValidity || mb2.UIDNext != 2 {
		t.Errorf("after reopen: %+v, before %+v", mb2, mb)
	}
}

func TestConcurrentDeliveryGroupCommit(t *testing.T) {
	s, a := newTestStore(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if _, err := s.Deliver(ctx, []byte("Subject: x\r\n\r\nbody\r\n"), time.Time{}, Delivery{Account: a.ID, Mailbox: "INBOX"}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	_, msgs, _ := s.Messages(ctx, a.ID, inbox(t, s, a).ID)
	if len(msgs) != 400 {
		t.Fatalf("%d messages, want 400", len(msgs))
	}
	for i, m := range msgs {
		if m.UID != uint32(i+1) {
			t.Fatalf("UIDs not dense and ascending at %d: %d", i, m.UID)
		}
	}
}

func FuzzDecodeMessage(f *testing.F) {
	f.Add(encodeMessage(&Message{UID: 7, Size: 10, File: "a/b", Flags: []string{`\Seen`}}))
	f.Add([]byte{1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMessage(b)
		if err != nil {
			return
		}
		if m2, err := decodeMessage(encodeMessage(m)); err != nil || m2.UID != m.UID || m2.File != m.File {
			t.Fatalf("round trip: %+v vs %+v (%v)", m, m2, err)
		}
	})
}

func benchDeliver(b *testing.B, writers int) {
	s, a := newTestStore(b)
	msg := bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n"), 128) // 8 KiB
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	var wg sync.WaitGroup
	per := b.N/writers + 1
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				if _, err := s.Deliver(context.Background(), msg, time.Time{}, Delivery{Account: a.ID, Mailbox: "INBOX"}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(per*writers)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkDeliver1(b *testing.B) { benchDeliver(b, 1) }
func BenchmarkDeliver8(b *testing.B) { benchDeliver(b, 8) }

// A remembered login ends when the password changes.
func TestLoginCacheFollowsPasswordChange(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if _, err := s.Authenticate(ctx, "alice@example.test", "password123"); err != nil {
			t.Fatalf("login %d: %v", i, err)
		}
	}
	if _, err := s.Authenticate(ctx, "alice@example.test", "password124"); !errors.Is(err, ErrAuthFailed) {
		t.Errorf("wrong password after a remembered login: %v", err)
	}
	if err := s.SetPassword(ctx, "alice@example.test", "new password 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "alice@example.test", "password123"); !errors.Is(err, ErrAuthFailed) {
		t.Errorf("old password accepted after the change: %v", err)
	}
	if _, err := s.Authenticate(ctx, "alice@example.test", "new password 1"); err != nil {
		t.Errorf("new password: %v", err)
	}
}
