package store

import (
	"context"

	bolt "go.etcd.io/bbolt"
)

// bucketRecent maps a mailbox ID to the highest UID that some session has
// already been told of as \Recent (RFC 3501 §2.3.2): later sessions do not
// see those as recent. One small value per mailbox, written only when a
// session learns of new messages.
var bucketRecent = []byte("recent")

// RecentClaimed returns the highest UID of a mailbox already claimed as
// \Recent by a session; messages above it are recent to the next one.
func (s *Store) RecentClaimed(ctx context.Context, accountID, mailboxID uint64) (uint32, error) {
	a, err := s.account(accountID)
	if err != nil {
		return 0, err
	}
	var claimed uint32
	err = a.db.View(func(tx *bolt.Tx) error {
		claimed = recentClaimed(tx, mailboxID)
		return nil
	})
	return claimed, err
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
	// Most calls find nothing new to claim: a read answers them.
	prev, err := s.RecentClaimed(ctx, accountID, mailboxID)
	if err != nil || prev >= upTo {
		return prev, err
	}
	a, err := s.account(accountID)
	if err != nil {
		return 0, err
	}
	err = a.update(func(tx *bolt.Tx) ([]Change, error) {
		prev = recentClaimed(tx, mailboxID)
		if prev >= upTo {
			return nil, nil
		}
		b, err := tx.CreateBucketIfNotExists(bucketRecent)
		if err != nil {
			return nil, err
		}
		return nil, b.Put(u64(mailboxID), u32(upTo))
	})
	return prev, err
}
