package loadgen

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Result holds the figures of one run.
type Result struct {
	Accepted      int     // messages answered 250 after DATA
	Failed        int     // messages rejected or never sent because their connection broke
	AcceptSeconds float64 // wall time of the SMTP phase, connection setup included
	AcceptPerSec  float64 // Accepted / AcceptSeconds

	// P50 and P99 are per-message SMTP latencies, from MAIL to the 250
	// after DATA, over accepted messages only.
	P50, P99 time.Duration

	// VisibleSeconds runs from the start of the SMTP phase until IMAP STATUS
	// shows the INBOX holding every accepted message on top of what it held
	// before; it is zero if that never happened.
	VisibleSeconds float64

	// FetchEnvelopes is the time of one FETCH 1:* (FLAGS UID RFC822.SIZE
	// ENVELOPE) over the filled INBOX, and Fetched the messages it returned.
	FetchEnvelopes time.Duration
	Fetched        int
}

// Print writes the result as a few human-readable lines.
func (r *Result) Print(w io.Writer) {
	fmt.Fprintf(w, "accepted %d messages in %.1fs: %.0f msg/s, p50 %s p99 %s\n",
		r.Accepted, r.AcceptSeconds, r.AcceptPerSec, fmtDur(r.P50), fmtDur(r.P99))
	if r.Failed > 0 {
		fmt.Fprintf(w, "failed %d messages\n", r.Failed)
	}
	if r.VisibleSeconds > 0 {
		fmt.Fprintf(w, "all accepted messages visible in INBOX after %.1fs\n", r.VisibleSeconds)
	} else {
		fmt.Fprintln(w, "accepted messages not (yet) visible in INBOX")
	}
	if r.Fetched > 0 {
		fmt.Fprintf(w, "FETCH 1:* FLAGS UID RFC822.SIZE ENVELOPE: %d messages in %s\n",
			r.Fetched, fmtDur(r.FetchEnvelopes))
	}
}

// percentiles returns the 50th and 99th percentiles of lats, sorting it in
// place.
func percentiles(lats []time.Duration) (p50, p99 time.Duration) {
	slices.Sort(lats)
	return percentile(lats, 50), percentile(lats, 99)
}

// percentile uses the nearest-rank method on sorted data: it never
// interpolates, so every figure reported is a latency that was measured.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// fmtDur keeps about two significant digits, which is all the precision a
// load figure carries.
func fmtDur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.0fs", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.0fms", float64(d)/float64(time.Millisecond))
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%dµs", d.Microseconds())
	}
}

// progress prints the running count every interval until the returned stop
// function is called; stop waits for the printer so that nothing is written
// after it returns.
func progress(out io.Writer, start time.Time, interval time.Duration, accepted, failed *atomic.Int64) (stop func()) {
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				fmt.Fprintf(out, "%4.0fs: %d accepted, %d failed\n",
					now.Sub(start).Seconds(), accepted.Load(), failed.Load())
			}
		}
	}()
	return func() { close(done); <-exited }
}

// syncWriter serialises writes because workers and the progress ticker share
// one Out, which need not be safe for concurrent use.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
