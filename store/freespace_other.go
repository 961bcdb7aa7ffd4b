//go:build !(linux || darwin || freebsd)

package store

// FreeSpace returns the bytes an unprivileged writer can still use on the
// file system of the data directory; ok is false when it cannot be told.
func (s *Store) FreeSpace() (free int64, ok bool) { return 0, false }
