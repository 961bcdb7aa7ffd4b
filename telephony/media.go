package telephony

import (
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"frontdesk/durable"
)

// fifo is a sample queue between one leg's receiver and another leg's
// sender: it re-chunks whatever frame size arrives into 20 ms frames and
// bounds the delay by dropping the oldest audio. It is a source.
type fifo struct {
	mu  sync.Mutex
	buf []int16 // guarded by mu
	max int
}

func newFIFO() *fifo { return &fifo{max: SampleRate / 2} }

func (f *fifo) write(pcm []int16) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.buf = append(f.buf, pcm...)
	if over := len(f.buf) - f.max; over > 0 {
		f.buf = append(f.buf[:0], f.buf[over:]...)
	}
}

func (f *fifo) read(out []int16) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := copy(out, f.buf)
	clear(out[n:])
	f.buf = append(f.buf[:0], f.buf[n:]...)
	return true // never exhausted: silence fills gaps
}

func (f *fifo) stop() {}

// recorder collects audio for a voicemail or a call recording.
//
// A voicemail (one direction) appends exactly what arrived, so the file is
// the audio sent. A call recording mixes two directions on a timeline
// derived from the wall clock: each direction writes at its own cursor,
// which skips forward over silence when that side was quiet.
type recorder struct {
	mu    sync.Mutex
	pcm   []int16 // guarded by mu
	max   int
	start time.Time
	cur   [2]int // guarded by mu; per-direction write cursors
	mixed bool
}

func newRecorder(max time.Duration, mixed bool) *recorder {
	return &recorder{max: int(max.Seconds() * SampleRate), start: time.Now(), mixed: mixed}
}

// add records pcm from direction dir (0 caller, 1 agent).
func (r *recorder) add(dir int, pcm []int16) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.mixed {
		if len(r.pcm)+len(pcm) <= r.max {
			r.pcm = append(r.pcm, pcm...)
		}
		return
	}
	now := int(time.Since(r.start).Seconds()*SampleRate) - len(pcm)
	if r.cur[dir] < now-SampleRate/5 { // more than 200 ms behind: the side was silent
		r.cur[dir] = now
	}
	at := r.cur[dir]
	if at+len(pcm) > r.max {
		return
	}
	if need := at + len(pcm); need > len(r.pcm) {
		r.pcm = append(r.pcm, make([]int16, need-len(r.pcm))...)
	}
	for i, s := range pcm {
		v := int32(r.pcm[at+i]) + int32(s)
		r.pcm[at+i] = int16(max(-32768, min(32767, v)))
	}
	r.cur[dir] = at + len(pcm)
}

func (r *recorder) samples() []int16 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int16(nil), r.pcm...)
}

// saveRecording seals pcm as a WAV under id in DATA/recordings. On a full
// disk it is held and written later (see durably).
func (s *Server) saveRecording(id string, pcm []int16) error {
	sealed, err := sealRecording(s.aead, id, EncodeWAV(pcm))
	if err != nil {
		return err
	}
	_, err = s.durably(heldWrite{what: "recording " + id, size: len(sealed), write: func() error {
		if err := durable.WriteFile(filepath.Join(s.cfg.DataDir, "recordings", id+".wav.enc"), 0o600, sealed); err != nil {
			return fmt.Errorf("telephony: save recording %s: %w", id, err)
		}
		return nil
	}})
	return err
}
