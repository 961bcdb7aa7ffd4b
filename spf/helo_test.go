package spf

import (
	"context"
	"net"
	"testing"

	"frontdesk/dnscheck"
	"frontdesk/dnscheck/dnstest"
)

func TestCheckSMTP(t *testing.T) {
	c := testChecker(t,
		`mx.good.test. TXT "v=spf1 a -all"`, `mx.good.test. A 192.0.2.1`,
		`good.test. TXT "v=spf1 ip4:192.0.2.0/24 -all"`,
		`soft.test. TXT "v=spf1 ~all"`,
		`neutral.test. TXT "v=spf1 ?all"`,
		`broken.test. TXT "v=spf1 bogus"`,
	)
	for _, tc := range []struct {
		name, ip, helo, from string
		want                 Result
		identity, domain     string
	}{
		{"helo pass, mailfrom decides", "192.0.2.1", "mx.good.test", "a@good.test", Pass, "mailfrom", "good.test"},
		{"helo fail decides", "192.0.2.9", "mx.good.test", "a@neutral.test", Fail, "helo", "mx.good.test"},
		{"helo fail decides over mailfrom pass", "192.0.2.9", "mx.good.test", "a@good.test", Fail, "helo", "mx.good.test"},
		{"helo softfail does not decide", "192.0.2.9", "soft.test", "a@neutral.test", Neutral, "mailfrom", "neutral.test"},
		{"helo permerror does not decide", "192.0.2.9", "broken.test", "a@good.test", Pass, "mailfrom", "good.test"},
		{"helo without policy", "198.51.100.1", "nothing.test", "a@good.test", Fail, "mailfrom", "good.test"},
		{"helo trailing dot", "192.0.2.9", "mx.good.test.", "a@good.test", Fail, "helo", "mx.good.test"},
		{"address literal helo is not checked", "192.0.2.9", "[192.0.2.9]", "a@good.test", Pass, "mailfrom", "good.test"},
		{"bare address helo is not checked", "192.0.2.9", "192.0.2.9", "a@good.test", Pass, "mailfrom", "good.test"},
		{"single-label helo is not checked", "192.0.2.9", "localhost", "a@good.test", Pass, "mailfrom", "good.test"},
		{"null sender: helo pass", "192.0.2.1", "mx.good.test", "", Pass, "helo", "mx.good.test"},
		{"null sender: helo fail", "198.51.100.1", "mx.good.test", "<>", Fail, "helo", "mx.good.test"},
		{"null sender: helo softfail", "198.51.100.1", "soft.test", "", SoftFail, "helo", "soft.test"},
		{"null sender, address literal", "198.51.100.1", "[198.51.100.1]", "", None, "helo", "[198.51.100.1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := c.CheckSMTP(context.Background(), net.ParseIP(tc.ip), tc.helo, tc.from)
			if v.Result != tc.want || v.Identity != tc.identity || v.Domain != tc.domain {
				t.Errorf("CheckSMTP(%s, %q, %q) = %s %s %q (%v), want %s %s %q", tc.ip, tc.helo, tc.from,
					v.Result, v.Identity, v.Domain, v.Err, tc.want, tc.identity, tc.domain)
			}
			ar := v.AuthResult()
			if (tc.identity == "helo") != (ar.Helo == tc.domain && ar.From == "") {
				t.Errorf("AuthResult = %+v, want smtp.%s", ar, tc.identity)
			}
		})
	}
}

// BenchmarkCheckSMTP: a HELO check and a MAIL FROM check whose record
// has a rewritten a term with ':' and '/' and a dual CIDR, against the
// in-process DNS server.
//
//	go test -run '^$' -bench CheckSMTP ./spf/
func BenchmarkCheckSMTP(b *testing.B) {
	srv := newDNSServerB(b)
	srv.MustAdd(b,
		`mx.good.test. TXT "v=spf1 a -all"`, `mx.good.test. A 192.0.2.1`,
		`good.test. TXT "v=spf1 exists:%{i}.ex.good.test a:foo:bar/baz.good.test/24//64 -all"`,
		`foo:bar/baz.good.test. A 192.0.2.1`,
	)
	r, err := dnscheck.NewResolver(srv.Addr)
	if err != nil {
		b.Fatal(err)
	}
	c := NewChecker(r)
	ip := net.ParseIP("192.0.2.1")
	for b.Loop() {
		if v := c.CheckSMTP(context.Background(), ip, "mx.good.test", "a@good.test"); v.Result != Pass {
			b.Fatalf("%s (%v)", v.Result, v.Err)
		}
	}
}

func newDNSServerB(b *testing.B) *dnstest.Server {
	srv, err := dnstest.Start()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Close)
	return srv
}
