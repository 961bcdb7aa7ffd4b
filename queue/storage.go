package queue

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"frontdesk/durable"
)

var bucketMsgs = []byte("messages")

func (q *Queue) msgDir() string           { return filepath.Join(q.dir, "msg") }
func (q *Queue) msgPath(id string) string { return filepath.Join(q.msgDir(), id) }

// openStorage opens the database, removes message files that no record
// refers to, and schedules every record again.
func (q *Queue) openStorage() error {
	if err := os.MkdirAll(q.msgDir(), 0o700); err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	// A timeout instead of waiting forever when another process holds the
	// file (DESIGN.md: admin commands then go through the control socket).
	db, err := bolt.Open(filepath.Join(q.dir, "queue.db"), 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return fmt.Errorf("queue: open database: %w", err)
	}
	// Batch waits this long for other writers to share a commit. bbolt's
	// 10ms default would add 10ms to every lone Enqueue; the file fsyncs
	// that precede the commit already line concurrent writers up.
	db.MaxBatchDelay = time.Millisecond
	q.db = db
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketMsgs)
		return err
	}); err != nil {
		db.Close()
		return fmt.Errorf("queue: %w", err)
	}
	items, err := q.loadAll()
	if err != nil {
		db.Close()
		return err
	}
	known := map[string]bool{}
	for _, it := range items {
		known[it.ID] = true
	}
	entries, err := os.ReadDir(q.msgDir())
	if err != nil {
		db.Close()
		return fmt.Errorf("queue: %w", err)
	}
	for _, e := range entries {
		if !known[e.Name()] {
			q.log.Info("queue: removing orphaned message file", "file", e.Name())
			os.Remove(filepath.Join(q.msgDir(), e.Name()))
		}
	}
	now := q.cfg.Now()
	for _, it := range items {
		if _, err := os.Stat(q.msgPath(it.ID)); err != nil {
			// Cannot happen with the fsync-before-commit order unless the
			// disk lost data; the message cannot be sent, so say so loudly.
			q.log.Error("queue: message file missing, dropping record", "id", it.ID, "err", err)
			q.remove(it.ID)
			continue
		}
		if !it.pending() {
			q.due[jobKey{it.ID, ""}] = now
			continue
		}
		for _, r := range it.Recipients {
			if r.Status != StatusQueued {
				continue
			}
			k := jobKey{it.ID, domainOf(r.Addr)}
			if cur, ok := q.due[k]; !ok || r.NextAttempt.Before(cur) {
				q.due[k] = r.NextAttempt
			}
		}
	}
	return nil
}

// newID returns a queue ID that sorts by creation time and is safe as a
// file name.
func newID(now time.Time) string {
	var b [5]byte
	rand.Read(b[:])
	return strconv.FormatInt(now.UnixMicro(), 16) + hex.EncodeToString(b[:])
}

func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	return strings.Trim(id, "0123456789abcdef") == ""
}

// store writes the message file, fsyncs it and its directory, then commits
// the record: a record never points at a file that may not be on disk.
func (q *Queue) store(it *Item, data []byte) error {
	it.ID = newID(it.Created)
	path := q.msgPath(it.ID)
	if err := durable.CreateBytes(path, 0o600, data); err != nil {
		return fmt.Errorf("queue: write message: %w", err)
	}
	if err := durable.SyncDir(q.msgDir()); err != nil {
		os.Remove(path)
		return fmt.Errorf("queue: sync message directory: %w", err)
	}
	v, err := json.Marshal(it)
	if err != nil {
		os.Remove(path)
		return err
	}
	// Batch groups concurrent Enqueues into one fsync of the database
	// (DESIGN.md: group commit, not weaker durability).
	err = q.db.Batch(func(tx *bolt.Tx) error {
		durable.Fault("queue.commit")
		return tx.Bucket(bucketMsgs).Put([]byte(it.ID), v)
	})
	if err != nil {
		// A commit whose final fsync failed can still be visible (bbolt
		// writes the meta page first): then the file stays with its
		// record, and the client's retry may queue the message twice.
		if _, gerr := q.get(it.ID); gerr != nil {
			os.Remove(path)
		}
		return fmt.Errorf("queue: commit: %w", err)
	}
	return nil
}

func getItem(tx *bolt.Tx, id string) (*Item, error) {
	v := tx.Bucket(bucketMsgs).Get([]byte(id))
	if v == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	it := new(Item)
	if err := json.Unmarshal(v, it); err != nil {
		return nil, fmt.Errorf("queue: record %s: %w", id, err)
	}
	return it, nil
}

func putItem(tx *bolt.Tx, it *Item) error {
	v, err := json.Marshal(it)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketMsgs).Put([]byte(it.ID), v)
}

// get returns the record of id, or ErrNotFound.
func (q *Queue) get(id string) (*Item, error) {
	if !validID(id) {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	var it *Item
	err := q.db.View(func(tx *bolt.Tx) (err error) {
		it, err = getItem(tx, id)
		return err
	})
	return it, err
}

// update applies fn to the current record of id in one transaction and
// returns the record as committed. fn may run more than once (bbolt Batch
// retries), always on a freshly read record.
func (q *Queue) update(id string, fn func(*Item) error) (*Item, error) {
	if !validID(id) {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	var out *Item
	err := q.db.Batch(func(tx *bolt.Tx) error {
		durable.Fault("queue.commit")
		it, err := getItem(tx, id)
		if err != nil {
			return err
		}
		if err := fn(it); err != nil {
			return err
		}
		out = it
		return putItem(tx, it)
	})
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		err = ErrClosed
	}
	return out, err
}

// remove deletes the record of id, then its file. A crash in between
// leaves an orphaned file, which Open removes.
func (q *Queue) remove(id string) error {
	if !validID(id) {
		return fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	err := q.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMsgs)
		durable.Fault("queue.commit")
		if b.Get([]byte(id)) == nil {
			return fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		return b.Delete([]byte(id))
	})
	if err != nil {
		return err
	}
	if err := os.Remove(q.msgPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		q.log.Warn("queue: removing message file", "id", id, "err", err)
	}
	return nil
}

func (q *Queue) loadAll() ([]Item, error) {
	var out []Item
	err := q.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMsgs).ForEach(func(k, v []byte) error {
			var it Item
			if err := json.Unmarshal(v, &it); err != nil {
				return fmt.Errorf("queue: record %s: %w", k, err)
			}
			out = append(out, it)
			return nil
		})
	})
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		err = ErrClosed
	}
	return out, err
}
