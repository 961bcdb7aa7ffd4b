package store

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/mail"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/crypto/argon2"
)

// Role is what an account may do beyond reading its own mail.
type Role string

// The roles, from most to least powerful.
const (
	RoleAdmin      Role = "admin"
	RoleSupervisor Role = "supervisor"
	RoleAgent      Role = "agent"
	RoleUser       Role = "user"
)

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	switch r := Role(strings.ToLower(s)); r {
	case RoleAdmin, RoleSupervisor, RoleAgent, RoleUser:
		return r, nil
	case "":
		return RoleUser, nil
	}
	return "", fmt.Errorf("%w role %q (want admin, supervisor, agent or user)", ErrInvalid, s)
}

// Account is a mail user.
type Account struct {
	ID       uint64    `json:"id"`
	Address  string    `json:"address"`
	Role     Role      `json:"role"`
	Created  time.Time `json:"created"`
	Password string    `json:"password"` // argon2id PHC string, never shown
}

// NormalizeAddress lower-cases the domain, keeps the local part as given
// (RFC 5321 §2.4) but folds it to lower case for lookup, as users expect.
func NormalizeAddress(addr string) (string, error) {
	addr = strings.TrimSpace(addr)
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return "", fmt.Errorf("%w address %q: want local@domain", ErrInvalid, addr)
	}
	if _, err := mail.ParseAddress(addr); err != nil {
		return "", fmt.Errorf("%w address %q: %v", ErrInvalid, addr, err)
	}
	return strings.ToLower(addr[:at]) + "@" + NormalizeDomain(addr[at+1:]), nil
}

// DomainOf returns the domain part of a normalized address.
func DomainOf(addr string) string {
	return addr[strings.LastIndexByte(addr, '@')+1:]
}

// Special-use mailboxes made for every account (RFC 6154).
var defaultMailboxes = []struct{ name, use string }{
	{"INBOX", ""},
	{"Sent", `\Sent`},
	{"Drafts", `\Drafts`},
	{"Junk", `\Junk`},
	{"Trash", `\Trash`},
	{"Archive", `\Archive`},
}

// AddAccount creates an account in an existing local domain, with its
// special-use mailboxes.
func (s *Store) AddAccount(ctx context.Context, address, password string, role Role) (*Account, error) {
	addr, err := NormalizeAddress(address)
	if err != nil {
		return nil, err
	}
	if len(password) < 8 {
		return nil, fmt.Errorf("%w password: at least 8 characters", ErrInvalid)
	}
	if role == "" {
		role = RoleUser
	}
	a := &Account{Address: addr, Role: role, Created: time.Now().UTC(), Password: HashPassword(password)}
	err = s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketDomains).Get([]byte(DomainOf(addr))) == nil {
			return fmt.Errorf("domain %s is not a local domain (add it first): %w", DomainOf(addr), ErrNotFound)
		}
		addrs := tx.Bucket(bucketAddrs)
		if addrs.Get([]byte(addr)) != nil {
			return fmt.Errorf("account %s: %w", addr, ErrExists)
		}
		b := tx.Bucket(bucketAccounts)
		id, err := b.NextSequence()
		if err != nil {
			return err
		}
		a.ID = id
		if err := putJSON(b, u64(id), a); err != nil {
			return err
		}
		return addrs.Put([]byte(addr), u64(id))
	})
	if err != nil {
		return nil, err
	}
	acct, err := s.account(a.ID)
	if err != nil {
		return nil, err
	}
	for _, mb := range defaultMailboxes {
		if _, err := acct.createMailbox(mb.name, mb.use); err != nil {
			return nil, err
		}
		if err := s.SetSubscribed(ctx, a.ID, mb.name, true); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// Account looks an account up by address.
func (s *Store) Account(ctx context.Context, address string) (*Account, error) {
	addr, err := NormalizeAddress(address)
	if err != nil {
		return nil, err
	}
	var a *Account
	err = s.db.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketAddrs).Get([]byte(addr))
		if id == nil {
			return fmt.Errorf("account %s: %w", addr, ErrNotFound)
		}
		a, err = getAccount(tx, id)
		return err
	})
	return a, err
}

// AccountByID looks an account up by ID.
func (s *Store) AccountByID(ctx context.Context, id uint64) (*Account, error) {
	var a *Account
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		a, err = getAccount(tx, u64(id))
		return err
	})
	return a, err
}

func getAccount(tx *bolt.Tx, id []byte) (*Account, error) {
	v := tx.Bucket(bucketAccounts).Get(id)
	if v == nil {
		return nil, fmt.Errorf("account %d: %w", binary.BigEndian.Uint64(id), ErrNotFound)
	}
	var a Account
	if err := json.Unmarshal(v, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// Accounts lists every account in ID order.
func (s *Store) Accounts(ctx context.Context) ([]Account, error) {
	var out []Account
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAccounts).ForEach(func(k, v []byte) error {
			var a Account
			if err := json.Unmarshal(v, &a); err != nil {
				return err
			}
			a.Password = ""
			out = append(out, a)
			return nil
		})
	})
	return out, err
}

// SetPassword replaces an account's password.
func (s *Store) SetPassword(ctx context.Context, address, password string) error {
	if len(password) < 8 {
		return fmt.Errorf("%w password: at least 8 characters", ErrInvalid)
	}
	a, err := s.Account(ctx, address)
	if err != nil {
		return err
	}
	a.Password = HashPassword(password)
	return s.db.Update(func(tx *bolt.Tx) error {
		return putJSON(tx.Bucket(bucketAccounts), u64(a.ID), a)
	})
}

// Authenticate checks a password. Unknown users and wrong passwords give
// the same ErrAuthFailed, and take the same time. A password verified
// recently is recognized from memory (an HMAC under a per-process key,
// tied to the stored hash, so a password change ends it): mail clients log
// in again and again, and argon2id is slow on purpose.
func (s *Store) Authenticate(ctx context.Context, address, password string) (*Account, error) {
	a, err := s.Account(ctx, address)
	if err != nil {
		VerifyPassword(dummyHash, password)
		return nil, ErrAuthFailed
	}
	if s.logins.known(a, password) {
		return a, nil
	}
	if !VerifyPassword(a.Password, password) {
		return nil, ErrAuthFailed
	}
	s.logins.remember(a, password)
	return a, nil
}

// loginCache remembers passwords verified in the last loginCacheTTL.
type loginCache struct {
	once sync.Once
	key  []byte

	mu sync.Mutex
	m  map[string]loginEntry // guarded by mu; by address
}

type loginEntry struct {
	hash    string // the stored PHC hash the password was checked against
	mac     [32]byte
	expires time.Time
}

const (
	loginCacheTTL = 15 * time.Minute
	loginCacheMax = 10000
)

func (c *loginCache) mac(a *Account, password string) [32]byte {
	c.once.Do(func() {
		c.key = make([]byte, 32)
		rand.Read(c.key)
		c.m = map[string]loginEntry{}
	})
	h := hmac.New(sha256.New, c.key)
	h.Write([]byte(a.Address))
	h.Write([]byte{0})
	h.Write([]byte(password))
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

func (c *loginCache) known(a *Account, password string) bool {
	mac := c.mac(a, password)
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[a.Address]
	return ok && e.hash == a.Password && time.Now().Before(e.expires) && hmac.Equal(e.mac[:], mac[:])
}

func (c *loginCache) remember(a *Account, password string) {
	mac := c.mac(a, password)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= loginCacheMax {
		c.m = map[string]loginEntry{}
	}
	c.m[a.Address] = loginEntry{hash: a.Password, mac: mac, expires: time.Now().Add(loginCacheTTL)}
}

// argon2id parameters: the OWASP minimum (19 MiB, t=2), so a login costs
// tens of milliseconds and many parallel logins do not exhaust memory.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

var dummyHash = HashPassword("frontdesk-dummy-password")

// HashPassword returns an argon2id hash in the PHC string format.
func HashPassword(password string) string {
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// VerifyPassword checks a password against a PHC argon2id hash.
func VerifyPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}
