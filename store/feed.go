package store

import "sync"

// ChangeKind says what happened to a mailbox.
type ChangeKind int

// The kinds of change published on the feed.
const (
	ChangeNew       ChangeKind = iota + 1 // a message was added
	ChangeExpunge                         // a message was removed
	ChangeFlags                           // a message's flags changed
	ChangeMailboxes                       // a mailbox was created, deleted or renamed
)

// Change is one committed change to an account's mail.
type Change struct {
	Account uint64
	Mailbox uint64
	Kind    ChangeKind
	UID     uint32
	Flags   []string // ChangeNew and ChangeFlags
	ModSeq  uint64
}

// Subscription receives the changes of one account in commit order. Its
// queue is unbounded so a slow reader never blocks a writer nor loses a
// change; a reader that stops reading must Close.
type Subscription struct {
	feed    *feed
	account uint64
	all     bool // every account's changes (SubscribeAll)
	notify  chan struct{}

	mu    sync.Mutex
	queue []Change // guarded by mu
}

// C is signalled whenever changes are waiting.
func (s *Subscription) C() <-chan struct{} { return s.notify }

// Drain returns and removes every waiting change.
func (s *Subscription) Drain() []Change {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queue
	s.queue = nil
	return q
}

// Close stops the subscription.
func (s *Subscription) Close() { s.feed.remove(s) }

func (s *Subscription) push(cs []Change) {
	s.mu.Lock()
	s.queue = append(s.queue, cs...)
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

type feed struct {
	mu   sync.Mutex
	subs map[uint64]map[*Subscription]struct{} // guarded by mu
	all  map[*Subscription]struct{}            // guarded by mu; see SubscribeAll
}

// Subscribe returns the changes committed to an account from now on.
// Subscribe before reading a snapshot, so nothing falls between the two.
func (s *Store) Subscribe(accountID uint64) *Subscription {
	sub := &Subscription{feed: &s.feed, account: accountID, notify: make(chan struct{}, 1)}
	s.feed.mu.Lock()
	if s.feed.subs == nil {
		s.feed.subs = map[uint64]map[*Subscription]struct{}{}
	}
	m := s.feed.subs[accountID]
	if m == nil {
		m = map[*Subscription]struct{}{}
		s.feed.subs[accountID] = m
	}
	m[sub] = struct{}{}
	s.feed.mu.Unlock()
	return sub
}

func (f *feed) remove(sub *Subscription) {
	f.mu.Lock()
	if sub.all {
		delete(f.all, sub)
	} else {
		delete(f.subs[sub.account], sub)
	}
	f.mu.Unlock()
}

func (f *feed) publish(account uint64, cs []Change) {
	if len(cs) == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for sub := range f.subs[account] {
		sub.push(cs)
	}
	for sub := range f.all {
		sub.push(cs)
	}
}
