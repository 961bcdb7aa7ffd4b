package queue

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"frontdesk/durable"
)

// backupAttempts bounds how often Backup takes a new snapshot because a
// message left the queue while its file was being copied.
const backupAttempts = 5

// Backup writes a consistent copy of the queue into dir (queue.db and
// msg/<id>, as in the queue's own directory) while the queue runs. dir
// must be empty or not exist.
//
// queue.db is copied in one read transaction, then the file of every
// record in that snapshot. Files are written before their record commits
// and removed only after it is deleted, so a file that is missing by then
// belongs to a message that left the queue after the snapshot: Backup takes
// a new snapshot (the message is gone from it, and a DSN it caused is in
// it). If messages keep leaving, the last snapshot's records without a file
// are deleted from the copy. Every record in the backup has its file.
// Files are hard-linked when dir is on the same file system, else copied
// and fsynced.
func (q *Queue) Backup(dir string) error {
	msgDir := filepath.Join(dir, "msg")
	if err := os.MkdirAll(msgDir, 0o700); err != nil {
		return fmt.Errorf("queue: backup: %w", err)
	}
	dbPath := filepath.Join(dir, "queue.db")
	copied := map[string]bool{} // ids whose file is in the backup
	linking := true
	var ids []string
	var missing []string
	for attempt := 1; ; attempt++ {
		os.Remove(dbPath)
		ids = ids[:0]
		err := q.db.View(func(tx *bolt.Tx) error {
			err := tx.Bucket(bucketMsgs).ForEach(func(k, _ []byte) error {
				ids = append(ids, string(k))
				return nil
			})
			if err != nil {
				return err
			}
			return durable.Create(dbPath, 0o600, func(w io.Writer) error { _, err := tx.WriteTo(w); return err })
		})
		if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
			return ErrClosed
		}
		if err != nil {
			return fmt.Errorf("queue: backup: %w", err)
		}
		missing = missing[:0]
		for _, id := range ids {
			if copied[id] {
				continue
			}
			if !validID(id) {
				return fmt.Errorf("queue: backup: bad record id %q", id)
			}
			err := durable.LinkOrCopy(q.msgPath(id), filepath.Join(msgDir, id), &linking)
			switch {
			case err == nil:
				copied[id] = true
			case errors.Is(err, os.ErrNotExist):
				missing = append(missing, id)
			default:
				return fmt.Errorf("queue: backup: %w", err)
			}
		}
		if len(missing) == 0 || attempt == backupAttempts {
			break
		}
	}
	if len(missing) > 0 {
		if err := dropRecords(dbPath, missing); err != nil {
			return fmt.Errorf("queue: backup: %w", err)
		}
	}
	// Files of messages that left between snapshots.
	keep := map[string]bool{}
	for _, id := range ids {
		keep[id] = true
	}
	for id := range copied {
		if !keep[id] {
			os.Remove(filepath.Join(msgDir, id))
		}
	}
	if err := durable.SyncDir(msgDir); err != nil {
		return fmt.Errorf("queue: backup: %w", err)
	}
	return durable.SyncDir(dir)
}

// dropRecords deletes records from a copy of the database.
func dropRecords(path string, ids []string) error {
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, id := range ids {
			if err := tx.Bucket(bucketMsgs).Delete([]byte(id)); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}
