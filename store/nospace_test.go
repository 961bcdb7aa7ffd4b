package store

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"testing"
)

// TestIsNoSpace: every way a full disk reaches the store's callers is
// recognised, including bbolt's grow, which keeps only the errno's text.
func TestIsNoSpace(t *testing.T) {
	full := &fs.PathError{Op: "write", Path: "/data/msg/1/ab/x", Err: syscall.ENOSPC}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{full, true},
		{fmt.Errorf("store: write message: %w", full), true},
		{&fs.PathError{Op: "write", Path: "/data/accounts/1.db", Err: syscall.EDQUOT}, true},
		{fmt.Errorf("file resize error: %s", full), true}, // bbolt's grow
		{noSpace(full), true},
		{errors.New("store: corrupt message record"), false},
		{&fs.PathError{Op: "open", Path: "/data/x", Err: syscall.EACCES}, false},
		{nil, false},
	} {
		if got := IsNoSpace(c.err); got != c.want {
			t.Errorf("IsNoSpace(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	if !errors.Is(noSpace(full), ErrNoSpace) || !errors.Is(noSpace(full), syscall.ENOSPC) {
		t.Error("noSpace must wrap both ErrNoSpace and the cause")
	}
	if noSpace(ErrNotFound) != ErrNotFound {
		t.Error("noSpace changed an unrelated error")
	}
}
