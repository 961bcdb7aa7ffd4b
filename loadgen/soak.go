package loadgen

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SoakOptions configure a soak run: a steady mixed load on one server for
// Duration, with the server's memory, goroutines and open files and the
// latency of each kind of operation printed every Every.
type SoakOptions struct {
	MX         string // inbound SMTP, no auth
	Submission string // submission, STARTTLS and AUTH PLAIN
	IMAP       string // plain-text IMAP
	SIP        string // SIP over UDP
	Metrics    string // URL of the server's /metrics
	// RemoteMetrics is the /metrics of the server RemoteRcpt lives on; its
	// stored-messages counter shows submitted mail arriving there.
	RemoteMetrics string

	User, Password string // local account: receives the MX load, reads it over IMAP, submits
	RemoteRcpt     string // recipient of submitted mail, on another server
	Hotline        string // number called, default "100"
	Digit          string // DTMF digit pressed in the menu, default "2"

	Duration time.Duration // default 30 minutes
	Every    time.Duration // default one minute

	SMTPRate   float64       // inbound messages per second, default 5
	SubmitRate float64       // submitted messages per second, default 1
	IMAPRate   float64       // IMAP rounds (fetch, store, search) per second, default 2
	Calls      int           // concurrent SIP callers, default 2
	Hold       time.Duration // how long each call stays up, default 3 s
	Keep       int           // INBOX messages kept; older ones are expunged, default 300
	Size       int           // approximate size of inbound messages, default 4096

	JSON bool      // one JSON object a line instead of text
	Out  io.Writer // lines and the summary; nil discards
}

// The kinds of operation a soak run does.
const (
	OpSMTPIn      = "smtp_in"
	OpSubmit      = "submit"
	OpIMAPFetch   = "imap_fetch"
	OpIMAPStore   = "imap_store"
	OpIMAPSearch  = "imap_search"
	OpIMAPExpunge = "imap_expunge"
	OpSIPCall     = "sip_call"
)

// OpKinds lists the operation kinds in the order lines show them.
var OpKinds = []string{OpSMTPIn, OpSubmit, OpIMAPFetch, OpIMAPStore, OpIMAPSearch, OpIMAPExpunge, OpSIPCall}

// Sessions are reopened now and then, so that a leak per connection shows
// as well as a leak per operation.
const (
	smtpPerConn = 50
	subPerConn  = 20
	imapPerConn = 100
)

func soakDefaults(o SoakOptions) SoakOptions {
	def := func(v *float64, d float64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.SMTPRate, 5)
	def(&o.SubmitRate, 1)
	def(&o.IMAPRate, 2)
	if o.Duration <= 0 {
		o.Duration = 30 * time.Minute
	}
	if o.Every <= 0 {
		o.Every = time.Minute
	}
	if o.Calls <= 0 {
		o.Calls = 2
	}
	if o.Hold <= 0 {
		o.Hold = 3 * time.Second
	}
	if o.Keep <= 0 {
		o.Keep = 300
	}
	if o.Size <= 0 {
		o.Size = 4096
	}
	if o.Hotline == "" {
		o.Hotline = "100"
	}
	if o.Digit == "" {
		o.Digit = "2"
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	return o
}

// Soak runs the mixed load and returns every interval's sample and the
// verdict. Failed operations are counted, shown on the lines and in the
// summary, never dropped; Soak returns an error only if it cannot run.
func Soak(ctx context.Context, o SoakOptions) (*SoakReport, error) {
	o = soakDefaults(o)
	for _, a := range []*string{&o.MX, &o.Submission, &o.IMAP, &o.SIP} {
		checked, err := loopbackAddr(ctx, *a)
		if err != nil {
			return nil, fmt.Errorf("loadgen: %w", err)
		}
		*a = checked
	}
	out := &syncWriter{w: o.Out}
	rec := newRecorder()
	remoteBefore, _ := scrapeCounter(ctx, o.RemoteMetrics, "frontdesk_messages_stored_total")

	wctx, stop := context.WithCancel(ctx)
	defer stop()
	var submitted atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		s := &smtpSession{}
		defer s.close()
		paced(wctx, o.SMTPRate, func(n int) bool { return smtpInRound(wctx, o, rec, s, n) })
	})
	wg.Go(func() {
		s := &smtpSession{}
		defer s.close()
		paced(wctx, o.SubmitRate, func(n int) bool { return submitRound(wctx, o, rec, s, n, &submitted) })
	})
	wg.Go(func() { imapLoop(wctx, o, rec) })
	for i := range o.Calls {
		wg.Go(func() {
			for n := 0; wctx.Err() == nil; n++ {
				caller := fmt.Sprintf("+1555%04d%03d", i, n%50)
				setup, err := sipCall(wctx, o.SIP, o.Hotline, caller, o.Digit, o.Hold)
				if wctx.Err() != nil {
					return // the run ended mid-call; not the server's failure
				}
				rec.done(OpSIPCall, setup, err)
				sleepCtx(wctx, 200*time.Millisecond)
			}
		})
	}

	rep := &SoakReport{Every: o.Every}
	start := time.Now()
	tick := time.NewTicker(o.Every)
	defer tick.Stop()
	end := time.After(o.Duration)
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-end:
			break loop
		case now := <-tick.C:
			s := SoakSample{Elapsed: now.Sub(start).Round(time.Second).Seconds(), Ops: rec.take()}
			s.readServer(ctx, o.Metrics)
			if o.RemoteMetrics != "" {
				if v, err := scrapeCounter(ctx, o.RemoteMetrics, "frontdesk_messages_stored_total"); err == nil {
					s.RemoteStored = v - remoteBefore
				}
			}
			rep.Samples = append(rep.Samples, s)
			s.print(out, o.JSON)
		}
	}
	stop()
	wg.Wait()
	rep.Totals = rec.totals()
	rep.Submitted = submitted.Load()
	if o.RemoteMetrics != "" && ctx.Err() == nil {
		// The queue may still be handing the last messages over.
		rep.RemoteStored = waitCounter(ctx, o.RemoteMetrics, "frontdesk_messages_stored_total", remoteBefore+uint64(rep.Submitted), 30*time.Second) - remoteBefore
	}
	rep.judge()
	rep.print(out, o.JSON, o.RemoteMetrics != "")
	return rep, ctx.Err()
}

// paced calls round at rate per second until ctx ends or round says stop.
// A round that takes longer than its slot delays the next one rather than
// piling up behind it.
func paced(ctx context.Context, rate float64, round func(n int) bool) {
	t := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !round(n) {
			return
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// smtpSession is reused across rounds of one worker.
type smtpSession struct {
	c    *smtp.Client
	sent int
}

// smtpInRound delivers one generated message to the local account over
// the MX port, on a session reopened every smtpPerConn messages.
func smtpInRound(ctx context.Context, o SoakOptions, rec *recorder, s *smtpSession, n int) bool {
	t0 := time.Now()
	dial := func() (*smtp.Client, error) {
		c, err := smtp.Dial(o.MX)
		if err == nil {
			if err = c.Hello("loadgen.test"); err != nil {
				c.Close()
			}
		}
		return c, err
	}
	err := s.send(ctx, dial, smtpPerConn, "load@loadgen.test", o.User, genMessage(time.Now().UnixNano(), n, "load@loadgen.test", o.User, o.Size))
	if ctx.Err() != nil {
		s.close()
		return false
	}
	rec.done(OpSMTPIn, time.Since(t0), err)
	return true
}

// submitRound submits one message from the local account to the remote
// recipient: STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA.
func submitRound(ctx context.Context, o SoakOptions, rec *recorder, s *smtpSession, n int, submitted *atomic.Int64) bool {
	msg := fmt.Sprintf("From: <%s>\r\nTo: <%s>\r\nSubject: soak %d\r\nDate: %s\r\nMessage-ID: <soak.%d.%d@loadgen.test>\r\n\r\nSubmitted by the soak run, message %d.\r\n",
		o.User, o.RemoteRcpt, n, time.Now().Format(time.RFC1123Z), time.Now().UnixNano(), n, n)
	dial := func() (*smtp.Client, error) {
		c, err := smtp.DialStartTLS(o.Submission, &tls.Config{InsecureSkipVerify: true}) // loopback, self-signed
		if err != nil {
			return nil, err
		}
		if err := c.Auth(sasl.NewPlainClient("", o.User, o.Password)); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}
	t0 := time.Now()
	err := s.send(ctx, dial, subPerConn, o.User, o.RemoteRcpt, []byte(msg))
	if ctx.Err() != nil {
		s.close()
		return false
	}
	rec.done(OpSubmit, time.Since(t0), err)
	if err == nil {
		submitted.Add(1)
	}
	return true
}

// send delivers one message on the session, dialling if there is none; a failure closes the session so the next round starts over.
func (s *smtpSession) send(ctx context.Context, dial func() (*smtp.Client, error), perConn int, from, rcpt string, msg []byte) error {
	if s.c == nil {
		c, err := dial()
		if err != nil {
			return err
		}
		s.c, s.sent = c, 0
	}
	stopClose := context.AfterFunc(ctx, func() { s.c.Close() })
	err := sendOne(s.c, from, rcpt, msg)
	stopClose()
	if err != nil {
		s.close()
		return err
	}
	if s.sent++; s.sent >= perConn {
		s.c.Quit()
		s.close()
	}
	return nil
}

func (s *smtpSession) close() {
	if s.c != nil {
		s.c.Close()
		s.c = nil
	}
}

// recorder collects the latencies and failures of the current interval,
// and the counts of the whole run.
type recorder struct {
	mu    sync.Mutex
	cur   map[string]*opAcc
	total map[string]*OpFigures
}

type opAcc struct {
	lats    []time.Duration
	errors  int
	lastErr string
}

func newRecorder() *recorder {
	return &recorder{cur: map[string]*opAcc{}, total: map[string]*OpFigures{}}
}

func (r *recorder) done(kind string, lat time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, t := r.cur[kind], r.total[kind]
	if a == nil {
		a = &opAcc{}
		r.cur[kind] = a
	}
	if t == nil {
		t = &OpFigures{}
		r.total[kind] = t
	}
	if err != nil {
		a.errors++
		t.Errors++
		a.lastErr, t.LastError = err.Error(), err.Error()
		return
	}
	a.lats = append(a.lats, lat)
	t.OK++
}

// take returns the figures of the interval that just ended and starts the next.
func (r *recorder) take() map[string]OpFigures {
	r.mu.Lock()
	cur := r.cur
	r.cur = map[string]*opAcc{}
	r.mu.Unlock()
	out := map[string]OpFigures{}
	for _, k := range OpKinds {
		out[k] = cur[k].figures()
	}
	return out
}

func (r *recorder) totals() map[string]OpFigures {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]OpFigures{}
	for _, k := range OpKinds {
		if t := r.total[k]; t != nil {
			out[k] = *t
		} else {
			out[k] = OpFigures{}
		}
	}
	return out
}

func (a *opAcc) figures() OpFigures {
	if a == nil {
		return OpFigures{}
	}
	p50, p99 := percentiles(a.lats) // sorts a.lats
	return OpFigures{OK: len(a.lats), Errors: a.errors, LastError: a.lastErr,
		P50: ms(p50), P95: ms(percentile(a.lats, 95)), P99: ms(p99)}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// errNoMetrics is a scrape that found no figures.
var errNoMetrics = errors.New("no runtime gauges in /metrics")

func (s *SoakSample) readServer(ctx context.Context, url string) {
	m, err := scrape(ctx, url)
	if err == nil && m["go_goroutines"] == 0 {
		err = errNoMetrics
	}
	if err != nil {
		s.ScrapeError = err.Error()
		return
	}
	s.RSS, s.RSSAnon = m["process_resident_memory_bytes"], m["process_resident_memory_anon_bytes"]
	s.Heap, s.HeapAlloc = m["go_gc_heap_live_bytes"], m["go_memstats_heap_alloc_bytes"]
	s.Goroutines, s.OpenFiles = m["go_goroutines"], m["process_open_fds"]
	s.Stored = m["frontdesk_messages_stored_total"]
}

// print writes one interval as a line of key=value fields, or as JSON.
func (s *SoakSample) print(w io.Writer, asJSON bool) {
	if asJSON {
		b, _ := json.Marshal(s)
		fmt.Fprintf(w, "%s\n", b)
		return
	}
	line := fmt.Sprintf("%5.0fs rss=%s rss_anon=%s heap=%s heap_alloc=%s goroutines=%d files=%d stored=%d", s.Elapsed,
		mib(s.RSS), mib(s.RSSAnon), mib(s.Heap), mib(s.HeapAlloc), s.Goroutines, s.OpenFiles, s.Stored)
	if s.RemoteStored > 0 {
		line += fmt.Sprintf(" remote_stored=%d", s.RemoteStored)
	}
	if s.ScrapeError != "" {
		line += fmt.Sprintf(" scrape_error=%q", s.ScrapeError)
	}
	for _, k := range OpKinds {
		f := s.Ops[k]
		line += fmt.Sprintf(" | %s ok=%d err=%d p50=%.1fms p95=%.1fms p99=%.1fms", k, f.OK, f.Errors, f.P50, f.P95, f.P99)
		if f.LastError != "" {
			line += fmt.Sprintf(" last_error=%q", f.LastError)
		}
	}
	fmt.Fprintln(w, line)
}

func mib(b uint64) string { return fmt.Sprintf("%.1fMiB", float64(b)/(1<<20)) }
