// Package config holds Frontdesk's settings: defaults for a first run on
// loopback, overridden by a TOML file, overridden by command-line flags.
package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is the whole configuration of one server. Every field documents
// its default; a zero value means "use the default" after Defaults.
type Config struct {
	// Hostname names this server in SMTP greetings, Received headers and
	// certificates. Default: the machine's host name, or "localhost".
	Hostname string `toml:"hostname"`
	// Data is the data directory. Default: ./data.
	Data string `toml:"data"`
	// DNS is a resolver address (host:port) used for every DNS lookup.
	// Default: the system's resolvers.
	DNS string `toml:"dns"`
	// DNSTimeout bounds one DNS query to one server (each is tried
	// twice). Default: 3s.
	DNSTimeout Duration `toml:"dns_timeout"`
	// OutboundPort is the port of remote MX hosts. Default: 25.
	OutboundPort int `toml:"outbound_port"`
	// MaxMessageSize is the largest message accepted, in bytes. Default: 50 MiB.
	MaxMessageSize int64 `toml:"max_message_size"`

	Listen Listen `toml:"listen"`
	TLS    TLS    `toml:"tls"`
	ACME   ACME   `toml:"acme"`
	Queue  Queue  `toml:"queue"`
	// Telephony configures the SIP hotline (see Telephony).
	Telephony Telephony `toml:"telephony"`
	// Tickets configures the ticket desk (see Tickets).
	Tickets Tickets `toml:"tickets"`
	// Proxy configures PROXY protocol and XCLIENT (see Proxy).
	Proxy Proxy `toml:"proxy"`
	// Log configures the server's log (see Log).
	Log Log `toml:"log"`
	// SMTP, IMAP and HTTP set timeouts and connection limits (limits.go).
	SMTP SMTP `toml:"smtp"`
	IMAP IMAP `toml:"imap"`
	HTTP HTTP `toml:"http"`
}

// Queue tunes outbound delivery.
type Queue struct {
	// Retry is the back-off schedule between attempts; the last step
	// repeats. Default: 1m 5m 15m 30m 1h 2h 4h.
	Retry []Duration `toml:"retry"`
	// MaxAge is how long a message is retried before it bounces. Default: 120h.
	MaxAge Duration `toml:"max_age"`
}

// Duration is a time.Duration written as "90s" or "4h" in the file.
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	if v <= 0 {
		return fmt.Errorf("duration %q must be positive", b)
	}
	d.Duration = v
	return nil
}

// Durations returns the plain values.
func Durations(ds []Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Duration
	}
	return out
}

// Listen holds the listening addresses; an empty string disables a service.
// With no config file, every service listens on loopback only.
type Listen struct {
	SMTP        string `toml:"smtp"`        // inbound MX. Default 127.0.0.1:2525; in production :25.
	Submission  string `toml:"submission"`  // STARTTLS submission. Default 127.0.0.1:2587; production :587.
	Submissions string `toml:"submissions"` // implicit-TLS submission. Default off; production :465.
	IMAP        string `toml:"imap"`        // Default 127.0.0.1:2143; production :143.
	IMAPS       string `toml:"imaps"`       // implicit-TLS IMAP. Default off; production :993.
	HTTP        string `toml:"http"`        // web console. Default 127.0.0.1:8080; production :80.
	HTTPS       string `toml:"https"`       // web console over TLS. Default off; production :443.
	SIP         string `toml:"sip"`         // SIP (UDP and TCP). Default 127.0.0.1:5060.
}

// TLS names certificate files. Default: a self-signed certificate made on
// first start in DATA/tls.
type TLS struct {
	Cert string `toml:"cert"`
	Key  string `toml:"key"`
}

// ACME gets certificates from a CA (RFC 8555) for SMTP STARTTLS, IMAPS
// and HTTPS; it is on when Hosts is set, and needs port 80 (listen.http)
// reachable for the HTTP-01 challenge or port 443 (listen.https) for
// TLS-ALPN-01.
type ACME struct {
	// Directory is the CA's directory URL. Default: Let's Encrypt.
	Directory string `toml:"directory"`
	// Email is the contact the CA writes to about the certificates.
	Email string `toml:"email"`
	// Hosts are the names to certify: the mail host first, then the web
	// host and mta-sts.DOMAIN for each domain.
	Hosts []string `toml:"hosts"`
	// CA is a PEM file of extra roots to trust when talking to the CA
	// (a private CA). Default: the system's.
	CA string `toml:"ca"`
}

// Defaults returns the configuration of a fresh install: loopback only.
func Defaults() Config {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return Config{
		Hostname:       host,
		Data:           "data",
		OutboundPort:   25,
		MaxMessageSize: 50 << 20,
		Listen: Listen{
			SMTP:       "127.0.0.1:2525",
			Submission: "127.0.0.1:2587",
			IMAP:       "127.0.0.1:2143",
			HTTP:       "127.0.0.1:8080",
			SIP:        "127.0.0.1:5060",
		},
	}
}

// Load reads a TOML file over the defaults. Unknown keys are an error, so
// a typo never silently falls back to a default.
func Load(path string) (Config, error) {
	c := Defaults()
	md, err := toml.DecodeFile(path, &c)
	if err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return c, fmt.Errorf("config %s: unknown key %q", path, und[0].String())
	}
	err = c.Validate() // fills defaults: before c is copied out
	return c, err
}

// Validate checks addresses and sizes.
func (c *Config) Validate() error {
	c.limitDefaults()
	var errs []error
	if err := c.validateLimits(); err != nil {
		errs = append(errs, err)
	}
	for name, addr := range map[string]string{
		"listen.smtp": c.Listen.SMTP, "listen.submission": c.Listen.Submission, "listen.submissions": c.Listen.Submissions,
		"listen.imap": c.Listen.IMAP, "listen.imaps": c.Listen.IMAPS, "listen.http": c.Listen.HTTP, "listen.https": c.Listen.HTTPS,
		"listen.sip": c.Listen.SIP, "dns": c.DNS,
	} {
		if addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not host:port", name, addr))
		}
	}
	if err := c.Tickets.validate(); err != nil {
		errs = append(errs, err)
	}
	if c.MaxMessageSize < 1024 {
		errs = append(errs, fmt.Errorf("max_message_size: %d is too small", c.MaxMessageSize))
	}
	if c.OutboundPort <= 0 || c.OutboundPort > 65535 {
		errs = append(errs, fmt.Errorf("outbound_port: %d is not a port", c.OutboundPort))
	}
	if err := c.Proxy.validate(c.Listen); err != nil {
		errs = append(errs, err)
	}
	if err := c.Telephony.validate(); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.Log.SlogLevel(); err != nil {
		errs = append(errs, err)
	}
	if len(c.ACME.Hosts) > 0 && c.TLS.Cert != "" {
		errs = append(errs, errors.New("acme and tls.cert exclude each other: choose one source of certificates"))
	}
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		errs = append(errs, errors.New("tls: cert and key go together"))
	}
	return errors.Join(errs...)
}
