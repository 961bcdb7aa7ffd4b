package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// FormatVersion is the version of the data directory's layout that this
// Frontdesk writes. One number covers the whole directory: the store's
// frontdesk.db, accounts/<id>.db and msg/, and what other packages keep
// beside them (the bbolt files queue/queue.db, spam/global.db,
// spam/<id>.db, telephony.db, tickets/tickets.db, tickets/route.db; the
// derived indexes index/ and tickets/index/; queue/msg/, keys/, tls/,
// recordings/, prompts/). It is kept in frontdesk.db (bucket "format", key
// "version", decimal), which every backup carries, and is checked before
// any part is opened. A change to any part's layout takes the next number
// and a step in migrations.
//
//	1  the layout before the number was kept (a frontdesk.db without it).
//	   Account databases may lack the subscriptions bucket and the change
//	   indexes, and message records may be v1 (no summary).
//	2  every account database has its subscriptions bucket and a change
//	   index per mailbox, and every message record whose file exists is
//	   v2 (it carries its summary, so SORT and THREAD read no file).
//
// A new data directory is made at FormatVersion. An older one is migrated
// by Open, one version at a time: each step is idempotent and commits its
// own transactions, and the new number is written only after the step
// committed, so a crash mid-migration leaves the old number and the next
// Open runs the step again. A newer one is refused with a *FormatError
// and left untouched.
const FormatVersion = 2

// FormatError is returned by Open for a data directory written by a newer
// Frontdesk.
type FormatError struct {
	Dir   string // as given to Open
	Found int    // the directory's format
	Known int    // FormatVersion
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("data directory %s is format %d, this frontdesk understands up to %d: upgrade frontdesk", e.Dir, e.Found, e.Known)
}

var (
	bucketFormat = []byte("format")
	keyFormat    = []byte("version")
)

// readFormat returns the format of an open frontdesk.db: 0 for one just
// made, 1 for one from before the number was kept.
func readFormat(db *bolt.DB, fresh bool) (int, error) {
	v := 0
	err := db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketFormat)
		if b == nil || b.Get(keyFormat) == nil {
			if !fresh {
				v = 1
			}
			return nil
		}
		n, err := strconv.Atoi(string(b.Get(keyFormat)))
		if err != nil || n < 1 {
			return fmt.Errorf("store: frontdesk.db holds no valid format version (%q)", b.Get(keyFormat))
		}
		v = n
		return nil
	})
	return v, err
}

// putFormat records the format; decimal text, so bbolt's own tools show it.
func putFormat(tx *bolt.Tx, v int) error {
	b, err := tx.CreateBucketIfNotExists(bucketFormat)
	if err != nil {
		return err
	}
	return b.Put(keyFormat, []byte(strconv.Itoa(v)))
}

// Format returns the data directory's format version.
func (s *Store) Format() (int, error) { return readFormat(s.db, false) }

// UpgradedFrom returns the format that Open migrated the data directory
// from, or 0 when it was already at FormatVersion (or new).
func (s *Store) UpgradedFrom() int { return s.upgradedFrom }

// CheckFormat reads the format of the data directory (or backup) dir
// without changing anything: a *FormatError when it is newer than
// FormatVersion, and 0 for a directory with no frontdesk.db.
func CheckFormat(dir string) (int, error) {
	path := filepath.Join(dir, "frontdesk.db")
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		return 0, fmt.Errorf("store: open %s: %w", path, err)
	}
	defer db.Close()
	v, err := readFormat(db, false)
	if err == nil && v > FormatVersion {
		err = &FormatError{Dir: dir, Found: v, Known: FormatVersion}
	}
	return v, err
}

// migrations[v] turns format v into v+1.
var migrations = map[int]func(s *Store) error{
	1: (*Store).migrateTo2,
}

// migrate brings a store of format from up to FormatVersion.
func (s *Store) migrate(from int) error {
	for v := from; v < FormatVersion; v++ {
		step := migrations[v]
		if step == nil {
			return fmt.Errorf("store: no migration from data format %d", v)
		}
		if err := step(s); err != nil {
			return fmt.Errorf("store: migrating the data directory from format %d to %d: %w", v, v+1, err)
		}
		err := s.db.Update(func(tx *bolt.Tx) error { return putFormat(tx, v+1) })
		if err != nil {
			return fmt.Errorf("store: migrating the data directory from format %d to %d: %w", v, v+1, err)
		}
	}
	return nil
}

// migrateTo2 opens every account, which gives its database the
// subscriptions bucket and the change indexes (account), and gives every
// v1 message record its summary.
func (s *Store) migrateTo2() error {
	ctx := context.Background()
	var ids []uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAccounts).ForEach(func(k, _ []byte) error {
			ids = append(ids, bytesU64(k))
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := s.fillAllSummaries(ctx, id); err != nil {
			return fmt.Errorf("account %d: %w", id, err)
		}
		// Accounts are opened when used; thousands held open would cost
		// a map and a goroutine each.
		if err := s.closeAccount(id); err != nil {
			return fmt.Errorf("account %d: %w", id, err)
		}
	}
	return nil
}

func (s *Store) fillAllSummaries(ctx context.Context, id uint64) error {
	mbs, err := s.Mailboxes(ctx, id)
	if err != nil {
		return err
	}
	for _, mb := range mbs {
		_, msgs, err := s.Messages(ctx, id, mb.ID)
		if err != nil {
			return err
		}
		var old []uint32
		for _, m := range msgs {
			if m.summary == "" {
				old = append(old, m.UID)
			}
		}
		// In slices, so one transaction stays small however big the box.
		for len(old) > 0 {
			n := min(len(old), 1000)
			if _, err := s.FillSummaries(ctx, id, mb.ID, old[:n]); err != nil {
				return err
			}
			old = old[n:]
		}
	}
	return nil
}

func (s *Store) closeAccount(id uint64) error {
	s.mu.Lock()
	a := s.accounts[id]
	delete(s.accounts, id)
	s.mu.Unlock()
	if a == nil {
		return nil
	}
	return a.close()
}
