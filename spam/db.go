package spam

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bucket layout of a token database:
//
//	meta:   "spam" → uint64 BE, "ham" → uint64 BE   messages trained
//	tokens: token  → uint32 BE spam count, uint32 BE ham count
var (
	bucketMeta   = []byte("meta")
	bucketTokens = []byte("tokens")
	keySpam      = []byte("spam")
	keyHam       = []byte("ham")
)

// DB holds token statistics: how many spam and ham messages were trained
// and, per token, in how many of each it occurred. It lives in a bbolt file
// (OpenDB) or in memory (NewMemDB, for evaluation and tests). A DB is safe
// for concurrent use.
type DB struct {
	bolt *bolt.DB // nil for an in-memory DB

	mu    sync.RWMutex // guards the fields below (in-memory DB only)
	nspam uint64
	nham  uint64
	toks  map[string]counts
	// lessons: see Learn; id → spam
	lessons map[string]bool
}

// counts is a token's message counts.
type counts struct{ spam, ham uint32 }

// OpenDB opens or creates the token database at path (creating its
// directory). The caller picks the path: DATA/spam/global.db for the
// site-wide database, DATA/spam/<account>.db per account. bbolt allows one
// process per file, so a second OpenDB of the same path waits up to 5 s and
// then fails.
func OpenDB(path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("spam: creating database directory: %w", err)
	}
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("spam: opening %s: %w", path, err)
	}
	err = b.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketMeta); err != nil {
			return err
		}
		_, err := tx.CreateBucketIfNotExists(bucketTokens)
		return err
	})
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("spam: initialising %s: %w", path, err)
	}
	return &DB{bolt: b}, nil
}

// NewMemDB returns an empty database held in memory only.
func NewMemDB() *DB {
	return &DB{toks: make(map[string]counts)}
}

// Close closes the database file. Closing an in-memory DB is a no-op.
func (db *DB) Close() error {
	if db.bolt == nil {
		return nil
	}
	return db.bolt.Close()
}

// Train records one message with the given tokens as spam (or ham).
// Duplicate tokens count once: statistics are per message.
func (db *DB) Train(tokens []string, spam bool) error {
	return db.update(tokens, spam, 1)
}

// Untrain undoes an earlier Train of the same tokens with the same label,
// e.g. when a user moves a message out of Junk that was trained as spam.
// Counts never go below zero, so untraining what was never trained cannot
// corrupt the statistics, only make them less precise.
func (db *DB) Untrain(tokens []string, spam bool) error {
	return db.update(tokens, spam, -1)
}

// Counts returns the number of spam and ham messages trained.
func (db *DB) Counts() (nspam, nham uint64, err error) {
	if db.bolt == nil {
		db.mu.RLock()
		defer db.mu.RUnlock()
		return db.nspam, db.nham, nil
	}
	err = db.bolt.View(func(tx *bolt.Tx) error {
		nspam, nham = readMeta(tx.Bucket(bucketMeta))
		return nil
	})
	return nspam, nham, err
}

// TokenCounts returns in how many spam and ham messages token was trained.
func (db *DB) TokenCounts(token string) (spam, ham uint32, err error) {
	dst := []counts{{}}
	_, _, err = db.lookup([]string{token}, dst)
	return dst[0].spam, dst[0].ham, err
}

// update adds delta (+1 or -1) to the message count and to each distinct
// token's count for the label.
func (db *DB) update(tokens []string, spam bool, delta int) error {
	uniq := dedup(tokens)
	if db.bolt == nil {
		db.mu.Lock()
		defer db.mu.Unlock()
		if spam {
			db.nspam = addCount64(db.nspam, delta)
		} else {
			db.nham = addCount64(db.nham, delta)
		}
		for _, tok := range uniq {
			c := db.toks[tok].add(spam, delta)
			if c == (counts{}) {
				delete(db.toks, tok)
			} else {
				db.toks[tok] = c
			}
		}
		return nil
	}
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		meta, tb := tx.Bucket(bucketMeta), tx.Bucket(bucketTokens)
		nspam, nham := readMeta(meta)
		if spam {
			nspam = addCount64(nspam, delta)
		} else {
			nham = addCount64(nham, delta)
		}
		if err := writeMeta(meta, nspam, nham); err != nil {
			return err
		}
		for _, tok := range uniq {
			if tok == "" || len(tok) > bolt.MaxKeySize {
				continue
			}
			k := []byte(tok)
			c := decodeCounts(tb.Get(k)).add(spam, delta)
			var err error
			if c == (counts{}) {
				err = tb.Delete(k) // keep the file free of dead tokens
			} else {
				err = tb.Put(k, c.encode())
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("spam: training: %w", err)
	}
	return nil
}

// lookup adds the counts of each token to dst (len(dst) == len(tokens)) and
// returns the trained message totals, all read in one consistent snapshot.
func (db *DB) lookup(tokens []string, dst []counts) (nspam, nham uint64, err error) {
	if db.bolt == nil {
		db.mu.RLock()
		defer db.mu.RUnlock()
		for i, tok := range tokens {
			c := db.toks[tok]
			dst[i].spam += c.spam
			dst[i].ham += c.ham
		}
		return db.nspam, db.nham, nil
	}
	err = db.bolt.View(func(tx *bolt.Tx) error {
		nspam, nham = readMeta(tx.Bucket(bucketMeta))
		tb := tx.Bucket(bucketTokens)
		if tb == nil {
			return errors.New("tokens bucket missing")
		}
		var key []byte
		for i, tok := range tokens {
			key = append(key[:0], tok...)
			c := decodeCounts(tb.Get(key))
			dst[i].spam += c.spam
			dst[i].ham += c.ham
		}
		return nil
	})
	if err != nil {
		err = fmt.Errorf("spam: reading tokens: %w", err)
	}
	return nspam, nham, err
}

// clone returns an in-memory copy of an in-memory DB; Eval uses it to
// derive each fold's training set from the whole corpus.
func (db *DB) clone() *DB {
	db.mu.RLock()
	defer db.mu.RUnlock()
	c := &DB{nspam: db.nspam, nham: db.nham, toks: make(map[string]counts, len(db.toks))}
	for k, v := range db.toks {
		c.toks[k] = v
	}
	return c
}

func (c counts) add(spam bool, delta int) counts {
	if spam {
		c.spam = addCount32(c.spam, delta)
	} else {
		c.ham = addCount32(c.ham, delta)
	}
	return c
}

func (c counts) encode() []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint32(b, c.spam)
	binary.BigEndian.PutUint32(b[4:], c.ham)
	return b
}

func decodeCounts(b []byte) counts {
	if len(b) != 8 {
		return counts{}
	}
	return counts{binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])}
}

func readMeta(b *bolt.Bucket) (nspam, nham uint64) {
	if b == nil {
		return 0, 0
	}
	if v := b.Get(keySpam); len(v) == 8 {
		nspam = binary.BigEndian.Uint64(v)
	}
	if v := b.Get(keyHam); len(v) == 8 {
		nham = binary.BigEndian.Uint64(v)
	}
	return nspam, nham
}

func writeMeta(b *bolt.Bucket, nspam, nham uint64) error {
	v := make([]byte, 8)
	binary.BigEndian.PutUint64(v, nspam)
	if err := b.Put(keySpam, v); err != nil {
		return err
	}
	v = make([]byte, 8)
	binary.BigEndian.PutUint64(v, nham)
	return b.Put(keyHam, v)
}

// addCount32 and addCount64 add delta, saturating at zero and the maximum.
func addCount32(v uint32, delta int) uint32 {
	if delta < 0 {
		if v == 0 {
			return 0
		}
		return v - 1
	}
	if v == ^uint32(0) {
		return v
	}
	return v + 1
}

func addCount64(v uint64, delta int) uint64 {
	if delta < 0 {
		if v == 0 {
			return 0
		}
		return v - 1
	}
	return v + 1
}

// dedup returns the distinct tokens in first-seen order.
func dedup(tokens []string) []string {
	seen := make(map[string]struct{}, len(tokens))
	out := make([]string, 0, len(tokens))
	for _, t := range tokens {
		if _, ok := seen[t]; ok {
			continue
		}
		seen[t] = struct{}{}
		out = append(out, t)
	}
	return out
}
