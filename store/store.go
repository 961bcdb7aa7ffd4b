// Package store keeps Frontdesk's durable state: domains, accounts,
// mailboxes, messages, flags, UIDs and MODSEQs, and a change feed for
// sessions that watch a mailbox.
//
// Layout under the data directory (DESIGN.md):
//
//	frontdesk.db        bbolt: domains, accounts, settings
//	accounts/<id>.db    bbolt per account: mailboxes and message metadata
//	msg/<id>/<xx>/<n>   message files, fsynced before metadata refers to them
//
// A message becomes visible only when its metadata commits, and metadata is
// committed only after the file and its directory entry are on disk, so a
// crash at any moment leaves either nothing or a whole message. Files that a
// crash left without metadata are never shown.
//
// Locking: Store.mu guards the map of open account databases and is never
// held while doing I/O on an account. account.writeMu orders every write
// transaction of one account with the publication of its changes, so
// subscribers see changes in commit order.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Errors callers match with errors.Is.
var (
	ErrNotFound   = errors.New("not found")
	ErrInUse      = errors.New("is in use by another process")
	ErrExists     = errors.New("already exists")
	ErrAuthFailed = errors.New("authentication failed")
	ErrInvalid    = errors.New("invalid")
	ErrClosed     = errors.New("store closed")
)

var (
	bucketDomains  = []byte("domains")
	bucketAccounts = []byte("accounts")
	bucketAddrs    = []byte("addresses")
	bucketSettings = []byte("settings")
)

// Store is the embedded store of one data directory. It is safe for
// concurrent use.
type Store struct {
	dir  string
	db   *bolt.DB
	feed feed

	nextFile     atomic.Uint64
	upgradedFrom int // the format Open migrated from; 0 if none
	logins       loginCache

	mu       sync.Mutex
	accounts map[uint64]*account // guarded by mu
	closed   bool                // guarded by mu
}

// Open opens (creating if needed) the store in dir. Only one process may
// hold a data directory; a second Open fails fast instead of waiting. A
// directory of an older format is migrated first; one of a newer format is
// refused with a *FormatError (format.go).
func Open(dir string) (*Store, error) {
	for _, d := range []string{dir, filepath.Join(dir, "accounts"), filepath.Join(dir, "msg")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	_, err := os.Stat(filepath.Join(dir, "frontdesk.db"))
	fresh := errors.Is(err, os.ErrNotExist)
	db, err := bolt.Open(filepath.Join(dir, "frontdesk.db"), 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("store: %s %w", dir, ErrInUse)
		}
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	// A newer format is refused before anything is written (format.go).
	format, err := readFormat(db, fresh)
	if err == nil && format > FormatVersion {
		err = &FormatError{Dir: dir, Found: format, Known: FormatVersion}
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketDomains, bucketAccounts, bucketAddrs, bucketSettings} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if format == 0 {
			return putFormat(tx, FormatVersion)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: init: %w", err)
	}
	s := &Store{dir: dir, db: db, accounts: map[uint64]*account{}}
	// File names only need to be unique; O_EXCL catches the rare clash after
	// a clock step backwards.
	s.nextFile.Store(uint64(time.Now().UnixNano()))
	if format != 0 && format < FormatVersion {
		if err := s.migrate(format); err != nil {
			s.Close()
			return nil, err
		}
		s.upgradedFrom = format
	}
	return s, nil
}

// Dir returns the data directory.
func (s *Store) Dir() string { return s.dir }

// Close closes every database. Calls in flight may fail with ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	accts := s.accounts
	s.accounts = map[uint64]*account{}
	s.mu.Unlock()
	var errs []error
	for _, a := range accts {
		errs = append(errs, a.close())
	}
	errs = append(errs, s.db.Close())
	return errors.Join(errs...)
}

// Domain is a mail domain served by this installation.
type Domain struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
}

// NormalizeDomain lower-cases a domain and strips a trailing dot.
func NormalizeDomain(d string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
}

// ValidDomain reports whether d is a plausible DNS name with at least two labels.
func ValidDomain(d string) bool {
	if len(d) == 0 || len(d) > 253 || !strings.Contains(d, ".") {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c >= 0x80) {
				return false
			}
		}
	}
	return true
}

// AddDomain adds a local domain. It fails with ErrExists if it is present.
func (s *Store) AddDomain(ctx context.Context, name string) (*Domain, error) {
	name = NormalizeDomain(name)
	if !ValidDomain(name) {
		return nil, fmt.Errorf("%w domain name %q", ErrInvalid, name)
	}
	d := &Domain{Name: name, Created: time.Now().UTC()}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDomains)
		if b.Get([]byte(name)) != nil {
			return fmt.Errorf("domain %s: %w", name, ErrExists)
		}
		return putJSON(b, []byte(name), d)
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Domains lists the local domains in name order.
func (s *Store) Domains(ctx context.Context) ([]Domain, error) {
	var out []Domain
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDomains).ForEach(func(k, v []byte) error {
			var d Domain
			if err := json.Unmarshal(v, &d); err != nil {
				return err
			}
			out = append(out, d)
			return nil
		})
	})
	return out, err
}

// IsLocalDomain reports whether name is one of ours.
func (s *Store) IsLocalDomain(ctx context.Context, name string) (bool, error) {
	name = NormalizeDomain(name)
	var ok bool
	err := s.db.View(func(tx *bolt.Tx) error {
		ok = tx.Bucket(bucketDomains).Get([]byte(name)) != nil
		return nil
	})
	return ok, err
}

// Setting returns a stored setting, or nil when unset.
func (s *Store) Setting(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketSettings).Get([]byte(key)); b != nil {
			v = append([]byte(nil), b...)
		}
		return nil
	})
	return v, err
}

// SetSetting stores a setting durably.
func (s *Store) SetSetting(ctx context.Context, key string, value []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSettings).Put([]byte(key), value)
	})
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}
