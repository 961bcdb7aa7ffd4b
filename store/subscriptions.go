package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// bucketSubs holds an account's subscriptions (RFC 9051 §6.3.7): a set of
// mailbox names, kept apart from the mailboxes so that a subscription
// outlives the mailbox it names and CREATE subscribes to nothing.
var bucketSubs = []byte("subscriptions")

// migrateSubscriptions creates the subscription set of an account whose
// database predates it, from the "subscribed" field mailboxes used to
// carry, so nothing an old client subscribed to is lost.
func migrateSubscriptions(tx *bolt.Tx) error {
	if tx.Bucket(bucketSubs) != nil {
		return nil
	}
	subs, err := tx.CreateBucket(bucketSubs)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketMailboxes).ForEach(func(k, v []byte) error {
		var old struct {
			Name       string `json:"name"`
			Subscribed bool   `json:"subscribed"`
		}
		if err := json.Unmarshal(v, &old); err != nil {
			return fmt.Errorf("store: migrate subscriptions: %w", err)
		}
		if !old.Subscribed || old.Name == "" {
			return nil
		}
		return subs.Put([]byte(old.Name), nil)
	})
}

// Subscriptions returns the names an account subscribes to, sorted. They
// need not exist.
func (s *Store) Subscriptions(ctx context.Context, accountID uint64) ([]string, error) {
	a, err := s.account(accountID)
	if err != nil {
		return nil, err
	}
	var out []string
	err = a.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSubs).ForEach(func(k, _ []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	sort.Strings(out)
	return out, err
}

// SetSubscribed adds a name to the subscriptions or removes it. A name
// may be subscribed whether or not a mailbox has it (RFC 9051 §6.3.7);
// removing a name that is not subscribed is ErrNotFound.
func (s *Store) SetSubscribed(ctx context.Context, accountID uint64, name string, on bool) error {
	name, err := NormalizeMailbox(name)
	if err != nil {
		return err
	}
	a, err := s.account(accountID)
	if err != nil {
		return err
	}
	return a.update(func(tx *bolt.Tx) ([]Change, error) {
		return nil, setSubscribed(tx, name, on)
	})
}

func setSubscribed(tx *bolt.Tx, name string, on bool) error {
	b := tx.Bucket(bucketSubs)
	if on {
		return b.Put([]byte(name), nil)
	}
	if b.Get([]byte(name)) == nil {
		return fmt.Errorf("subscription %s: %w", name, ErrNotFound)
	}
	return b.Delete([]byte(name))
}

// renameSubscriptions moves the subscriptions of a renamed mailbox and of
// its children to their new names.
func renameSubscriptions(tx *bolt.Tx, oldName, newName string) error {
	b := tx.Bucket(bucketSubs)
	var moved []string
	err := b.ForEach(func(k, _ []byte) error {
		n := string(k)
		if n == oldName || strings.HasPrefix(n, oldName+"/") {
			moved = append(moved, n)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, n := range moved {
		if err := b.Delete([]byte(n)); err != nil {
			return err
		}
		if err := b.Put([]byte(newName+n[len(oldName):]), nil); err != nil {
			return err
		}
	}
	return nil
}
