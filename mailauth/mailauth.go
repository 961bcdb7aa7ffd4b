// Package mailauth judges inbound mail as the big receivers judge ours:
// SPF (RFC 7208), DKIM (RFC 6376) and DMARC (RFC 7489), written into one
// Authentication-Results header (RFC 8601) and turned into an action.
//
// It is a verdict package: it takes a resolver and returns results, and
// knows nothing of the store.
package mailauth

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-msgauth/authres"

	"frontdesk/dkim"
	"frontdesk/dmarc"
	"frontdesk/dnscheck"
	"frontdesk/spf"
)

// Action is what to do with a judged message.
type Action int

// The actions, from DMARC's policy (RFC 7489 §6.3).
const (
	Deliver Action = iota // to INBOX
	Junk                  // DMARC quarantine: to the Junk folder
	Reject                // DMARC reject: 550 5.7.1 at end of DATA
)

func (a Action) String() string {
	switch a {
	case Junk:
		return "junk"
	case Reject:
		return "reject"
	}
	return "deliver"
}

// Input is the SMTP transaction and the message as received.
type Input struct {
	IP       net.IP
	Helo     string
	MailFrom string // reverse path, "" for the null sender
	Message  []byte // without our trace headers
}

// Result is the judgement of one message.
type Result struct {
	SPF    spf.Verdict
	DKIM   []dkim.Result
	DMARC  dmarc.Verdict
	Action Action
	// Header is the Authentication-Results field, CRLF-terminated, to put
	// above the message.
	Header string
}

// Checker runs the checks through one resolver. Safe for concurrent use.
type Checker struct {
	authServID string
	budget     time.Duration
	spf        *spf.Checker
	dkim       *dkim.Verifier
	dmarc      *dmarc.Evaluator
}

// New returns a Checker that names itself authServID (this server's host
// name) in Authentication-Results.
func New(r *dnscheck.Resolver, authServID string) *Checker {
	return &Checker{authServID: authServID, budget: DefaultBudget, spf: spf.NewChecker(r), dkim: dkim.NewVerifier(r), dmarc: dmarc.NewEvaluator(r)}
}

// DefaultBudget bounds all the DNS lookups of one message together: a
// sender's SMTP client waits 10 minutes for the reply to DATA (RFC 5321
// §4.5.3.2.6), so half a minute of lookups costs it nothing, and a dead
// or silent resolver cannot hold a session longer than that.
const DefaultBudget = 30 * time.Second

// WithBudget returns a copy of c whose Check spends at most d on DNS for
// one message; lookups still running then give temperror.
func (c *Checker) WithBudget(d time.Duration) *Checker {
	n := *c
	if d > 0 {
		n.budget = d
	}
	return &n
}

// NewWithDMARC is New with a given DMARC evaluator (for pct sampling with
// a known random source).
func NewWithDMARC(r *dnscheck.Resolver, authServID string, e *dmarc.Evaluator) *Checker {
	c := New(r, authServID)
	c.dmarc = e
	return c
}

// Check judges one message. Lookups that fail temporarily give temperror
// results, never a hang: the resolver bounds every query, and the
// Checker's budget bounds them all together.
func (c *Checker) Check(ctx context.Context, in Input) Result {
	ctx, cancel := context.WithTimeout(ctx, c.budget)
	defer cancel()
	var res Result
	// SPF and DKIM are independent: run together, a slow resolver costs
	// the message one budget, and DKIM is not starved by SPF's lookups.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// RFC 7208 §2.3: HELO first; a HELO fail decides (smtp.helo).
		res.SPF = c.spf.CheckSMTP(ctx, in.IP, in.Helo, in.MailFrom)
	}()
	res.DKIM, _ = c.dkim.Verify(ctx, in.Message)
	wg.Wait()

	fromDomain := FromDomain(in.Message)
	dIn := dmarc.Input{FromDomain: fromDomain, SPF: res.SPF.Result, SPFDomain: res.SPF.Domain}
	for _, d := range res.DKIM {
		dIn.DKIM = append(dIn.DKIM, dmarc.DKIMResult{Domain: d.Domain, Pass: d.Status == dkim.StatusPass})
	}
	res.DMARC = c.dmarc.Evaluate(ctx, dIn)
	if res.DMARC.Result == dmarc.Fail {
		switch res.DMARC.Policy {
		case dmarc.PolicyReject:
			res.Action = Reject
		case dmarc.PolicyQuarantine:
			res.Action = Junk
		}
	}

	head := authres.Format(c.authServID, []authres.Result{res.SPF.AuthResult()})
	// authres has no comments nor header.b: the dkim part is ours.
	dmarcPart := authres.Format("", []authres.Result{res.DMARC.AuthResult()})
	res.Header = fold("Authentication-Results: " + head + dkimResults(res.DKIM) + dmarcPart)
	return res
}

// TempError reports whether a temporary DNS failure may have changed the
// verdict: DMARC could not be decided, or it did not pass while SPF or a
// DKIM signature gave temperror (the missing answer might have passed
// it). A temperror beside a DMARC pass changes nothing.
func (r Result) TempError() bool {
	if r.DMARC.Result == dmarc.TempError {
		return true
	}
	if r.DMARC.Result == dmarc.Pass {
		return false
	}
	if r.SPF.Result == spf.TempError {
		return true
	}
	for _, d := range r.DKIM {
		if d.Status == dkim.StatusTempError {
			return true
		}
	}
	return false
}

// FromDomain returns the domain of the RFC5322.From address, lower
// case, or "" when there is none to judge (RFC 7489 §6.6.1).
func FromDomain(msg []byte) string {
	end := bytes.Index(msg, []byte("\r\n\r\n"))
	if end < 0 {
		if end = bytes.Index(msg, []byte("\n\n")); end < 0 {
			end = len(msg)
		}
	}
	m, err := mail.ReadMessage(bytes.NewReader(append(msg[:end:end], "\r\n\r\n"...)))
	if err != nil {
		return ""
	}
	addrs, err := m.Header.AddressList("From")
	if err != nil || len(addrs) == 0 {
		return ""
	}
	at := strings.LastIndexByte(addrs[0].Address, '@')
	if at < 0 {
		return ""
	}
	return strings.ToLower(strings.TrimSuffix(addrs[0].Address[at+1:], "."))
}

// fold wraps a header at "; " separators to keep lines under 78
// characters where it can (RFC 5322 §2.2.3), and ends it with CRLF.
func fold(h string) string {
	parts := strings.Split(h, "; ")
	var b strings.Builder
	line := 0
	for i, p := range parts {
		if i > 0 {
			if line+2+len(p) > 76 {
				b.WriteString(";\r\n\t")
				line = 8
			} else {
				b.WriteString("; ")
				line += 2
			}
		}
		b.WriteString(p)
		line += len(p)
	}
	b.WriteString("\r\n")
	return b.String()
}

// String summarizes a result for the delivery log line.
func (r Result) String() string {
	var dk []string
	for _, d := range r.DKIM {
		dk = append(dk, d.Domain+":"+d.Status)
	}
	return fmt.Sprintf("spf=%s dkim=%s dmarc=%s action=%s", r.SPF.Result, strings.Join(dk, ","), r.DMARC.Result, r.Action)
}
