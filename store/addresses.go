package store

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Buckets of frontdesk.db kept by this file. They are created on first
// write, so stores made before they existed open unchanged.
var (
	bucketAliases    = []byte("aliases")    // alias address -> Alias JSON
	bucketDomainInfo = []byte("domaininfo") // domain -> DomainInfo JSON
	bucketSupport    = []byte("support")    // support address -> empty
)

// Domain states: a domain is pending until every required DNS record has
// been seen right once; then it is active.
const (
	DomainPending = "pending"
	DomainActive  = "active"
)

// DomainInfo is what the console keeps about a domain beside its name.
type DomainInfo struct {
	Domain   string    `json:"domain"`
	State    string    `json:"state"`               // DomainPending (default) or DomainActive
	Checked  time.Time `json:"checked,omitzero"`    // last DNS check
	CatchAll string    `json:"catch_all,omitempty"` // account address taking mail for unknown local parts
}

// Alias delivers mail for one address to an account.
type Alias struct {
	Address string `json:"address"`
	Target  string `json:"target"` // account address
}

// DomainInfo returns what is known about a local domain; a domain never
// checked is pending.
func (s *Store) DomainInfo(ctx context.Context, domain string) (*DomainInfo, error) {
	domain = NormalizeDomain(domain)
	var di *DomainInfo
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		di, err = getDomainInfo(tx, domain)
		return err
	})
	return di, err
}

func getDomainInfo(tx *bolt.Tx, domain string) (*DomainInfo, error) {
	if tx.Bucket(bucketDomains).Get([]byte(domain)) == nil {
		return nil, fmt.Errorf("domain %s: %w", domain, ErrNotFound)
	}
	di := &DomainInfo{Domain: domain, State: DomainPending}
	if b := tx.Bucket(bucketDomainInfo); b != nil {
		if v := b.Get([]byte(domain)); v != nil {
			if err := json.Unmarshal(v, di); err != nil {
				return nil, err
			}
		}
	}
	return di, nil
}

// updateDomainInfo applies fn to a domain's info and stores it.
func (s *Store) updateDomainInfo(domain string, fn func(tx *bolt.Tx, di *DomainInfo) error) error {
	domain = NormalizeDomain(domain)
	return s.db.Update(func(tx *bolt.Tx) error {
		di, err := getDomainInfo(tx, domain)
		if err != nil {
			return err
		}
		if err := fn(tx, di); err != nil {
			return err
		}
		b, err := tx.CreateBucketIfNotExists(bucketDomainInfo)
		if err != nil {
			return err
		}
		return putJSON(b, []byte(domain), di)
	})
}

// SetDomainState records the outcome of a DNS check of a domain.
func (s *Store) SetDomainState(ctx context.Context, domain, state string, checked time.Time) error {
	if state != DomainPending && state != DomainActive {
		return fmt.Errorf("%w domain state %q", ErrInvalid, state)
	}
	return s.updateDomainInfo(domain, func(_ *bolt.Tx, di *DomainInfo) error {
		di.State, di.Checked = state, checked.UTC()
		return nil
	})
}

// SetCatchAll makes target (an account address) receive mail for every
// unknown address of domain; an empty target removes the catch-all.
func (s *Store) SetCatchAll(ctx context.Context, domain, target string) error {
	if target != "" {
		t, err := NormalizeAddress(target)
		if err != nil {
			return err
		}
		target = t
	}
	return s.updateDomainInfo(domain, func(tx *bolt.Tx, di *DomainInfo) error {
		if target != "" && tx.Bucket(bucketAddrs).Get([]byte(target)) == nil {
			return fmt.Errorf("catch-all target %s is not an account: %w", target, ErrNotFound)
		}
		di.CatchAll = target
		return nil
	})
}

// AddAlias makes mail for address go to the account target. The alias must
// be in a local domain and must not be an account or another alias.
func (s *Store) AddAlias(ctx context.Context, address, target string) (*Alias, error) {
	addr, err := NormalizeAddress(address)
	if err != nil {
		return nil, err
	}
	tgt, err := NormalizeAddress(target)
	if err != nil {
		return nil, err
	}
	al := &Alias{Address: addr, Target: tgt}
	err = s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketDomains).Get([]byte(DomainOf(addr))) == nil {
			return fmt.Errorf("domain %s is not a local domain: %w", DomainOf(addr), ErrNotFound)
		}
		if tx.Bucket(bucketAddrs).Get([]byte(addr)) != nil {
			return fmt.Errorf("%s is an account: %w", addr, ErrExists)
		}
		if tx.Bucket(bucketAddrs).Get([]byte(tgt)) == nil {
			return fmt.Errorf("alias target %s is not an account: %w", tgt, ErrNotFound)
		}
		b, err := tx.CreateBucketIfNotExists(bucketAliases)
		if err != nil {
			return err
		}
		if b.Get([]byte(addr)) != nil {
			return fmt.Errorf("alias %s: %w", addr, ErrExists)
		}
		return putJSON(b, []byte(addr), al)
	})
	if err != nil {
		return nil, err
	}
	return al, nil
}

// RemoveAlias deletes an alias, and its support mark.
func (s *Store) RemoveAlias(ctx context.Context, address string) error {
	addr, err := NormalizeAddress(address)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAliases)
		if b == nil || b.Get([]byte(addr)) == nil {
			return fmt.Errorf("alias %s: %w", addr, ErrNotFound)
		}
		if sb := tx.Bucket(bucketSupport); sb != nil {
			if err := sb.Delete([]byte(addr)); err != nil {
				return err
			}
		}
		return b.Delete([]byte(addr))
	})
}

// Aliases lists every alias in address order.
func (s *Store) Aliases(ctx context.Context) ([]Alias, error) {
	var out []Alias
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAliases)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var al Alias
			if err := json.Unmarshal(v, &al); err != nil {
				return err
			}
			out = append(out, al)
			return nil
		})
	})
	return out, err
}

// SetSupport marks (or unmarks) an address as a support address: mail to
// it becomes tickets. It must be an account or an alias.
func (s *Store) SetSupport(ctx context.Context, address string, on bool) error {
	addr, err := NormalizeAddress(address)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		if !on {
			if b := tx.Bucket(bucketSupport); b != nil {
				return b.Delete([]byte(addr))
			}
			return nil
		}
		isAlias := false
		if b := tx.Bucket(bucketAliases); b != nil {
			isAlias = b.Get([]byte(addr)) != nil
		}
		if !isAlias && tx.Bucket(bucketAddrs).Get([]byte(addr)) == nil {
			return fmt.Errorf("%s is neither an account nor an alias: %w", addr, ErrNotFound)
		}
		b, err := tx.CreateBucketIfNotExists(bucketSupport)
		if err != nil {
			return err
		}
		return b.Put([]byte(addr), []byte{})
	})
}

// IsSupportAddress reports whether mail to address becomes tickets.
func (s *Store) IsSupportAddress(ctx context.Context, address string) (bool, error) {
	addr, err := NormalizeAddress(address)
	if err != nil {
		return false, err
	}
	var ok bool
	err = s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketSupport); b != nil {
			ok = b.Get([]byte(addr)) != nil
		}
		return nil
	})
	return ok, err
}

// SupportAddresses lists the support addresses in order.
func (s *Store) SupportAddresses(ctx context.Context) ([]string, error) {
	var out []string
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSupport)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	return out, err
}

// ResolveRecipient finds the account that receives mail for address: the
// account of that address, else the target of an alias, else the
// catch-all of a local domain. It returns ErrNotFound when no one does.
func (s *Store) ResolveRecipient(ctx context.Context, address string) (*Account, error) {
	addr, err := NormalizeAddress(address)
	if err != nil {
		return nil, err
	}
	var a *Account
	err = s.db.View(func(tx *bolt.Tx) error {
		addrs := tx.Bucket(bucketAddrs)
		// An account's own address, then an alias pointing at one.
		direct := func(addr string) (*Account, error) {
			if id := addrs.Get([]byte(addr)); id != nil {
				return getAccount(tx, id)
			}
			if b := tx.Bucket(bucketAliases); b != nil {
				if v := b.Get([]byte(addr)); v != nil {
					var al Alias
					if err := json.Unmarshal(v, &al); err != nil {
						return nil, err
					}
					if id := addrs.Get([]byte(al.Target)); id != nil {
						return getAccount(tx, id)
					}
				}
			}
			return nil, nil
		}
		if a, err = direct(addr); a != nil || err != nil {
			return err
		}
		// RFC 5233 subaddress: user+detail@ reaches user@ (and its
		// aliases) before the catch-all does.
		if base := BaseAddress(addr); base != addr {
			if a, err = direct(base); a != nil || err != nil {
				return err
			}
		}
		di, err := getDomainInfo(tx, DomainOf(addr))
		if err == nil && di.CatchAll != "" {
			if id := addrs.Get([]byte(di.CatchAll)); id != nil {
				a, err = getAccount(tx, id)
				return err
			}
		}
		return fmt.Errorf("recipient %s: %w", addr, ErrNotFound)
	})
	if err != nil {
		return nil, err
	}
	a.Password = ""
	return a, nil
}

// BaseAddress drops an RFC 5233 subaddress: "user+detail@example.com"
// becomes "user@example.com". Other addresses come back unchanged.
func BaseAddress(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return addr
	}
	plus := strings.IndexByte(addr[:at], '+')
	if plus <= 0 {
		return addr
	}
	return addr[:plus] + addr[at:]
}

// DeleteAccount removes an account: its record and address, the aliases
// and catch-alls pointing at it, its support marks, then its account
// database and message files. The metadata goes first in one transaction,
// so a crash part-way leaves only unreferenced files, never an account
// without its mail. Sessions still holding the account's ID see its
// mailboxes vanish.
func (s *Store) DeleteAccount(ctx context.Context, address string) error {
	addr, err := NormalizeAddress(address)
	if err != nil {
		return err
	}
	var id uint64
	err = s.db.Update(func(tx *bolt.Tx) error {
		addrs := tx.Bucket(bucketAddrs)
		idb := addrs.Get([]byte(addr))
		if idb == nil {
			return fmt.Errorf("account %s: %w", addr, ErrNotFound)
		}
		id = bytesU64(idb)
		if err := tx.Bucket(bucketAccounts).Delete(idb); err != nil {
			return err
		}
		if err := addrs.Delete([]byte(addr)); err != nil {
			return err
		}
		support := tx.Bucket(bucketSupport)
		unmark := func(a string) error {
			if support == nil {
				return nil
			}
			return support.Delete([]byte(a))
		}
		if err := unmark(addr); err != nil {
			return err
		}
		if b := tx.Bucket(bucketAliases); b != nil {
			var gone []string
			err := b.ForEach(func(k, v []byte) error {
				var al Alias
				if err := json.Unmarshal(v, &al); err != nil {
					return err
				}
				if al.Target == addr {
					gone = append(gone, string(k))
				}
				return nil
			})
			if err != nil {
				return err
			}
			for _, k := range gone {
				if err := b.Delete([]byte(k)); err != nil {
					return err
				}
				if err := unmark(k); err != nil {
					return err
				}
			}
		}
		if b := tx.Bucket(bucketDomainInfo); b != nil {
			var changed []*DomainInfo
			err := b.ForEach(func(k, v []byte) error {
				var di DomainInfo
				if err := json.Unmarshal(v, &di); err != nil {
					return err
				}
				if di.CatchAll == addr {
					di.CatchAll = ""
					changed = append(changed, &di)
				}
				return nil
			})
			if err != nil {
				return err
			}
			for _, di := range changed {
				if err := putJSON(b, []byte(di.Domain), di); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.removeAccountFiles(id)
}

// removeAccountFiles closes an account's database if open and deletes it
// with the account's message files. Store.mu is not held during the I/O.
func (s *Store) removeAccountFiles(id uint64) error {
	for try := 0; try < 2; try++ {
		s.mu.Lock()
		a := s.accounts[id]
		delete(s.accounts, id)
		s.mu.Unlock()
		if a != nil {
			a.close()
		}
		path := filepath.Join(s.dir, "accounts", strconv.FormatUint(id, 10)+".db")
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("store: remove %s: %w", path, err)
		}
		if err := os.RemoveAll(filepath.Join(s.dir, "msg", strconv.FormatUint(id, 10))); err != nil {
			return fmt.Errorf("store: remove messages of account %d: %w", id, err)
		}
		// A session that looked the account up just before the delete may
		// have reopened its database meanwhile: close that one too.
		s.mu.Lock()
		_, reopened := s.accounts[id]
		s.mu.Unlock()
		if !reopened {
			break
		}
	}
	syncDir(filepath.Join(s.dir, "accounts"))
	return nil
}

// sortedAliasTargets groups aliases by target account, for listings.
func sortedAliasTargets(als []Alias) map[string][]string {
	m := map[string][]string{}
	for _, al := range als {
		m[al.Target] = append(m[al.Target], al.Address)
	}
	for _, v := range m {
		sort.Strings(v)
	}
	return m
}

// AliasesByTarget returns, for each account address, its aliases.
func (s *Store) AliasesByTarget(ctx context.Context) (map[string][]string, error) {
	als, err := s.Aliases(ctx)
	if err != nil {
		return nil, err
	}
	return sortedAliasTargets(als), nil
}

// Owns reports whether account may send as address: its own address or
// one of its aliases (a catch-all does not count).
func (s *Store) Owns(ctx context.Context, account *Account, address string) (bool, error) {
	addr, err := NormalizeAddress(address)
	if err != nil {
		return false, nil
	}
	if addr == account.Address {
		return true, nil
	}
	var owned bool
	err = s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAliases)
		if b == nil {
			return nil
		}
		v := b.Get([]byte(addr))
		if v == nil {
			return nil
		}
		var al Alias
		if err := json.Unmarshal(v, &al); err != nil {
			return err
		}
		owned = al.Target == account.Address
		return nil
	})
	return owned, err
}
