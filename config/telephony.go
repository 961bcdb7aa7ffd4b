package config

import "fmt"

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
type Telephony struct {
	PublicIP   string       `toml:"public_ip"`
	RTPPortMin int          `toml:"rtp_port_min"`
	RTPPortMax int          `toml:"rtp_port_max"`
	Contacts   string       `toml:"contacts"`
	Realm      string       `toml:"realm"`
	Queues     []SIPQueue   `toml:"queue"`
	Hotlines   []SIPHotline `toml:"hotline"`
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
