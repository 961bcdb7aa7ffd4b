package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BatchMessage is one message of DeliverAll.
type BatchMessage struct {
	Data  []byte
	Date  time.Time // internal date; zero means now
	Flags []string
}

// DeliverAll stores every message in one mailbox of one account, all or
// none (IMAP MULTIAPPEND, RFC 3502): the files are written and made
// durable first, then their metadata commits in one transaction. It
// returns where each message landed, in order.
func (s *Store) DeliverAll(ctx context.Context, accountID uint64, mailbox string, msgs []BatchMessage) ([]Delivered, error) {
	mailbox, err := NormalizeMailbox(mailbox)
	if err != nil {
		return nil, err
	}
	if len(msgs) == 0 {
		return nil, fmt.Errorf("%w: no messages", ErrInvalid)
	}
	a, err := s.account(accountID)
	if err != nil {
		return nil, err
	}
	files := make([]string, 0, len(msgs))
	removeAll := func() {
		for _, f := range files {
			os.Remove(filepath.Join(a.dir, f))
		}
	}
	dirs := map[string]bool{}
	for _, m := range msgs {
		if err := ctx.Err(); err != nil {
			removeAll()
			return nil, err
		}
		f, err := a.writeFile(m.Data)
		if err != nil {
			removeAll()
			return nil, noSpace(err)
		}
		files = append(files, f)
		dirs[filepath.Dir(filepath.Join(a.dir, f))] = true
	}
	for dir := range dirs {
		if err := syncDir(dir); err != nil {
			removeAll()
			return nil, noSpace(fmt.Errorf("store: sync %s: %w", dir, err))
		}
	}
	summaries := make([]string, len(msgs))
	for i, m := range msgs {
		summaries[i] = string(encodeSummary(nil, Summarize(m.Data)))
	}
	out := make([]Delivered, 0, len(msgs))
	err = a.update(func(tx *bolt.Tx) ([]Change, error) {
		mb, err := findMailbox(tx, mailbox)
		if err != nil {
			return nil, err
		}
		b := tx.Bucket(mbKey(mb.ID))
		changes := make([]Change, 0, len(msgs))
		for i, bm := range msgs {
			date := bm.Date
			if date.IsZero() {
				date = time.Now()
			}
			m := &Message{UID: mb.UIDNext, Size: int64(len(bm.Data)), InternalDate: date.UTC().Truncate(time.Second),
				Flags: normalizeFlags(bm.Flags), File: files[i], summary: summaries[i]}
			mb.UIDNext++
			mb.HighestModSeq++
			m.ModSeq = mb.HighestModSeq
			if err := b.Put(u32(m.UID), encodeMessage(m)); err != nil {
				return nil, err
			}
			if err := indexPut(tx, mb.ID, m.UID, 0, m.ModSeq); err != nil {
				return nil, err
			}
			out = append(out, Delivered{Account: a.id, Mailbox: mb.ID, UIDValidity: mb.UIDValidity, UID: m.UID})
			changes = append(changes, Change{Account: a.id, Mailbox: mb.ID, Kind: ChangeNew, UID: m.UID, Flags: m.Flags, ModSeq: m.ModSeq})
		}
		return changes, putMailbox(tx, mb)
	})
	if err != nil {
		for i, f := range files {
			var d Delivered // zero when the transaction stopped before message i
			if i < len(out) {
				d = out[i]
			}
			a.dropFile(d, f)
		}
		return nil, noSpace(err)
	}
	return out, nil
}
