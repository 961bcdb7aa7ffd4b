package spf

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"frontdesk/dnscheck"
)

// The library evaluates records, counts lookups (§4.6.4) and matches
// addresses, and is right at that; three things it gets wrong are fixed
// here by rewriting each record before the library sees it:
//
//   - its a/mx parser takes the domain-spec as [^/]+, while a
//     macro-literal may be any visible character but "%" (§7.1): only the
//     trailing dual-cidr-length (§5.6) is not part of it;
//   - it expands %{p} as "unknown" instead of the validated name (§7.3);
//   - exists asks for A and AAAA records, where §5.7 says A only.
//
// Every domain-spec of a, mx, exists, include and redirect is replaced by
// a placeholder name, unique to the check, that our resolver resolves to
// the spec expanded by our macro code (with the <domain> of the record it
// came from), when and only when the library looks it up. So the library
// still counts each term once, counts void lookups and caps MX names, on
// the real answers.

// target is one domain-spec behind a placeholder.
type target struct {
	spec   string // the domain-spec as written
	domain string // the <domain> of the record holding it (for %{d})
	aOnly  bool   // exists: A records only (§5.7)
}

// placeholder returns the name standing for target i.
func (t *tracking) placeholder(i int) string {
	return "t" + strconv.Itoa(i) + "." + t.token + ".invalid"
}

// lookupTarget returns the target a placeholder name stands for.
func (t *tracking) lookupTarget(name string) (*target, bool) {
	n := strings.ToLower(strings.TrimSuffix(name, "."))
	rest, ok := strings.CutSuffix(n, "."+t.token+".invalid")
	if !ok || t.token == "" || !strings.HasPrefix(rest, "t") {
		return nil, false
	}
	i, err := strconv.Atoi(rest[1:])
	if err != nil || i < 0 || i >= len(t.targets) {
		return nil, false
	}
	return t.targets[i], true
}

// resolve maps name to the name to query: itself, or the expansion of the
// domain-spec it stands for.
func (t *tracking) resolve(ctx context.Context, name string) (string, *target, error) {
	tg, ok := t.lookupTarget(name)
	if !ok {
		return name, nil, nil
	}
	env := t.env(ctx, tg.domain)
	s, err := env.expand(tg.spec, false)
	if err != nil {
		return "", tg, &net.DNSError{Err: err.Error(), Name: tg.spec, IsNotFound: true}
	}
	s = strings.TrimSuffix(truncateName(s), ".")
	if err := checkTargetName(s); err != nil || s == "" {
		// §4.8: a name that cannot be queried does not exist.
		return "", tg, &net.DNSError{Err: "not a valid domain name", Name: s, IsNotFound: true}
	}
	return s, tg, nil
}

// env is the macro environment of the record of domain.
func (t *tracking) env(ctx context.Context, domain string) macroEnv {
	return macroEnv{sender: t.sender, domain: domain, ip: t.ip, helo: t.helo, now: time.Now(),
		ptr: func() string { return t.validatedName(ctx, domain) }}
}

// validatedName is %{p} for the record of domain: the PTR query and the
// address checks are made once per check_host() (§4.6.4 bounds them to one
// PTR query and 10 names).
func (t *tracking) validatedName(ctx context.Context, domain string) string {
	if t.validated == nil {
		t.validated = validNames(ctx, t.r, t.ip)
	}
	return pickName(t.validated, domain)
}

// newToken returns the per-check label of placeholder names, so that no
// record can name another check's targets or guess ours.
func newToken() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "fd-" + hex.EncodeToString(b)
}

// rewrite returns rec, the SPF record of domain, with the domain-specs of
// a, mx, exists, include and redirect replaced by placeholders. asked is
// the name the library asked for, which it takes as <domain>: when it is
// itself a placeholder, a bare ptr gets the real domain written out, since
// the library compares PTR names with it instead of looking it up.
func (t *tracking) rewrite(ctx context.Context, rec, domain, asked string) string {
	terms := strings.Split(rec, " ")
	for i, term := range terms {
		if i == 0 || term == "" {
			continue // the version
		}
		terms[i] = t.rewriteTerm(ctx, term, domain, asked != domain)
	}
	return strings.Join(terms, " ")
}

func (t *tracking) rewriteTerm(ctx context.Context, term, domain string, askedPlaceholder bool) string {
	add := func(spec string, aOnly bool) string {
		t.targets = append(t.targets, &target{spec: spec, domain: domain, aOnly: aOnly})
		return t.placeholder(len(t.targets) - 1)
	}
	if m := modifierName.FindString(term); m != "" {
		if strings.EqualFold(m, "redirect=") && term != m {
			return m + add(term[len(m):], false)
		}
		return term
	}
	qual := ""
	if strings.ContainsRune("+-?~", rune(term[0])) {
		qual, term = term[:1], term[1:]
	}
	name, arg := term, ""
	if i := strings.IndexAny(term, ":/"); i >= 0 {
		name, arg = term[:i], term[i:]
	}
	switch strings.ToLower(name) {
	case "include", "exists":
		if len(arg) > 1 && arg[0] == ':' {
			return qual + name + ":" + add(arg[1:], strings.EqualFold(name, "exists"))
		}
	case "a", "mx":
		rest, err := stripDualCIDR(arg)
		if err == nil && len(rest) > 1 && rest[0] == ':' {
			return qual + name + ":" + add(rest[1:], false) + arg[len(rest):]
		}
	case "ptr":
		spec := strings.TrimPrefix(arg, ":")
		if spec == "" && askedPlaceholder {
			spec = "%{d}"
		}
		if strings.Contains(spec, "%") {
			// The library matches names against the spec without a
			// lookup: it gets the expansion itself (%-escaped back).
			s, err := t.env(ctx, domain).expand(spec, false)
			if err != nil {
				return qual + term
			}
			return qual + name + ":" + strings.ReplaceAll(s, "%", "%%")
		}
	}
	return qual + term
}

// lookupA returns the IPv4 addresses of name, from A records only.
func lookupA(ctx context.Context, r *dnscheck.Resolver, name string) ([]net.IPAddr, error) {
	rrs, err := r.Exchange(ctx, name, dns.TypeA)
	if err != nil {
		return nil, err
	}
	var out []net.IPAddr
	for _, rr := range rrs {
		out = append(out, net.IPAddr{IP: rr.(*dns.A).A})
	}
	return out, nil
}

// lookupFamily returns the addresses of name of ip's family: A records for
// an IPv4 client, AAAA for IPv6.
func lookupFamily(ctx context.Context, r *dnscheck.Resolver, name string, ip net.IP) ([]net.IP, error) {
	qt := dns.TypeAAAA
	if ip.To4() != nil {
		qt = dns.TypeA
	}
	rrs, err := r.Exchange(ctx, name, qt)
	if err != nil {
		return nil, err
	}
	var out []net.IP
	for _, rr := range rrs {
		switch v := rr.(type) {
		case *dns.A:
			out = append(out, v.A)
		case *dns.AAAA:
			out = append(out, v.AAAA)
		}
	}
	return out, nil
}

// validNames returns the validated domain names of ip (RFC 7208 §5.5,
// §7.3): its PTR names, at most 10 of them (§4.6.4), each kept if an
// address record of the client's family resolves back to ip.
func validNames(ctx context.Context, r *dnscheck.Resolver, ip net.IP) []string {
	valid := []string{}
	names, err := r.LookupAddr(ctx, ip.String())
	if err != nil {
		return valid
	}
	for _, n := range names[:min(len(names), 10)] {
		addrs, err := lookupFamily(ctx, r, n, ip)
		if err != nil {
			continue
		}
		if slices.ContainsFunc(addrs, func(a net.IP) bool { return a.Equal(ip) }) {
			valid = append(valid, strings.TrimSuffix(n, "."))
		}
	}
	return valid
}

// pickName chooses %{p} among the validated names (§7.3): domain itself,
// else a subdomain of it, else any; "unknown" when there is none.
func pickName(valid []string, domain string) string {
	d := strings.ToLower(strings.TrimSuffix(domain, "."))
	if i := slices.IndexFunc(valid, func(n string) bool { return strings.ToLower(n) == d }); i >= 0 {
		return valid[i]
	}
	if i := slices.IndexFunc(valid, func(n string) bool { return strings.HasSuffix(strings.ToLower(n), "."+d) }); i >= 0 {
		return valid[i]
	}
	if len(valid) > 0 {
		return valid[0]
	}
	return "unknown"
}
