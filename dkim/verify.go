package dkim

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-msgauth/authres"

	"frontdesk/dnscheck"
)

// Verification outcomes, the dkim method's result values of RFC 8601 §2.7.1.
const (
	StatusPass      = "pass"
	StatusFail      = "fail"      // body hash or signature mismatch (RFC 6376 §6.1.3)
	StatusNeutral   = "neutral"   // signature not checked (beyond MaxSignatures)
	StatusTempError = "temperror" // key lookup failed temporarily (§6.1.2: TEMPFAIL)
	StatusPermError = "permerror" // bad signature, no key, bad key record (PERMFAIL)
	StatusPolicy    = "policy"    // valid syntax but unacceptable to us (l=)
)

// Result is the outcome of one DKIM-Signature field.
type Result struct {
	Domain     string // d=
	Identifier string // i=, "@" + Domain when absent (RFC 6376 §3.5)
	Selector   string // s=
	Algorithm  string // a=
	B          string // b=, for header.b (RFC 6008)
	Status     string // one of the Status constants
	Err        error  // why, when Status is not pass
}

// MaxSignatures is how many signatures of one message are checked; RFC
// 6376 §6.1 lets verifiers limit them, and each costs a DNS lookup. The
// rest are reported neutral.
const MaxSignatures = 8

// Verifier checks DKIM signatures, looking keys up through the dnscheck
// resolver. It is safe for concurrent use.
type Verifier struct {
	r *dnscheck.Resolver
}

// NewVerifier returns a verifier that looks keys up with r.
func NewVerifier(r *dnscheck.Resolver) *Verifier {
	return &Verifier{r: r}
}

// Verify checks every DKIM-Signature field of msg (up to MaxSignatures)
// at the current time and returns one Result each, top to bottom; a
// message without signatures gives an empty slice. The error is for a
// message that cannot be read at all, not for bad signatures: those are
// Results.
func (v *Verifier) Verify(ctx context.Context, msg []byte) ([]Result, error) {
	return v.VerifyAt(ctx, msg, time.Now())
}

// VerifyAt is Verify with x= expiry and t= judged at now: to check a
// message as it was when received.
func (v *Verifier) VerifyAt(ctx context.Context, msg []byte, now time.Time) ([]Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	msg = withHeaderEnd(msg)
	if _, _, err := headerFields(msg); err != nil {
		return nil, fmt.Errorf("dkim: verify: %w", err)
	}
	m := splitMessage(msg)
	results := []Result{}
	for _, f := range m.fields {
		if !strings.EqualFold(fieldName(f), "DKIM-Signature") {
			continue
		}
		var r Result
		if len(results) >= MaxSignatures {
			// Label it as far as a lenient parse goes.
			_, value, _ := strings.Cut(f, ":")
			tags := parseTags(value)
			r = Result{Domain: tags["d"], Identifier: tags["i"], Selector: tags["s"], Algorithm: tags["a"], B: tags["b"]}
			r.Status = StatusNeutral
			r.Err = fmt.Errorf("not verified: more than %d signatures", MaxSignatures)
			results = append(results, r)
			continue
		}
		err := v.checkSignature(ctx, m, f, now, &r)
		r.Status = StatusPass
		if err != nil {
			r.Status, r.Err = StatusPermError, err
			var se *sigError
			if errors.As(err, &se) {
				r.Status = se.status
			}
		}
		results = append(results, r)
	}
	return results, nil
}

// parseTags reads a tag=value list (RFC 6376 §3.2) leniently: it only
// labels Results, the real parse is go-msgauth's. White space is dropped
// from values, as it is folding (§3.5 b=, h=, …).
func parseTags(s string) map[string]string {
	tags := map[string]string{}
	for _, part := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		if _, dup := tags[k]; !dup {
			tags[k] = strings.Join(strings.Fields(v), "")
		}
	}
	return tags
}

// AuthResult is r as the dkim method of an Authentication-Results field
// (RFC 8601 §2.7.1) with header.d and header.i. authres.DKIMResult has no
// fields for header.s and header.a; AuthResultFull carries them.
func (r Result) AuthResult() *authres.DKIMResult {
	return &authres.DKIMResult{
		Value:      authres.ResultValue(r.Status),
		Reason:     r.reason(),
		Domain:     r.Domain,
		Identifier: r.Identifier,
	}
}

// AuthResultFull is r as the dkim method of an Authentication-Results
// field with header.d, header.i, header.s and header.a (RFC 8601 §2.7.1,
// the last two registered by RFC 8601 §6.3 and used to tell apart the
// RSA and Ed25519 signatures of one domain).
func (r Result) AuthResultFull() *authres.GenericResult {
	params := map[string]string{
		"header.d": r.Domain,
		"header.i": r.Identifier,
		"header.s": r.Selector,
		"header.a": r.Algorithm,
	}
	if reason := r.reason(); reason != "" {
		params["reason"] = reason
	}
	return &authres.GenericResult{Method: "dkim", Value: authres.ResultValue(r.Status), Params: params}
}

// reason is Err's text as a header-safe reason (RFC 8601 §2.3).
func (r Result) reason() string {
	if r.Err == nil {
		return ""
	}
	s := strings.TrimPrefix(r.Err.Error(), "dkim: ")
	return strings.Map(func(c rune) rune {
		if c < ' ' || c > '~' {
			return ' '
		}
		return c
	}, s)
}
