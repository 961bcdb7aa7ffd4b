//go:build linux || darwin || freebsd

package store

import "syscall"

// FreeSpace returns the bytes an unprivileged writer can still use on the
// file system of the data directory; ok is false when it cannot be told.
func (s *Store) FreeSpace() (free int64, ok bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.dir, &st); err != nil {
		return 0, false
	}
	return int64(st.Bavail) * int64(st.Bsize), true
}
