package store

import (
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// removeOrphans deletes the message files of the account that no message
// refers to: what a crash leaves between writing a file and committing its
// metadata, or between expunging a message and removing its file. It runs
// as the account opens, before this process can have written anything
// into the account's directory (Store.account holds Store.mu until the
// account is open), so no file in flight is taken for an orphan. On any
// error it removes nothing.
func (a *account) removeOrphans() (int, error) {
	known := map[string]bool{}
	err := a.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMailboxes).ForEach(func(k, _ []byte) error {
			b := tx.Bucket(mbKey(bytesU64(k)))
			if b == nil {
				return nil
			}
			return b.ForEach(func(_, v []byte) error {
				m, err := decodeMessage(v)
				if err != nil {
					return err
				}
				known[m.File] = true
				return nil
			})
		})
	})
	if err != nil {
		return 0, err
	}
	shards, err := os.ReadDir(a.dir)
	if err != nil {
		return 0, err
	}
	var orphans []string
	for _, sh := range shards {
		if !sh.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(a.dir, sh.Name()))
		if err != nil {
			return 0, err
		}
		for _, f := range files {
			if rel := filepath.Join(sh.Name(), f.Name()); !known[rel] {
				orphans = append(orphans, rel)
			}
		}
	}
	a.removeFiles(orphans)
	return len(orphans), nil
}
