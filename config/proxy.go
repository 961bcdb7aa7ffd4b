package config

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// ProxyListeners are the listeners that can take a PROXY protocol header.
var ProxyListeners = []string{"smtp", "submission", "submissions", "imap", "imaps", "http", "https"}

// Proxy says which peers may speak for a client: load balancers that put
// a PROXY protocol header (HAProxy's, v1 or v2) in front of a connection,
// and test hosts that may use Postfix's XCLIENT on the MX.
type Proxy struct {
	// TrustedProxies are the networks (CIDR, or a single address) of the
	// balancers. On the listeners named in ProxyProtocol, a peer in these
	// networks must begin with a header and is then taken to be the
	// client it names; any other peer is a direct client and is cut off
	// if it sends a header. Default: none.
	TrustedProxies []string `toml:"trusted_proxies"`
	// ProxyProtocol names the listeners that expect headers: any of smtp,
	// submission, submissions, imap, imaps, http, https. Default: none.
	ProxyProtocol []string `toml:"proxy_protocol"`
	// HeaderTimeout bounds the wait for a trusted peer's header. Default: 5s.
	HeaderTimeout Duration `toml:"header_timeout"`
	// XClientHosts are the networks allowed to use XCLIENT on the MX to
	// say which client they test as (address, name, HELO, protocol).
	// Nobody else sees it advertised, and it gets 550 5.7.0. Default: none.
	XClientHosts []string `toml:"xclient_hosts"`
}

// ParsePrefixes reads CIDRs or single addresses; name is the key for errors.
func ParsePrefixes(name string, ss []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for _, s := range ss {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			if p != p.Masked() {
				errs = append(errs, fmt.Errorf("%s: %q has host bits set; did you mean %s?", name, s, p.Masked()))
				continue
			}
			out = append(out, netip.PrefixFrom(p.Addr().Unmap(), bitsUnmapped(p)))
			continue
		}
		if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		errs = append(errs, fmt.Errorf("%s: %q is not a network (CIDR such as 10.0.0.0/8) or an address", name, s))
	}
	return out, errors.Join(errs...)
}

// bitsUnmapped keeps an IPv4-mapped prefix meaningful once unmapped.
func bitsUnmapped(p netip.Prefix) int {
	if p.Addr().Is4In6() {
		return max(p.Bits()-96, 0)
	}
	return p.Bits()
}

func (p *Proxy) validate(l Listen) error {
	var errs []error
	if _, err := ParsePrefixes("proxy.trusted_proxies", p.TrustedProxies); err != nil {
		errs = append(errs, err)
	}
	if _, err := ParsePrefixes("proxy.xclient_hosts", p.XClientHosts); err != nil {
		errs = append(errs, err)
	}
	addr := map[string]string{"smtp": l.SMTP, "submission": l.Submission, "submissions": l.Submissions,
		"imap": l.IMAP, "imaps": l.IMAPS, "http": l.HTTP, "https": l.HTTPS}
	for _, name := range p.ProxyProtocol {
		switch {
		case !slices.Contains(ProxyListeners, name):
			errs = append(errs, fmt.Errorf("proxy.proxy_protocol: %q is not a listener that can take PROXY headers (one of %s)", name, strings.Join(ProxyListeners, ", ")))
		case addr[name] == "":
			errs = append(errs, fmt.Errorf("proxy.proxy_protocol: listener %q is not enabled (set listen.%s)", name, name))
		}
	}
	if len(p.ProxyProtocol) > 0 && len(p.TrustedProxies) == 0 {
		errs = append(errs, errors.New("proxy.proxy_protocol needs proxy.trusted_proxies: with no trusted balancer every header would be refused"))
	}
	return errors.Join(errs...)
}

// Uses reports whether the named listener takes PROXY headers.
func (p *Proxy) Uses(listener string) bool { return slices.Contains(p.ProxyProtocol, listener) }
