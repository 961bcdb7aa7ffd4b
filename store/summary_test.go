package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestSummarize(t *testing.T) {
	raw := "From: \"Bob B.\" <Bob@Example.org>, carol@example.org\r\n" +
		"To: undisclosed-recipients:;\r\n" +
		"Cc: Dave <dave@example.net>\r\n" +
		"Subject: =?utf-8?q?Re:_caf=C3=A9?=\r\n" +
		"Date: Tue, 05 Mar 2024 10:00:00 +0200\r\n" +
		"Message-ID: <m3@example.org>\r\n" +
		"In-Reply-To: <m2@example.org> (Bob's message)\r\n" +
		"References: <m1@example.org>\r\n <m2@example.org>\r\n" +
		"\r\nbody\r\n"
	s := Summarize([]byte(raw))
	want := &Summary{
		Date:    time.Date(2024, 3, 5, 8, 0, 0, 0, time.UTC),
		Subject: "Re: café", From: "Bob@Example.org", To: "", Cc: "dave@example.net",
		MessageID: "m3@example.org", InReplyTo: "m2@example.org",
		References: []string{"m1@example.org", "m2@example.org"},
	}
	if !summaryEqual(s, want) {
		t.Errorf("Summarize = %+v\nwant        %+v", s, want)
	}
	got, ok := decodeSummary(string(encodeSummary(nil, s)))
	if !ok || !summaryEqual(got, want) {
		t.Errorf("round trip = %+v, %v", got, ok)
	}
	// A header without Date, and garbage, still summarize.
	if s := Summarize([]byte("Subject: x\r\nFrom: <<broken\r\n\r\n")); !s.Date.IsZero() || s.Subject != "x" {
		t.Errorf("no date: %+v", s)
	}
	Summarize([]byte("\x00\xff:::\r\n"))
}

func summaryEqual(a, b *Summary) bool {
	return a.Date.Equal(b.Date) && a.Subject == b.Subject && a.From == b.From && a.To == b.To && a.Cc == b.Cc &&
		a.MessageID == b.MessageID && a.InReplyTo == b.InReplyTo && slices.Equal(a.References, b.References)
}

// A v1 record, written before summaries were kept, still reads, without one.
func TestMessageRecordV1(t *testing.T) {
	m := &Message{UID: 7, ModSeq: 9, Size: 100, InternalDate: time.Unix(1700000000, 0).UTC(), Flags: []string{FlagSeen}, File: "a/b"}
	b := encodeMessage(m)
	if b[0] != 1 {
		t.Fatalf("record without summary has version %d", b[0])
	}
	got, err := decodeMessage(b)
	if err != nil || got.UID != 7 || got.File != "a/b" || !slices.Equal(got.Flags, m.Flags) {
		t.Fatalf("decode v1 = %+v, %v", got, err)
	}
	if _, ok := got.Summary(); ok {
		t.Error("v1 record has a summary")
	}
	m.summary = string(encodeSummary(nil, &Summary{Subject: "hi", References: []string{"a@b"}}))
	got, err = decodeMessage(encodeMessage(m))
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := got.Summary(); !ok || s.Subject != "hi" || !s.Date.IsZero() || !slices.Equal(s.References, []string{"a@b"}) {
		t.Errorf("v2 summary = %+v, %v", s, ok)
	}
}

func TestDeliverAll(t *testing.T) {
	s, a := newTestStore(t)
	ctx := context.Background()
	msgs := []BatchMessage{
		{Data: []byte("Subject: one\r\n\r\n1\r\n"), Flags: []string{`\seen`}},
		{Data: []byte("Subject: two\r\nDate: Mon, 4 Mar 2024 09:00:00 +0000\r\n\r\n2\r\n")},
	}
	d, err := s.DeliverAll(ctx, a.ID, "INBOX", msgs)
	if err != nil || len(d) != 2 || d[0].UID != 1 || d[1].UID != 2 {
		t.Fatalf("DeliverAll = %+v, %v", d, err)
	}
	_, got, err := s.Messages(ctx, a.ID, inbox(t, s, a).ID)
	if err != nil || len(got) != 2 {
		t.Fatalf("messages = %d, %v", len(got), err)
	}
	if !got[0].HasFlag(FlagSeen) {
		t.Errorf("flags = %v", got[0].Flags)
	}
	if sum, ok := got[1].Summary(); !ok || sum.Subject != "two" || sum.Date.Day() != 4 {
		t.Errorf("summary = %+v, %v", sum, ok)
	}

	// Into a mailbox that does not exist: nothing stays, not even files.
	before := countFiles(t, s.Dir())
	if _, err := s.DeliverAll(ctx, a.ID, "Nowhere", msgs); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeliverAll to a missing mailbox: %v", err)
	}
	if after := countFiles(t, s.Dir()); after != before {
		t.Errorf("message files: %d before, %d after a failed batch", before, after)
	}
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	filepath.WalkDir(filepath.Join(dir, "msg"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// FuzzSummarize: any header gives a summary whose record reads back the
// same, within the size limits.
func FuzzSummarize(f *testing.F) {
	f.Add([]byte("From: a <a@b>\r\nSubject: =?utf-8?b?w6k=?=\r\nReferences: <x@y> <z@w>\r\n\r\n"))
	f.Add([]byte("Date: garbage\r\nIn-Reply-To: <<>>\r\nTo: ;;,,@\r\n\r\n"))
	f.Add([]byte("Subject: \xff\xfe\r\n folded\r\n"))
	f.Fuzz(func(t *testing.T, header []byte) {
		s := Summarize(header)
		for _, v := range append([]string{s.Subject, s.From, s.To, s.Cc, s.MessageID, s.InReplyTo}, s.References...) {
			if len(v) > maxSummaryField {
				t.Fatalf("field of %d bytes", len(v))
			}
		}
		if len(s.References) > maxReferences {
			t.Fatalf("%d references", len(s.References))
		}
		got, ok := decodeSummary(string(encodeSummary(nil, s)))
		if !ok || !summaryEqual(got, s) {
			t.Fatalf("round trip: %+v != %+v", got, s)
		}
	})
}

// MessagesByUID walks a cursor; UIDs out of order or missing still come
// back right, in the order asked.
func TestMessagesByUIDOrder(t *testing.T) {
	s, a := newTestStore(t)
	ctx := context.Background()
	msgs := make([]BatchMessage, 6)
	for i := range msgs {
		msgs[i] = BatchMessage{Data: []byte("Subject: x\r\n\r\n")}
	}
	if _, err := s.DeliverAll(ctx, a.ID, "INBOX", msgs); err != nil {
		t.Fatal(err)
	}
	got, err := s.MessagesByUID(ctx, a.ID, inbox(t, s, a).ID, []uint32{5, 2, 3, 99, 4, 4, 0, 6, 1})
	if err != nil {
		t.Fatal(err)
	}
	var uids []uint32
	for _, m := range got {
		uids = append(uids, m.UID)
	}
	if want := []uint32{5, 2, 3, 4, 4, 6, 1}; !slices.Equal(uids, want) {
		t.Errorf("MessagesByUID = %v, want %v", uids, want)
	}
}

// Records stored before summaries were kept get theirs from the file,
// MODSEQ unchanged.
func TestFillSummaries(t *testing.T) {
	s, a := newTestStore(t)
	ctx := context.Background()
	d, err := s.Deliver(ctx, []byte("Subject: old\r\nDate: Mon, 4 Mar 2024 09:00:00 +0000\r\n\r\nbody\r\n"), time.Time{},
		Delivery{Account: a.ID, Mailbox: "INBOX"})
	if err != nil {
		t.Fatal(err)
	}
	mb := inbox(t, s, a)
	acct, _ := s.account(a.ID)
	// Make the record what an older Frontdesk wrote.
	err = acct.update(func(tx *bolt.Tx) ([]Change, error) {
		b := tx.Bucket(mbKey(mb.ID))
		m, err := decodeMessage(b.Get(u32(d[0].UID)))
		if err != nil {
			return nil, err
		}
		m.summary = ""
		return nil, b.Put(u32(m.UID), encodeMessage(m))
	})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := s.MessagesByUID(ctx, a.ID, mb.ID, []uint32{d[0].UID})
	if _, ok := before[0].Summary(); ok {
		t.Fatal("old record has a summary")
	}
	if n, err := s.FillSummaries(ctx, a.ID, mb.ID, []uint32{d[0].UID, 99}); n != 1 || err != nil {
		t.Fatalf("FillSummaries = %d, %v", n, err)
	}
	after, _ := s.MessagesByUID(ctx, a.ID, mb.ID, []uint32{d[0].UID})
	sum, ok := after[0].Summary()
	if !ok || sum.Subject != "old" || sum.Date.Day() != 4 {
		t.Errorf("filled summary = %+v, %v", sum, ok)
	}
	if after[0].ModSeq != before[0].ModSeq {
		t.Errorf("MODSEQ %d -> %d", before[0].ModSeq, after[0].ModSeq)
	}
	if n, _ := s.FillSummaries(ctx, a.ID, mb.ID, []uint32{d[0].UID}); n != 0 {
		t.Errorf("filled %d twice", n)
	}
}
