// Package dmarc evaluates DMARC (RFC 7489) for inbound mail: it finds the
// policy record of the RFC5322.From domain, checks that a passing SPF or
// DKIM identity aligns with it, and says which policy to apply.
//
// Records are fetched and parsed with github.com/emersion/go-msgauth/dmarc
// through the one dnscheck resolver; alignment, the organizational domain
// fallback and pct sampling are ours.
package dmarc

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"

	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"

	"frontdesk/dnscheck"
	"frontdesk/spf"
)

// Policy is the Domain Owner's requested handling of failing mail
// (RFC 7489 §6.3, p and sp).
type Policy string

// The policies of RFC 7489 §6.3.
const (
	PolicyNone       Policy = "none"
	PolicyQuarantine Policy = "quarantine"
	PolicyReject     Policy = "reject"
)

// Result is a DMARC result word (RFC 7489 §11.2, RFC 8601 §2.7.x).
type Result string

// The results of RFC 7489 §11.2.
const (
	None      Result = "none"      // no policy record
	Pass      Result = "pass"      // an aligned identifier passed
	Fail      Result = "fail"      // no aligned identifier passed
	TempError Result = "temperror" // DNS failed transiently
	PermError Result = "permerror" // the record is invalid
)

// DKIMResult is one DKIM signature's outcome: its d= domain and whether
// it verified.
type DKIMResult struct {
	Domain string
	Pass   bool
}

// Input is what DMARC evaluation needs from the rest of the pipeline.
type Input struct {
	FromDomain string // the RFC5322.From domain (RFC 7489 §3.1)
	SPF        spf.Result
	SPFDomain  string // the domain SPF checked: MAIL FROM, or HELO for the null sender
	DKIM       []DKIMResult
}

// Verdict is the outcome of DMARC evaluation.
type Verdict struct {
	Result Result
	// Policy is the policy to apply: p, or sp for a subdomain whose record
	// came from the organizational domain, after pct sampling; "none" when
	// the message passes or no policy applies.
	Policy Policy
	Record *dmarc.Record
	// Domain is where the record was found: the From domain or its
	// organizational domain.
	Domain      string
	FromDomain  string
	SPFAligned  bool // SPF passed and aligned
	DKIMAligned bool // some DKIM signature passed and aligned
	Reason      string
}

// Options adjust an Evaluator.
type Options struct {
	// Rand draws the pct sample (RFC 7489 §6.6.4); math/rand/v2's
	// top-level source when nil.
	Rand *rand.Rand
}

// Evaluator evaluates DMARC through one resolver. It is safe for
// concurrent use.
type Evaluator struct {
	r *dnscheck.Resolver

	mu   sync.Mutex
	rand *rand.Rand // guarded by mu; nil: the top-level source
}

// NewEvaluator returns an Evaluator that looks records up through r.
func NewEvaluator(r *dnscheck.Resolver) *Evaluator {
	return NewEvaluatorWithOptions(r, Options{})
}

// NewEvaluatorWithOptions is NewEvaluator with options (tests inject a
// seeded random source).
func NewEvaluatorWithOptions(r *dnscheck.Resolver, o Options) *Evaluator {
	return &Evaluator{r: r, rand: o.Rand}
}

// sample reports whether a message falls within pct percent (§6.6.4).
func (e *Evaluator) sample(pct int) bool {
	if pct >= 100 {
		return true
	}
	if pct <= 0 {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.rand == nil {
		return rand.IntN(100) < pct
	}
	return e.rand.IntN(100) < pct
}

// Evaluate applies RFC 7489 §6.6 to one message.
func (e *Evaluator) Evaluate(ctx context.Context, in Input) Verdict {
	from := normalize(in.FromDomain)
	v := Verdict{Result: None, Policy: PolicyNone, FromDomain: from}
	if from == "" || !strings.Contains(from, ".") {
		v.Reason = "no usable RFC5322.From domain"
		return v
	}

	// §6.6.3: the From domain's record, else the organizational domain's.
	org := OrganizationalDomain(from)
	rec, domain, err := e.lookup(ctx, from)
	if errors.Is(err, dmarc.ErrNoPolicy) && org != from {
		rec, domain, err = e.lookup(ctx, org)
	}
	v.Domain = domain
	switch {
	case errors.Is(err, dmarc.ErrNoPolicy):
		v.Reason = "no DMARC record"
		return v
	case dmarc.IsTempFail(err):
		v.Result, v.Reason = TempError, err.Error()
		return v
	case err != nil:
		v.Result, v.Reason = PermError, err.Error()
		return v
	}
	v.Record = rec

	// §3.1.1, §3.1.2: identifier alignment.
	v.SPFAligned = in.SPF == spf.Pass && Aligned(in.SPFDomain, from, rec.SPFAlignment)
	for _, d := range in.DKIM {
		if d.Pass && Aligned(d.Domain, from, rec.DKIMAlignment) {
			v.DKIMAligned = true
			break
		}
	}
	if v.SPFAligned || v.DKIMAligned {
		v.Result = Pass
		v.Reason = alignReason(v)
		return v
	}
	v.Result = Fail

	// §6.3: sp applies to subdomains when the record is the
	// organizational domain's; it defaults to p.
	p := Policy(rec.Policy)
	if domain != from && rec.SubdomainPolicy != "" {
		p = Policy(rec.SubdomainPolicy)
	}
	pct := 100
	if rec.Percent != nil {
		pct = *rec.Percent
	}
	v.Policy = p
	if !e.sample(pct) {
		// §6.6.4: a message sampled out gets the next less strict policy.
		v.Policy = lessStrict(p)
		v.Reason = fmt.Sprintf("no aligned identifier passed; %s sampled out by pct=%d, applying %s", p, pct, v.Policy)
		return v
	}
	v.Reason = fmt.Sprintf("no aligned identifier passed; policy %s", p)
	return v
}

func alignReason(v Verdict) string {
	switch {
	case v.SPFAligned && v.DKIMAligned:
		return "SPF and DKIM aligned"
	case v.SPFAligned:
		return "SPF aligned"
	}
	return "DKIM aligned"
}

func lessStrict(p Policy) Policy {
	switch p {
	case PolicyReject:
		return PolicyQuarantine
	default:
		return PolicyNone
	}
}

// lookup fetches the record at _dmarc.domain (RFC 7489 §6.1). TXT records
// not starting with "v=DMARC1" are ignored; more than one record is
// treated as none (§6.6.3).
func (e *Evaluator) lookup(ctx context.Context, domain string) (*dmarc.Record, string, error) {
	multiple := false
	rec, err := dmarc.LookupWithOptions(domain, &dmarc.LookupOptions{
		LookupTXT: func(name string) ([]string, error) {
			txts, err := e.r.LookupTXT(ctx, name)
			if err != nil {
				return nil, err
			}
			var recs []string
			for _, t := range txts {
				if isDMARCRecord(t) {
					recs = append(recs, t)
				}
			}
			if len(recs) > 1 {
				multiple = true
				recs = nil
			}
			return recs, nil
		},
	})
	if multiple {
		err = dmarc.ErrNoPolicy
	}
	return rec, domain, err
}

// isDMARCRecord: "v" "=" "DMARC1" first, followed by ";" or space or
// nothing (RFC 7489 §6.4).
func isDMARCRecord(txt string) bool {
	rest, ok := strings.CutPrefix(strings.TrimLeft(txt, " \t"), "v")
	if !ok {
		return false
	}
	rest, ok = strings.CutPrefix(strings.TrimLeft(rest, " \t"), "=")
	if !ok {
		return false
	}
	rest, ok = strings.CutPrefix(strings.TrimLeft(rest, " \t"), "DMARC1")
	rest = strings.TrimLeft(rest, " \t")
	return ok && (rest == "" || rest[0] == ';')
}

// Aligned reports whether an authenticated domain aligns with the From
// domain: equal in strict mode, the same organizational domain in
// relaxed mode (RFC 7489 §3.1.1, §3.1.2).
func Aligned(authDomain, fromDomain string, mode dmarc.AlignmentMode) bool {
	a, f := normalize(authDomain), normalize(fromDomain)
	if a == "" || f == "" {
		return false
	}
	if mode == dmarc.AlignmentStrict {
		return a == f
	}
	return OrganizationalDomain(a) == OrganizationalDomain(f)
}

// OrganizationalDomain returns the organizational domain of domain (RFC
// 7489 §3.2): the public suffix plus one label, per the Public Suffix
// List. A domain that is itself a public suffix is its own.
func OrganizationalDomain(domain string) string {
	d := normalize(domain)
	org, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil {
		return d
	}
	return org
}

func normalize(domain string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(domain), "."))
}

// AuthResult returns the dmarc method result for an Authentication-Results
// header (RFC 7489 §11.2), with header.from set.
func (v Verdict) AuthResult() *authres.DMARCResult {
	r := &authres.DMARCResult{Value: authres.ResultValue(v.Result), From: v.FromDomain}
	if v.Result == "" {
		r.Value = authres.ResultNone
	}
	if v.Result != Pass && v.Reason != "" {
		r.Reason = v.Reason
	}
	return r
}
