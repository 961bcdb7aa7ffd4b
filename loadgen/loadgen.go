// Package loadgen drives a running Frontdesk mail server over loopback: it
// delivers generated messages over SMTP from several connections, waits until
// IMAP shows them in the recipient's INBOX, and reports throughput and
// latency.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"
)

// Options configure one load run.
type Options struct {
	SMTPAddr    string    // inbound MX, no auth, e.g. 127.0.0.1:2525
	IMAPAddr    string    // plain-text IMAP, e.g. 127.0.0.1:2143
	User        string    // IMAP login
	Password    string    // IMAP password
	Rcpt        string    // recipient address; must deliver to User's INBOX
	From        string    // envelope sender, default "load@loadgen.test"
	Messages    int       // messages to send, default 5000
	Concurrency int       // SMTP connections, default 8
	Size        int       // approximate message size in bytes, default 8192
	Seed        int64     // message content seed
	Out         io.Writer // progress lines and the final report; nil discards
}

const (
	defaultFrom        = "load@loadgen.test"
	defaultMessages    = 5000
	defaultConcurrency = 8
	defaultSize        = 8192

	// Delivery may be asynchronous behind the 250, so the INBOX is allowed
	// to lag; two minutes is far beyond any healthy loopback server.
	visibleTimeout = 2 * time.Minute
	pollInterval   = 10 * time.Millisecond
)

// Run performs one load run against the servers in o and returns its figures.
// Progress and the final report are written to o.Out. Failures of single
// messages are counted in Result.Failed rather than returned. If the run
// completes sending but the messages never become visible, Run returns the
// partial Result together with the error.
func Run(ctx context.Context, o Options) (*Result, error) {
	o = withDefaults(o)
	if o.Rcpt == "" || o.User == "" {
		return nil, errors.New("loadgen: Rcpt and User are required")
	}
	smtpAddr, err := loopbackAddr(ctx, o.SMTPAddr)
	if err != nil {
		return nil, fmt.Errorf("loadgen: SMTP target: %w", err)
	}
	imapAddr, err := loopbackAddr(ctx, o.IMAPAddr)
	if err != nil {
		return nil, fmt.Errorf("loadgen: IMAP target: %w", err)
	}
	out := &syncWriter{w: o.Out}

	ic, err := imapclient.DialInsecure(imapAddr, &imapclient.Options{})
	if err != nil {
		return nil, fmt.Errorf("loadgen: IMAP dial: %w", err)
	}
	defer ic.Close()
	// imapclient has no context support; closing the connection is the only
	// way to unblock a pending Wait when the caller gives up.
	defer context.AfterFunc(ctx, func() { ic.Close() })()
	if err := ic.Login(o.User, o.Password).Wait(); err != nil {
		return nil, ctxErr(ctx, fmt.Errorf("loadgen: IMAP login: %w", err))
	}
	before, err := inboxCount(ic)
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	fmt.Fprintf(out, "INBOX holds %d messages; sending %d over %d connections\n",
		before, o.Messages, o.Concurrency)

	start := time.Now()
	res, firstErr := sendAll(ctx, o, smtpAddr, out)
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if res.Accepted == 0 {
		return res, fmt.Errorf("loadgen: no message accepted: %w", firstErr)
	}

	want := uint64(before) + uint64(res.Accepted)
	if err := waitVisible(ctx, ic, want); err != nil {
		return res, ctxErr(ctx, err)
	}
	res.VisibleSeconds = time.Since(start).Seconds()

	// SELECT is outside the timed section: the figure is meant to show the
	// cost of listing a full mailbox, not of opening it.
	if _, err := ic.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		return res, ctxErr(ctx, fmt.Errorf("loadgen: SELECT INBOX: %w", err))
	}
	fetchStart := time.Now()
	n, err := fetchAll(ic)
	if err != nil {
		return res, ctxErr(ctx, err)
	}
	res.FetchEnvelopes = time.Since(fetchStart)
	res.Fetched = n
	_ = ic.Logout().Wait()

	res.Print(out)
	return res, nil
}

func withDefaults(o Options) Options {
	if o.From == "" {
		o.From = defaultFrom
	}
	if o.Messages <= 0 {
		o.Messages = defaultMessages
	}
	if o.Concurrency <= 0 {
		o.Concurrency = defaultConcurrency
	}
	if o.Size <= 0 {
		o.Size = defaultSize
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	return o
}

// loopbackAddr refuses anything but loopback so that a mistyped address can
// never turn a load test into a flood against a real server. It returns the
// address with the host replaced by the checked IP, so the dial cannot
// resolve to something else later.
func loopbackAddr(ctx context.Context, addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if host == "" {
		return "", fmt.Errorf("%q has no host; name a loopback address such as 127.0.0.1", addr)
	}
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return "", err
	}
	if len(ips) == 0 {
		return "", fmt.Errorf("%q resolves to no address", host)
	}
	for _, ip := range ips {
		if !ip.IP.IsLoopback() {
			return "", fmt.Errorf("refusing non-loopback target %s (%s): load runs only against 127.0.0.0/8 or ::1", addr, ip.IP)
		}
	}
	return net.JoinHostPort(ips[0].String(), port), nil
}

// ctxErr prefers the context's error, since a cancelled run surfaces first
// as an unhelpful "use of closed connection".
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}

func inboxCount(ic *imapclient.Client) (uint32, error) {
	data, err := ic.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil {
		return 0, fmt.Errorf("loadgen: STATUS INBOX: %w", err)
	}
	if data.NumMessages == nil {
		return 0, errors.New("loadgen: STATUS INBOX: server omitted MESSAGES")
	}
	return *data.NumMessages, nil
}

// waitVisible polls with STATUS rather than waiting for EXISTS so that the
// measurement does not depend on the server pushing unsolicited updates.
func waitVisible(ctx context.Context, ic *imapclient.Client, want uint64) error {
	deadline := time.Now().Add(visibleTimeout)
	var n uint32
	for {
		var err error
		if n, err = inboxCount(ic); err != nil {
			return err
		}
		if uint64(n) >= want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("loadgen: INBOX holds %d messages after %s, want %d", n, visibleTimeout, want)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollInterval):
		}
	}
}

// fetchAll streams the FETCH response and discards it, so that memory use
// stays flat however many messages the INBOX holds.
func fetchAll(ic *imapclient.Client) (int, error) {
	cmd := ic.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{
		Flags: true, UID: true, RFC822Size: true, Envelope: true,
	})
	n := 0
	for cmd.Next() != nil {
		n++
	}
	if err := cmd.Close(); err != nil {
		return n, fmt.Errorf("loadgen: FETCH: %w", err)
	}
	return n, nil
}

// sendAll runs the SMTP phase. It returns the first error seen so that a run
// where nothing got through can say why.
func sendAll(ctx context.Context, o Options, addr string, out io.Writer) (*Result, error) {
	var accepted, failed atomic.Int64
	lats := make([][]time.Duration, o.Concurrency)
	var errOnce sync.Once
	var firstErr error
	noteErr := func(err error) {
		errOnce.Do(func() {
			firstErr = err
			fmt.Fprintf(out, "first failure: %v\n", err)
		})
	}

	start := time.Now()
	stopProgress := progress(out, start, time.Second, &accepted, &failed)
	var wg sync.WaitGroup
	for w := range o.Concurrency {
		// Contiguous shares keep message numbers (and so content) the same
		// for a given seed regardless of which connection sends them.
		lo, hi := w*o.Messages/o.Concurrency, (w+1)*o.Messages/o.Concurrency
		if lo == hi {
			continue
		}
		wg.Go(func() {
			lats[w] = sendShare(ctx, o, addr, lo, hi, &accepted, &failed, noteErr, out)
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopProgress()

	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	res := &Result{
		Accepted:      int(accepted.Load()),
		Failed:        int(failed.Load()),
		AcceptSeconds: elapsed.Seconds(),
	}
	if elapsed > 0 {
		res.AcceptPerSec = float64(res.Accepted) / elapsed.Seconds()
	}
	res.P50, res.P99 = percentiles(all)
	return res, firstErr
}

// sendShare sends messages lo..hi-1 over one connection and returns their
// latencies. When the connection breaks, the unsent rest of the share counts
// as failed so that Accepted+Failed always adds up to the messages asked for.
func sendShare(ctx context.Context, o Options, addr string, lo, hi int,
	accepted, failed *atomic.Int64, noteErr func(error), out io.Writer) []time.Duration {
	abort := func(n int, err error) {
		failed.Add(int64(hi - n))
		noteErr(err)
		if ctx.Err() == nil {
			fmt.Fprintf(out, "connection lost at message %d, counting its %d remaining messages as failed: %v\n", n, hi-n, err)
		}
	}
	c, err := smtp.Dial(addr)
	if err != nil {
		abort(lo, err)
		return nil
	}
	defer c.Close()
	defer context.AfterFunc(ctx, func() { c.Close() })()
	if err := c.Hello("loadgen.test"); err != nil {
		abort(lo, err)
		return nil
	}

	lats := make([]time.Duration, 0, hi-lo)
	for n := lo; n < hi; n++ {
		if ctx.Err() != nil {
			return lats
		}
		msg := genMessage(o.Seed, n, o.From, o.Rcpt, o.Size)
		t0 := time.Now()
		err := sendOne(c, o.From, o.Rcpt, msg)
		if err == nil {
			lats = append(lats, time.Since(t0))
			accepted.Add(1)
			continue
		}
		if !perMessage(err) {
			abort(n, err)
			return lats
		}
		failed.Add(1)
		noteErr(err)
		// A rejection may leave a half-open transaction (e.g. MAIL accepted,
		// RCPT refused), which the next MAIL would trip over.
		if err := c.Reset(); err != nil {
			abort(n+1, fmt.Errorf("RSET: %w", err))
			return lats
		}
	}
	_ = c.Quit()
	return lats
}

func sendOne(c *smtp.Client, from, rcpt string, msg []byte) error {
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	if err := c.Rcpt(rcpt, nil); err != nil {
		return err
	}
	wc, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := wc.Write(msg); err != nil {
		return err
	}
	return wc.Close()
}

// perMessage reports whether err is a server reply concerning only the
// current message. 421 means the server is closing the connection, and any
// non-SMTP error means the connection itself is unusable.
func perMessage(err error) bool {
	var se *smtp.SMTPError
	return errors.As(err, &se) && se.Code != 421
}

// words feeds the message bodies; plain lower-case ASCII keeps messages
// 7-bit clean so that no server-side conversion skews the figures.
var words = strings.Fields(`
	alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima
	mike november oscar papa quebec romeo sierra tango uniform victor whiskey
	xray yankee zulu mail server queue spool relay inbox folder message header
	body envelope sender recipient deliver accept reject retry bounce latency
	throughput loopback socket buffer packet stream window frame index
	journal commit storage record ledger lantern harbour meadow orchard
	pebble quartz ribbon saddle timber velvet willow zephyr`)

// genBase pins Date headers so that a seed fully determines message bytes.
var genBase = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// genMessage builds message n of a run: an RFC 5322 message of about size
// bytes (never more, unless the headers alone exceed it) with CRLF line
// endings and body lines of at most 78 characters. Equal arguments give
// equal bytes.
func genMessage(seed int64, n int, from, rcpt string, size int) []byte {
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(n)))
	word := func() string { return words[rng.IntN(len(words))] }

	var b strings.Builder
	b.Grow(size + 128)
	fmt.Fprintf(&b, "From: <%s>\r\n", from)
	fmt.Fprintf(&b, "To: <%s>\r\n", rcpt)
	fmt.Fprintf(&b, "Subject: loadgen %d/%d %s %s\r\n", seed, n, word(), word())
	fmt.Fprintf(&b, "Date: %s\r\n", genBase.Add(time.Duration(n)*time.Second).Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%d.%d@loadgen.test>\r\n", seed, n)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")

	const maxLine = 78
	var line []byte
	for first := true; first || b.Len()+2 < size; first = false {
		line = append(line[:0], word()...)
		for {
			w := word()
			if len(line)+1+len(w) > maxLine {
				break
			}
			line = append(append(line, ' '), w...)
		}
		if room := size - b.Len() - 2; room < len(line) && room > 0 {
			line = line[:room]
		}
		b.Write(line)
		b.WriteString("\r\n")
	}
	return []byte(b.String())
}
