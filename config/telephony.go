package config

import (
	"fmt"
	"net"
	"strconv"
	"time"
)

// Telephony configures the SIP hotline. With no hotline configured, the
// demo hotline 100 answers (1 sales, 2 support, 0 operator).
//
//	[telephony]
//	public_ip = "203.0.113.5"     # in SDP and Contact; default: the SIP listen address
//	rtp_port_min = 10000
//	rtp_port_max = 20000
//	contacts = "/etc/frontdesk/contacts.txt"   # "NUMBER LEVEL" lines: vip, regular, new
//
//	[[telephony.queue]]
//	name = "support"
//	max_wait = { vip = "30s", regular = "120s", new = "300s" }
//	ring_timeout = "15s"
//	record = true
//
//	[[telephony.hotline]]
//	number = "200"
//	operator_queue = "support"
//	[telephony.hotline.menu]
//	prompts = ["greeting", "menu"]
//	options = { "1" = { action = "queue", queue = "sales" }, "2" = { action = "queue", queue = "support" } }
//
//	[telephony.trunk]              # outbound callbacks; without it, none
//	proxy = "sip.example-itsp.net:5060"
//	username = "frontdesk"
//	password = "secret"
//	caller_id = "+15550100"
//	domain = "example-itsp.net"   # default: the proxy's host
//	ring_timeout = "30s"
//
//	[telephony.callbacks]          # queued "call me back" requests
//	max_attempts = 3
//	retry_interval = "5m"
type Telephony struct {
	PublicIP   string       `toml:"public_ip"`
	RTPPortMin int          `toml:"rtp_port_min"`
	RTPPortMax int          `toml:"rtp_port_max"`
	Contacts   string       `toml:"contacts"`
	Realm      string       `toml:"realm"`
	Queues     []SIPQueue   `toml:"queue"`
	Hotlines   []SIPHotline `toml:"hotline"`
	// Trunk is the SIP trunk callbacks are dialled through; nil: no
	// callbacks.
	Trunk *SIPTrunk `toml:"trunk"`
	// Callbacks tunes queued callbacks.
	Callbacks SIPCallbacks `toml:"callbacks"`
	// TCPIdleTimeout closes a SIP-over-TCP connection silent this long.
	// Default: 65m (an hour's registration and 5 minutes).
	TCPIdleTimeout Duration `toml:"tcp_idle_timeout"`
}

// SIPTrunk is an ITSP's SIP proxy that customers are dialled through
// (UDP).
type SIPTrunk struct {
	Proxy       string   `toml:"proxy"`        // host:port; port 5060 if left out. Required.
	Username    string   `toml:"username"`     // digest user; default: caller_id
	Password    string   `toml:"password"`     // digest password for 401/407 challenges
	CallerID    string   `toml:"caller_id"`    // number presented in From. Required.
	Domain      string   `toml:"domain"`       // Request-URI host; default: the proxy's host
	RingTimeout Duration `toml:"ring_timeout"` // how long the customer rings; default 30s
}

// SIPCallbacks tunes the callbacks callers ask for in the IVR.
type SIPCallbacks struct {
	MaxAttempts   int      `toml:"max_attempts"`   // calls to the customer before giving up; default 3
	RetryInterval Duration `toml:"retry_interval"` // between attempts; default 5m
}

// SIPQueue is one skill group's queue.
type SIPQueue struct {
	Name        string              `toml:"name"`
	Skill       string              `toml:"skill"`        // default: name
	MaxWait     map[string]Duration `toml:"max_wait"`     // per level: vip, regular, new
	RingTimeout Duration            `toml:"ring_timeout"` // default 15s
	WrapUp      Duration            `toml:"wrap_up"`      // default 0
	Record      bool                `toml:"record"`
}

// SIPHotline is a number and its menu tree.
type SIPHotline struct {
	Number        string   `toml:"number"`
	OperatorQueue string   `toml:"operator_queue"`
	Menu          *SIPMenu `toml:"menu"`
}

// SIPMenu is one level of a menu.
type SIPMenu struct {
	Prompts      []string                 `toml:"prompts"`
	Options      map[string]SIPMenuOption `toml:"options"`
	DigitTimeout Duration                 `toml:"digit_timeout"` // default 5s
	MaxRetries   int                      `toml:"max_retries"`   // default 3
	Fallback     *SIPMenuOption           `toml:"fallback"`      // default: operator
}

// SIPMenuOption is what a key does: action queue, submenu, voicemail,
// repeat, operator or hangup.
type SIPMenuOption struct {
	Action string   `toml:"action"`
	Queue  string   `toml:"queue"`
	Menu   *SIPMenu `toml:"menu"`
}

func (t *Telephony) validate() error {
	if t.Trunk != nil {
		if err := t.Trunk.validate(); err != nil {
			return fmt.Errorf("telephony.trunk: %w", err)
		}
	}
	if t.Callbacks.MaxAttempts < 0 || t.Callbacks.MaxAttempts > 20 {
		return fmt.Errorf("telephony.callbacks.max_attempts: %d is not in 0-20", t.Callbacks.MaxAttempts)
	}
	if t.Callbacks.RetryInterval.Duration < 0 {
		return fmt.Errorf("telephony.callbacks.retry_interval: negative")
	}
	queues := map[string]bool{}
	for _, q := range t.Queues {
		if q.Name == "" {
			return fmt.Errorf("telephony.queue: a queue needs a name")
		}
		queues[q.Name] = true
	}
	for _, h := range t.Hotlines {
		if h.Number == "" || h.Menu == nil {
			return fmt.Errorf("telephony.hotline: number and menu are required")
		}
		if err := h.Menu.validate(queues, 0); err != nil {
			return fmt.Errorf("telephony.hotline %s: %w", h.Number, err)
		}
	}
	return nil
}

func (m *SIPMenu) validate(queues map[string]bool, depth int) error {
	if depth > 8 {
		return fmt.Errorf("menus nested too deep")
	}
	opts := []SIPMenuOption{}
	for key, o := range m.Options {
		if len(key) != 1 || !(key[0] >= '0' && key[0] <= '9' || key[0] == '*' || key[0] == '#') {
			return fmt.Errorf("key %q: want one of 0-9, * and #", key)
		}
		opts = append(opts, o)
	}
	if m.Fallback != nil {
		opts = append(opts, *m.Fallback)
	}
	for _, o := range opts {
		switch o.Action {
		case "queue":
			if len(queues) > 0 && !queues[o.Queue] {
				return fmt.Errorf("queue %q is not configured", o.Queue)
			}
		case "submenu":
			if o.Menu == nil {
				return fmt.Errorf("submenu without a menu")
			}
			if err := o.Menu.validate(queues, depth+1); err != nil {
				return err
			}
		case "voicemail", "repeat", "operator", "hangup":
		default:
			return fmt.Errorf("action %q: want queue, submenu, voicemail, repeat, operator or hangup", o.Action)
		}
	}
	return nil
}

// validate checks the trunk and fills its defaults: port 5060, the
// username from caller_id, the domain from the proxy, ring_timeout 30s.
func (t *SIPTrunk) validate() error {
	if t.Proxy == "" {
		return fmt.Errorf("proxy is required")
	}
	host, port, err := net.SplitHostPort(t.Proxy)
	if err != nil {
		// No port given: the SIP default (RFC 3261 section 19.1.2).
		host, port = t.Proxy, "5060"
		t.Proxy = net.JoinHostPort(host, port)
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 || host == "" {
		return fmt.Errorf("proxy %q: want host:port", t.Proxy)
	}
	if t.CallerID == "" {
		return fmt.Errorf("caller_id is required")
	}
	for _, c := range t.CallerID {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '+' || c == '-' || c == '.' || c == '_' || c == '*') {
			return fmt.Errorf("caller_id %q: want a number or SIP user name", t.CallerID)
		}
	}
	if t.Username == "" {
		t.Username = t.CallerID
	}
	if t.Domain == "" {
		t.Domain = host
	}
	if t.RingTimeout.Duration < 0 {
		return fmt.Errorf("ring_timeout: negative")
	}
	if t.RingTimeout.Duration == 0 {
		t.RingTimeout.Duration = 30 * time.Second
	}
	return nil
}
