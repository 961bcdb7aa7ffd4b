package spf

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/authres"

	"frontdesk/dnscheck"
)

// testChecker serves zone (zone-file lines) and returns a Checker on it.
func testChecker(t *testing.T, zone ...string) *Checker {
	t.Helper()
	srv := newDNSServer(t)
	srv.MustAdd(t, zone...)
	srv.ServFail("servfail.test")
	srv.Silence("silent.test")
	r, err := dnscheck.NewResolver(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	return NewChecker(r.WithTimeout(100 * time.Millisecond))
}

func TestCheck(t *testing.T) {
	var chain []string // eleven includes in a row: one too many lookups
	for i := range 11 {
		next := "-all"
		if i < 10 {
			next = "include:l" + string(rune('a'+i+1)) + ".test -all"
		}
		chain = append(chain, `l`+string(rune('a'+i))+`.test. TXT "v=spf1 `+next+`"`)
	}
	c := testChecker(t, append(chain,
		`ip4.test. TXT "v=spf1 ip4:192.0.2.0/24 -all"`,
		`ip6.test. TXT "v=spf1 ip6:2001:db8::/32 -all"`,
		`soft.test. TXT "v=spf1 ~all"`,
		`neutral.test. TXT "v=spf1 ?all"`,
		`empty.test. TXT "v=spf1"`,
		`other.test. TXT "hello world"`,
		`two.test. TXT "v=spf1 -all"`, `two.test. TXT "v=spf1 +all"`,
		`a.test. TXT "v=spf1 a -all"`, `a.test. A 192.0.2.10`,
		`acidr.test. TXT "v=spf1 a:host.a.test/24 -all"`, `host.a.test. A 198.51.100.1`,
		`mx.test. TXT "v=spf1 mx -all"`, `mx.test. MX 10 mail.mx.test.`, `mail.mx.test. A 192.0.2.20`,
		`inc.test. TXT "v=spf1 include:ip4.test -all"`,
		`incnone.test. TXT "v=spf1 include:nothing.test -all"`,
		`redir.test. TXT "v=spf1 redirect=ip4.test"`,
		`redirnone.test. TXT "v=spf1 redirect=nothing.test"`,
		`exists.test. TXT "v=spf1 exists:%{ir}.list.exists.test -all"`,
		`2.2.0.192.list.exists.test. A 127.0.0.2`,
		`macro.test. TXT "v=spf1 exists:%{l1r-}.%{d} -all"`, `john.macro.test. A 127.0.0.1`,
		`late.test. TXT "v=spf1 ip4:192.0.2.1 bogus:x -all"`,
		`latecidr.test. TXT "v=spf1 +all a/33"`,
		`dupredir.test. TXT "v=spf1 redirect=a.test redirect=ip4.test"`,
		`void.test. TXT "v=spf1 a:n1.void.test a:n2.void.test a:n3.void.test +all"`,
		`void2.test. TXT "v=spf1 a:n1.void.test a:n2.void.test +all"`,
		`limit.test. TXT "v=spf1 include:la.test +all"`,
		`tf.test. TXT "v=spf1 a:servfail.test -all"`,
		`to.test. TXT "v=spf1 a:silent.test -all"`,
		`exp.test. TXT "v=spf1 -all exp=why.exp.test"`, `why.exp.test. TXT "%{i} may not send for %{d}"`,
		`helo.example.test. TXT "v=spf1 ip4:192.0.2.7 -all"`,
	)...)

	tests := []struct {
		name, ip, helo, from string
		want                 Result
		domain               string
	}{
		{"ip4 pass", "192.0.2.1", "h.test", "a@ip4.test", Pass, "ip4.test"},
		{"ip4 fail", "198.51.100.1", "h.test", "a@ip4.test", Fail, "ip4.test"},
		{"ip6 pass", "2001:db8::1", "h.test", "a@ip6.test", Pass, "ip6.test"},
		{"ip6 fail", "2001:db9::1", "h.test", "a@ip6.test", Fail, "ip6.test"},
		{"ip4 client against ip6", "192.0.2.1", "h.test", "a@ip6.test", Fail, "ip6.test"},
		{"softfail", "192.0.2.1", "h.test", "a@soft.test", SoftFail, "soft.test"},
		{"neutral", "192.0.2.1", "h.test", "a@neutral.test", Neutral, "neutral.test"},
		{"empty record is neutral", "192.0.2.1", "h.test", "a@empty.test", Neutral, "empty.test"},
		{"no record", "192.0.2.1", "h.test", "a@other.test", None, "other.test"},
		{"no such domain", "192.0.2.1", "h.test", "a@nxdomain.test", None, "nxdomain.test"},
		{"single-label domain", "192.0.2.1", "h.test", "a@localhost", None, "localhost"},
		{"two records", "192.0.2.1", "h.test", "a@two.test", PermError, "two.test"},
		{"a pass", "192.0.2.10", "h.test", "a@a.test", Pass, "a.test"},
		{"a fail", "192.0.2.11", "h.test", "a@a.test", Fail, "a.test"},
		{"a with cidr", "198.51.100.200", "h.test", "a@acidr.test", Pass, "acidr.test"},
		{"mx pass", "192.0.2.20", "h.test", "a@mx.test", Pass, "mx.test"},
		{"mx fail", "192.0.2.21", "h.test", "a@mx.test", Fail, "mx.test"},
		{"include pass", "192.0.2.5", "h.test", "a@inc.test", Pass, "inc.test"},
		{"include no match falls through", "203.0.113.5", "h.test", "a@inc.test", Fail, "inc.test"},
		{"include of no record", "192.0.2.5", "h.test", "a@incnone.test", PermError, "incnone.test"},
		{"redirect", "192.0.2.5", "h.test", "a@redir.test", Pass, "redir.test"},
		{"redirect fail", "203.0.113.5", "h.test", "a@redir.test", Fail, "redir.test"},
		{"redirect to no record", "192.0.2.5", "h.test", "a@redirnone.test", PermError, "redirnone.test"},
		{"exists pass", "192.0.2.2", "h.test", "a@exists.test", Pass, "exists.test"},
		{"exists fail", "192.0.2.3", "h.test", "a@exists.test", Fail, "exists.test"},
		{"macro local part", "192.0.2.3", "h.test", "john@macro.test", Pass, "macro.test"},
		{"macro local part other", "192.0.2.3", "h.test", "jane@macro.test", Fail, "macro.test"},
		{"syntax error after match", "192.0.2.1", "h.test", "a@late.test", PermError, "late.test"},
		{"bad cidr after all", "192.0.2.1", "h.test", "a@latecidr.test", PermError, "latecidr.test"},
		{"two redirects", "192.0.2.1", "h.test", "a@dupredir.test", PermError, "dupredir.test"},
		{"void lookup limit", "192.0.2.1", "h.test", "a@void.test", PermError, "void.test"},
		{"two void lookups are fine", "192.0.2.1", "h.test", "a@void2.test", Pass, "void2.test"},
		{"ten lookups are fine", "192.0.2.1", "h.test", "a@lb.test", Fail, "lb.test"},
		{"eleven lookups", "192.0.2.1", "h.test", "a@limit.test", PermError, "limit.test"},
		{"servfail", "192.0.2.1", "h.test", "a@tf.test", TempError, "tf.test"},
		{"servfail on record", "192.0.2.1", "h.test", "a@servfail.test", TempError, "servfail.test"},
		{"timeout", "192.0.2.1", "h.test", "a@to.test", TempError, "to.test"},
		{"timeout on record", "192.0.2.1", "h.test", "a@silent.test", TempError, "silent.test"},
		{"null sender checks helo", "192.0.2.7", "helo.example.test", "", Pass, "helo.example.test"},
		{"null sender in brackets", "192.0.2.8", "helo.example.test", "<>", Fail, "helo.example.test"},
		{"angle brackets", "192.0.2.1", "h.test", "<a@ip4.test>", Pass, "ip4.test"},
		{"invalid ip", "", "h.test", "a@ip4.test", PermError, "ip4.test"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := c.Check(context.Background(), net.ParseIP(tc.ip), tc.helo, tc.from)
			if v.Result != tc.want || v.Domain != tc.domain {
				t.Errorf("Check(%s, %s, %q) = %s for %q (%v), want %s for %q",
					tc.ip, tc.helo, tc.from, v.Result, v.Domain, v.Err, tc.want, tc.domain)
			}
		})
	}
}

func TestExplanation(t *testing.T) {
	c := testChecker(t,
		`exp.test. TXT "v=spf1 -all exp=why.exp.test"`,
		`why.exp.test. TXT "%{i} may not send for %{d} (%{l})"`,
		`r.test. TXT "v=spf1 ip4:192.0.2.1 redirect=exp.test"`,
		`own.test. TXT "v=spf1 -ip4:192.0.2.9 exp=own.why.test redirect=exp.test"`,
		`own.why.test. TXT "own reason"`,
	)
	for _, tc := range []struct{ from, ip, want string }{
		{"bob@exp.test", "192.0.2.9", "192.0.2.9 may not send for exp.test (bob)"},
		{"bob@r.test", "192.0.2.9", "192.0.2.9 may not send for exp.test (bob)"},
		{"bob@own.test", "192.0.2.9", "own reason"},
		{"bob@own.test", "192.0.2.8", "192.0.2.8 may not send for exp.test (bob)"},
	} {
		v := c.Check(context.Background(), net.ParseIP(tc.ip), "h.test", tc.from)
		if v.Result != Fail || v.Explanation != tc.want {
			t.Errorf("%s from %s: %s %q, want fail %q", tc.from, tc.ip, v.Result, v.Explanation, tc.want)
		}
	}
}

func TestCheckSyntax(t *testing.T) {
	valid := []string{
		"v=spf1", "v=spf1 -all", "V=SPF1 +ALL", "v=spf1  a  mx:%{d}/24//64 ~all ",
		"v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 ?all", "v=spf1 ptr ptr:example.com -all",
		"v=spf1 include:_spf.example.com exists:%{ir}.%{v}._spf.%{d2} -all",
		"v=spf1 redirect=_spf.example.com", "v=spf1 exp=explain.%{d} -all",
		"v=spf1 foo=%{c}bar -all", "v=spf1 a:mail.xn--zckzah -all", "v=spf1 a:example.com. -all",
	}
	invalid := []string{
		"v=spf1 -all foo", "v=spf1 ip4:192.0.2.300", "v=spf1 ip4:1.2.3.4/33", "v=spf1 ip4:01.2.3.4",
		"v=spf1 ip6:::1/129", "v=spf1 ip6:192.0.2.1", "v=spf1 a//129", "v=spf1 a/", "v=spf1 mx:",
		"v=spf1 include", "v=spf1 exists:", "v=spf1 a:example.123", "v=spf1 a:com",
		"v=spf1 a:-bad.example.-com", "v=spf1 exists:%{x}.example.com", "v=spf1 exists:%{d0}.example.com",
		"v=spf1 a:%{c}.example.com", "v=spf1 a:foo%.example.com", "v=spf1 redirect=a.com redirect=b.com",
		"v=spf1 exp=a.com exp=b.com", "v=spf1 a:ex\x01ample.com", "v=spf1 allx", "v=spf1 =all",
	}
	for _, r := range valid {
		if err := CheckSyntax(r); err != nil {
			t.Errorf("CheckSyntax(%q) = %v, want nil", r, err)
		}
	}
	for _, r := range invalid {
		if err := CheckSyntax(r); err == nil {
			t.Errorf("CheckSyntax(%q) = nil, want an error", r)
		}
	}
}

func TestAuthResult(t *testing.T) {
	v := Verdict{Result: Pass, Domain: "example.com", Identity: "mailfrom", Sender: "a@example.com"}
	got := v.AuthResult()
	if got.Value != authres.ResultPass || got.From != "a@example.com" || got.Helo != "" {
		t.Errorf("mailfrom: %+v", got)
	}
	v = Verdict{Result: PermError, Domain: "mx.example.com", Identity: "helo", Sender: "postmaster@mx.example.com",
		Err: CheckSyntax("v=spf1 bad")}
	got = v.AuthResult()
	if got.Value != authres.ResultPermError || got.Helo != "mx.example.com" || got.From != "" ||
		!strings.Contains(got.Reason, "unknown mechanism") {
		t.Errorf("helo: %+v", got)
	}
	h := authres.Format("mx.frontdesk.test", []authres.Result{got})
	if !strings.Contains(h, "spf=permerror") || !strings.Contains(h, "smtp.helo=mx.example.com") {
		t.Errorf("formatted: %s", h)
	}
}
