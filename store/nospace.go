package store

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
)

// ErrNoSpace marks a write that failed because the file system holding the
// data directory is full (ENOSPC) or the user's disk quota is used up
// (EDQUOT). Nothing of the failed write is visible, and the same write
// succeeds once space is back: protocols answer with a temporary error
// (SMTP 452 4.3.1, IMAP NO [OVERQUOTA]).
var ErrNoSpace = errors.New("no space left on the data directory's file system")

// IsNoSpace reports whether err means the disk is full, wherever in
// Frontdesk it came from: store, queue, durable writes, bbolt.
func IsNoSpace(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrNoSpace) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return true
	}
	// bbolt reports a failed grow with %s, which drops the errno.
	msg := err.Error()
	return strings.Contains(msg, syscall.ENOSPC.Error()) || strings.Contains(msg, syscall.EDQUOT.Error())
}

// noSpace wraps err with ErrNoSpace when it is a full disk, so callers
// need only errors.Is(err, ErrNoSpace).
func noSpace(err error) error {
	if err == nil || errors.Is(err, ErrNoSpace) || !IsNoSpace(err) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrNoSpace, err)
}
