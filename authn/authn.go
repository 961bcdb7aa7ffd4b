// Package authn checks passwords for every protocol and throttles guessing.
// SMTP, IMAP and the web share one Authenticator, so failures anywhere
// count against the same client.
package authn

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"time"

	"frontdesk/store"
)

// ErrRateLimited means the client failed too often recently and is not
// checked at all until its window passes.
var ErrRateLimited = errors.New("too many failed logins, try again later")

// ErrFailed means the address or password is wrong.
var ErrFailed = store.ErrAuthFailed

// Limits of the guessing throttle: at most MaxFailures failures per client
// address (and per account) in Window.
const (
	MaxFailures = 10
	Window      = time.Minute
)

// maxTracked is the number of clients and accounts remembered before
// expired entries are swept.
const maxTracked = 100000

// Authenticator checks credentials against the store.
type Authenticator struct {
	store *store.Store
	now   func() time.Time

	mu       sync.Mutex
	failures map[string][]time.Time // guarded by mu; key: "ip:" or "user:"
}

// New returns an Authenticator over st.
func New(st *store.Store) *Authenticator {
	return &Authenticator{store: st, now: time.Now, failures: map[string][]time.Time{}}
}

// Check verifies address and password for a client at remote.
func (a *Authenticator) Check(ctx context.Context, remote net.Addr, address, password string) (*store.Account, error) {
	keys := []string{"ip:" + hostOf(remote), "user:" + strings.ToLower(strings.TrimSpace(address))}
	if a.limited(keys) {
		return nil, ErrRateLimited
	}
	acct, err := a.store.Authenticate(ctx, address, password)
	if err != nil {
		a.fail(keys)
		return nil, err
	}
	return acct, nil
}

func (a *Authenticator) limited(keys []string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	cutoff := a.now().Add(-Window)
	for _, k := range keys {
		recent := a.failures[k][:0]
		for _, t := range a.failures[k] {
			if t.After(cutoff) {
				recent = append(recent, t)
			}
		}
		if len(recent) == 0 {
			delete(a.failures, k)
			continue
		}
		a.failures[k] = recent
		if len(recent) >= MaxFailures {
			return true
		}
	}
	return false
}

func (a *Authenticator) fail(keys []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	for _, k := range keys {
		a.failures[k] = append(a.failures[k], now)
	}
	// Bound memory under a spray from many addresses: forget expired
	// entries only, so a spray cannot clear lockouts still in force.
	if len(a.failures) > maxTracked {
		cutoff := now.Add(-Window)
		for k, ts := range a.failures {
			if len(ts) == 0 || !ts[len(ts)-1].After(cutoff) {
				delete(a.failures, k)
			}
		}
	}
}

func hostOf(addr net.Addr) string {
	if addr == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	return host
}

// IsLoopback reports whether a connection comes from this machine, where
// plain-text authentication is allowed (DESIGN.md).
func IsLoopback(addr net.Addr) bool {
	ip := net.ParseIP(hostOf(addr))
	return ip != nil && ip.IsLoopback()
}
