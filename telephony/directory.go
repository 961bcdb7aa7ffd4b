package telephony

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
)

// ContactDirectory classifies a caller by number. The ticket desk will
// provide one backed by its contacts; here are an in-memory one and a file.
type ContactDirectory interface {
	// Level returns the caller's level; unknown callers are LevelNew.
	Level(ctx context.Context, number string) (Level, error)
}

// NormalizeNumber strips visual separators from a phone number, keeping a
// leading "+", so "+1 (555) 010-0" and "+15550100" match.
func NormalizeNumber(n string) string {
	var b strings.Builder
	for i, r := range strings.TrimSpace(n) {
		if (r >= '0' && r <= '9') || (r == '+' && i == 0) || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// MemoryContacts is a ContactDirectory held in memory. Safe for concurrent use.
type MemoryContacts struct {
	mu sync.RWMutex
	m  map[string]Level // guarded by mu; keys normalized
}

// NewMemoryContacts returns a directory with the given number → level entries.
func NewMemoryContacts(m map[string]Level) *MemoryContacts {
	c := &MemoryContacts{m: map[string]Level{}}
	for n, l := range m {
		c.Set(n, l)
	}
	return c
}

// Set records the level of a number.
func (c *MemoryContacts) Set(number string, l Level) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[NormalizeNumber(number)] = l
}

// Level implements ContactDirectory.
func (c *MemoryContacts) Level(_ context.Context, number string) (Level, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if l, ok := c.m[NormalizeNumber(number)]; ok {
		return l, nil
	}
	return LevelNew, nil
}

// LoadContactsFile reads a contacts file: one "NUMBER LEVEL" per line,
// "#" comments and blank lines ignored, e.g. "+15550100 vip".
func LoadContactsFile(path string) (*MemoryContacts, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c := NewMemoryContacts(nil)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return nil, fmt.Errorf("%s:%d: want NUMBER LEVEL", path, n)
		}
		if NormalizeNumber(fields[0]) == "" {
			return nil, fmt.Errorf("%s:%d: %q is not a phone number", path, n, fields[0])
		}
		l, err := ParseLevel(fields[1])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		c.Set(fields[0], l)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Agent is a person who answers calls from a softphone.
type Agent struct {
	Address string   // Frontdesk account address; also the SIP digest username
	Skills  []string // queues' skills this agent takes
}

// HasSkill reports whether the agent takes calls for skill.
func (a Agent) HasSkill(skill string) bool { return slices.Contains(a.Skills, skill) }

// ErrUnknownAgent is returned for a SIP user that is not an agent.
var ErrUnknownAgent = errors.New("telephony: unknown agent")

// AgentDirectory authenticates and describes agents.
//
// SIP digest authentication (RFC 3261 section 22.4, RFC 2617) needs the
// password or H(A1) = MD5(username ":" realm ":" password) on the server,
// which a Frontdesk account's one-way password hash cannot give. So agents
// have a separate SIP password, set with `frontdesk agent add ADDRESS
// --skills ... --sip-password-stdin`; only its H(A1) for the configured realm
// is kept (the same trade-off Asterisk and Kamailio make). Changing the realm
// means setting the SIP passwords again.
type AgentDirectory interface {
	// Agent returns the agent with the given address, or ErrUnknownAgent.
	Agent(ctx context.Context, address string) (Agent, error)
	// DigestHA1 returns hex H(A1) for the agent in realm, or ErrUnknownAgent.
	DigestHA1(ctx context.Context, address, realm string) (string, error)
	// Agents lists all agents.
	Agents(ctx context.Context) ([]Agent, error)
}

// AgentWriter is implemented by directories that can store agents.
type AgentWriter interface {
	PutAgent(ctx context.Context, a Agent, ha1, realm string) error
}

// DigestHA1 computes hex MD5(user:realm:password), RFC 2617 section 3.2.2.2.
func DigestHA1(user, realm, password string) string {
	h := md5.Sum([]byte(user + ":" + realm + ":" + password))
	return hex.EncodeToString(h[:])
}

type agentEntry struct {
	Agent Agent
	HA1   string
	Realm string
}

// MemoryAgents is an AgentDirectory held in memory, for tests and for
// agents given in configuration. Safe for concurrent use.
type MemoryAgents struct {
	mu sync.RWMutex
	m  map[string]agentEntry // guarded by mu; by lower-case address
}

// NewMemoryAgents returns an empty directory.
func NewMemoryAgents() *MemoryAgents { return &MemoryAgents{m: map[string]agentEntry{}} }

// PutAgent implements AgentWriter.
func (d *MemoryAgents) PutAgent(_ context.Context, a Agent, ha1, realm string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	a.Address = strings.ToLower(a.Address)
	d.m[a.Address] = agentEntry{Agent: a, HA1: ha1, Realm: realm}
	return nil
}

// Agent implements AgentDirectory.
func (d *MemoryAgents) Agent(_ context.Context, address string) (Agent, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	e, ok := d.m[strings.ToLower(address)]
	if !ok {
		return Agent{}, ErrUnknownAgent
	}
	return e.Agent, nil
}

// DigestHA1 implements AgentDirectory.
func (d *MemoryAgents) DigestHA1(_ context.Context, address, realm string) (string, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	e, ok := d.m[strings.ToLower(address)]
	if !ok || e.Realm != realm {
		return "", ErrUnknownAgent
	}
	return e.HA1, nil
}

// Agents implements AgentDirectory.
func (d *MemoryAgents) Agents(context.Context) ([]Agent, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []Agent
	for _, e := range d.m {
		out = append(out, e.Agent)
	}
	slices.SortFunc(out, func(a, b Agent) int { return strings.Compare(a.Address, b.Address) })
	return out, nil
}
