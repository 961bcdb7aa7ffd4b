package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketWebSessions holds web console sessions keyed by a hash of the
// session ID (never the ID itself, so a copy of the database opens no
// session). Created on first write.
var bucketWebSessions = []byte("websessions")

// WebSession is a logged-in web console session.
type WebSession struct {
	Account uint64    `json:"account"`
	CSRF    string    `json:"csrf"` // per-session token every unsafe request must carry
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
}

// PutWebSession stores a session under key (a hash of its ID).
func (s *Store) PutWebSession(ctx context.Context, key string, ws *WebSession) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketWebSessions)
		if err != nil {
			return err
		}
		return putJSON(b, []byte(key), ws)
	})
}

// WebSession returns the session stored under key, or ErrNotFound when
// there is none or it expired before now.
func (s *Store) WebSession(ctx context.Context, key string, now time.Time) (*WebSession, error) {
	var ws *WebSession
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketWebSessions)
		var v []byte
		if b != nil {
			v = b.Get([]byte(key))
		}
		if v == nil {
			return fmt.Errorf("web session: %w", ErrNotFound)
		}
		ws = new(WebSession)
		return json.Unmarshal(v, ws)
	})
	if err != nil {
		return nil, err
	}
	if !now.Before(ws.Expires) {
		return nil, fmt.Errorf("web session expired: %w", ErrNotFound)
	}
	return ws, nil
}

// DeleteWebSession removes a session (logout). A missing one is no error.
func (s *Store) DeleteWebSession(ctx context.Context, key string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketWebSessions); b != nil {
			return b.Delete([]byte(key))
		}
		return nil
	})
}

// ExpireWebSessions deletes the sessions expired before now and returns
// how many went.
func (s *Store) ExpireWebSessions(ctx context.Context, now time.Time) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketWebSessions)
		if b == nil {
			return nil
		}
		var gone [][]byte
		err := b.ForEach(func(k, v []byte) error {
			var ws WebSession
			if json.Unmarshal(v, &ws) != nil || !now.Before(ws.Expires) {
				gone = append(gone, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range gone {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(gone)
		return nil
	})
	return n, err
}
