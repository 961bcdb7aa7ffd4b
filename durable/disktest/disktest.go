// Package disktest gives tests a real file system that fills up: a small
// tmpfs mounted for the test, and a filler that takes its free space, so
// that writes fail with ENOSPC where they would on a full disk.
package disktest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// Page is the unit tmpfs allocates in.
const Page = 4096

// Mount mounts a tmpfs of size bytes on a fresh directory and unmounts it
// when the test ends, after the cleanups registered later (servers using
// it) have run. Mounting needs root; where it is refused the test fails
// when CI is set and is skipped otherwise.
func Mount(t testing.TB, size int64) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0700", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		msg := fmt.Sprintf("mount -t tmpfs on %s: %v: %s (disk-full tests need root and permission to mount)", dir, err, out)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// Filler holds the space Fill took.
type Filler struct {
	t    testing.TB
	path string
}

// Fill takes every free block of the file system at dir but leave bytes
// (rounded up to whole pages), as other data would. The space comes back
// with Free or when the test ends.
func Fill(t testing.TB, dir string, leave int64) *Filler {
	t.Helper()
	f := &Filler{t: t, path: filepath.Join(dir, "filler")}
	w, err := os.OpenFile(f.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, chunk := range []int{1 << 20, Page} {
		buf := make([]byte, chunk)
		for {
			if _, err := w.Write(buf); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatal(err)
				}
				break
			}
		}
	}
	if leave > 0 {
		st, err := w.Stat()
		if err != nil {
			t.Fatal(err)
		}
		// Whole pages off the end; what a short last write took goes
		// with them.
		size := st.Size() / Page * Page
		give := (leave + Page - 1) / Page * Page
		if give > size {
			t.Fatalf("disktest: cannot leave %d bytes, the filler holds only %d", leave, size)
		}
		if err := w.Truncate(size - give); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(f.Free)
	return f
}

// Free gives the space back.
func (f *Filler) Free() {
	if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		f.t.Error(err)
	}
}
