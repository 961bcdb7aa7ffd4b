package dnscheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"blitiri.com.ar/go/spf"
	"github.com/miekg/dns"
)

// State is the verdict on one published record.
type State string

// The states of a Result. A required record passes (Report.AllRequiredOK)
// when it is StateOK or StateWarning.
const (
	// StateOK: the record is published as it should be.
	StateOK State = "ok"
	// StateMissing: no such record (NXDOMAIN or no record of the type).
	StateMissing State = "missing"
	// StateWrong: a record is there but does not do its job (points
	// elsewhere, a damaged key, SPF that does not authorize us).
	StateWrong State = "wrong"
	// StateConflicting: several records where the RFCs allow one (two SPF
	// records are a permerror, RFC 7208 §3.2); receivers ignore them all.
	StateConflicting State = "conflicting"
	// StateWarning: it works, but could be better (DMARC p=none, SPF
	// without -all or ~all, a server without matching reverse DNS).
	StateWarning State = "warning"
	// StateUnknown: the lookup failed temporarily (SERVFAIL, timeout), so
	// nothing is known either way. It is neither "missing" (which would
	// send the admin to publish what may be there) nor ok; try again.
	StateUnknown State = "unknown"
)

// Result is the check of one record.
type Result struct {
	Record   Record
	State    State
	Found    []string // what DNS holds at the name, in Value's form
	Expected string   // what should be there (Record.Value)
	Detail   string   // a sentence for the admin; empty when ok needs no words
}

// Report is the outcome of Check.
type Report struct {
	Domain  string
	Results []Result // in the order of Records
	// ServerWarnings are the checks of the server itself, not of the
	// domain: MailHost has an A or AAAA record, and each of the server's
	// addresses has a PTR naming MailHost (forward-confirmed reverse DNS,
	// which many receivers demand). Problems here are StateWarning (or
	// StateUnknown), never more: the fix lies with the hosting provider.
	// Checks that pass are included as StateOK.
	ServerWarnings []Result
	// AllRequiredOK: every Required record is StateOK or StateWarning.
	AllRequiredOK bool
	Checked       time.Time
}

// Check looks up every record of Records(p) through r and says, for each,
// whether it is right. The lookups run concurrently; ctx bounds them all.
func Check(ctx context.Context, r *Resolver, p Params) *Report {
	p = p.withDefaults()
	c := &checker{r: r, p: p}
	rep := &Report{Domain: p.Domain, Checked: time.Now()}
	rep.ServerWarnings = c.server(ctx)

	recs := Records(p)
	rep.Results = make([]Result, len(recs))
	var wg sync.WaitGroup
	for i, rec := range recs {
		wg.Go(func() { rep.Results[i] = c.check(ctx, rec) })
	}
	wg.Wait()

	rep.AllRequiredOK = true
	for _, res := range rep.Results {
		if res.Record.Required && res.State != StateOK && res.State != StateWarning {
			rep.AllRequiredOK = false
		}
	}
	return rep
}

type checker struct {
	r *Resolver
	p Params
	// ips are the server's addresses: Params.IPs, or MailHost's A and
	// AAAA records. Set before the record checks start; read-only after.
	ips []net.IP
}

func (c *checker) check(ctx context.Context, rec Record) Result {
	res := Result{Record: rec, Expected: rec.Value}
	switch {
	case rec.Type == "MX":
		c.mx(ctx, &res)
	case rec.Type == "CNAME":
		c.host(ctx, &res)
	case rec.Type == "SRV":
		c.srv(ctx, &res)
	case rec.Type == "TXT" && hasTag(rec.Value, "v", "spf1"):
		c.spf(ctx, &res)
	case rec.Type == "TXT" && hasTag(rec.Value, "v", "DKIM1"):
		c.dkim(ctx, &res)
	case rec.Type == "TXT" && hasTag(rec.Value, "v", "DMARC1"):
		c.txtTags(ctx, &res, "DMARC1", c.dmarc)
	case rec.Type == "TXT" && hasTag(rec.Value, "v", "STSv1"):
		c.txtTags(ctx, &res, "STSv1", c.mtaSTS)
	case rec.Type == "TXT" && hasTag(rec.Value, "v", "TLSRPTv1"):
		c.txtTags(ctx, &res, "TLSRPTv1", c.tlsRPT)
	default:
		res.State, res.Detail = StateUnknown, "no check for this record"
	}
	if res.State == "" {
		res.State = StateOK
	}
	return res
}

// failed sets res from a lookup error: not found is missing, anything
// else unknown. It reports whether there was an error.
func failed(res *Result, err error, what string) bool {
	if err == nil {
		return false
	}
	if IsNotFound(err) {
		res.State = StateMissing
		res.Detail = fmt.Sprintf("no %s at %s", what, res.Record.Name)
		return true
	}
	msg := err.Error()
	var de *net.DNSError
	if errors.As(err, &de) {
		msg = de.Err
	}
	res.State = StateUnknown
	res.Detail = fmt.Sprintf("DNS lookup of %s failed (%s); try again", res.Record.Name, msg)
	return true
}

func (c *checker) mx(ctx context.Context, res *Result) {
	mxs, err := c.r.LookupMX(ctx, res.Record.Name)
	if failed(res, err, "MX record") {
		return
	}
	ours := false
	var others []string
	for _, mx := range mxs {
		h := normName(mx.Host)
		res.Found = append(res.Found, fmt.Sprintf("%d %s", mx.Pref, h))
		if h == "" && len(mxs) == 1 {
			res.State, res.Detail = StateWrong, "a null MX (RFC 7505): the domain says it accepts no mail"
			return
		}
		if h == c.p.MailHost {
			ours = true
		} else {
			others = append(others, h)
		}
	}
	switch {
	case !ours:
		res.State = StateWrong
		res.Detail = fmt.Sprintf("MX points to %s, not %s", strings.Join(others, " and "), c.p.MailHost)
	case len(others) > 0:
		res.Detail = fmt.Sprintf("other MX hosts too (%s): they must relay to %s", strings.Join(others, ", "), c.p.MailHost)
	}
}

// spf checks for exactly one SPF record (RFC 7208 §4.5) and evaluates it
// for each server address as check_host() would (RFC 7208 §4), includes
// and all, with postmaster@DOMAIN as the sender.
func (c *checker) spf(ctx context.Context, res *Result) {
	txts, err := c.r.LookupTXT(ctx, res.Record.Name)
	if err != nil && !IsNotFound(err) {
		failed(res, err, "")
		return
	}
	for _, t := range txts {
		if hasTag(t, "v", "spf1") {
			res.Found = append(res.Found, t)
		}
	}
	switch len(res.Found) {
	case 0:
		res.State, res.Detail = StateMissing, "no SPF record (TXT starting v=spf1) at "+res.Record.Name
		return
	case 1:
	default:
		res.State = StateConflicting
		res.Detail = fmt.Sprintf("%d SPF records: %s; receivers treat that as an error (RFC 7208 §3.2): merge them into one",
			len(res.Found), strings.Join(res.Found, " and "))
		return
	}
	terms := strings.Fields(strings.ToLower(res.Found[0]))
	last := terms[len(terms)-1]
	if last == "all" || last == "+all" {
		res.State, res.Detail = StateWrong, "the SPF record ends in +all: it lets anyone send as "+c.p.Domain
		return
	}
	if len(c.ips) == 0 {
		// Nothing to evaluate against: accept a record naming the MX hosts or us.
		if slices.Contains(terms, "mx") || slices.Contains(terms, "a:"+c.p.MailHost) {
			res.Detail = "not evaluated: " + c.p.MailHost + " has no address; the record authorizes the MX hosts"
			return
		}
		res.State, res.Detail = StateWarning, "cannot tell whether SPF authorizes this server: "+c.p.MailHost+" has no address"
		return
	}
	var bad []string
	for _, ip := range c.ips {
		r, err := spf.CheckHostWithSender(ip, c.p.MailHost, "postmaster@"+c.p.Domain,
			spf.WithResolver(c.r), spf.WithContext(ctx))
		switch r {
		case spf.Pass:
		case spf.TempError:
			res.State, res.Detail = StateUnknown, fmt.Sprintf("SPF evaluation failed for %s (%v); try again", ip, err)
			return
		case spf.PermError:
			res.State, res.Detail = StateWrong, fmt.Sprintf("the SPF record is broken: %v", err)
			return
		default:
			bad = append(bad, fmt.Sprintf("%s (%s)", ip, r))
		}
	}
	if len(bad) > 0 {
		res.State = StateWrong
		res.Detail = fmt.Sprintf("SPF does not authorize this server: %s; add \"mx\" (MX points here) or ip4:/ip6: terms for it",
			strings.Join(bad, ", "))
		return
	}
	switch {
	case last == "-all" || last == "~all" || strings.HasPrefix(last, "redirect="):
	case last == "?all":
		res.State, res.Detail = StateWarning, "the SPF record ends in ?all: it says nothing about other senders; use -all"
	default:
		res.State, res.Detail = StateWarning, "the SPF record has no -all or ~all at the end: it says nothing about other senders"
	}
}

// dkim compares the key published at the selector with ours (RFC 6376
// §3.6.1): same key type, same p= bytes.
func (c *checker) dkim(ctx context.Context, res *Result) {
	txts, err := c.r.LookupTXT(ctx, res.Record.Name)
	if failed(res, err, "DKIM key record (TXT)") {
		return
	}
	res.Found = txts
	if len(txts) > 1 {
		// RFC 6376 §3.6.2.2: the result of several records is undefined.
		res.State, res.Detail = StateConflicting, fmt.Sprintf("%d TXT records at the selector; keep only ours", len(txts))
		return
	}
	got, want := parseTags(txts[0]), parseTags(res.Record.Value)
	if v, ok := got["v"]; ok && v != "DKIM1" {
		res.State, res.Detail = StateWrong, fmt.Sprintf("v=%s: not a DKIM key record (want v=DKIM1)", v)
		return
	}
	gk, wk := orDefault(got["k"], "rsa"), orDefault(want["k"], "rsa")
	if !strings.EqualFold(gk, wk) {
		res.State, res.Detail = StateWrong, fmt.Sprintf("key type k=%s, want k=%s", gk, wk)
		return
	}
	gp, wp := stripSpace(got["p"]), stripSpace(want["p"])
	if gp == wp {
		return
	}
	res.State = StateWrong
	switch {
	case gp == "":
		res.Detail = "the DKIM key is revoked (empty p=): publish ours"
	case strings.HasPrefix(wp, gp):
		res.Detail = fmt.Sprintf("DKIM key is truncated: the public key does not parse (%d of %d characters of p=); "+
			"some DNS forms cut TXT at 255 characters: enter it as several strings", len(gp), len(wp))
	case !parses(gk, gp):
		res.Detail = "DKIM key is truncated or damaged: the public key does not parse"
	default:
		res.Detail = "a different DKIM key is published at this selector: publish ours"
	}
}

// txtTags finds the one TXT record at the name whose v= is version (tag
// records of DMARC, MTA-STS and TLS-RPT are all "v=... first, one only")
// and hands its tags to judge.
func (c *checker) txtTags(ctx context.Context, res *Result, version string, judge func(*Result, map[string]string)) {
	txts, err := c.r.LookupTXT(ctx, res.Record.Name)
	if err != nil && !IsNotFound(err) {
		failed(res, err, "")
		return
	}
	for _, t := range txts {
		if hasTag(t, "v", version) {
			res.Found = append(res.Found, t)
		}
	}
	switch len(res.Found) {
	case 0:
		res.State, res.Detail = StateMissing, fmt.Sprintf("no v=%s record (TXT) at %s", version, res.Record.Name)
	case 1:
		judge(res, parseTags(res.Found[0]))
	default:
		// RFC 7489 §6.6.3, RFC 8461 §3.1, RFC 8460 §3: several records
		// mean none applies.
		res.State = StateConflicting
		res.Detail = fmt.Sprintf("%d v=%s records: %s; receivers then use none, keep one",
			len(res.Found), version, strings.Join(res.Found, " and "))
	}
}

// dmarc: any valid p= will do (RFC 7489 §6.3), p=none with a warning.
func (c *checker) dmarc(res *Result, tags map[string]string) {
	switch p := strings.ToLower(tags["p"]); p {
	case "quarantine", "reject":
	case "none":
		res.State, res.Detail = StateWarning, "p=none: receivers only report failing mail; p=quarantine makes DMARC protect the domain"
	case "":
		res.State, res.Detail = StateWrong, "no p= policy: receivers ignore the record (RFC 7489 §6.3)"
	default:
		res.State, res.Detail = StateWrong, fmt.Sprintf("p=%s is not a policy (none, quarantine or reject)", p)
	}
}

// mtaSTS checks the id (RFC 8461 §3.1): 1 to 32 letters and digits, and
// ours, or senders keep an older policy.
func (c *checker) mtaSTS(res *Result, tags map[string]string) {
	id, want := tags["id"], parseTags(res.Record.Value)["id"]
	switch {
	case !validSTSID(id):
		res.State, res.Detail = StateWrong, fmt.Sprintf("id=%q is not 1 to 32 letters and digits (RFC 8461 §3.1)", id)
	case id != want:
		res.State = StateWarning
		res.Detail = fmt.Sprintf("id=%s, but the current policy's id is %s: senders refetch the policy only when the id changes", id, want)
	}
}

// tlsRPT needs a rua= (RFC 8460 §3); where it points is the admin's choice.
func (c *checker) tlsRPT(res *Result, tags map[string]string) {
	if tags["rua"] == "" {
		res.State, res.Detail = StateWrong, "no rua=: senders have nowhere to report (RFC 8460 §3)"
	}
}

// host checks a name that must lead to this server: a CNAME to MailHost,
// or address records equal to the server's.
func (c *checker) host(ctx context.Context, res *Result) {
	rrs, err := c.r.Exchange(ctx, res.Record.Name, dns.TypeCNAME)
	if err == nil {
		target := normName(rrs[0].(*dns.CNAME).Target)
		res.Found = []string{target}
		if target != c.p.MailHost {
			res.State, res.Detail = StateWrong, fmt.Sprintf("%s points to %s, not %s", res.Record.Name, target, c.p.MailHost)
		}
		return
	}
	if !IsNotFound(err) {
		failed(res, err, "")
		return
	}
	addrs, err := c.r.LookupIPAddr(ctx, res.Record.Name)
	if failed(res, err, "CNAME or address record") {
		return
	}
	match := false
	for _, a := range addrs {
		res.Found = append(res.Found, a.IP.String())
		match = match || slices.ContainsFunc(c.ips, a.IP.Equal)
	}
	if match {
		res.Detail = "an address record instead of the CNAME: fine until the server's address changes"
		return
	}
	res.State = StateWrong
	res.Detail = fmt.Sprintf("%s has address %s, not this server's (%s)", res.Record.Name, strings.Join(res.Found, ", "), c.p.MailHost)
}

// srv checks an RFC 6186 service record: our host and port.
func (c *checker) srv(ctx context.Context, res *Result) {
	rrs, err := c.r.Exchange(ctx, res.Record.Name, dns.TypeSRV)
	if failed(res, err, "SRV record") {
		return
	}
	want := strings.Fields(res.Record.Value) // prio weight port target
	for _, rr := range rrs {
		s := rr.(*dns.SRV)
		target := normName(s.Target)
		res.Found = append(res.Found, fmt.Sprintf("%d %d %d %s", s.Priority, s.Weight, s.Port, target))
		if target == c.p.MailHost && strconv.Itoa(int(s.Port)) == want[2] {
			return
		}
		if target == "" && len(rrs) == 1 {
			res.State, res.Detail = StateWrong, "target \".\": the service is declared not offered (RFC 6186 §4)"
			return
		}
	}
	res.State = StateWrong
	res.Detail = fmt.Sprintf("points to %s, not port %s of %s", strings.Join(res.Found, " and "), want[2], c.p.MailHost)
}

// server resolves MailHost (setting c.ips) and checks the PTR of each of
// the server's addresses.
func (c *checker) server(ctx context.Context) []Result {
	host := c.p.MailHost
	fwd := Result{Record: Record{Type: "A/AAAA", Name: host, Value: joinIPs(c.p.IPs),
		Purpose: "this server's address: senders and clients find it by name"}}
	fwd.Expected = fwd.Record.Value
	addrs, err := c.r.LookupIPAddr(ctx, host)
	var resolved []net.IP
	for _, a := range addrs {
		resolved = append(resolved, a.IP)
	}
	fwd.Found = strings.Fields(joinIPs(resolved))
	if failed(&fwd, err, "A or AAAA record") {
		if fwd.State == StateMissing {
			fwd.State, fwd.Detail = StateWarning, host+" has no A or AAAA record: nothing can reach this server by name"
		}
	} else if missing := notIn(c.p.IPs, resolved); len(missing) > 0 {
		fwd.State = StateWarning
		fwd.Detail = fmt.Sprintf("%s resolves to %s, not to %s", host, joinIPs(resolved), joinIPs(missing))
	} else {
		fwd.State = StateOK
	}
	c.ips = c.p.IPs
	if len(c.ips) == 0 {
		c.ips = resolved
	}
	out := []Result{fwd}
	for _, ip := range c.ips {
		rev, _ := dns.ReverseAddr(ip.String())
		res := Result{Record: Record{Type: "PTR", Name: normName(rev), Value: host,
			Purpose: "reverse DNS of " + ip.String() + ": receivers check it names the server (ask the hosting provider)"}, Expected: host}
		names, err := c.r.LookupAddr(ctx, ip.String())
		for _, n := range names {
			res.Found = append(res.Found, normName(n))
		}
		switch {
		case failed(&res, err, "PTR record"):
			if res.State == StateMissing {
				res.State, res.Detail = StateWarning, fmt.Sprintf("%s has no PTR record: many receivers refuse mail from it; ask the hosting provider to set it to %s", ip, host)
			}
		case !slices.Contains(res.Found, host):
			res.State = StateWarning
			res.Detail = fmt.Sprintf("the PTR of %s names %s, not %s: many receivers refuse mail from it", ip, strings.Join(res.Found, ", "), host)
		default:
			res.State = StateOK
		}
		out = append(out, res)
	}
	return out
}

func joinIPs(ips []net.IP) string {
	s := make([]string, len(ips))
	for i, ip := range ips {
		s[i] = ip.String()
	}
	return strings.Join(s, " ")
}

func notIn(want, have []net.IP) []net.IP {
	var out []net.IP
	for _, ip := range want {
		if !slices.ContainsFunc(have, ip.Equal) {
			out = append(out, ip)
		}
	}
	return out
}
