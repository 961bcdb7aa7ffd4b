// Package queue is Frontdesk's durable outbound delivery queue: it stores
// messages for remote recipients, delivers them to the recipients' MX hosts
// (RFC 5321 §5) with opportunistic STARTTLS (RFC 7435), retries temporary
// failures on a growing back-off (RFC 5321 §4.5.4.1), and returns a delivery
// status notification (RFC 3464) to the sender for recipients that fail
// permanently or expire.
//
// Storage: dir/queue.db (bbolt) holds one record per message with the state
// of each recipient; dir/msg/<id> holds the message bytes. A message file is
// written and fsynced (file and directory) before its record commits, so
// Enqueue returning means the message survives a crash (DESIGN.md: 250 means
// stored). Files without a record are leftovers of a crash during Enqueue or
// after removal and are deleted on Open. Nothing is kept only in memory: on
// Open every unfinished message is scheduled again.
//
// Delivery is at least once. A recipient's state is committed right after
// the remote server's reply to DATA; if the process dies between the remote
// 250 and that commit, the recipient is delivered again after restart. RFC
// 5321 §6.1 prefers a duplicate to a loss. Likewise a DSN may be stored twice
// if the process dies between storing it and removing the message.
//
// Locking: Queue.mu guards the scheduler's maps (due, running, perDomain,
// nrunning) and is never held during I/O. Queue.hmu guards the per-host
// connection semaphores. Recipient state changes are read-modify-write in
// one bbolt transaction, so deliveries to different domains of one message
// may commit concurrently without losing each other's updates.
package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"frontdesk/dnscheck"
	"frontdesk/store"
)

// Errors callers match with errors.Is.
var (
	ErrNotFound = errors.New("queue: no such message")
	ErrClosed   = errors.New("queue: closed")
	ErrInvalid  = errors.New("queue: invalid")
)

// Config configures a Queue. Zero fields take the defaults given.
type Config struct {
	// Hostname is the EHLO name and the DSN's Reporting-MTA. Default "localhost".
	Hostname string
	// OutboundPort is the port of remote MX hosts: 25 unless testing.
	OutboundPort int
	// Retry is the back-off schedule: the n-th deferral waits Retry[n-1],
	// and the last entry repeats. Default 1m, 5m, 15m, 30m, 1h, 2h, 4h.
	Retry []time.Duration
	// MaxAge is how long a message is retried before it is bounced.
	// Default 5 days (RFC 5321 §4.5.4.1 suggests at least 4-5 days).
	MaxAge time.Duration
	// PerDestination bounds concurrent connections to one destination host
	// (MX host name) and concurrent deliveries to one recipient domain.
	// Default 4.
	PerDestination int
	// Workers bounds concurrent deliveries in total. Default 16.
	Workers int
	// Timeout bounds each SMTP phase (connect, each command, the data
	// transfer). Default 5 minutes (RFC 5321 §4.5.3.2).
	Timeout time.Duration
	// Logger receives one line per delivery attempt per recipient.
	// Default slog.Default().
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// DefaultRetry is the back-off schedule used when Config.Retry is empty.
var DefaultRetry = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute,
	30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour}

func (c Config) withDefaults() Config {
	if c.Hostname == "" {
		c.Hostname = "localhost"
	}
	if c.OutboundPort == 0 {
		c.OutboundPort = 25
	}
	if len(c.Retry) == 0 {
		c.Retry = DefaultRetry
	}
	c.Retry = append([]time.Duration(nil), c.Retry...)
	if c.MaxAge <= 0 {
		c.MaxAge = 5 * 24 * time.Hour
	}
	if c.PerDestination <= 0 {
		c.PerDestination = 4
	}
	if c.Workers <= 0 {
		c.Workers = 16
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Status is the delivery state of one recipient.
type Status string

// Recipient states.
const (
	StatusQueued    Status = "queued"    // not yet delivered; retried until MaxAge
	StatusDelivered Status = "delivered" // a remote server accepted it
	StatusFailed    Status = "failed"    // permanent failure or expired; bounced
)

// RcptState is the state of one recipient of a queued message.
type RcptState struct {
	Addr        string    `json:"addr"`
	Status      Status    `json:"status"`
	Attempts    int       `json:"attempts"`
	LastError   string    `json:"last_error,omitempty"` // last remote reply or local error
	NextAttempt time.Time `json:"next_attempt"`
	Host        string    `json:"host,omitempty"`       // MX host of the last attempt
	DSNStatus   string    `json:"dsn_status,omitempty"` // RFC 3463 code of a failure
}

// Item is one queued message as List shows it.
type Item struct {
	ID         string      `json:"id"`
	From       string      `json:"from"` // "" is the null sender of a DSN
	Recipients []RcptState `json:"recipients"`
	Created    time.Time   `json:"created"`
	Size       int64       `json:"size"`
}

func (it *Item) pending() bool {
	for _, r := range it.Recipients {
		if r.Status == StatusQueued {
			return true
		}
	}
	return false
}

// jobKey names one unit of work: delivering a message's recipients of one
// domain in one SMTP transaction, or (domain "") finishing the message.
type jobKey struct{ id, domain string }

// Queue is the outbound queue of one directory. It is safe for concurrent use.
type Queue struct {
	dir string
	db  *bolt.DB
	st  *store.Store
	r   *dnscheck.Resolver
	cfg Config
	log *slog.Logger

	mu        sync.Mutex
	due       map[jobKey]time.Time // guarded by mu: waiting jobs and when they are due
	running   map[jobKey]bool      // guarded by mu
	perDomain map[string]int       // guarded by mu: running jobs per recipient domain
	nrunning  int                  // guarded by mu
	closed    bool                 // guarded by mu: no job may start once set

	hmu     sync.Mutex
	hostSem map[string]chan struct{} // guarded by hmu

	imu  sync.Mutex
	idle map[string][]*idleSession // guarded by imu: sessions kept for reuse, by address; nil once closed

	wake       chan struct{}
	closing    context.Context
	stopAll    context.CancelFunc
	inflight   sync.WaitGroup
	runActive  atomic.Bool
	closeOnce  sync.Once
	closeError error
}

// Open opens (creating if needed) the queue in dir and schedules every
// unfinished message again. st receives DSNs for local senders; r resolves
// MX and address records.
func Open(dir string, st *store.Store, r *dnscheck.Resolver, cfg Config) (*Queue, error) {
	if st == nil || r == nil {
		return nil, fmt.Errorf("%w: Open needs a store and a resolver", ErrInvalid)
	}
	cfg = cfg.withDefaults()
	q := &Queue{dir: dir, st: st, r: r, cfg: cfg, log: cfg.Logger,
		due: map[jobKey]time.Time{}, running: map[jobKey]bool{}, perDomain: map[string]int{},
		hostSem: map[string]chan struct{}{}, idle: map[string][]*idleSession{}, wake: make(chan struct{}, 1)}
	q.closing, q.stopAll = context.WithCancel(context.Background())
	if err := q.openStorage(); err != nil {
		q.stopAll()
		return nil, err
	}
	return q, nil
}

// Close stops delivery attempts in progress (their recipients stay due),
// waits for them and closes the database.
func (q *Queue) Close() error {
	q.closeOnce.Do(func() {
		q.mu.Lock()
		q.closed = true // after this, dispatch adds nothing to inflight
		q.mu.Unlock()
		q.stopAll()
		q.inflight.Wait()
		q.closeIdle()
		q.closeError = q.db.Close()
	})
	return q.closeError
}

// Enqueue stores a message for the given remote recipients and returns its
// queue ID once the message file is fsynced and its record committed: the
// caller may then answer 250. from "" is the null sender (used for DSNs).
func (q *Queue) Enqueue(ctx context.Context, from string, to []string, data []byte) (string, error) {
	if q.closing.Err() != nil {
		return "", ErrClosed
	}
	if err := checkAddr(from, true); err != nil {
		return "", err
	}
	if len(to) == 0 {
		return "", fmt.Errorf("%w: no recipients", ErrInvalid)
	}
	now := q.cfg.Now()
	it := &Item{From: from, Created: now.UTC(), Size: int64(len(data))}
	seen := map[string]bool{}
	for _, addr := range to {
		if err := checkAddr(addr, false); err != nil {
			return "", err
		}
		if seen[addr] {
			continue
		}
		seen[addr] = true
		it.Recipients = append(it.Recipients, RcptState{Addr: addr, Status: StatusQueued, NextAttempt: now})
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	err := q.store(it, data)
	if err != nil {
		if _, gerr := q.get(it.ID); gerr != nil {
			return "", err
		}
		// Stored after all (see store): it goes out, and the caller's
		// retry may send it twice, which beats losing it.
	}
	q.mu.Lock()
	for _, r := range it.Recipients {
		q.due[jobKey{it.ID, domainOf(r.Addr)}] = now
	}
	q.mu.Unlock()
	q.kick()
	if err != nil {
		return "", err
	}
	return it.ID, nil
}

// checkAddr rejects what cannot go into MAIL FROM:<…> / RCPT TO:<…>.
func checkAddr(addr string, nullOK bool) error {
	if addr == "" && nullOK {
		return nil
	}
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 || strings.ContainsAny(addr, "<> \t\r\n\x00") {
		return fmt.Errorf("%w address %q", ErrInvalid, addr)
	}
	return nil
}

func domainOf(addr string) string {
	return strings.ToLower(strings.TrimSuffix(addr[strings.LastIndexByte(addr, '@')+1:], "."))
}

// List returns every queued message, oldest first.
func (q *Queue) List(ctx context.Context) ([]Item, error) {
	items, err := q.loadAll()
	if err != nil {
		return nil, err
	}
	sort.Slice(items, func(i, j int) bool { return items[i].ID < items[j].ID })
	return items, nil
}

// Retry makes every pending recipient of message id due now. An attempt
// already in progress finishes first.
func (q *Queue) Retry(ctx context.Context, id string) error {
	now := q.cfg.Now()
	it, err := q.update(id, func(it *Item) error {
		for i := range it.Recipients {
			if it.Recipients[i].Status == StatusQueued {
				it.Recipients[i].NextAttempt = now
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	q.mu.Lock()
	for _, r := range it.Recipients {
		if r.Status == StatusQueued {
			q.due[jobKey{id, domainOf(r.Addr)}] = now
		}
	}
	q.mu.Unlock()
	q.kick()
	return nil
}

// Drop removes message id without a DSN. An attempt in progress is not
// interrupted, but its outcome is no longer recorded.
func (q *Queue) Drop(ctx context.Context, id string) error {
	if err := q.remove(id); err != nil {
		return err
	}
	q.mu.Lock()
	for k := range q.due {
		if k.id == id {
			delete(q.due, k)
		}
	}
	q.mu.Unlock()
	q.log.Info("queue drop", "id", id)
	return nil
}

// kick wakes Run without blocking.
func (q *Queue) kick() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Run delivers due messages until ctx ends or q is closed, then waits for
// the attempts in progress to stop and returns nil. It wakes on Enqueue, on
// Retry, when an attempt ends, and at the next due time. Only one Run may
// be active at a time.
func (q *Queue) Run(ctx context.Context) error {
	if !q.runActive.CompareAndSwap(false, true) {
		return errors.New("queue: Run is already active")
	}
	defer q.runActive.Store(false)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(q.closing, cancel)
	defer stop()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		timer.Reset(q.dispatch(ctx))
		select {
		case <-ctx.Done():
			q.inflight.Wait()
			return nil
		case <-q.wake:
		case <-timer.C:
		}
	}
}

// dispatch starts every due job that the Workers and PerDestination limits
// allow, and returns how long until the next job falls due.
func (q *Queue) dispatch(ctx context.Context) time.Duration {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || ctx.Err() != nil {
		return time.Hour
	}
	now := q.cfg.Now()
	wait := time.Hour
	// A scan of every waiting job: fine for the queue of one company's
	// server; a heap keyed by due time is the next step if it ever is not.
	for k, due := range q.due {
		if due.After(now) {
			wait = min(wait, due.Sub(now))
			continue
		}
		// Jobs held back here are dispatched when a running job ends:
		// work kicks Run on its way out.
		if q.nrunning >= q.cfg.Workers || q.running[k] {
			continue
		}
		if k.domain != "" && q.perDomain[k.domain] >= q.cfg.PerDestination {
			continue
		}
		delete(q.due, k)
		q.running[k] = true
		q.perDomain[k.domain]++
		q.nrunning++
		q.inflight.Add(1)
		go q.work(ctx, k)
	}
	return max(wait, time.Millisecond)
}

// work runs one job and reschedules what is left of it.
func (q *Queue) work(ctx context.Context, k jobKey) {
	defer q.inflight.Done()
	var next time.Time
	var finish bool
	func() {
		defer func() {
			if v := recover(); v != nil {
				q.log.Error("queue: panic in delivery", "id", k.id, "domain", k.domain, "panic", v)
				next = q.cfg.Now().Add(q.cfg.Retry[0])
			}
		}()
		if k.domain == "" {
			next = q.finish(ctx, k.id)
		} else {
			next, finish = q.deliverDomain(ctx, k.id, k.domain)
		}
	}()
	q.mu.Lock()
	delete(q.running, k)
	if q.perDomain[k.domain]--; q.perDomain[k.domain] <= 0 {
		delete(q.perDomain, k.domain)
	}
	q.nrunning--
	if !next.IsZero() {
		if cur, ok := q.due[k]; !ok || next.Before(cur) {
			q.due[k] = next
		}
	}
	if finish {
		q.due[jobKey{k.id, ""}] = q.cfg.Now()
	}
	q.mu.Unlock()
	q.kick()
}

// acquireHost takes one of the PerDestination connection slots of host.
func (q *Queue) acquireHost(ctx context.Context, host string) (release func(), err error) {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	q.hmu.Lock()
	sem := q.hostSem[host]
	if sem == nil {
		sem = make(chan struct{}, q.cfg.PerDestination)
		q.hostSem[host] = sem
	}
	q.hmu.Unlock()
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// backoff is the wait after the n-th attempt (n ≥ 1).
func (q *Queue) backoff(n int) time.Duration {
	return q.cfg.Retry[min(max(n, 1), len(q.cfg.Retry))-1]
}
