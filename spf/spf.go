// Package spf checks the Sender Policy Framework (RFC 7208) for inbound
// mail: is the connecting IP allowed to send for the MAIL FROM domain (or
// the HELO name, for the null sender)?
//
// Evaluation is done by blitiri.com.ar/go/spf, driven through the one
// dnscheck resolver. This package adds what the library leaves out: a
// syntax check of every record before it is evaluated (RFC 7208 §4.6: "if
// there are any syntax errors anywhere in the record, check_host() returns
// immediately with the result permerror"), validation of the checked
// domain (§4.3), and the explanation string of a fail (§6.2).
package spf

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	libspf "blitiri.com.ar/go/spf"
	"github.com/emersion/go-msgauth/authres"

	"frontdesk/dnscheck"
)

// Result is an SPF result word (RFC 7208 §2.6), as written into
// Authentication-Results (RFC 8601 §2.7.2).
type Result string

// The results of RFC 7208 §2.6.
const (
	None      Result = "none"      // §2.6.1: no record, or no domain to check
	Neutral   Result = "neutral"   // §2.6.2: the domain makes no assertion
	Pass      Result = "pass"      // §2.6.3: the client is authorized
	Fail      Result = "fail"      // §2.6.4: the client is not authorized
	SoftFail  Result = "softfail"  // §2.6.5: probably not authorized
	TempError Result = "temperror" // §2.6.6: transient DNS error
	PermError Result = "permerror" // §2.6.7: the records are broken
)

// Verdict is the outcome of one SPF check.
type Verdict struct {
	Result Result
	// Domain is the domain checked: the MAIL FROM domain, or the HELO name
	// when the reverse path is null (RFC 7208 §2.4).
	Domain string
	// Identity is "mailfrom" or "helo", the identity checked (RFC 7208 §2.4).
	Identity string
	// Sender is the <sender> of check_host(): the MAIL FROM address, or
	// postmaster@HELO for the null sender (RFC 7208 §4.3).
	Sender string
	// Explanation is the domain's explanation of a fail (RFC 7208 §6.2),
	// empty when it publishes none.
	Explanation string
	// Err says what went wrong (a lookup, a broken record), for logs and
	// the reason in Authentication-Results; nil when a mechanism matched
	// or none did.
	Err error
}

// Checker runs SPF checks through one resolver. It is safe for concurrent
// use.
type Checker struct {
	r *dnscheck.Resolver
}

// NewChecker returns a Checker that does all its lookups through r.
func NewChecker(r *dnscheck.Resolver) *Checker {
	return &Checker{r: r}
}

// Check runs check_host() (RFC 7208 §4) for a client at ip that said helo
// and gave mailFrom as reverse path (with or without angle brackets, ""
// for the null sender).
//
// With a null reverse path the HELO identity is checked, with sender
// postmaster@helo (RFC 7208 §2.4); so is a reverse path without "@",
// which names no domain. A MAIL FROM without local part gets
// "postmaster" (§4.3).
func (c *Checker) Check(ctx context.Context, ip net.IP, helo, mailFrom string) Verdict {
	helo = strings.TrimSuffix(strings.TrimSpace(helo), ".")
	mailFrom = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(mailFrom), "<"), ">")

	v := Verdict{Identity: "mailfrom"}
	local, domain, ok := strings.Cut(mailFrom, "@")
	if mailFrom == "" || !ok {
		// RFC 7208 §2.4: the null sender is checked as postmaster@helo.
		local, domain = "postmaster", helo
		v.Identity = "helo"
	}
	if local == "" {
		local = "postmaster" // §4.3
	}
	domain = strings.TrimSuffix(domain, ".")
	v.Domain = domain
	v.Sender = local + "@" + domain

	if ip.To16() == nil {
		v.Result, v.Err = PermError, errors.New("invalid IP address")
		return v
	}
	// §4.3: a malformed or single-label domain gives none, before any
	// lookup.
	if err := checkDomainName(domain); err != nil {
		v.Result, v.Err = None, err
		return v
	}

	tr := newTracking(c.r, ip, helo, v.Sender)
	res, err := libspf.CheckHostWithSender(ip, helo, v.Sender,
		libspf.WithContext(ctx), libspf.WithResolver(tr))
	v.Result, v.Err = Result(res), err
	if tr.syntaxErr != nil {
		// §4.6: a record with a syntax error yields permerror however far
		// the library got in it; any record fetched was on the path of
		// evaluation, and a permerror in an include or redirect target
		// propagates (§5.2, §6.1).
		v.Result, v.Err = PermError, tr.syntaxErr
	}
	if isMatch(v.Err) {
		v.Err = nil // the library's way of saying which mechanism matched
	}
	if errors.Is(v.Err, libspf.ErrNoResult) {
		v.Err = fmt.Errorf("no SPF record for %s", domain)
	}
	if v.Result == Fail {
		v.Explanation = c.explain(ctx, ip, helo, v.Sender, domain)
	}
	return v
}

// isMatch reports whether err is the library's report of a match.
func isMatch(err error) bool {
	for _, m := range []error{libspf.ErrMatchedAll, libspf.ErrMatchedA, libspf.ErrMatchedIP,
		libspf.ErrMatchedMX, libspf.ErrMatchedPTR, libspf.ErrMatchedExists} {
		if errors.Is(err, m) {
			return true
		}
	}
	return false
}

// tracking is the resolver given to the library for one check: it passes
// lookups to ours, checks the syntax of every SPF record it hands out, and
// rewrites each record's domain-specs into placeholders it resolves itself
// (see targets.go).
type tracking struct {
	r         *dnscheck.Resolver
	syntaxErr error // the first syntax error of a fetched record
	// override maps a domain to a record served once instead of its TXT
	// records (to evaluate a record without its redirect, see explain).
	override       map[string]string
	overrideServed bool

	ip           net.IP
	helo, sender string
	token        string    // the label of this check's placeholder names
	targets      []*target // the domain-specs behind the placeholders
	validated    []string  // the validated names of ip, once looked up
}

func newTracking(r *dnscheck.Resolver, ip net.IP, helo, sender string) *tracking {
	return &tracking{r: r, ip: ip, helo: helo, sender: sender, token: newToken()}
}

func (t *tracking) LookupTXT(ctx context.Context, name string) ([]string, error) {
	domain, _, err := t.resolve(ctx, name)
	if err != nil {
		return nil, err
	}
	domain = strings.TrimSuffix(domain, ".")
	var txts []string
	if rec, ok := t.override[strings.ToLower(domain)]; ok && !t.overrideServed {
		t.overrideServed = true
		txts = []string{rec}
	} else if txts, err = t.r.LookupTXT(ctx, domain); err != nil {
		return nil, err
	}
	var recs []int
	for i, txt := range txts {
		if isSPFRecord(txt) {
			recs = append(recs, i)
		}
	}
	// More than one record is the library's permerror (§4.5).
	if len(recs) == 1 {
		rec := txts[recs[0]]
		if err := CheckSyntax(rec); err != nil {
			if t.syntaxErr == nil {
				t.syntaxErr = fmt.Errorf("SPF record of %s: %w", domain, err)
			}
		} else {
			txts = slices.Clone(txts)
			txts[recs[0]] = t.rewrite(ctx, rec, domain, strings.TrimSuffix(name, "."))
		}
	}
	return txts, nil
}

func (t *tracking) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	name, _, err := t.resolve(ctx, name)
	if err != nil {
		return nil, err
	}
	return t.r.LookupMX(ctx, name)
}

func (t *tracking) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	host, tg, err := t.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	if err := checkTargetName(host); err != nil {
		// §4.8 and the suite's invalid-domain cases: a target name that
		// cannot be a DNS name does not exist.
		return nil, &net.DNSError{Err: err.Error(), Name: host, IsNotFound: true}
	}
	if tg != nil && tg.aOnly {
		return lookupA(ctx, t.r, host)
	}
	return t.r.LookupIPAddr(ctx, host)
}

func (t *tracking) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	return t.r.LookupAddr(ctx, addr)
}

// isSPFRecord reports whether txt is an SPF record: "v=spf1" followed by
// a space or nothing, case-insensitively (RFC 7208 §4.5).
func isSPFRecord(txt string) bool {
	l := strings.ToLower(txt)
	return l == "v=spf1" || strings.HasPrefix(l, "v=spf1 ")
}

// checkDomainName validates the domain of the <sender> (RFC 7208 §4.3):
// at least two labels, none empty or longer than 63 octets.
func checkDomainName(domain string) error {
	if domain == "" {
		return errors.New("no domain to check")
	}
	if len(domain) > 253 {
		return fmt.Errorf("domain %q: too long", domain)
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return fmt.Errorf("domain %q: not a multi-label domain name", domain)
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return fmt.Errorf("domain %q: malformed label", domain)
		}
	}
	return nil
}

// checkTargetName rejects target names that no DNS query can be made for
// (empty labels, labels over 63 octets).
func checkTargetName(name string) error {
	if net.ParseIP(name) != nil {
		return nil
	}
	n := strings.TrimSuffix(name, ".")
	for _, l := range strings.Split(n, ".") {
		if l == "" || len(l) > 63 {
			return fmt.Errorf("%q is not a valid domain name", name)
		}
	}
	return nil
}

// AuthResult returns the spf method result for an Authentication-Results
// header (RFC 8601 §2.7.2), with smtp.mailfrom or smtp.helo set.
func (v Verdict) AuthResult() *authres.SPFResult {
	r := &authres.SPFResult{Value: authres.ResultValue(v.Result)}
	if v.Result == "" {
		r.Value = authres.ResultNone
	}
	if v.Identity == "helo" {
		r.Helo = v.Domain
	} else {
		r.From = v.Sender
	}
	if v.Err != nil && v.Result != Pass {
		r.Reason = v.Err.Error()
	}
	return r
}

// shortTimeout bounds the explanation lookup, which must never delay a
// reply much (RFC 7208 §6.2 allows ignoring it on any error).
const shortTimeout = 3 * time.Second
