package spam

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Backup writes a copy of every token database into dir (global.db and
// <account>.db, as in the filter's own directory) while the filter is in
// use: each in one read transaction of its open handle. Account databases
// not open yet are opened for it. dir must be empty or not exist.
func (f *Filter) Backup(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("spam: backup: %w", err)
	}
	if err := f.global.backup(filepath.Join(dir, "global.db")); err != nil {
		return fmt.Errorf("spam: backup of global.db: %w", err)
	}
	entries, err := os.ReadDir(f.dir)
	if err != nil {
		return fmt.Errorf("spam: backup: %w", err)
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".db")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		id, err := strconv.ParseUint(name, 10, 64)
		if err != nil || strconv.FormatUint(id, 10) != name {
			continue // global.db, or not ours
		}
		db, err := f.Account(id)
		if err != nil {
			return fmt.Errorf("spam: backup: %w", err)
		}
		if err := db.backup(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("spam: backup of %s: %w", e.Name(), err)
		}
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// backup writes the database to a new file at path and fsyncs it.
func (db *DB) backup(path string) error {
	if db.bolt == nil {
		return fmt.Errorf("spam: an in-memory database has no file to back up")
	}
	return db.bolt.View(func(tx *bolt.Tx) error {
		out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, err = tx.WriteTo(out)
		if err == nil {
			err = out.Sync()
		}
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		return err
	})
}
