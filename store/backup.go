package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"

	bolt "go.etcd.io/bbolt"
)

// Backup writes a consistent copy of the store into dir, laid out as the
// data directory is (frontdesk.db, accounts/<id>.db, msg/<id>/...), while
// the store stays in use.
//
// frontdesk.db is copied in one read transaction. Each account is then
// copied while its writeMu is held: no write transaction of that account
// runs, so no delivery commits and no expunge removes a file that the
// copied metadata names (files are removed only after their metadata, and
// only after writeMu is released). Deliveries to that account wait until
// its files are copied. Message files are immutable, so they are hard-linked
// when dir is on the same file system and copied (and fsynced) otherwise;
// files that share an inode in the store share one in the backup. Only the
// files the copied metadata names are taken: leftovers of a crash are not.
//
// dir must be empty or not exist.
func (s *Store) Backup(dir string) error {
	return s.BackupContext(context.Background(), dir)
}

// BackupContext is Backup that stops, with ctx's error, when ctx ends.
func (s *Store) BackupContext(ctx context.Context, dir string) error {
	c := newFileCopier()
	c.ctx = ctx
	return s.backup(dir, c)
}

func (s *Store) backup(dir string, c *fileCopier) error {
	if err := c.mkdir(dir); err != nil {
		return err
	}
	for _, d := range []string{"accounts", "msg"} {
		if err := c.mkdir(filepath.Join(dir, d)); err != nil {
			return err
		}
	}
	var ids []uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketAccounts).ForEach(func(k, _ []byte) error {
			ids = append(ids, bytesU64(k))
			return nil
		})
		if err != nil {
			return err
		}
		return writeBolt(tx, filepath.Join(dir, "frontdesk.db"))
	})
	if err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	for _, id := range ids {
		a, err := s.account(id)
		if err != nil {
			return fmt.Errorf("store: backup: %w", err)
		}
		if err := a.backup(dir, c); err != nil {
			return fmt.Errorf("store: backup of account %d: %w", id, err)
		}
	}
	return c.syncDirs()
}

func (a *account) backup(dir string, c *fileCopier) error {
	name := strconv.FormatUint(a.id, 10)
	msgDir := filepath.Join(dir, "msg", name)
	if err := c.mkdir(msgDir); err != nil {
		return err
	}
	a.writeMu.Lock()
	defer a.writeMu.Unlock()
	var files []string
	err := a.db.View(func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketMailboxes).ForEach(func(k, _ []byte) error {
			b := tx.Bucket(mbKey(bytesU64(k)))
			if b == nil {
				return nil
			}
			return b.ForEach(func(_, v []byte) error {
				m, err := decodeMessage(v)
				if err != nil {
					return err
				}
				files = append(files, m.File)
				return nil
			})
		})
		if err != nil {
			return err
		}
		// The transaction ends before the files are copied: a long read
		// transaction would hold up bbolt's remapping, and writeMu already
		// keeps every named file in place.
		return writeBolt(tx, filepath.Join(dir, "accounts", name+".db"))
	})
	if err != nil {
		return err
	}
	slices.Sort(files)
	for _, f := range slices.Compact(files) {
		if !filepath.IsLocal(f) {
			return fmt.Errorf("%w message file name %q", ErrInvalid, f)
		}
		if err := c.put(filepath.Join(a.dir, f), filepath.Join(msgDir, f)); err != nil {
			return err
		}
	}
	return nil
}

// writeBolt writes the database as tx sees it to a new file at path and
// fsyncs it.
func writeBolt(tx *bolt.Tx, path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = tx.WriteTo(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// fileCopier puts immutable files into a backup: a hard link while the
// backup is on the same file system, else a copy, fsynced. Files that share
// an inode in the source share one in the backup, so a message copied
// between mailboxes takes its space once.
type fileCopier struct {
	ctx     context.Context     // nil: never ends
	copying bool                // a link failed: copy from now on
	copies  map[fileKey]string  // source inode → its copy in the backup
	dirs    map[string]struct{} // directories made, fsynced at the end
}

type fileKey struct{ dev, ino uint64 }

func newFileCopier() *fileCopier {
	return &fileCopier{copies: map[fileKey]string{}, dirs: map[string]struct{}{}}
}

func (c *fileCopier) mkdir(dir string) error {
	if _, ok := c.dirs[dir]; ok {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	c.dirs[dir] = struct{}{}
	return nil
}

// put gives the file src the name dst. An error wrapping os.ErrNotExist
// means src is gone.
func (c *fileCopier) put(src, dst string) error {
	if c.ctx != nil && c.ctx.Err() != nil {
		return c.ctx.Err()
	}
	if err := c.mkdir(filepath.Dir(dst)); err != nil {
		return err
	}
	if !c.copying {
		err := os.Link(src, dst)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return err
		}
		// EXDEV (another file system) or a file system without hard links.
		c.copying = true
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	var key fileKey
	st, ok := fi.Sys().(*syscall.Stat_t)
	if ok {
		key = fileKey{uint64(st.Dev), uint64(st.Ino)}
		if prev, seen := c.copies[key]; seen {
			if err := os.Link(prev, dst); err == nil {
				return nil
			}
		}
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if ok {
		c.copies[key] = dst
	}
	return nil
}

// syncDirs makes the directory entries made so far durable.
func (c *fileCopier) syncDirs() error {
	for d := range c.dirs {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	return nil
}
