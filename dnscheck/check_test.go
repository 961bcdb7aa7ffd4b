package dnscheck_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"frontdesk/dnscheck"
	"frontdesk/dnscheck/dnstest"
)

// checkEnv is a DNS server holding the server's own address and PTR, and
// a resolver pointed at it.
type checkEnv struct {
	srv *dnstest.Server
	r   *dnscheck.Resolver
	p   dnscheck.Params
}

func newCheckEnv(t *testing.T) *checkEnv {
	t.Helper()
	srv := dnstest.New(t)
	srv.MustAdd(t,
		`mail.example.test. 300 IN A 192.0.2.10`,
		`10.2.0.192.in-addr.arpa. 300 IN PTR mail.example.test.`,
	)
	r, err := dnscheck.NewResolver(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	return &checkEnv{srv: srv, r: r.WithTimeout(500 * time.Millisecond), p: testParams(t)}
}

// publishAll adds the records exactly as Zone writes them.
func (e *checkEnv) publishAll(t *testing.T) {
	t.Helper()
	for _, rr := range parseZone(t, dnscheck.Zone(e.p, dnscheck.Records(e.p))) {
		e.srv.MustAdd(t, rr.String())
	}
}

func (e *checkEnv) check(t *testing.T) *dnscheck.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return dnscheck.Check(ctx, e.r, e.p)
}

// result finds the result of the record of type typ whose name starts
// with prefix.
func result(t *testing.T, rep *dnscheck.Report, typ, prefix string) dnscheck.Result {
	t.Helper()
	for _, r := range rep.Results {
		if r.Record.Type == typ && strings.HasPrefix(r.Record.Name, prefix) {
			return r
		}
	}
	t.Fatalf("no %s result for %s", typ, prefix)
	return dnscheck.Result{}
}

func TestCheckAllMissing(t *testing.T) {
	e := newCheckEnv(t)
	rep := e.check(t)
	if rep.AllRequiredOK {
		t.Error("AllRequiredOK with nothing published")
	}
	if rep.Domain != "example.test" || rep.Checked.IsZero() {
		t.Errorf("report header: %q %v", rep.Domain, rep.Checked)
	}
	for _, r := range rep.Results {
		if r.State != dnscheck.StateMissing {
			t.Errorf("%s %s: %s (%s), want missing", r.Record.Type, r.Record.Name, r.State, r.Detail)
		}
		if r.Detail == "" || r.Expected != r.Record.Value {
			t.Errorf("%s %s: detail %q expected %q", r.Record.Type, r.Record.Name, r.Detail, r.Expected)
		}
	}
	for _, r := range rep.ServerWarnings {
		if r.State != dnscheck.StateOK {
			t.Errorf("server %s %s: %s %s", r.Record.Type, r.Record.Name, r.State, r.Detail)
		}
	}
}

func TestCheckAllPublished(t *testing.T) {
	e := newCheckEnv(t)
	e.publishAll(t)
	rep := e.check(t)
	for _, r := range rep.Results {
		if r.State != dnscheck.StateOK {
			t.Errorf("%s %s: %s: %s (found %q)", r.Record.Type, r.Record.Name, r.State, r.Detail, r.Found)
		}
	}
	if !rep.AllRequiredOK {
		t.Error("AllRequiredOK is false")
	}
	if len(rep.ServerWarnings) != 2 {
		t.Errorf("server checks: %+v", rep.ServerWarnings)
	}
	if mx := result(t, rep, "MX", "example.test"); len(mx.Found) != 1 || mx.Found[0] != "10 mail.example.test" {
		t.Errorf("MX found %q", mx.Found)
	}
}

func TestCheckDKIMTruncated(t *testing.T) {
	e := newCheckEnv(t)
	e.publishAll(t)
	rsa := e.p.DKIM[0]
	e.srv.Remove(rsa.Name, dns.TypeTXT)
	// A registrar form that keeps the first 255 characters.
	e.srv.MustAdd(t, rsa.Name+`. 300 IN TXT "`+rsa.Value[:255]+`"`)
	rep := e.check(t)
	r := result(t, rep, "TXT", rsa.Name)
	if r.State != dnscheck.StateWrong || !strings.Contains(r.Detail, "truncated") {
		t.Errorf("truncated key: %s: %s", r.State, r.Detail)
	}
	if rep.AllRequiredOK {
		t.Error("AllRequiredOK with a truncated key")
	}
	if ed := result(t, rep, "TXT", e.p.DKIM[1].Name); ed.State != dnscheck.StateOK {
		t.Errorf("ed25519 key: %s %s", ed.State, ed.Detail)
	}
}

func TestCheckDKIMOtherKey(t *testing.T) {
	e := newCheckEnv(t)
	e.publishAll(t)
	ed := e.p.DKIM[1]
	e.srv.Remove(ed.Name, dns.TypeTXT)
	e.srv.MustAdd(t, ed.Name+`. 300 IN TXT "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="`)
	r := result(t, e.check(t), "TXT", ed.Name)
	if r.State != dnscheck.StateWrong || !strings.Contains(r.Detail, "different DKIM key") {
		t.Errorf("other key: %s: %s", r.State, r.Detail)
	}
}

func TestCheckTwoSPF(t *testing.T) {
	e := newCheckEnv(t)
	e.publishAll(t)
	e.srv.MustAdd(t, `example.test. 300 IN TXT "v=spf1 include:_spf.google.com ~all"`)
	rep := e.check(t)
	r := result(t, rep, "TXT", "example.test")
	if r.State != dnscheck.StateConflicting || len(r.Found) != 2 ||
		!strings.Contains(r.Detail, "v=spf1 mx -all") || !strings.Contains(r.Detail, "include:_spf.google.com") {
		t.Errorf("two SPF: %s: %s (found %q)", r.State, r.Detail, r.Found)
	}
	if rep.AllRequiredOK {
		t.Error("AllRequiredOK with two SPF records")
	}
}

func TestCheckSPFNotUs(t *testing.T) {
	e := newCheckEnv(t)
	e.publishAll(t)
	e.srv.Remove("example.test", dns.TypeTXT)
	e.srv.MustAdd(t, `example.test. 300 IN TXT "v=spf1 ip4:198.51.100.1 -all"`)
	r := result(t, e.check(t), "TXT", "example.test")
	if r.State != dnscheck.StateWrong || !strings.Contains(r.Detail, "does not authorize this server: 192.0.2.10 (fail)") {
		t.Errorf("SPF not authorizing us: %s: %s", r.State, r.Detail)
	}
}

func TestCheckMXElsewhere(t *testing.T) {
	e := newCheckEnv(t)
	e.publishAll(t)
	e.srv.Remove("example.test", dns.TypeMX)
	e.srv.MustAdd(t, `example.test. 300 IN MX 10 mx.other.net.`)
	rep := e.check(t)
	r := result(t, rep, "MX", "example.test")
	if r.State != dnscheck.StateWrong || len(r.Found) != 1 || r.Found[0] != "10 mx.other.net" ||
		r.Detail != "MX points to mx.other.net, not mail.example.test" {
		t.Errorf("MX elsewhere: %s: %q (found %q)", r.State, r.Detail, r.Found)
	}
	if rep.AllRequiredOK {
		t.Error("AllRequiredOK with MX elsewhere")
	}
}

func TestCheckDMARCNoneIsWarning(t *testing.T) {
	e := newCheckEnv(t)
	e.publishAll(t)
	e.srv.Remove("_dmarc.example.test", 0)
	e.srv.MustAdd(t, `_dmarc.example.test. 300 IN TXT "v=DMARC1; p=none"`)
	rep := e.check(t)
	if r := result(t, rep, "TXT", "_dmarc"); r.State != dnscheck.StateWarning || !strings.Contains(r.Detail, "p=none") {
		t.Errorf("p=none: %s: %s", r.State, r.Detail)
	}
	if !rep.AllRequiredOK {
		t.Error("a warning on a required record fails AllRequiredOK")
	}
}

// TestCheckServFail: a lookup that fails is "unknown", not "missing", and
// the report is not all right.
func TestCheckServFail(t *testing.T) {
	e := newCheckEnv(t)
	e.publishAll(t)
	e.srv.ServFail("_dmarc.example.test")
	e.srv.ServFail("autoconfig.example.test")
	rep := e.check(t)
	for _, prefix := range []string{"_dmarc", "autoconfig"} {
		r := result(t, rep, map[string]string{"_dmarc": "TXT", "autoconfig": "CNAME"}[prefix], prefix)
		if r.State != dnscheck.StateUnknown || !strings.Contains(r.Detail, "SERVFAIL") || !strings.Contains(r.Detail, "try again") {
			t.Errorf("%s: %s: %s", prefix, r.State, r.Detail)
		}
	}
	if rep.AllRequiredOK {
		t.Error("AllRequiredOK with DMARC unknown")
	}
}

func TestCheckServerWarnings(t *testing.T) {
	e := newCheckEnv(t)
	e.publishAll(t)
	e.srv.Remove("10.2.0.192.in-addr.arpa", 0)
	e.srv.MustAdd(t, `10.2.0.192.in-addr.arpa. 300 IN PTR host-10.provider.example.`)
	rep := e.check(t)
	if !rep.AllRequiredOK {
		t.Error("server warnings fail AllRequiredOK")
	}
	var ptr dnscheck.Result
	for _, r := range rep.ServerWarnings {
		if r.Record.Type == "PTR" {
			ptr = r
		}
	}
	if ptr.State != dnscheck.StateWarning || !strings.Contains(ptr.Detail, "host-10.provider.example, not mail.example.test") {
		t.Errorf("PTR: %s: %s", ptr.State, ptr.Detail)
	}

	e.srv.Remove("mail.example.test", 0)
	rep = e.check(t)
	if a := rep.ServerWarnings[0]; a.State != dnscheck.StateWarning || !strings.Contains(a.Detail, "no A or AAAA") {
		t.Errorf("no address: %s: %s", a.State, a.Detail)
	}
	// Without an address SPF cannot be evaluated; "mx" is accepted.
	if r := result(t, rep, "TXT", "example.test"); r.State != dnscheck.StateOK {
		t.Errorf("SPF without address: %s: %s", r.State, r.Detail)
	}
}

func TestCheckAddressInsteadOfCNAME(t *testing.T) {
	e := newCheckEnv(t)
	e.publishAll(t)
	e.srv.Remove("mta-sts.example.test", 0)
	e.srv.MustAdd(t, `mta-sts.example.test. 300 IN A 192.0.2.10`)
	e.srv.Remove("autoconfig.example.test", 0)
	e.srv.MustAdd(t, `autoconfig.example.test. 300 IN A 198.51.100.7`)
	rep := e.check(t)
	if r := result(t, rep, "CNAME", "mta-sts"); r.State != dnscheck.StateOK {
		t.Errorf("mta-sts A: %s: %s", r.State, r.Detail)
	}
	if r := result(t, rep, "CNAME", "autoconfig"); r.State != dnscheck.StateWrong || !strings.Contains(r.Detail, "198.51.100.7") {
		t.Errorf("autoconfig elsewhere: %s: %s", r.State, r.Detail)
	}
}
