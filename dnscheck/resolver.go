// Package dnscheck owns Frontdesk's DNS: the one resolver every lookup goes
// through (MX, SPF, DKIM, DMARC, domain checks), and the records a domain
// needs.
package dnscheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Resolver asks one DNS server (or the system's) directly with miekg/dns,
// so tests can point every lookup at an in-process server, and so SERVFAIL
// and timeouts come back as temporary errors instead of hangs.
//
// Its methods mirror net.Resolver's and return *net.DNSError, so libraries
// that take a net.Resolver-like interface (SPF) use it as is.
type Resolver struct {
	servers []string
	timeout time.Duration
	tries   int
}

// DefaultTimeout bounds one query to one server.
const DefaultTimeout = 3 * time.Second

// NewResolver returns a resolver that asks server (host:port), or the
// servers of /etc/resolv.conf when server is empty.
func NewResolver(server string) (*Resolver, error) {
	r := &Resolver{timeout: DefaultTimeout, tries: 2}
	if server != "" {
		if _, _, err := net.SplitHostPort(server); err != nil {
			return nil, fmt.Errorf("dns server %q: want host:port", server)
		}
		r.servers = []string{server}
		return r, nil
	}
	conf, err := dns.ClientConfigFromFile("/etc/resolv.conf")
	if err != nil || len(conf.Servers) == 0 {
		r.servers = []string{"127.0.0.1:53"}
		return r, nil
	}
	for _, s := range conf.Servers {
		r.servers = append(r.servers, net.JoinHostPort(s, conf.Port))
	}
	return r, nil
}

// WithTimeout returns a copy of r with another per-query timeout (d <= 0
// keeps r's).
func (r *Resolver) WithTimeout(d time.Duration) *Resolver {
	c := *r
	if d > 0 {
		c.timeout = d
	}
	return &c
}

// Exchange sends one question and returns the answer section. NXDOMAIN and
// empty answers are *net.DNSError with IsNotFound; SERVFAIL, REFUSED and
// timeouts are IsTemporary.
func (r *Resolver) Exchange(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	fqdn := dns.Fqdn(name)
	m := new(dns.Msg)
	m.SetQuestion(fqdn, qtype)
	m.RecursionDesired = true
	m.SetEdns0(4096, false)
	dnsErr := func(msg string, notFound, temporary, timeout bool) error {
		return &net.DNSError{Err: msg, Name: strings.TrimSuffix(fqdn, "."), Server: r.servers[0],
			IsNotFound: notFound, IsTemporary: temporary, IsTimeout: timeout}
	}
	var lastErr error
	for try := 0; try < r.tries; try++ {
		for _, server := range r.servers {
			if err := ctx.Err(); err != nil {
				return nil, dnsErr(err.Error(), false, true, true)
			}
			c := &dns.Client{Net: "udp", Timeout: r.timeout}
			in, _, err := c.ExchangeContext(ctx, m, server)
			if err == nil && in.Truncated {
				c.Net = "tcp"
				in, _, err = c.ExchangeContext(ctx, m, server)
			}
			if err != nil {
				var ne net.Error
				lastErr = dnsErr(err.Error(), false, true, errors.As(err, &ne) && ne.Timeout())
				continue
			}
			switch in.Rcode {
			case dns.RcodeSuccess:
			case dns.RcodeNameError:
				return nil, dnsErr("no such host", true, false, false)
			default:
				lastErr = dnsErr("server answered "+dns.RcodeToString[in.Rcode], false, true, false)
				continue
			}
			var out []dns.RR
			for _, rr := range in.Answer {
				if rr.Header().Rrtype == qtype {
					out = append(out, rr)
				}
			}
			if len(out) == 0 {
				return nil, dnsErr("no such record", true, false, false)
			}
			return out, nil
		}
	}
	return nil, lastErr
}

// LookupTXT returns the TXT records of name, each with its strings joined
// (RFC 7208 §3.3, RFC 6376 §3.6.2.2).
func (r *Resolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	rrs, err := r.Exchange(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		var b strings.Builder
		for _, s := range rr.(*dns.TXT).Txt {
			b.WriteString(unescapeTXT(s))
		}
		out = append(out, b.String())
	}
	return out, nil
}

// unescapeTXT turns miekg/dns's presentation form (\DDD, \X) back into
// the record's bytes.
func unescapeTXT(s string) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b = append(b, s[i])
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			b = append(b, (s[i+1]-'0')*100+(s[i+2]-'0')*10+(s[i+3]-'0'))
			i += 3
			continue
		}
		b = append(b, s[i+1])
		i++
	}
	return string(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// LookupMX returns the MX records of name, by preference.
func (r *Resolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	rrs, err := r.Exchange(ctx, name, dns.TypeMX)
	if err != nil {
		return nil, err
	}
	out := make([]*net.MX, 0, len(rrs))
	for _, rr := range rrs {
		mx := rr.(*dns.MX)
		out = append(out, &net.MX{Host: mx.Mx, Pref: mx.Preference})
	}
	sortMX(out)
	return out, nil
}

func sortMX(mxs []*net.MX) {
	for i := 1; i < len(mxs); i++ {
		for j := i; j > 0 && mxs[j].Pref < mxs[j-1].Pref; j-- {
			mxs[j], mxs[j-1] = mxs[j-1], mxs[j]
		}
	}
}

// LookupIPAddr returns the A and AAAA addresses of host. It fails only
// when both lookups fail; a temporary failure wins over not-found.
func (r *Resolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	if ip := net.ParseIP(host); ip != nil {
		return []net.IPAddr{{IP: ip}}, nil
	}
	var out []net.IPAddr
	var errs []error
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		rrs, err := r.Exchange(ctx, host, qt)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, rr := range rrs {
			switch v := rr.(type) {
			case *dns.A:
				out = append(out, net.IPAddr{IP: v.A})
			case *dns.AAAA:
				out = append(out, net.IPAddr{IP: v.AAAA})
			}
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	for _, err := range errs {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsTemporary {
			return nil, err
		}
	}
	return nil, errs[0]
}

// LookupAddr returns the PTR names of an IP address.
func (r *Resolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	rev, err := dns.ReverseAddr(addr)
	if err != nil {
		return nil, &net.DNSError{Err: err.Error(), Name: addr}
	}
	rrs, err := r.Exchange(ctx, rev, dns.TypePTR)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, rr.(*dns.PTR).Ptr)
	}
	return out, nil
}

// IsNotFound reports whether err means the name or record does not exist.
func IsNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// IsTemporary reports whether err is a failure worth retrying (SERVFAIL,
// timeout): SPF's and DMARC's temperror.
func IsTemporary(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && (de.IsTemporary || de.IsTimeout)
}
