package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// formatOneStore makes a data directory as a Frontdesk of format 1 left
// it: no format number, v1 message records, account databases without
// change indexes or a subscriptions bucket (subscriptions were a field of
// the mailbox). It returns the directory and the account.
func formatOneStore(t *testing.T) (string, *Account) {
	t.Helper()
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
	for i := range 3 {
		msg := "Subject: old " + strconv.Itoa(i) + "\r\nDate: Mon, 4 Mar 2024 09:00:00 +0000\r\n\r\nbody\r\n"
		if _, err := s.Deliver(ctx, []byte(msg), time.Now(), Delivery{Account: acct.ID, Mailbox: "INBOX"}); err != nil {
			t.Fatal(err)
		}
	}
	a, err := s.account(acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	err = a.db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketSubs); err != nil {
			return err
		}
		return tx.Bucket(bucketMailboxes).ForEach(func(k, v []byte) error {
			id := bytesU64(k)
			if err := tx.DeleteBucket(chKey(id)); err != nil {
				return err
			}
			if mb, _ := getMailbox(tx, id); mb.Name == "INBOX" {
				old := bytes.Replace(v, []byte(`"name":"INBOX"`), []byte(`"name":"INBOX","subscribed":true`), 1)
				if err := tx.Bucket(bucketMailboxes).Put(k, old); err != nil {
					return err
				}
			}
			msgs := tx.Bucket(mbKey(id))
			return msgs.ForEach(func(k, v []byte) error {
				m, err := decodeMessage(v)
				if err != nil {
					return err
				}
				m.summary = ""
				return msgs.Put(k, encodeMessage(m))
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketFormat) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, acct
}

func TestNewDataDirectoryHasCurrentFormat(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := s.Format(); v != FormatVersion || err != nil {
		t.Errorf("Format() = %d, %v; want %d", v, err, FormatVersion)
	}
	s.Close()
	if v, err := CheckFormat(dir); v != FormatVersion || err != nil {
		t.Errorf("CheckFormat = %d, %v", v, err)
	}
	if v, err := CheckFormat(t.TempDir()); v != 0 || err != nil {
		t.Errorf("CheckFormat of an empty directory = %d, %v", v, err)
	}
}

// A data directory without a format number is format 1; Open migrates it
// to FormatVersion and then records that.
func TestOpenMigratesFormat1(t *testing.T) {
	dir, acct := formatOneStore(t)
	if v, err := CheckFormat(dir); v != 1 || err != nil {
		t.Fatalf("CheckFormat of the old directory = %d, %v", v, err)
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, _ := s.Format(); v != FormatVersion || s.UpgradedFrom() != 1 {
		t.Errorf("format after Open = %d, upgraded from %d", v, s.UpgradedFrom())
	}
	checkMigrated(t, s, acct)
	s.Close()
	if s, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.UpgradedFrom() != 0 {
		t.Errorf("opened again: upgraded from %d", s.UpgradedFrom())
	}
}

func checkMigrated(t *testing.T, s *Store, acct *Account) {
	t.Helper()
	ctx := context.Background()
	mb, err := s.MailboxByName(ctx, acct.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	_, msgs, err := s.Messages(ctx, acct.ID, mb.ID)
	if err != nil || len(msgs) != 3 {
		t.Fatalf("%d messages, %v", len(msgs), err)
	}
	for i, m := range msgs {
		sum, ok := m.Summary()
		if !ok || sum.Subject != "old "+strconv.Itoa(i) {
			t.Errorf("uid %d: summary %+v, %v", m.UID, sum, ok)
		}
	}
	ch, err := s.ChangedSince(ctx, acct.ID, mb.ID, 1)
	if err != nil || len(ch.Changed) != 3 {
		t.Errorf("ChangedSince(1) = %+v, %v; want 3 changed", ch, err)
	}
	subs, err := s.Subscriptions(ctx, acct.ID)
	if err != nil || !slices.Contains(subs, "INBOX") {
		t.Errorf("subscriptions %v, %v", subs, err)
	}
}

// A migration that stops half-way leaves the old number, and the next
// Open runs it again to the end.
func TestInterruptedMigrationRunsAgain(t *testing.T) {
	dir, acct := formatOneStore(t)
	real := migrations[1]
	t.Cleanup(func() { migrations[1] = real })
	crash := errors.New("power cut")
	migrations[1] = func(s *Store) error {
		// Half the work: the account is opened (indexes built), no
		// summaries yet.
		if _, err := s.account(acct.ID); err != nil {
			return err
		}
		return crash
	}
	if _, err := Open(dir); !errors.Is(err, crash) {
		t.Fatalf("Open with a failing migration: %v", err)
	}
	if v, err := CheckFormat(dir); v != 1 || err != nil {
		t.Fatalf("format after a failed migration = %d, %v; want 1", v, err)
	}
	migrations[1] = real
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, _ := s.Format(); v != FormatVersion {
		t.Errorf("format = %d", v)
	}
	checkMigrated(t, s, acct)
}

// A directory from a newer Frontdesk is refused with a message that says
// what to do, and left as it was.
func TestOpenRefusesNewerFormat(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Update(func(tx *bolt.Tx) error { return putFormat(tx, 7) }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	before, _ := os.ReadFile(filepath.Join(dir, "frontdesk.db"))
	_, err = Open(dir)
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Found != 7 {
		t.Fatalf("Open of format 7: %v", err)
	}
	want := "data directory " + dir + " is format 7, this frontdesk understands up to " + strconv.Itoa(FormatVersion) + ": upgrade frontdesk"
	if err.Error() != want {
		t.Errorf("error %q\nwant  %q", err, want)
	}
	if _, err := CheckFormat(dir); !errors.As(err, &fe) {
		t.Errorf("CheckFormat: %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "frontdesk.db")); !bytes.Equal(before, after) {
		t.Error("refusing the directory changed frontdesk.db")
	}
}

// BenchmarkMigrateFormat1 measures Open of a format 1 directory whose
// account holds 10,000 v1 records: each message's header is read once.
func BenchmarkMigrateFormat1(b *testing.B) {
	const n = 10000
	src := b.TempDir()
	s, err := Open(src)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	s.AddDomain(ctx, "example.test")
	acct, err := s.AddAccount(ctx, "bob@example.test", "password123", RoleUser)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i += 500 {
		var batch []BatchMessage
		for j := range 500 {
			msg := fmt.Sprintf("From: a@b.test\r\nSubject: message %d\r\nDate: Mon, 4 Mar 2024 09:00:00 +0000\r\n\r\nbody\r\n", i+j)
			batch = append(batch, BatchMessage{Data: []byte(msg)})
		}
		if _, err := s.DeliverAll(ctx, acct.ID, "INBOX", batch); err != nil {
			b.Fatal(err)
		}
	}
	a, _ := s.account(acct.ID)
	err = a.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMailboxes).ForEach(func(k, _ []byte) error {
			msgs := tx.Bucket(mbKey(bytesU64(k)))
			return msgs.ForEach(func(k, v []byte) error {
				m, err := decodeMessage(v)
				if err != nil {
					return err
				}
				m.summary = ""
				return msgs.Put(k, encodeMessage(m))
			})
		})
	})
	if err != nil {
		b.Fatal(err)
	}
	s.db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketFormat) })
	s.Close()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		dir := filepath.Join(b.TempDir(), "data")
		if out, err := exec.Command("cp", "-a", src, dir).CombinedOutput(); err != nil {
			b.Fatalf("cp: %v %s", err, out)
		}
		b.StartTimer()
		s, err := Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		if s.UpgradedFrom() != 1 {
			b.Fatal("not migrated")
		}
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/n, "µs/message")
}
