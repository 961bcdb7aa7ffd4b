package main

import (
	"log/slog"

	"frontdesk/config"
	"frontdesk/tickets"
	"path/filepath"
	"sync"

	"frontdesk/dkim"
	"frontdesk/dnscheck"
	"frontdesk/queue"
	"frontdesk/spam"
	"frontdesk/telephony"
)

// services are the parts besides the store that admin commands use. In
// the running server they are the server's own; run without a server,
// they are opened from the data directory on first use.
type services struct {
	dataDir string
	dns     string // the server's --dns, used when a command gives none

	mu    sync.Mutex
	queue *queue.Queue      // guarded by mu
	keys  *dkim.Keyring     // guarded by mu
	spam  *spam.Filter      // guarded by mu
	tel   *telephony.Server // guarded by mu
	desk  *tickets.Desk     // guarded by mu
	owned []func() error
}

// Queue returns the outbound queue.
func (s *services) Queue(e *adminEnv) (*queue.Queue, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.queue == nil {
		r, err := dnscheck.NewResolver(s.dns)
		if err != nil {
			return nil, err
		}
		q, err := queue.Open(filepath.Join(s.dataDir, "queue"), e.store, r, queue.Config{})
		if err != nil {
			return nil, err
		}
		s.queue = q
		s.owned = append(s.owned, q.Close)
	}
	return s.queue, nil
}

// Keyring returns the DKIM keyring.
func (s *services) Keyring() (*dkim.Keyring, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil {
		k, err := dkim.OpenKeyring(filepath.Join(s.dataDir, "keys", "dkim"))
		if err != nil {
			return nil, err
		}
		s.keys = k
	}
	return s.keys, nil
}

// Spam returns the spam filter.
func (s *services) Spam() (*spam.Filter, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.spam == nil {
		f, err := spam.OpenFilter(filepath.Join(s.dataDir, "spam"), spam.DefaultOptions())
		if err != nil {
			return nil, err
		}
		s.spam = f
		s.owned = append(s.owned, f.Close)
	}
	return s.spam, nil
}

// Telephony returns the hotline: the running server's, or one opened on
// the data directory (not listening) to read records and add agents.
func (s *services) Telephony(e *adminEnv) (*telephony.Server, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tel == nil {
		t, err := telephony.New(telephony.Config{DataDir: s.dataDir, Accounts: e.store})
		if err != nil {
			return nil, err
		}
		s.tel = t
		s.owned = append(s.owned, t.Close)
	}
	return s.tel, nil
}

// Desk returns the ticket desk: the running server's, or one opened on
// the data directory (mail it sends is queued for the next start).
func (s *services) Desk(e *adminEnv) (*tickets.Desk, error) {
	s.mu.Lock()
	if s.desk != nil {
		defer s.mu.Unlock()
		return s.desk, nil
	}
	s.mu.Unlock()
	q, err := s.Queue(e)
	if err != nil {
		return nil, err
	}
	keys, err := s.Keyring()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.desk == nil {
		cfg := config.Defaults()
		cfg.Data = s.dataDir
		d, closeDesk, err := openDesk(cfg, deskParts{st: e.store, queue: q, keys: keys, log: slog.New(slog.DiscardHandler)})
		if err != nil {
			return nil, err
		}
		s.desk = d
		s.owned = append(s.owned, closeDesk)
	}
	return s.desk, nil
}

func (s *services) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.owned {
		f()
	}
}
