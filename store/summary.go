package store

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	gomessage "github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // encoded words in other charsets
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
	bolt "go.etcd.io/bbolt"
)

// Summary is what sorting and threading (RFC 5256) need from a message's
// header. It is taken once, at delivery, and kept in the message's record,
// so that SORT and THREAD of a large mailbox read no message file.
type Summary struct {
	Date       time.Time // the Date header, UTC; zero when missing or unparsable
	Subject    string    // the Subject header, encoded words decoded
	From       string    // addr-spec of the first From address
	To         string    // addr-spec of the first To address
	Cc         string    // addr-spec of the first Cc address
	MessageID  string    // Message-ID, without angle brackets
	InReplyTo  string    // first message ID of In-Reply-To
	References []string  // message IDs of References, oldest first
}

// Limits that keep one record small whatever a header holds: a subject is
// sorted by its start, and threading needs the nearest references most.
const (
	maxSummaryField = 512
	maxReferences   = 32
)

// Summarize reads the summary from a message's header, which may be the
// whole message or its header section alone. It never fails: what cannot
// be read is left empty.
func Summarize(data []byte) *Summary {
	h, _ := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(data)))
	mh := mail.Header{Header: gomessage.Header{Header: h}}
	s := &Summary{}
	if t, err := mh.Date(); err == nil {
		s.Date = t.UTC()
	}
	if subj, err := mh.Subject(); err == nil {
		s.Subject = subj
	} else {
		s.Subject = mh.Get("Subject")
	}
	s.From = firstAddress(mh, "From")
	s.To = firstAddress(mh, "To")
	s.Cc = firstAddress(mh, "Cc")
	if ids, err := mh.MsgIDList("Message-Id"); err == nil && len(ids) > 0 {
		s.MessageID = ids[0]
	}
	if ids, err := mh.MsgIDList("In-Reply-To"); err == nil && len(ids) > 0 {
		s.InReplyTo = ids[0]
	}
	if ids, err := mh.MsgIDList("References"); err == nil {
		if len(ids) > maxReferences {
			// The first names the thread's root, the last the parent.
			ids = append(ids[:1], ids[len(ids)-maxReferences+1:]...)
		}
		s.References = ids
	}
	s.clip()
	return s
}

func firstAddress(h mail.Header, key string) string {
	list, err := h.AddressList(key)
	if err == nil {
		if len(list) > 0 {
			return list[0].Address
		}
		return ""
	}
	// A malformed list still sorts by the first thing that looks like an
	// address.
	v := h.Get(key)
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			return strings.TrimSpace(v[i+1 : i+j])
		}
	}
	if f := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }); len(f) > 0 {
		return f[0]
	}
	return ""
}

func clipStr(s string) string {
	if len(s) <= maxSummaryField {
		return s
	}
	s = s[:maxSummaryField]
	// Do not cut a UTF-8 sequence in two.
	for i := 0; i < 3 && len(s) > 0 && s[len(s)-1]&0xc0 == 0x80; i++ {
		s = s[:len(s)-1]
	}
	if len(s) > 0 && s[len(s)-1] >= 0xc0 {
		s = s[:len(s)-1]
	}
	return s
}

func (s *Summary) clip() {
	for _, p := range []*string{&s.Subject, &s.From, &s.To, &s.Cc, &s.MessageID, &s.InReplyTo} {
		*p = clipStr(*p)
	}
	for i := range s.References {
		s.References[i] = clipStr(s.References[i])
	}
}

// noDate marks a summary without a Date header.
const noDate = math.MinInt64

// Layout: date:8 (unix seconds, noDate if none) subject from to cc
// messageid inreplyto (len16 bytes each) refs:count16 (len16 bytes)*
func encodeSummary(b []byte, s *Summary) []byte {
	d := int64(noDate)
	if !s.Date.IsZero() {
		d = s.Date.Unix()
	}
	b = binary.BigEndian.AppendUint64(b, uint64(d))
	for _, f := range []string{s.Subject, s.From, s.To, s.Cc, s.MessageID, s.InReplyTo} {
		b = appendStr(b, f)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(s.References)))
	for _, r := range s.References {
		b = appendStr(b, r)
	}
	return b
}

func decodeSummary(b string) (*Summary, bool) {
	if len(b) < 8 {
		return nil, false
	}
	s := &Summary{}
	if d := summaryUnix(b); d != noDate {
		s.Date = time.Unix(d, 0).UTC()
	}
	rest := b[8:]
	var ok bool
	for _, p := range []*string{&s.Subject, &s.From, &s.To, &s.Cc, &s.MessageID, &s.InReplyTo} {
		if *p, rest, ok = readStr(rest); !ok {
			return nil, false
		}
	}
	if len(rest) < 2 {
		return nil, false
	}
	n := int(rest[0])<<8 | int(rest[1])
	rest = rest[2:]
	for i := 0; i < n; i++ {
		var r string
		if r, rest, ok = readStr(rest); !ok {
			return nil, false
		}
		s.References = append(s.References, r)
	}
	return s, true
}

// summaryUnix reads the date at the start of an encoded summary.
func summaryUnix(b string) int64 {
	var u uint64
	for i := 0; i < 8; i++ {
		u = u<<8 | uint64(b[i])
	}
	return int64(u)
}

// Summary returns the message's summary, and false for a message stored
// before summaries were kept (the caller then reads its header).
func (m *Message) Summary() (*Summary, bool) {
	if m.summary == "" {
		return nil, false
	}
	return decodeSummary(m.summary)
}

// SummaryDate is Summary().Date without decoding the rest, for sorting by
// date; false as for Summary.
func (m *Message) SummaryDate() (time.Time, bool) {
	if len(m.summary) < 8 {
		return time.Time{}, false
	}
	if d := summaryUnix(m.summary); d != noDate {
		return time.Unix(d, 0).UTC(), true
	}
	return time.Time{}, true
}

// maxSummaryHeader bounds what FillSummaries reads of a message file.
const maxSummaryHeader = 256 << 10

// FillSummaries gives the records among uids that were stored before
// summaries were kept their summary, read from the message's header, so
// that later sorts need not read the file again. It returns how many it
// filled. Nothing a client can see changes, so MODSEQ stays.
func (s *Store) FillSummaries(ctx context.Context, accountID, mailboxID uint64, uids []uint32) (int, error) {
	a, err := s.account(accountID)
	if err != nil {
		return 0, err
	}
	msgs, err := s.MessagesByUID(ctx, accountID, mailboxID, uids)
	if err != nil {
		return 0, err
	}
	sums := map[uint32]string{}
	for _, m := range msgs {
		if m.summary != "" {
			continue
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		h, err := readHeader(filepath.Join(a.dir, m.File))
		if err != nil {
			continue // expunged meanwhile: nothing to fill
		}
		sums[m.UID] = string(encodeSummary(nil, Summarize(h)))
	}
	if len(sums) == 0 {
		return 0, nil
	}
	filled := 0
	err = a.update(func(tx *bolt.Tx) ([]Change, error) {
		b := tx.Bucket(mbKey(mailboxID))
		if b == nil {
			return nil, fmt.Errorf("mailbox %d: %w", mailboxID, ErrNotFound)
		}
		for uid, sum := range sums {
			v := b.Get(u32(uid))
			if v == nil {
				continue
			}
			m, err := decodeMessage(v)
			if err != nil {
				return nil, err
			}
			if m.summary != "" {
				continue
			}
			m.summary = sum
			if err := b.Put(u32(uid), encodeMessage(m)); err != nil {
				return nil, err
			}
			filled++
		}
		return nil, nil
	})
	return filled, err
}

// readHeader reads a message file's header section.
func readHeader(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReader(io.LimitReader(f, maxSummaryHeader))
	var h []byte
	for {
		line, err := br.ReadBytes('\n')
		h = append(h, line...)
		if len(bytes.TrimRight(line, "\r\n")) == 0 || err != nil {
			return h, nil
		}
	}
}
