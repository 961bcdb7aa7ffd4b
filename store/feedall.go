package store

// SubscribeAll returns the changes committed to every account from now on,
// each account's in commit order. It is for derived data that follows the
// whole store (the search index); like Subscribe, call it before reading a
// snapshot so nothing falls between the two.
func (s *Store) SubscribeAll() *Subscription {
	sub := &Subscription{feed: &s.feed, all: true, notify: make(chan struct{}, 1)}
	s.feed.mu.Lock()
	if s.feed.all == nil {
		s.feed.all = map[*Subscription]struct{}{}
	}
	s.feed.all[sub] = struct{}{}
	s.feed.mu.Unlock()
	return sub
}
