// Package durable does the file operations whose result must survive a
// crash: a file is whole on disk, fsynced, and its directory entry too,
// before anything refers to it. (store keeps its own copies of these few
// lines: it imports nothing of ours.)
package durable

import (
	"errors"
	"io"
	"os"
	"path/filepath"
)

// SyncDir makes the entries created, renamed or removed in dir durable.
func SyncDir(dir string) error {
	Fault("durable.dir")
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Create makes a new file at path (it must not exist), has fill write it,
// and fsyncs it. On error the file is removed. The caller syncs the
// directory, often once for many files.
func Create(path string, perm os.FileMode, fill func(w io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	err = fill(f)
	if err == nil {
		Fault("durable.file")
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// CreateBytes is Create with the file's whole content.
func CreateBytes(path string, perm os.FileMode, data []byte) error {
	return Create(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFile replaces path atomically: readers see the old content or the
// new, never a mix, and after a crash one of the two is there.
func WriteFile(path string, perm os.FileMode, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	Fault("durable.file")
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	return SyncDir(dir)
}

// LinkOrCopy gives the immutable file src the name dst: a hard link while
// *linking, else a copy, fsynced. A link that fails for another reason than
// a missing src (another file system) turns *linking off for the next
// calls. An error wrapping os.ErrNotExist means src is gone.
func LinkOrCopy(src, dst string, linking *bool) error {
	if *linking {
		err := os.Link(src, dst)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return err
		}
		*linking = false
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return Create(dst, 0o600, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}
