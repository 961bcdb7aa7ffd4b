package config

import (
	"errors"
	"fmt"
	"time"
)

// Timeouts and connection limits. Each protocol section bounds how long a
// client may stay silent and how many connections one address and all
// clients together may hold; a zero value takes the default noted.
// Limits count the client's address as the PROXY header gives it, and
// apply to loopback as to anyone.

// SMTP tunes the MX and submission listeners.
type SMTP struct {
	// CommandTimeout bounds each wait for the client: a command, or one
	// read of a DATA block (RFC 5321 §4.5.3.2.7). Default: 5m.
	CommandTimeout Duration `toml:"command_timeout"`
	// DNSBudget bounds all DNS lookups (SPF, DKIM, DMARC) of one message
	// together. Default: 30s.
	DNSBudget Duration `toml:"dns_budget"`
	// OnDNSTempError says what the MX does when a DNS failure may have
	// changed the verdict: "defer" answers 451 4.7.0 and the sender
	// retries (default), "accept" delivers with temperror in
	// Authentication-Results (and to Junk what DMARC would have refused).
	OnDNSTempError string `toml:"on_dns_temperror"`
	// MaxConnections bounds connections per listener kind (MX;
	// submission with submissions). Default: 1000.
	MaxConnections int `toml:"max_connections"`
	// MaxConnectionsPerIP bounds connections from one client address per
	// listener kind. Default: 50 (Postfix's smtpd_client_connection_count_limit).
	MaxConnectionsPerIP int `toml:"max_connections_per_ip"`
}

// IMAP tunes the IMAP listeners (imap with imaps).
type IMAP struct {
	// LoginTimeout bounds each wait for a command before login. Default: 1m.
	LoginTimeout Duration `toml:"login_timeout"`
	// Autologout is how long a logged-in client may be silent between
	// commands, and during IDLE, before * BYE; RFC 9051 §5.4 asks for at
	// least 30 minutes, and RFC 2177 clients re-IDLE every 29. Default: 30m.
	Autologout Duration `toml:"autologout"`
	// MaxConnections bounds connections in total. Default: 1000.
	MaxConnections int `toml:"max_connections"`
	// MaxConnectionsPerIP bounds connections from one address. Default:
	// 200, so an office behind one NAT address is not shut out: 40 mail
	// clients holding Thunderbird's 5 connections each.
	MaxConnectionsPerIP int `toml:"max_connections_per_ip"`
}

// HTTP tunes the web console listeners (http with https).
type HTTP struct {
	// ReadHeaderTimeout bounds reading a request's header. Default: 10s.
	ReadHeaderTimeout Duration `toml:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request. Default: 1m.
	ReadTimeout Duration `toml:"read_timeout"`
	// WriteTimeout bounds writing a response; live-update streams lift
	// it for themselves. Default: 2m.
	WriteTimeout Duration `toml:"write_timeout"`
	// IdleTimeout closes a keep-alive connection silent this long. Default: 2m.
	IdleTimeout Duration `toml:"idle_timeout"`
	// MaxConnections bounds connections in total. Default: 1000.
	MaxConnections int `toml:"max_connections"`
	// MaxConnectionsPerIP bounds connections from one address. Default:
	// 200 (an office behind one NAT address: each browser tab holds a
	// live-update stream beside its keep-alive connections).
	MaxConnectionsPerIP int `toml:"max_connections_per_ip"`
}

// The defaults of the sections above.
const (
	DefaultSMTPCommandTimeout = 5 * time.Minute
	DefaultDNSBudget          = 30 * time.Second
	DefaultDNSTimeout         = 3 * time.Second
	DefaultIMAPLoginTimeout   = time.Minute
	DefaultIMAPAutologout     = 30 * time.Minute
	DefaultMaxConnections     = 1000
	DefaultSMTPPerIP          = 50
	DefaultIMAPPerIP          = 200
	DefaultHTTPPerIP          = 200
)

// Values of SMTP.OnDNSTempError.
const (
	DNSTempErrorDefer  = "defer"
	DNSTempErrorAccept = "accept"
)

// limitDefaults fills zero fields of the limit sections.
func (c *Config) limitDefaults() {
	or := func(d *Duration, v time.Duration) {
		if d.Duration == 0 {
			d.Duration = v
		}
	}
	ori := func(n *int, v int) {
		if *n == 0 {
			*n = v
		}
	}
	or(&c.DNSTimeout, DefaultDNSTimeout)
	or(&c.SMTP.CommandTimeout, DefaultSMTPCommandTimeout)
	or(&c.SMTP.DNSBudget, DefaultDNSBudget)
	if c.SMTP.OnDNSTempError == "" {
		c.SMTP.OnDNSTempError = DNSTempErrorDefer
	}
	ori(&c.SMTP.MaxConnections, DefaultMaxConnections)
	ori(&c.SMTP.MaxConnectionsPerIP, DefaultSMTPPerIP)
	or(&c.IMAP.LoginTimeout, DefaultIMAPLoginTimeout)
	or(&c.IMAP.Autologout, DefaultIMAPAutologout)
	ori(&c.IMAP.MaxConnections, DefaultMaxConnections)
	ori(&c.IMAP.MaxConnectionsPerIP, DefaultIMAPPerIP)
	or(&c.HTTP.ReadHeaderTimeout, 10*time.Second)
	or(&c.HTTP.ReadTimeout, time.Minute)
	or(&c.HTTP.WriteTimeout, 2*time.Minute)
	or(&c.HTTP.IdleTimeout, 2*time.Minute)
	ori(&c.HTTP.MaxConnections, DefaultMaxConnections)
	ori(&c.HTTP.MaxConnectionsPerIP, DefaultHTTPPerIP)
}

func (c *Config) validateLimits() error {
	var errs []error
	if v := c.SMTP.OnDNSTempError; v != DNSTempErrorDefer && v != DNSTempErrorAccept {
		errs = append(errs, fmt.Errorf("smtp.on_dns_temperror: %q is neither %q nor %q", v, DNSTempErrorDefer, DNSTempErrorAccept))
	}
	for name, n := range map[string]int{
		"smtp.max_connections": c.SMTP.MaxConnections, "smtp.max_connections_per_ip": c.SMTP.MaxConnectionsPerIP,
		"imap.max_connections": c.IMAP.MaxConnections, "imap.max_connections_per_ip": c.IMAP.MaxConnectionsPerIP,
		"http.max_connections": c.HTTP.MaxConnections, "http.max_connections_per_ip": c.HTTP.MaxConnectionsPerIP,
	} {
		if n < 0 {
			errs = append(errs, fmt.Errorf("%s: %d must be positive", name, n))
		}
	}
	return errors.Join(errs...)
}
