package telephony

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"frontdesk/store"
)

// A full disk must not cost a caller their voicemail or the desk its call
// record: a write that fails for want of space is held in memory, in the
// order it came, and tried again every Config.WriteRetry until the disk
// has room. A record waits behind its recording, so a stored record never
// names a recording that is not on disk. What is still held when the
// server closes is logged, the records in full, so nothing goes unsaid.
//
// Memory bounds the wait: recordings beyond maxHeldAudio and records
// beyond maxHeldWrites are dropped, each with an error in the log.
const (
	maxHeldAudio  = 64 << 20 // bytes of sealed audio, about an hour of calls
	maxHeldWrites = 10000
)

type heldWrite struct {
	what   string // for the log: "recording ID" or "call record ID"
	size   int
	record *CallRecord // nil for a recording
	write  func() error
}

type heldWrites struct {
	flushMu sync.Mutex // one flush at a time, so no write runs twice

	mu    sync.Mutex
	queue []heldWrite // guarded by mu
	audio int         // guarded by mu; bytes of the recordings in queue
}

// durably runs write now, unless earlier writes are held (they go first);
// when the disk is full it holds the write for later and returns held.
// Other errors are returned as they are.
func (s *Server) durably(w heldWrite) (held bool, err error) {
	h := &s.held
	h.mu.Lock()
	if len(h.queue) == 0 {
		h.mu.Unlock()
		err := w.write()
		if !store.IsNoSpace(err) {
			return false, err
		}
		s.log.Warn("disk full: holding in memory until there is room", "what", w.what, "err", err)
		h.mu.Lock()
	}
	defer h.mu.Unlock()
	switch {
	case len(h.queue) >= maxHeldWrites:
		return false, fmt.Errorf("telephony: disk full and %d writes already held: %s dropped", len(h.queue), w.what)
	case w.record == nil && h.audio+w.size > maxHeldAudio:
		return false, fmt.Errorf("telephony: disk full and %d MiB of recordings already held: %s dropped", h.audio>>20, w.what)
	}
	if w.record == nil {
		h.audio += w.size
	}
	h.queue = append(h.queue, w)
	return true, nil
}

// flushHeld writes what is held, oldest first, until the disk refuses
// again. It reports whether nothing is left.
func (s *Server) flushHeld() bool {
	h := &s.held
	h.flushMu.Lock()
	defer h.flushMu.Unlock()
	for {
		h.mu.Lock()
		if len(h.queue) == 0 {
			h.mu.Unlock()
			return true
		}
		w := h.queue[0]
		h.mu.Unlock()
		err := w.write()
		if store.IsNoSpace(err) {
			return false
		}
		if err != nil {
			s.log.Error("held write failed, dropped", "what", w.what, "err", err)
		} else {
			s.log.Info("held write stored", "what", w.what)
		}
		h.mu.Lock()
		h.queue = h.queue[1:]
		if w.record == nil {
			h.audio -= w.size
		}
		h.mu.Unlock()
	}
}

// heldLoop retries held writes until the server closes.
func (s *Server) heldLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.WriteRetry)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			func() {
				defer recoverLog(s.log, "held writes")
				s.flushHeld()
			}()
		}
	}
}

// closeHeld makes a last attempt and logs whatever could not be written.
func (s *Server) closeHeld() {
	if s.flushHeld() {
		return
	}
	s.held.mu.Lock()
	defer s.held.mu.Unlock()
	for _, w := range s.held.queue {
		if w.record != nil {
			js, _ := json.Marshal(w.record)
			s.log.Error("disk full at shutdown: call record not stored", "what", w.what, "record", string(js))
		} else {
			s.log.Error("disk full at shutdown: recording not stored", "what", w.what, "bytes", w.size)
		}
	}
}
