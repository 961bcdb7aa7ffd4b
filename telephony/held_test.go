package telephony

import (
	"bytes"
	"io/fs"
	"log/slog"
	"strings"
	"syscall"
	"testing"
)

// TestHeldWrites: writes a full disk refuses wait in order, a later write
// waits behind them even when it could go, the wait is bounded, and what
// is left at shutdown is logged in full.
func TestHeldWrites(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{log: slog.New(slog.NewTextHandler(&logs, nil))}
	full := true
	var written []string
	w := func(what string, rec *CallRecord, size int) heldWrite {
		return heldWrite{what: what, record: rec, size: size, write: func() error {
			if full {
				return &fs.PathError{Op: "write", Path: "/data/telephony.db", Err: syscall.ENOSPC}
			}
			written = append(written, what)
			return nil
		}}
	}
	if held, err := s.durably(w("recording 1", nil, 1000)); !held || err != nil {
		t.Fatalf("recording on a full disk: held %v, %v", held, err)
	}
	full = false
	if held, err := s.durably(w("record 1", &CallRecord{ID: "1"}, 0)); !held || err != nil {
		t.Fatalf("record behind a held recording: held %v, %v", held, err)
	}
	if len(written) != 0 {
		t.Fatalf("a write went before the one held: %v", written)
	}
	full = true
	if _, err := s.durably(w("recording 2", nil, maxHeldAudio)); err == nil || !strings.Contains(err.Error(), "dropped") {
		t.Fatalf("a recording past the bound: %v, want it dropped", err)
	}
	if s.flushHeld() || len(written) != 0 {
		t.Fatalf("flush on a full disk wrote %v", written)
	}
	full = false
	if !s.flushHeld() || strings.Join(written, ",") != "recording 1,record 1" {
		t.Fatalf("flush with room wrote %v, want the recording, then its record", written)
	}
	if held, err := s.durably(w("record 2", &CallRecord{ID: "2"}, 0)); held || err != nil {
		t.Fatalf("with room and nothing held a write goes at once: held %v, %v", held, err)
	}

	full = true
	s.durably(w("record 3", &CallRecord{ID: "3", Caller: "+15550100"}, 0))
	s.closeHeld()
	if !strings.Contains(logs.String(), "call record not stored") || !strings.Contains(logs.String(), "+15550100") {
		t.Fatalf("shutdown with a held record does not log it:\n%s", logs.String())
	}
}
