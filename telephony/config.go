package telephony

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"strings"
	"time"

	"frontdesk/store"
)

// Level is a caller's standing, looked up by caller number in the contact
// directory; it orders the queue and bounds the wait.
type Level string

// Contact levels, best first.
const (
	LevelVIP     Level = "vip"
	LevelRegular Level = "regular"
	LevelNew     Level = "new"
)

func (l Level) rank() int {
	switch l {
	case LevelVIP:
		return 0
	case LevelRegular:
		return 1
	}
	return 2
}

// ParseLevel accepts "vip", "regular" and "new".
func ParseLevel(s string) (Level, error) {
	switch l := Level(s); l {
	case LevelVIP, LevelRegular, LevelNew:
		return l, nil
	}
	return "", fmt.Errorf("telephony: unknown contact level %q (want vip, regular or new)", s)
}

// ActionKind is what a menu key does.
type ActionKind string

// Menu actions.
const (
	ActQueue     ActionKind = "queue"     // wait in Option.Queue
	ActSubmenu   ActionKind = "submenu"   // enter Option.Menu
	ActVoicemail ActionKind = "voicemail" // leave a message (for Option.Queue, if set)
	ActRepeat    ActionKind = "repeat"    // play the current menu again
	ActOperator  ActionKind = "operator"  // wait in the hotline's OperatorQueue
	ActHangup    ActionKind = "hangup"    // say goodbye and hang up
)

// Option is the target of one key.
type Option struct {
	Action ActionKind
	Queue  string // for ActQueue (and optionally ActVoicemail)
	Menu   *Menu  // for ActSubmenu
}

// Menu is one level of an IVR menu tree.
type Menu struct {
	// Prompts are played on entry, in order (names of prompt files without
	// ".wav"); a key pressed while they play interrupts them (barge-in).
	Prompts []string
	// RepeatPrompts are played after an invalid key, a timeout or "repeat".
	// Default: Prompts without a leading "greeting".
	RepeatPrompts []string
	// Options maps a key ("0"-"9", "*", "#") to what it does.
	Options map[string]Option
	// DigitTimeout is how long to wait for a key after the prompts. Default 5 s.
	DigitTimeout time.Duration
	// MaxRetries is how many invalid keys or timeouts are tolerated before
	// Fallback. Default 3.
	MaxRetries int
	// Fallback is taken after MaxRetries. Default: operator.
	Fallback Option
}

// Hotline is a number customers dial and the menu it answers with.
type Hotline struct {
	Number string // the dialled user part, e.g. "100"
	Menu   *Menu
	// OperatorQueue is where the operator action leads. Default: the first
	// queue configured.
	OperatorQueue string
}

// QueueConfig is one skill group's queue.
type QueueConfig struct {
	Name  string
	Skill string // default: Name
	// MaxWait per contact level; past it the caller is offered voicemail,
	// and a callback when a trunk is configured.
	// Defaults: vip 30 s, regular 120 s, new 300 s.
	MaxWait map[Level]time.Duration
	// RingTimeout is how long one agent rings before the next is tried.
	// Default 15 s.
	RingTimeout time.Duration
	// WrapUp is the agent's after-call time before being rung again. Default 0.
	WrapUp time.Duration
	// Record asks for answered calls to be recorded (both directions mixed).
	Record bool
}

// AccountChecker confirms that an agent address is a Frontdesk account;
// *store.Store satisfies it.
type AccountChecker interface {
	Account(ctx context.Context, address string) (*store.Account, error)
}

// Config configures a Server. Zero fields take the defaults documented on
// each field.
type Config struct {
	// Addr is the SIP listen address for UDP and TCP. Default 127.0.0.1:5060.
	// Port 0 picks free ports; Server.Addr tells which.
	Addr string
	// PublicIP goes into SDP c= lines and Contact headers. Default: the
	// listen IP (127.0.0.1 if it is unspecified).
	PublicIP net.IP
	// RTPPortMin and RTPPortMax bound the media ports. Default 10000-20000.
	RTPPortMin, RTPPortMax int
	// Hotlines are the numbers answered. Default: DemoHotline ("100").
	Hotlines []Hotline
	// Queues are the skill groups. Default: sales and support.
	Queues []QueueConfig
	// Contacts classifies callers. Default: everyone is LevelNew.
	Contacts ContactDirectory
	// Agents authenticates and describes agents. Default: the agent table
	// in DATA/telephony.db, filled by AddAgent.
	Agents AgentDirectory
	// Accounts, when set, makes AddAgent refuse addresses that are not
	// Frontdesk accounts.
	Accounts AccountChecker
	// Realm is the digest authentication realm (RFC 3261 section 22.1).
	// Default "frontdesk". Stored agent secrets are tied to it.
	Realm string
	// DataDir holds telephony.db, recordings/, keys/recordings.key and the
	// prompt overrides in prompts/<number>/<name>.wav. Required.
	DataDir string
	// Prompts is the default prompt set. Default: the embedded prompts.
	Prompts fs.FS
	// Logger receives the server's logs. Default: slog.Default().
	Logger *slog.Logger

	// MaxCalls bounds concurrent calls; INVITEs beyond it get 503. Default 100.
	MaxCalls int
	// MaxVoicemail bounds a voicemail recording. Default 2 minutes.
	MaxVoicemail time.Duration
	// WriteRetry is how often call records and recordings that a full
	// disk held back in memory are tried again. Default 10 s.
	WriteRetry time.Duration
	// RegisterMaxExpiry caps a registration's lifetime. Default 1 hour.
	RegisterMaxExpiry time.Duration
	// MediaTimeout hangs up a call that has received no RTP for this long.
	// Default 60 s.
	MediaTimeout time.Duration
	// TCPIdleTimeout closes a SIP-over-TCP connection silent this long.
	// Default RegisterMaxExpiry plus 5 minutes, so a registered agent's
	// re-REGISTER always comes first.
	TCPIdleTimeout time.Duration
	// HoldInterval is how often a waiting caller hears their position.
	// Default 20 s.
	HoldInterval time.Duration

	// Trunk is the SIP trunk outbound callbacks go through. Nil: no
	// callbacks (Server.Callback fails with ErrNoTrunk and callers past
	// their maximum wait are offered voicemail only).
	Trunk *TrunkConfig
	// Callbacks tunes the queued callbacks callers ask for in the IVR.
	Callbacks CallbackConfig
	// OnRecord, if set, is called after each call record is durably stored
	// (inbound calls, voicemail, abandoned calls and callbacks alike), with
	// the stored record (Seq set). It runs on the goroutine that ran the
	// call, concurrently for different calls, so it must be safe for
	// concurrent use; it must not block long, because the call's cleanup
	// and Server.Close wait for it. A panic in it is logged and recovered.
	OnRecord func(CallRecord)
}

// TrunkConfig is a SIP trunk (an ITSP's registrar/proxy) through which
// Frontdesk dials customers' numbers. Only UDP is used.
type TrunkConfig struct {
	// Proxy is the trunk's proxy as host:port (UDP); every outbound INVITE
	// is sent there (RFC 3261 section 8.1.2, an outbound proxy). Required.
	Proxy string
	// Username and Password answer the trunk's digest challenges (401 with
	// WWW-Authenticate or 407 with Proxy-Authenticate, RFC 3261 section
	// 22.2-22.3). Username defaults to CallerID.
	Username, Password string
	// CallerID is the user part presented in From, the number customers see.
	// Required.
	CallerID string
	// Domain is the host of the Request-URI (sip:NUMBER@Domain) and of
	// From. Default: the host of Proxy.
	Domain string
	// RingTimeout is how long the customer's phone rings before the
	// attempt counts as not answered. Default 30 s.
	RingTimeout time.Duration
}

// CallbackConfig tunes queued callbacks ("press 1 to be called back").
type CallbackConfig struct {
	// MaxAttempts is how many times a queued callback dials the customer
	// before it is given up (state "failed"). Default 3.
	MaxAttempts int
	// RetryInterval is the spacing between attempts at a customer who was
	// busy or did not answer. Default 5 minutes.
	RetryInterval time.Duration
	// AgentRetry is how long a queued callback waits before trying again
	// after the agent it rang did not answer (which uses no attempt).
	// Default 10 s.
	AgentRetry time.Duration
	// RingTimeout is how long the agent rings for a Callback without a
	// queue. Default 15 s (a queue's own RingTimeout otherwise).
	RingTimeout time.Duration
	// OfferTimeout is how long a caller past the maximum wait has to choose
	// between a callback (1) and a message (2); silence means a message.
	// Default 5 s.
	OfferTimeout time.Duration
}

func (c *Config) setDefaults() error {
	if c.DataDir == "" {
		return fmt.Errorf("telephony: Config.DataDir is required")
	}
	if c.Addr == "" {
		c.Addr = "127.0.0.1:5060"
	}
	if c.RTPPortMin == 0 && c.RTPPortMax == 0 {
		c.RTPPortMin, c.RTPPortMax = 10000, 20000
	}
	if c.RTPPortMin <= 0 || c.RTPPortMax < c.RTPPortMin+1 || c.RTPPortMax > 65535 {
		return fmt.Errorf("telephony: bad RTP port range %d-%d", c.RTPPortMin, c.RTPPortMax)
	}
	if len(c.Queues) == 0 {
		c.Queues = []QueueConfig{{Name: "sales"}, {Name: "support"}}
	}
	for i := range c.Queues {
		q := &c.Queues[i]
		if q.Skill == "" {
			q.Skill = q.Name
		}
		mw := map[Level]time.Duration{LevelVIP: 30 * time.Second, LevelRegular: 120 * time.Second, LevelNew: 300 * time.Second}
		for l, d := range q.MaxWait {
			mw[l] = d
		}
		q.MaxWait = mw
		if q.RingTimeout == 0 {
			q.RingTimeout = 15 * time.Second
		}
	}
	if len(c.Hotlines) == 0 {
		c.Hotlines = []Hotline{DemoHotline()}
	}
	queues := map[string]bool{}
	for _, q := range c.Queues {
		queues[q.Name] = true
	}
	for i := range c.Hotlines {
		h := &c.Hotlines[i]
		if h.OperatorQueue == "" {
			h.OperatorQueue = c.Queues[0].Name
		}
		if h.Menu == nil {
			return fmt.Errorf("telephony: hotline %s has no menu", h.Number)
		}
		if err := h.Menu.check(queues, 0); err != nil {
			return fmt.Errorf("telephony: hotline %s: %w", h.Number, err)
		}
	}
	if c.Realm == "" {
		c.Realm = "frontdesk"
	}
	if c.Contacts == nil {
		c.Contacts = NewMemoryContacts(nil)
	}
	if c.Prompts == nil {
		c.Prompts = DefaultPrompts()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxCalls == 0 {
		c.MaxCalls = 100
	}
	if c.MaxVoicemail == 0 {
		c.MaxVoicemail = 2 * time.Minute
	}
	if c.WriteRetry == 0 {
		c.WriteRetry = 10 * time.Second
	}
	if c.RegisterMaxExpiry == 0 {
		c.RegisterMaxExpiry = time.Hour
	}
	if c.TCPIdleTimeout <= 0 {
		c.TCPIdleTimeout = c.RegisterMaxExpiry + 5*time.Minute
	}
	if c.MediaTimeout == 0 {
		c.MediaTimeout = 60 * time.Second
	}
	if c.HoldInterval == 0 {
		c.HoldInterval = 20 * time.Second
	}
	if c.Trunk != nil {
		t := *c.Trunk // the caller's struct stays untouched
		if err := t.setDefaults(); err != nil {
			return err
		}
		c.Trunk = &t
	}
	cb := &c.Callbacks
	if cb.MaxAttempts <= 0 {
		cb.MaxAttempts = 3
	}
	if cb.RetryInterval <= 0 {
		cb.RetryInterval = 5 * time.Minute
	}
	if cb.AgentRetry <= 0 {
		cb.AgentRetry = 10 * time.Second
	}
	if cb.RingTimeout <= 0 {
		cb.RingTimeout = 15 * time.Second
	}
	if cb.OfferTimeout <= 0 {
		cb.OfferTimeout = 5 * time.Second
	}
	return nil
}

func (t *TrunkConfig) setDefaults() error {
	host, port, err := net.SplitHostPort(t.Proxy)
	if err != nil || host == "" || atoi(port) <= 0 || atoi(port) > 65535 {
		return fmt.Errorf("telephony: trunk proxy %q: want host:port", t.Proxy)
	}
	if !validNumber(t.CallerID) && !validUser(t.CallerID) {
		return fmt.Errorf("telephony: trunk caller ID %q: want a number or SIP user name", t.CallerID)
	}
	if t.Username == "" {
		t.Username = t.CallerID
	}
	if t.Domain == "" {
		t.Domain = host
	}
	if strings.ContainsAny(t.Domain, " <>;@\"\r\n") {
		return fmt.Errorf("telephony: trunk domain %q is not a host name", t.Domain)
	}
	if t.RingTimeout <= 0 {
		t.RingTimeout = 30 * time.Second
	}
	return nil
}

// validNumber accepts a dialable number: digits with an optional leading
// "+", and "*" for service codes; at most 32 characters. It keeps anything
// that could break a SIP URI out of the Request-URIs we build ("#" would
// need escaping in a user part, RFC 3261 section 25.1, so it is refused).
func validNumber(n string) bool {
	if n == "" || len(n) > 32 {
		return false
	}
	digits := 0
	for i, c := range n {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '+' && i == 0, c == '*':
		default:
			return false
		}
	}
	return digits > 0
}

// validUser accepts a plain SIP user name (letters, digits, "-._").
func validUser(u string) bool {
	if u == "" || len(u) > 64 {
		return false
	}
	for _, c := range u {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// check fills menu defaults and validates queue names, depth-first.
func (m *Menu) check(queues map[string]bool, depth int) error {
	if depth > 16 {
		return fmt.Errorf("menu tree deeper than 16 levels")
	}
	if m.DigitTimeout == 0 {
		m.DigitTimeout = 5 * time.Second
	}
	if m.MaxRetries == 0 {
		m.MaxRetries = 3
	}
	if m.Fallback.Action == "" {
		m.Fallback = Option{Action: ActOperator}
	}
	if m.RepeatPrompts == nil {
		m.RepeatPrompts = m.Prompts
		if len(m.Prompts) > 0 && m.Prompts[0] == "greeting" {
			m.RepeatPrompts = m.Prompts[1:]
		}
	}
	opts := []Option{m.Fallback}
	for k, o := range m.Options {
		if len(k) != 1 || !containsRune(dtmfEvents, rune(k[0])) {
			return fmt.Errorf("menu key %q is not a DTMF key", k)
		}
		opts = append(opts, o)
	}
	for _, o := range opts {
		switch o.Action {
		case ActQueue:
			if !queues[o.Queue] {
				return fmt.Errorf("unknown queue %q", o.Queue)
			}
		case ActSubmenu:
			if o.Menu == nil {
				return fmt.Errorf("submenu without a menu")
			}
			if err := o.Menu.check(queues, depth+1); err != nil {
				return err
			}
		case ActVoicemail, ActRepeat, ActOperator, ActHangup:
		default:
			return fmt.Errorf("unknown menu action %q", o.Action)
		}
	}
	return nil
}

func containsRune(s string, r rune) bool {
	for _, c := range s {
		if c == r {
			return true
		}
	}
	return false
}

// DemoHotline is what a fresh install answers: number 100, a greeting and
// a menu with 1 sales, 2 support and 0 operator.
func DemoHotline() Hotline {
	return Hotline{
		Number: "100",
		Menu: &Menu{
			Prompts: []string{"greeting", "menu"},
			Options: map[string]Option{
				"1": {Action: ActQueue, Queue: "sales"},
				"2": {Action: ActQueue, Queue: "support"},
				"0": {Action: ActOperator},
				"9": {Action: ActVoicemail},
				"*": {Action: ActRepeat},
			},
		},
		OperatorQueue: "support",
	}
}
