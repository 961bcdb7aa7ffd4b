package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// A backup whose context ends stops with its error (the admin pressed
// Ctrl-C) instead of copying on.
func TestBackupContextStops(t *testing.T) {
	s, a := newTestStore(t)
	ctx := context.Background()
	if _, err := s.Deliver(ctx, []byte("Subject: x\r\n\r\nbody\r\n"), time.Time{}, Delivery{Account: a.ID, Mailbox: "INBOX"}); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.BackupContext(cctx, filepath.Join(t.TempDir(), "b")); !errors.Is(err, context.Canceled) {
		t.Errorf("backup with an ended context: %v", err)
	}
	if err := s.BackupContext(ctx, filepath.Join(t.TempDir(), "b")); err != nil {
		t.Errorf("backup: %v", err)
	}
}
