package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Each mailbox has a change index beside its messages, so "what changed
// since MODSEQ n" (RFC 7162 CHANGEDSINCE, QRESYNC) is a range scan instead
// of a walk over every message. Its keys are mod-sequences, big-endian so
// they sort; every mod-sequence names one change, so keys never collide.
// The value is the UID and a kind byte: a live message carries its own
// current MODSEQ as key, and an expunged one leaves a tombstone keyed by
// the MODSEQ of its expunge. The index is written in the same transaction
// as the change it records.
const (
	changeLive     = 'm'
	changeVanished = 'x'
)

// keyTombFloor, in the meta bucket and suffixed by the mailbox ID, is the
// HIGHESTMODSEQ at which a mailbox's index was first built: expunges from
// before it left no tombstone.
var keyTombFloor = []byte("tombfloor")

func chKey(id uint64) []byte { return append([]byte("c"), u64(id)...) }

func chVal(uid uint32, kind byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uid), kind)
}

// indexPut records a message's new MODSEQ, dropping the entry of its old one
// (0 for a new message).
func indexPut(tx *bolt.Tx, mailboxID uint64, uid uint32, oldModSeq, newModSeq uint64) error {
	b := tx.Bucket(chKey(mailboxID))
	if b == nil {
		return nil // built from the messages when the account is next opened
	}
	if oldModSeq != 0 && oldModSeq != newModSeq {
		if err := b.Delete(u64(oldModSeq)); err != nil {
			return err
		}
	}
	return b.Put(u64(newModSeq), chVal(uid, changeLive))
}

// indexExpunge replaces a message's entry by a tombstone at the MODSEQ of
// its expunge.
func indexExpunge(tx *bolt.Tx, mailboxID uint64, uid uint32, oldModSeq, expModSeq uint64) error {
	b := tx.Bucket(chKey(mailboxID))
	if b == nil {
		return nil
	}
	if err := b.Delete(u64(oldModSeq)); err != nil {
		return err
	}
	return b.Put(u64(expModSeq), chVal(uid, changeVanished))
}

// createIndex makes the empty change index of a new mailbox.
func createIndex(tx *bolt.Tx, mailboxID uint64) error {
	_, err := tx.CreateBucketIfNotExists(chKey(mailboxID))
	return err
}

// deleteIndex drops a deleted mailbox's change index.
func deleteIndex(tx *bolt.Tx, mailboxID uint64) error {
	if tx.Bucket(chKey(mailboxID)) == nil {
		return nil
	}
	return tx.DeleteBucket(chKey(mailboxID))
}

// buildIndexes gives every mailbox that has none (databases written before
// the index existed) a change index built from its messages.
func buildIndexes(tx *bolt.Tx) error {
	var mbs []Mailbox
	err := tx.Bucket(bucketMailboxes).ForEach(func(k, v []byte) error {
		var mb Mailbox
		if err := json.Unmarshal(v, &mb); err != nil {
			return err
		}
		if tx.Bucket(chKey(mb.ID)) == nil {
			mbs = append(mbs, mb)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, mb := range mbs {
		msgs := tx.Bucket(mbKey(mb.ID))
		if msgs == nil {
			continue
		}
		b, err := tx.CreateBucket(chKey(mb.ID))
		if err != nil {
			return err
		}
		err = msgs.ForEach(func(k, v []byte) error {
			m, err := decodeMessage(v)
			if err != nil {
				return err
			}
			return b.Put(u64(m.ModSeq), chVal(m.UID, changeLive))
		})
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketMeta).Put(append(slices.Clone(keyTombFloor), u64(mb.ID)...), u64(mb.HighestModSeq)); err != nil {
			return err
		}
	}
	return nil
}

// Changes is what changed in a mailbox after a given MODSEQ.
type Changes struct {
	Mailbox *Mailbox
	// Changed are the messages whose MODSEQ is above it (new ones and
	// those whose flags changed), in MODSEQ order.
	Changed []*Message
	// Vanished are the UIDs expunged after it, ascending.
	Vanished []uint32
	// Complete is false when expunges that old left no tombstone: then
	// Vanished may miss some, and only the UIDs that still exist tell.
	Complete bool
}

// ChangedSince returns what changed in a mailbox after modseq, reading
// only the changes themselves.
func (s *Store) ChangedSince(ctx context.Context, accountID, mailboxID, modseq uint64) (*Changes, error) {
	a, err := s.account(accountID)
	if err != nil {
		return nil, err
	}
	out := &Changes{}
	err = a.db.View(func(tx *bolt.Tx) error {
		if out.Mailbox, err = getMailbox(tx, mailboxID); err != nil {
			return err
		}
		msgs, idx := tx.Bucket(mbKey(mailboxID)), tx.Bucket(chKey(mailboxID))
		if msgs == nil || idx == nil {
			return fmt.Errorf("mailbox %d: %w", mailboxID, ErrNotFound)
		}
		floor := bytesU64(tx.Bucket(bucketMeta).Get(append(slices.Clone(keyTombFloor), u64(mailboxID)...)))
		out.Complete = modseq >= floor
		if modseq == ^uint64(0) {
			return nil
		}
		c := idx.Cursor()
		for k, v := c.Seek(u64(modseq + 1)); k != nil; k, v = c.Next() {
			if len(v) != 5 {
				return errCorrupt
			}
			uid := binary.BigEndian.Uint32(v)
			if v[4] == changeVanished {
				out.Vanished = append(out.Vanished, uid)
				continue
			}
			mv := msgs.Get(u32(uid))
			if mv == nil {
				continue
			}
			m, err := decodeMessage(mv)
			if err != nil {
				return err
			}
			out.Changed = append(out.Changed, m)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(out.Vanished)
	return out, nil
}

// SetFlagsUnchangedSince is SetFlags for STORE (UNCHANGEDSINCE n) (RFC 7162
// §3.1.3): a message whose MODSEQ is above unchangedSince is left alone and
// its UID returned in modified; the test and the change are one
// transaction, so no other writer slips in between.
func (s *Store) SetFlagsUnchangedSince(ctx context.Context, accountID, mailboxID uint64, uids []uint32, op FlagOp, flags []string, unchangedSince uint64) (updated []*Message, modified []uint32, err error) {
	a, err := s.account(accountID)
	if err != nil {
		return nil, nil, err
	}
	err = a.update(func(tx *bolt.Tx) ([]Change, error) {
		updated, modified = nil, nil
		mb, err := getMailbox(tx, mailboxID)
		if err != nil {
			return nil, err
		}
		b := tx.Bucket(mbKey(mailboxID))
		var changes []Change
		for _, uid := range uids {
			v := b.Get(u32(uid))
			if v == nil {
				continue
			}
			m, err := decodeMessage(v)
			if err != nil {
				return nil, err
			}
			if m.ModSeq > unchangedSince {
				modified = append(modified, uid)
				continue
			}
			nf := applyFlags(m.Flags, op, flags)
			if !slices.Equal(nf, m.Flags) {
				mb.HighestModSeq++
				old := m.ModSeq
				m.Flags, m.ModSeq = nf, mb.HighestModSeq
				if err := b.Put(u32(uid), encodeMessage(m)); err != nil {
					return nil, err
				}
				if err := indexPut(tx, mailboxID, uid, old, m.ModSeq); err != nil {
					return nil, err
				}
				changes = append(changes, Change{Account: a.id, Mailbox: mailboxID, Kind: ChangeFlags, UID: uid, Flags: nf, ModSeq: m.ModSeq})
			}
			updated = append(updated, m)
		}
		if len(changes) > 0 {
			return changes, putMailbox(tx, mb)
		}
		return nil, nil
	})
	return updated, modified, err
}

// MessageState is the part of a message's metadata that changes, all a
// session needs to number and track the messages of a mailbox.
type MessageState struct {
	UID    uint32
	ModSeq uint64
	Flags  []string
}

// HasFlag reports whether the message carries flag (case-insensitive).
func (m *MessageState) HasFlag(flag string) bool {
	for _, f := range m.Flags {
		if strings.EqualFold(f, flag) {
			return true
		}
	}
	return false
}

// MessageStates returns a mailbox and the state of its messages in UID
// order, as one snapshot. It is Messages without what a SELECT does not
// need, so opening a large mailbox allocates little.
func (s *Store) MessageStates(ctx context.Context, accountID, mailboxID uint64) (*Mailbox, []MessageState, error) {
	a, err := s.account(accountID)
	if err != nil {
		return nil, nil, err
	}
	var mb *Mailbox
	var out []MessageState
	err = a.db.View(func(tx *bolt.Tx) error {
		if mb, err = getMailbox(tx, mailboxID); err != nil {
			return err
		}
		b := tx.Bucket(mbKey(mailboxID))
		// UIDNext bounds the count; growing a slice of 100k costs more.
		out = make([]MessageState, 0, min(int(mb.UIDNext), 1<<20))
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			m, err := decodeState(v)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	return mb, out, err
}

// decodeState decodes what MessageState holds of a message record (see
// encodeMessage), sharing the strings of system flags.
func decodeState(b []byte) (MessageState, error) {
	if len(b) < 1+4+8+8+8+2 || b[0] != 1 && b[0] != 2 {
		return MessageState{}, errCorrupt
	}
	m := MessageState{UID: binary.BigEndian.Uint32(b[1:]), ModSeq: binary.BigEndian.Uint64(b[5:])}
	_, rest, ok := readBytes(b[29:])
	if !ok || len(rest) < 2 {
		return MessageState{}, errCorrupt
	}
	n := int(binary.BigEndian.Uint16(rest))
	rest = rest[2:]
	if n > 0 {
		m.Flags = make([]string, 0, n)
	}
	for i := 0; i < n; i++ {
		var f []byte
		if f, rest, ok = readBytes(rest); !ok {
			return MessageState{}, errCorrupt
		}
		m.Flags = append(m.Flags, internFlag(f))
	}
	return m, nil
}

func readBytes(b []byte) ([]byte, []byte, bool) {
	if len(b) < 2 {
		return nil, nil, false
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n {
		return nil, nil, false
	}
	return b[2 : 2+n], b[2+n:], true
}

var commonFlags = []string{FlagSeen, FlagAnswered, FlagFlagged, FlagDeleted, FlagDraft, FlagJunk, "$NotJunk", "$Forwarded"}

func internFlag(f []byte) string {
	for _, c := range commonFlags {
		if string(f) == c {
			return c
		}
	}
	return string(f)
}
