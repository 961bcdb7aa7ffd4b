package store

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Messages returns a mailbox and its messages in UID order, as one snapshot.
func (s *Store) Messages(ctx context.Context, accountID, mailboxID uint64) (*Mailbox, []*Message, error) {
	a, err := s.account(accountID)
	if err != nil {
		return nil, nil, err
	}
	var mb *Mailbox
	var out []*Message
	err = a.db.View(func(tx *bolt.Tx) error {
		if mb, err = getMailbox(tx, mailboxID); err != nil {
			return err
		}
		b := tx.Bucket(mbKey(mailboxID))
		return b.ForEach(func(k, v []byte) error {
			m, err := decodeMessage(v)
			if err != nil {
				return err
			}
			out = append(out, m)
			return nil
		})
	})
	return mb, out, err
}

// MessagesByUID returns the messages with the given UIDs that still exist.
func (s *Store) MessagesByUID(ctx context.Context, accountID, mailboxID uint64, uids []uint32) ([]*Message, error) {
	a, err := s.account(accountID)
	if err != nil {
		return nil, err
	}
	out := make([]*Message, 0, len(uids))
	err = a.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(mbKey(mailboxID))
		if b == nil {
			return fmt.Errorf("mailbox %d: %w", mailboxID, ErrNotFound)
		}
		// UIDs come mostly ascending and dense: the cursor's next key is
		// usually the one wanted, far cheaper than a lookup from the root.
		c := b.Cursor()
		var k, v []byte
		for _, uid := range uids {
			key := u32(uid)
			if k != nil && bytes.Compare(k, key) < 0 {
				k, v = c.Next()
			}
			if k == nil || !bytes.Equal(k, key) {
				k, v = c.Seek(key)
			}
			if k != nil && bytes.Equal(k, key) {
				m, err := decodeMessage(v)
				if err != nil {
					return err
				}
				out = append(out, m)
			}
		}
		return nil
	})
	return out, err
}

// OpenMessage opens a message's file for reading.
func (s *Store) OpenMessage(accountID uint64, m *Message) (*os.File, error) {
	a, err := s.account(accountID)
	if err != nil {
		return nil, err
	}
	return os.Open(filepath.Join(a.dir, m.File))
}

// ReadMessage returns a message's bytes.
func (s *Store) ReadMessage(accountID uint64, m *Message) ([]byte, error) {
	a, err := s.account(accountID)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(filepath.Join(a.dir, m.File))
}

// SetFlags changes the flags of the given messages and returns those
// messages as they are after the change. Messages already gone are skipped.
func (s *Store) SetFlags(ctx context.Context, accountID, mailboxID uint64, uids []uint32, op FlagOp, flags []string) ([]*Message, error) {
	out, _, err := s.SetFlagsUnchangedSince(ctx, accountID, mailboxID, uids, op, flags, ^uint64(0))
	return out, err
}

// Expunge removes the messages marked \Deleted, all of them or only those
// among uids when uids is not nil (UID EXPUNGE, RFC 4315). It returns the
// UIDs removed, ascending.
func (s *Store) Expunge(ctx context.Context, accountID, mailboxID uint64, uids []uint32) ([]uint32, error) {
	a, err := s.account(accountID)
	if err != nil {
		return nil, err
	}
	var removed []uint32
	var files []string
	err = a.update(func(tx *bolt.Tx) ([]Change, error) {
		mb, err := getMailbox(tx, mailboxID)
		if err != nil {
			return nil, err
		}
		b := tx.Bucket(mbKey(mailboxID))
		var only map[uint32]bool
		if uids != nil {
			only = make(map[uint32]bool, len(uids))
			for _, u := range uids {
				only[u] = true
			}
		}
		var victims []*Message
		err = b.ForEach(func(k, v []byte) error {
			m, err := decodeMessage(v)
			if err != nil {
				return err
			}
			if m.HasFlag(FlagDeleted) && (uids == nil || only[m.UID]) {
				victims = append(victims, m)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		var changes []Change
		for _, m := range victims {
			if err := b.Delete(u32(m.UID)); err != nil {
				return nil, err
			}
			removed = append(removed, m.UID)
			files = append(files, m.File)
			mb.HighestModSeq++
			if err := indexExpunge(tx, mailboxID, m.UID, m.ModSeq, mb.HighestModSeq); err != nil {
				return nil, err
			}
			changes = append(changes, Change{Account: a.id, Mailbox: mailboxID, Kind: ChangeExpunge, UID: m.UID, ModSeq: mb.HighestModSeq})
		}
		if len(changes) == 0 {
			return nil, nil
		}
		return changes, putMailbox(tx, mb)
	})
	if err == nil {
		a.removeFiles(files)
	}
	return removed, err
}

// CopyResult maps source UIDs to the UIDs of the copies (RFC 4315 COPYUID).
type CopyResult struct {
	UIDValidity uint32
	Source      []uint32
	Dest        []uint32
}

// Copy copies messages to another mailbox of the same account.
func (s *Store) Copy(ctx context.Context, accountID, mailboxID uint64, uids []uint32, dest string) (*CopyResult, error) {
	return s.copyOrMove(accountID, mailboxID, uids, dest, false)
}

// Move moves messages to another mailbox in one transaction (RFC 6851):
// no client ever sees them in both or in neither.
func (s *Store) Move(ctx context.Context, accountID, mailboxID uint64, uids []uint32, dest string) (*CopyResult, error) {
	return s.copyOrMove(accountID, mailboxID, uids, dest, true)
}

func (s *Store) copyOrMove(accountID, mailboxID uint64, uids []uint32, dest string, move bool) (*CopyResult, error) {
	dest, err := NormalizeMailbox(dest)
	if err != nil {
		return nil, err
	}
	a, err := s.account(accountID)
	if err != nil {
		return nil, err
	}
	res := &CopyResult{}
	err = a.update(func(tx *bolt.Tx) ([]Change, error) {
		src, err := getMailbox(tx, mailboxID)
		if err != nil {
			return nil, err
		}
		dst, err := findMailbox(tx, dest)
		if err != nil {
			return nil, err
		}
		if dst.ID == src.ID {
			// Into the same mailbox: each message gets a new UID, as with
			// COPY then EXPUNGE; one record keeps UIDNEXT and MODSEQ right.
			dst = src
		}
		res.UIDValidity = dst.UIDValidity
		var changes []Change
		res.Source, res.Dest, changes, err = a.copyTx(tx, src, dst, uids, move)
		return changes, err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// copyTx copies (or moves) messages inside one transaction. Copies share
// the file through a hard link; a move keeps the same file.
func (a *account) copyTx(tx *bolt.Tx, src, dst *Mailbox, uids []uint32, move bool) (from, to []uint32, changes []Change, err error) {
	sb, db := tx.Bucket(mbKey(src.ID)), tx.Bucket(mbKey(dst.ID))
	slices.Sort(uids)
	for _, uid := range slices.Compact(uids) {
		v := sb.Get(u32(uid))
		if v == nil {
			continue
		}
		m, err := decodeMessage(v)
		if err != nil {
			return nil, nil, nil, err
		}
		nm := *m
		if !move {
			if nm.File, err = a.linkFile(filepath.Join(a.dir, m.File)); err != nil {
				return nil, nil, nil, err
			}
		}
		nm.UID = dst.UIDNext
		dst.UIDNext++
		dst.HighestModSeq++
		nm.ModSeq = dst.HighestModSeq
		if err := db.Put(u32(nm.UID), encodeMessage(&nm)); err != nil {
			return nil, nil, nil, err
		}
		if err := indexPut(tx, dst.ID, nm.UID, 0, nm.ModSeq); err != nil {
			return nil, nil, nil, err
		}
		from, to = append(from, uid), append(to, nm.UID)
		changes = append(changes, Change{Account: a.id, Mailbox: dst.ID, Kind: ChangeNew, UID: nm.UID, Flags: nm.Flags, ModSeq: nm.ModSeq})
		if move {
			if err := sb.Delete(u32(uid)); err != nil {
				return nil, nil, nil, err
			}
			src.HighestModSeq++
			if err := indexExpunge(tx, src.ID, uid, m.ModSeq, src.HighestModSeq); err != nil {
				return nil, nil, nil, err
			}
			changes = append(changes, Change{Account: a.id, Mailbox: src.ID, Kind: ChangeExpunge, UID: uid, ModSeq: src.HighestModSeq})
		}
	}
	if err := putMailbox(tx, dst); err != nil {
		return nil, nil, nil, err
	}
	if move && src.ID != dst.ID {
		if err := putMailbox(tx, src); err != nil {
			return nil, nil, nil, err
		}
	}
	// Links must be durable before the metadata naming them commits.
	if !move && len(to) > 0 {
		dirs := map[string]bool{}
		nb := tx.Bucket(mbKey(dst.ID))
		for _, uid := range to {
			if m, err := decodeMessage(nb.Get(u32(uid))); err == nil {
				dirs[filepath.Dir(filepath.Join(a.dir, m.File))] = true
			}
		}
		for d := range dirs {
			if err := syncDir(d); err != nil {
				return nil, nil, nil, err
			}
		}
	}
	return from, to, changes, nil
}

func (a *account) removeFiles(files []string) {
	if len(files) > 0 {
		// Not a durable write, but where a crash leaves files no message
		// names (removeOrphans takes them).
		fault("store.remove")
	}
	for _, f := range files {
		os.Remove(filepath.Join(a.dir, f))
	}
}
