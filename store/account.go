package store

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketMailboxes = []byte("mailboxes")
	bucketMeta      = []byte("meta")
	keyLastUV       = []byte("lastuidvalidity")
)

// account is one open account database with its delivery committer.
type account struct {
	id    uint64
	db    *bolt.DB
	store *Store
	dir   string // msg/<id>

	// writeMu orders write transactions with the publication of their
	// changes; never held while waiting on anything but the disk.
	writeMu sync.Mutex

	deliveries chan *delivery
	stop       chan struct{}
	stopped    chan struct{}

	recent recentClaims
}

func (s *Store) account(id uint64) (*account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if a := s.accounts[id]; a != nil {
		return a, nil
	}
	path := filepath.Join(s.dir, "accounts", strconv.FormatUint(id, 10)+".db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("store: open account %d: %w", id, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketMailboxes); err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(bucketMeta); err != nil {
			return err
		}
		if err := migrateSubscriptions(tx); err != nil {
			return err
		}
		return buildIndexes(tx)
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	a := &account{
		id: id, db: db, store: s,
		dir:        filepath.Join(s.dir, "msg", strconv.FormatUint(id, 10)),
		deliveries: make(chan *delivery, 1024),
		stop:       make(chan struct{}),
		stopped:    make(chan struct{}),
	}
	if err := os.MkdirAll(a.dir, 0o700); err != nil {
		db.Close()
		return nil, err
	}
	// Best effort: an orphan only costs disk space.
	a.removeOrphans()
	go a.commitLoop()
	s.accounts[id] = a
	return a, nil
}

func (a *account) close() error {
	close(a.stop)
	<-a.stopped
	a.recent.close()
	return a.db.Close()
}

// Mailbox is a folder of an account.
type Mailbox struct {
	ID            uint64 `json:"id"`
	Name          string `json:"name"`
	SpecialUse    string `json:"special_use,omitempty"`
	UIDValidity   uint32 `json:"uid_validity"`
	UIDNext       uint32 `json:"uid_next"`
	HighestModSeq uint64 `json:"highest_modseq"`
}

// MailboxStatus is a mailbox with its counts.
type MailboxStatus struct {
	Mailbox
	Messages int
	Unseen   int
	Deleted  int
	Recent   int // above the UID claimed as \Recent (see ClaimRecent)
	Size     int64
}

// Delimiter separates levels of mailbox names.
const Delimiter = '/'

// NormalizeMailbox checks a mailbox name and folds any case of INBOX
// (RFC 9051 §5.1).
func NormalizeMailbox(name string) (string, error) {
	if name == "" || !utf8.ValidString(name) || strings.ContainsAny(name, "*%\r\n\x00") ||
		strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") || strings.Contains(name, "//") || len(name) > 512 {
		return "", fmt.Errorf("%w mailbox name %q", ErrInvalid, name)
	}
	if strings.EqualFold(name, "INBOX") {
		return "INBOX", nil
	}
	if len(name) > 6 && strings.EqualFold(name[:6], "INBOX/") {
		return "INBOX" + name[5:], nil
	}
	return name, nil
}

func mbKey(id uint64) []byte { return append([]byte("m"), u64(id)...) }

func (a *account) createMailbox(name, specialUse string) (*Mailbox, error) {
	name, err := NormalizeMailbox(name)
	if err != nil {
		return nil, err
	}
	var mb *Mailbox
	err = a.update(func(tx *bolt.Tx) ([]Change, error) {
		if m, _ := findMailbox(tx, name); m != nil {
			return nil, fmt.Errorf("mailbox %s: %w", name, ErrExists)
		}
		var err error
		mb, err = newMailbox(tx, name, specialUse)
		return []Change{{Account: a.id, Mailbox: mb.ID, Kind: ChangeMailboxes}}, err
	})
	return mb, err
}

func newMailbox(tx *bolt.Tx, name, specialUse string) (*Mailbox, error) {
	b := tx.Bucket(bucketMailboxes)
	id, err := b.NextSequence()
	if err != nil {
		return nil, err
	}
	// UIDVALIDITY must differ from any earlier mailbox of the same name
	// (RFC 9051 §2.3.1.1): strictly increasing per account.
	meta := tx.Bucket(bucketMeta)
	uv := uint32(time.Now().Unix())
	if last := meta.Get(keyLastUV); last != nil {
		if l := uint32(bytesU64(last)); uv <= l {
			uv = l + 1
		}
	}
	if err := meta.Put(keyLastUV, u64(uint64(uv))); err != nil {
		return nil, err
	}
	mb := &Mailbox{ID: id, Name: name, SpecialUse: specialUse, UIDValidity: uv, UIDNext: 1, HighestModSeq: 1}
	if _, err := tx.CreateBucket(mbKey(id)); err != nil {
		return nil, err
	}
	if err := createIndex(tx, id); err != nil {
		return nil, err
	}
	return mb, putJSON(b, u64(id), mb)
}

func findMailbox(tx *bolt.Tx, name string) (*Mailbox, error) {
	var found *Mailbox
	err := tx.Bucket(bucketMailboxes).ForEach(func(k, v []byte) error {
		if found != nil {
			return nil
		}
		var mb Mailbox
		if err := json.Unmarshal(v, &mb); err != nil {
			return err
		}
		if mb.Name == name {
			found = &mb
		}
		return nil
	})
	if err == nil && found == nil {
		err = fmt.Errorf("mailbox %s: %w", name, ErrNotFound)
	}
	return found, err
}

func getMailbox(tx *bolt.Tx, id uint64) (*Mailbox, error) {
	v := tx.Bucket(bucketMailboxes).Get(u64(id))
	if v == nil {
		return nil, fmt.Errorf("mailbox %d: %w", id, ErrNotFound)
	}
	var mb Mailbox
	return &mb, json.Unmarshal(v, &mb)
}

func putMailbox(tx *bolt.Tx, mb *Mailbox) error {
	return putJSON(tx.Bucket(bucketMailboxes), u64(mb.ID), mb)
}

// update runs fn in a write transaction and publishes its changes after
// the commit, in commit order.
func (a *account) update(fn func(tx *bolt.Tx) ([]Change, error)) error {
	a.writeMu.Lock()
	defer a.writeMu.Unlock()
	var changes []Change
	err := a.db.Update(func(tx *bolt.Tx) error {
		var err error
		changes, err = fn(tx)
		if err == nil {
			fault("store.commit")
		}
		return err
	})
	if err != nil {
		return err
	}
	a.store.feed.publish(a.id, changes)
	return nil
}

// CreateMailbox creates a mailbox. specialUse may be empty or one of the
// RFC 6154 attributes.
func (s *Store) CreateMailbox(ctx context.Context, accountID uint64, name, specialUse string) (*Mailbox, error) {
	a, err := s.account(accountID)
	if err != nil {
		return nil, err
	}
	return a.createMailbox(name, specialUse)
}

// Mailboxes lists an account's mailboxes in name order, INBOX first.
func (s *Store) Mailboxes(ctx context.Context, accountID uint64) ([]Mailbox, error) {
	a, err := s.account(accountID)
	if err != nil {
		return nil, err
	}
	var out []Mailbox
	err = a.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMailboxes).ForEach(func(k, v []byte) error {
			var mb Mailbox
			if err := json.Unmarshal(v, &mb); err != nil {
				return err
			}
			out = append(out, mb)
			return nil
		})
	})
	sortMailboxes(out)
	return out, err
}

func sortMailboxes(mbs []Mailbox) {
	less := func(x, y string) bool {
		if x == "INBOX" || y == "INBOX" {
			return x == "INBOX" && y != "INBOX"
		}
		return x < y
	}
	for i := 1; i < len(mbs); i++ {
		for j := i; j > 0 && less(mbs[j].Name, mbs[j-1].Name); j-- {
			mbs[j], mbs[j-1] = mbs[j-1], mbs[j]
		}
	}
}

// MailboxByName returns a mailbox by name.
func (s *Store) MailboxByName(ctx context.Context, accountID uint64, name string) (*Mailbox, error) {
	name, err := NormalizeMailbox(name)
	if err != nil {
		return nil, err
	}
	a, err := s.account(accountID)
	if err != nil {
		return nil, err
	}
	var mb *Mailbox
	err = a.db.View(func(tx *bolt.Tx) (err error) {
		mb, err = findMailbox(tx, name)
		return err
	})
	return mb, err
}

// Status returns a mailbox with its message counts.
func (s *Store) Status(ctx context.Context, accountID uint64, name string) (*MailboxStatus, error) {
	name, err := NormalizeMailbox(name)
	if err != nil {
		return nil, err
	}
	a, err := s.account(accountID)
	if err != nil {
		return nil, err
	}
	// Claims not yet written; read before the transaction, as claiming
	// may read the database while holding the claims' lock.
	inMemory := a.recent.snapshot()
	var st MailboxStatus
	err = a.db.View(func(tx *bolt.Tx) error {
		mb, err := findMailbox(tx, name)
		if err != nil {
			return err
		}
		st.Mailbox = *mb
		claimed := max(recentClaimed(tx, mb.ID), inMemory[mb.ID])
		return tx.Bucket(mbKey(mb.ID)).ForEach(func(k, v []byte) error {
			m, err := decodeMessage(v)
			if err != nil {
				return err
			}
			st.Messages++
			st.Size += m.Size
			if !m.HasFlag(FlagSeen) {
				st.Unseen++
			}
			if m.HasFlag(FlagDeleted) {
				st.Deleted++
			}
			if m.UID > claimed {
				st.Recent++
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return &st, nil
}

// DeleteMailbox removes a mailbox and its messages. INBOX cannot be
// deleted (RFC 9051 §6.3.4); children are left in place.
func (s *Store) DeleteMailbox(ctx context.Context, accountID uint64, name string) error {
	name, err := NormalizeMailbox(name)
	if err != nil {
		return err
	}
	if name == "INBOX" {
		return fmt.Errorf("%w: INBOX cannot be deleted", ErrInvalid)
	}
	a, err := s.account(accountID)
	if err != nil {
		return err
	}
	var files []string
	err = a.update(func(tx *bolt.Tx) ([]Change, error) {
		mb, err := findMailbox(tx, name)
		if err != nil {
			return nil, err
		}
		// Sessions with the mailbox selected see its messages expunged.
		var changes []Change
		err = tx.Bucket(mbKey(mb.ID)).ForEach(func(k, v []byte) error {
			m, err := decodeMessage(v)
			if err != nil {
				return err
			}
			files = append(files, m.File)
			changes = append(changes, Change{Account: a.id, Mailbox: mb.ID, Kind: ChangeExpunge, UID: m.UID, ModSeq: mb.HighestModSeq + 1})
			return nil
		})
		if err != nil {
			return nil, err
		}
		if err := tx.DeleteBucket(mbKey(mb.ID)); err != nil {
			return nil, err
		}
		if err := deleteIndex(tx, mb.ID); err != nil {
			return nil, err
		}
		changes = append(changes, Change{Account: a.id, Mailbox: mb.ID, Kind: ChangeMailboxes})
		return changes, tx.Bucket(bucketMailboxes).Delete(u64(mb.ID))
	})
	if err == nil {
		a.removeFiles(files)
	}
	return err
}

// RenameMailbox renames a mailbox and its children. Renaming INBOX moves
// its messages to a new mailbox and leaves INBOX empty (RFC 9051 §6.3.6).
func (s *Store) RenameMailbox(ctx context.Context, accountID uint64, oldName, newName string) error {
	oldName, err := NormalizeMailbox(oldName)
	if err != nil {
		return err
	}
	if newName, err = NormalizeMailbox(newName); err != nil {
		return err
	}
	if newName == "INBOX" {
		return fmt.Errorf("%w: cannot rename to INBOX", ErrInvalid)
	}
	a, err := s.account(accountID)
	if err != nil {
		return err
	}
	return a.update(func(tx *bolt.Tx) ([]Change, error) {
		src, err := findMailbox(tx, oldName)
		if err != nil {
			return nil, err
		}
		if m, _ := findMailbox(tx, newName); m != nil {
			return nil, fmt.Errorf("mailbox %s: %w", newName, ErrExists)
		}
		changes := []Change{{Account: a.id, Mailbox: src.ID, Kind: ChangeMailboxes}}
		if oldName == "INBOX" {
			dst, err := newMailbox(tx, newName, "")
			if err != nil {
				return nil, err
			}
			var uids []uint32
			tx.Bucket(mbKey(src.ID)).ForEach(func(k, v []byte) error {
				uids = append(uids, bytesU32(k))
				return nil
			})
			_, _, cs, err := a.copyTx(tx, src, dst, uids, true)
			return append(changes, cs...), err
		}
		var all []*Mailbox
		tx.Bucket(bucketMailboxes).ForEach(func(k, v []byte) error {
			var mb Mailbox
			if json.Unmarshal(v, &mb) == nil {
				all = append(all, &mb)
			}
			return nil
		})
		for _, mb := range all {
			if mb.Name == oldName || strings.HasPrefix(mb.Name, oldName+"/") {
				mb.Name = newName + mb.Name[len(oldName):]
				if err := putMailbox(tx, mb); err != nil {
					return nil, err
				}
			}
		}
		return changes, renameSubscriptions(tx, oldName, newName)
	})
}
