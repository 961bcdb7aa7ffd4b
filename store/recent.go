package store

import (
	"context"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketRecent maps a mailbox ID to the highest UID that some session has
// already been told of as \Recent (RFC 3501 §2.3.2): later sessions do not
// see those as recent.
var bucketRecent = []byte("recent")

// recentWriteDelay gathers the claims of a busy account into one write.
const recentWriteDelay = time.Second

// recentClaims holds the \Recent claims of an account in memory, where
// they are decided, and writes them to bucketRecent behind the sessions:
// a claim is made on every SELECT and every poll that sees new mail, and
// must not wait for a disk write. A crash may forget the last claims; the
// messages are then recent once more, which is harmless.
type recentClaims struct {
	mu       sync.Mutex
	claimed  map[uint64]uint32 // guarded by mu; mailbox ID → claimed UID, as loaded or claimed
	dirty    map[uint64]uint32 // guarded by mu; claims not yet written
	flushing bool              // guarded by mu; a writer goroutine runs
	closed   bool              // guarded by mu
	stop     chan struct{}     // closed by close: write now
	wg       sync.WaitGroup    // the writer goroutine
}

// snapshot returns a copy of the claims held in memory.
func (r *recentClaims) snapshot() map[uint64]uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[uint64]uint32, len(r.claimed))
	for id, c := range r.claimed {
		out[id] = c
	}
	return out
}

// close waits for the claims to be written; later claims are refused.
func (r *recentClaims) close() {
	r.mu.Lock()
	r.closed = true
	if r.stop != nil {
		close(r.stop)
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// loadClaim returns the claim for a mailbox, reading it from the
// database the first time. a.recent.mu must be held, and no transaction
// may wait for it.
func (a *account) loadClaim(mailboxID uint64) (uint32, error) {
	r := &a.recent
	if c, ok := r.claimed[mailboxID]; ok {
		return c, nil
	}
	var c uint32
	err := a.db.View(func(tx *bolt.Tx) error {
		c = recentClaimed(tx, mailboxID)
		return nil
	})
	if err != nil {
		return 0, err
	}
	if r.claimed == nil {
		r.claimed = map[uint64]uint32{}
	}
	r.claimed[mailboxID] = c
	return c, nil
}

// RecentClaimed returns the highest UID of a mailbox already claimed as
// \Recent by a session; messages above it are recent to the next one.
func (s *Store) RecentClaimed(ctx context.Context, accountID, mailboxID uint64) (uint32, error) {
	a, err := s.account(accountID)
	if err != nil {
		return 0, err
	}
	a.recent.mu.Lock()
	defer a.recent.mu.Unlock()
	return a.loadClaim(mailboxID)
}

func recentClaimed(tx *bolt.Tx, mailboxID uint64) uint32 {
	if b := tx.Bucket(bucketRecent); b != nil {
		if v := b.Get(u64(mailboxID)); len(v) == 4 {
			return bytesU32(v)
		}
	}
	return 0
}

// ClaimRecent makes the caller the session that holds the messages of a
// mailbox up to UID upTo as \Recent. It returns the highest UID claimed
// before: the caller's recent messages are those above it, up to upTo. Of
// two sessions claiming at once, each message goes to one of them only.
func (s *Store) ClaimRecent(ctx context.Context, accountID, mailboxID uint64, upTo uint32) (uint32, error) {
	a, err := s.account(accountID)
	if err != nil {
		return 0, err
	}
	r := &a.recent
	r.mu.Lock()
	defer r.mu.Unlock()
	prev, err := a.loadClaim(mailboxID)
	if err != nil || prev >= upTo {
		return prev, err
	}
	if r.closed {
		return prev, ErrClosed
	}
	r.claimed[mailboxID] = upTo
	if r.dirty == nil {
		r.dirty = map[uint64]uint32{}
	}
	r.dirty[mailboxID] = upTo
	if !r.flushing {
		r.flushing = true
		if r.stop == nil {
			r.stop = make(chan struct{})
		}
		r.wg.Add(1)
		go a.writeClaims(r.stop)
	}
	return prev, nil
}

// writeClaims writes dirty claims until there are none left, a moment
// after the first so that one write carries many, or at once on close.
func (a *account) writeClaims(stop <-chan struct{}) {
	r := &a.recent
	defer r.wg.Done()
	for {
		t := time.NewTimer(recentWriteDelay)
		select {
		case <-t.C:
		case <-stop:
			t.Stop()
		}
		r.mu.Lock()
		batch := r.dirty
		r.dirty = nil
		if len(batch) == 0 {
			r.flushing = false
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()
		// On failure the claims stay in memory and are only forgotten on
		// restart.
		a.update(func(tx *bolt.Tx) ([]Change, error) {
			b, err := tx.CreateBucketIfNotExists(bucketRecent)
			if err != nil {
				return nil, err
			}
			for id, uid := range batch {
				if uid > recentClaimed(tx, id) {
					if err := b.Put(u64(id), u32(uid)); err != nil {
						return nil, err
					}
				}
			}
			return nil, nil
		})
	}
}
