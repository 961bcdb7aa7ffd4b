package dmarc

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dmarc"

	"frontdesk/dnscheck"
	"frontdesk/dnscheck/dnstest"
	"frontdesk/spf"
)

// newDNSServer starts a dnstest server, retrying when the random UDP port
// it picked is taken for TCP.
func newDNSServer(t testing.TB) *dnstest.Server {
	t.Helper()
	var err error
	for range 10 {
		var srv *dnstest.Server
		if srv, err = dnstest.Start(); err == nil {
			t.Cleanup(srv.Close)
			return srv
		}
	}
	t.Fatal(err)
	return nil
}

func testEvaluator(t *testing.T, o Options, zone ...string) *Evaluator {
	t.Helper()
	srv := newDNSServer(t)
	srv.MustAdd(t, zone...)
	srv.ServFail("_dmarc.servfail.test")
	srv.Silence("_dmarc.silent.test")
	srv.ServFail("_dmarc.orgfail.test")
	r, err := dnscheck.NewResolver(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	return NewEvaluatorWithOptions(r.WithTimeout(100*time.Millisecond), o)
}

func TestOrganizationalDomain(t *testing.T) {
	for in, want := range map[string]string{
		"example.com":             "example.com",
		"mail.example.com":        "example.com",
		"a.b.mail.example.com.":   "example.com",
		"Mail.Example.CO.UK":      "example.co.uk",
		"example.co.uk":           "example.co.uk",
		"co.uk":                   "co.uk",
		"com":                     "com",
		"foo.bar.example.test":    "example.test",
		"user.github.io":          "user.github.io",
		"deep.user.github.io":     "user.github.io",
		"mail.example.com.au":     "example.com.au",
		"sub.example.xn--p1ai":    "example.xn--p1ai",
		"www.city.kawasaki.jp":    "city.kawasaki.jp",
		"mail.sales.example.test": "example.test",
	} {
		if got := OrganizationalDomain(in); got != want {
			t.Errorf("OrganizationalDomain(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAligned(t *testing.T) {
	tests := []struct {
		auth, from string
		mode       dmarc.AlignmentMode
		want       bool
	}{
		{"example.com", "example.com", dmarc.AlignmentRelaxed, true},
		{"example.com", "example.com", dmarc.AlignmentStrict, true},
		{"EXAMPLE.com.", "example.COM", dmarc.AlignmentStrict, true},
		{"mail.example.com", "example.com", dmarc.AlignmentRelaxed, true},
		{"mail.example.com", "example.com", dmarc.AlignmentStrict, false},
		{"example.com", "news.example.com", dmarc.AlignmentRelaxed, true},
		{"a.example.com", "b.example.com", dmarc.AlignmentRelaxed, true},
		{"a.example.com", "b.example.com", dmarc.AlignmentStrict, false},
		{"mail.example.co.uk", "example.co.uk", dmarc.AlignmentRelaxed, true},
		{"mail.example.co.uk", "example.co.uk", dmarc.AlignmentStrict, false},
		{"other.co.uk", "example.co.uk", dmarc.AlignmentRelaxed, false},
		{"example.com", "example.net", dmarc.AlignmentRelaxed, false},
		{"evilexample.com", "example.com", dmarc.AlignmentRelaxed, false},
		{"alice.github.io", "bob.github.io", dmarc.AlignmentRelaxed, false},
		{"", "example.com", dmarc.AlignmentRelaxed, false},
	}
	for _, tc := range tests {
		if got := Aligned(tc.auth, tc.from, tc.mode); got != tc.want {
			t.Errorf("Aligned(%q, %q, %s) = %v, want %v", tc.auth, tc.from, tc.mode, got, tc.want)
		}
	}
}

func TestEvaluate(t *testing.T) {
	e := testEvaluator(t, Options{},
		`_dmarc.reject.test. TXT "v=DMARC1; p=reject"`,
		`_dmarc.quar.test. TXT "v=DMARC1; p=quarantine; pct=100"`,
		`_dmarc.none.test. TXT "v=DMARC1; p=none; rua=mailto:r@none.test"`,
		`_dmarc.strict.test. TXT "v=DMARC1; p=reject; aspf=s; adkim=s"`,
		`_dmarc.pct0.test. TXT "v=DMARC1; p=reject; pct=0"`,
		`_dmarc.pct0q.test. TXT "v=DMARC1; p=quarantine; pct=0"`,
		`_dmarc.sp.test. TXT "v=DMARC1; p=reject; sp=quarantine"`,
		`_dmarc.own.sp.test. TXT "v=DMARC1; p=none"`,
		`_dmarc.example.co.uk. TXT "v=DMARC1; p=reject; sp=none"`,
		`_dmarc.bad.test. TXT "v=DMARC1; p=bogus"`,
		`_dmarc.nop.test. TXT "v=DMARC1; rua=mailto:x@nop.test"`,
		`_dmarc.multi.test. TXT "v=DMARC1; p=reject"`, `_dmarc.multi.test. TXT "v=DMARC1; p=none"`,
		`_dmarc.other.test. TXT "v=spf1 -all"`, `_dmarc.other.test. TXT "v=DMARC1; p=quarantine"`,
		`_dmarc.notfirst.test. TXT "p=reject; v=DMARC1"`,
		`_dmarc.orgfail.test. TXT "v=DMARC1; p=reject"`,
	)
	tests := []struct {
		name   string
		in     Input
		result Result
		policy Policy
		domain string
		spfA   bool
		dkimA  bool
	}{
		{"spf aligned pass", Input{FromDomain: "reject.test", SPF: spf.Pass, SPFDomain: "reject.test"},
			Pass, PolicyNone, "reject.test", true, false},
		{"spf relaxed subdomain", Input{FromDomain: "reject.test", SPF: spf.Pass, SPFDomain: "bounces.reject.test"},
			Pass, PolicyNone, "reject.test", true, false},
		{"spf pass unaligned", Input{FromDomain: "reject.test", SPF: spf.Pass, SPFDomain: "esp.example"},
			Fail, PolicyReject, "reject.test", false, false},
		{"spf softfail aligned", Input{FromDomain: "reject.test", SPF: spf.SoftFail, SPFDomain: "reject.test"},
			Fail, PolicyReject, "reject.test", false, false},
		{"dkim aligned pass", Input{FromDomain: "reject.test", SPF: spf.Fail, SPFDomain: "reject.test",
			DKIM: []DKIMResult{{"esp.example", true}, {"mail.reject.test", true}}},
			Pass, PolicyNone, "reject.test", false, true},
		{"dkim aligned but failing", Input{FromDomain: "reject.test", DKIM: []DKIMResult{{"reject.test", false}}},
			Fail, PolicyReject, "reject.test", false, false},
		{"both aligned", Input{FromDomain: "reject.test", SPF: spf.Pass, SPFDomain: "reject.test",
			DKIM: []DKIMResult{{"reject.test", true}}}, Pass, PolicyNone, "reject.test", true, true},
		{"quarantine", Input{FromDomain: "quar.test"}, Fail, PolicyQuarantine, "quar.test", false, false},
		{"p=none", Input{FromDomain: "none.test"}, Fail, PolicyNone, "none.test", false, false},
		{"strict spf subdomain", Input{FromDomain: "strict.test", SPF: spf.Pass, SPFDomain: "mail.strict.test"},
			Fail, PolicyReject, "strict.test", false, false},
		{"strict dkim subdomain", Input{FromDomain: "strict.test", DKIM: []DKIMResult{{"mail.strict.test", true}}},
			Fail, PolicyReject, "strict.test", false, false},
		{"strict exact", Input{FromDomain: "strict.test", DKIM: []DKIMResult{{"Strict.Test", true}}},
			Pass, PolicyNone, "strict.test", false, true},
		{"pct=0 reject becomes quarantine", Input{FromDomain: "pct0.test"}, Fail, PolicyQuarantine, "pct0.test", false, false},
		{"pct=0 quarantine becomes none", Input{FromDomain: "pct0q.test"}, Fail, PolicyNone, "pct0q.test", false, false},
		{"subdomain uses sp", Input{FromDomain: "news.sp.test"}, Fail, PolicyQuarantine, "sp.test", false, false},
		{"org domain itself uses p", Input{FromDomain: "sp.test"}, Fail, PolicyReject, "sp.test", false, false},
		{"subdomain with own record uses its p", Input{FromDomain: "own.sp.test"}, Fail, PolicyNone, "own.sp.test", false, false},
		{"subdomain without sp uses p", Input{FromDomain: "a.b.reject.test"}, Fail, PolicyReject, "reject.test", false, false},
		{"subdomain dkim on org domain aligns", Input{FromDomain: "a.reject.test", DKIM: []DKIMResult{{"reject.test", true}}},
			Pass, PolicyNone, "reject.test", false, true},
		{"psl org domain record", Input{FromDomain: "mail.example.co.uk"}, Fail, PolicyNone, "example.co.uk", false, false},
		{"psl org domain alignment", Input{FromDomain: "mail.example.co.uk", SPF: spf.Pass, SPFDomain: "example.co.uk"},
			Pass, PolicyNone, "example.co.uk", true, false},
		{"no record", Input{FromDomain: "norecord.test", SPF: spf.Fail}, None, PolicyNone, "norecord.test", false, false},
		{"no record on subdomain nor org", Input{FromDomain: "x.norecord.test"}, None, PolicyNone, "norecord.test", false, false},
		{"non-dmarc txt ignored", Input{FromDomain: "other.test"}, Fail, PolicyQuarantine, "other.test", false, false},
		{"v not first", Input{FromDomain: "notfirst.test"}, None, PolicyNone, "notfirst.test", false, false},
		{"multiple records", Input{FromDomain: "multi.test"}, None, PolicyNone, "multi.test", false, false},
		{"invalid policy", Input{FromDomain: "bad.test"}, PermError, PolicyNone, "bad.test", false, false},
		{"missing p", Input{FromDomain: "nop.test"}, PermError, PolicyNone, "nop.test", false, false},
		{"servfail", Input{FromDomain: "servfail.test"}, TempError, PolicyNone, "servfail.test", false, false},
		{"timeout", Input{FromDomain: "silent.test"}, TempError, PolicyNone, "silent.test", false, false},
		{"servfail on org domain", Input{FromDomain: "sub.orgfail.test"}, TempError, PolicyNone, "orgfail.test", false, false},
		{"empty from", Input{}, None, PolicyNone, "", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := e.Evaluate(context.Background(), tc.in)
			if v.Result != tc.result || v.Policy != tc.policy || v.Domain != tc.domain ||
				v.SPFAligned != tc.spfA || v.DKIMAligned != tc.dkimA {
				t.Errorf("got %s/%s at %q spf=%v dkim=%v (%s), want %s/%s at %q spf=%v dkim=%v",
					v.Result, v.Policy, v.Domain, v.SPFAligned, v.DKIMAligned, v.Reason,
					tc.result, tc.policy, tc.domain, tc.spfA, tc.dkimA)
			}
			if (v.Result == Pass || v.Result == Fail) != (v.Record != nil) {
				t.Errorf("Record = %v for %s", v.Record, v.Result)
			}
		})
	}
}

// TestPctSampling checks §6.6.4 with pct=50 and a seeded source: about
// half the failing messages get p, the rest the next less strict policy.
func TestPctSampling(t *testing.T) {
	e := testEvaluator(t, Options{Rand: rand.New(rand.NewPCG(1, 2))},
		`_dmarc.half.test. TXT "v=DMARC1; p=reject; pct=50"`,
		`_dmarc.all.test. TXT "v=DMARC1; p=reject; pct=100"`)
	counts := map[Policy]int{}
	for range 200 {
		counts[e.Evaluate(context.Background(), Input{FromDomain: "half.test"}).Policy]++
	}
	if counts[PolicyReject]+counts[PolicyQuarantine] != 200 || counts[PolicyReject] < 70 || counts[PolicyReject] > 130 {
		t.Errorf("pct=50 over 200 messages: %v", counts)
	}
	for range 50 {
		if p := e.Evaluate(context.Background(), Input{FromDomain: "all.test"}).Policy; p != PolicyReject {
			t.Fatalf("pct=100 gave %s", p)
		}
	}
	// A passing message is never sampled into a policy.
	v := e.Evaluate(context.Background(), Input{FromDomain: "half.test", DKIM: []DKIMResult{{"half.test", true}}})
	if v.Result != Pass || v.Policy != PolicyNone {
		t.Errorf("passing message: %s/%s", v.Result, v.Policy)
	}
}

func TestAuthResult(t *testing.T) {
	v := Verdict{Result: Fail, Policy: PolicyReject, FromDomain: "example.com", Reason: "no aligned identifier passed"}
	r := v.AuthResult()
	if r.Value != authres.ResultFail || r.From != "example.com" || r.Reason == "" {
		t.Errorf("AuthResult = %+v", r)
	}
	h := authres.Format("mx.frontdesk.test", []authres.Result{r})
	if !strings.Contains(h, "dmarc=fail") || !strings.Contains(h, "header.from=example.com") {
		t.Errorf("formatted: %s", h)
	}
	if r := (Verdict{Result: Pass, FromDomain: "example.com", Reason: "SPF aligned"}).AuthResult(); r.Reason != "" {
		t.Errorf("pass carries reason %q", r.Reason)
	}
}
