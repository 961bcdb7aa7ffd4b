package spf

import (
	"context"
	"net"
	"strings"
	"testing"
)

// TestDomainSpecs covers what the library alone gets wrong: domain-specs
// holding ':' and '/', %{p}, exists on A records only; and that the lookup
// limits stay exact through the rewriting.
func TestDomainSpecs(t *testing.T) {
	var incs []string // a record with ten includes, and one with eleven
	for i := range 11 {
		incs = append(incs, "include:n"+string(rune('a'+i))+".lim.test")
	}
	zone := []string{
		`colon.test. TXT "v=spf1 a:foo:bar/baz.colon.test -all"`,
		`foo:bar/baz.colon.test. A 192.0.2.1`,
		`foo:bar/baz.colon.test. AAAA 2001:db8::1`,
		`cidr.test. TXT "v=spf1 a:foo:bar/baz.colon.test/24//64 -all"`,
		`mxcolon.test. TXT "v=spf1 mx:x/y:z.mxcolon.test/28 -all"`,
		`x/y:z.mxcolon.test. MX 10 mail.mxcolon.test.`,
		`mail.mxcolon.test. A 198.51.100.1`,
		`slashmacro.test. TXT "v=spf1 a:%{l}/a.%{d}/24 -all"`,
		`bob/a.slashmacro.test. A 203.0.113.1`,
		// 192.0.2.50 has two PTR names; only good.ptr.test resolves back.
		`50.2.0.192.in-addr.arpa. PTR bad.ptr.test.`,
		`50.2.0.192.in-addr.arpa. PTR good.ptr.test.`,
		`good.ptr.test. A 192.0.2.50`,
		`bad.ptr.test. A 192.0.2.99`,
		`ptr.test. TXT "v=spf1 exists:%{p}.allow.ptr.test -all"`,
		`good.ptr.test.allow.ptr.test. A 127.0.0.2`,
		`unknown.allow.ptr.test. A 127.0.0.2`,
		`pnone.test. TXT "v=spf1 exists:%{p}.list.pnone.test -all"`,
		`unknown.list.pnone.test. A 127.0.0.2`,
		`pinc.test. TXT "v=spf1 include:%{p}.inc.ptr.test -all"`,
		`good.ptr.test.inc.ptr.test. TXT "v=spf1 a:%{d} -all"`,
		`good.ptr.test.inc.ptr.test. A 192.0.2.50`,
		// exists wants A records: an AAAA, even an IPv4-mapped one, is no
		// match, and its lookup is void.
		`ex.test. TXT "v=spf1 exists:%{ir}.%{v}.ex.test -all"`,
		`1.2.0.192.in-addr.ex.test. A 127.0.0.2`,
		`3.2.0.192.in-addr.ex.test. AAAA ::ffff:127.0.0.2`,
		`4.2.0.192.in-addr.ex.test. AAAA 2001:db8::2`,
		`exv6.test. TXT "v=spf1 exists:%{v}.exv6.test -all"`,
		`ip6.exv6.test. AAAA 2001:db8::7`,
		`exa6.test. TXT "v=spf1 exists:a.exa6.test -all"`,
		`a.exa6.test. A 127.0.0.2`,
		`exvoid.test. TXT "v=spf1 exists:a.exvoid.test exists:b.exvoid.test exists:c.exvoid.test +all"`,
		`a.exvoid.test. AAAA 2001:db8::1`, `b.exvoid.test. AAAA 2001:db8::1`, `c.exvoid.test. AAAA 2001:db8::1`,
		`lim10.test. TXT "v=spf1 ` + strings.Join(incs[:10], " ") + ` ip4:192.0.2.1 -all"`,
		`lim11.test. TXT "v=spf1 ` + strings.Join(incs, " ") + ` ip4:192.0.2.1 -all"`,
	}
	for i := range 11 {
		zone = append(zone, `n`+string(rune('a'+i))+`.lim.test. TXT "v=spf1 -ip4:203.0.113.9"`)
	}
	var mxs []string
	for i := range 11 {
		h := "m" + string(rune('a'+i)) + ".mx11.test."
		mxs = append(mxs, `mx11.test. MX 10 `+h, h+` A 192.0.2.`+string(rune('1'+i%9)))
	}
	zone = append(zone, mxs...)
	zone = append(zone, `mx11.test. TXT "v=spf1 mx:mx11.test/30 -all"`)
	c := testChecker(t, zone...)

	for _, tc := range []struct {
		name, ip, from string
		want           Result
	}{
		{"a with ':' and '/'", "192.0.2.1", "a@colon.test", Pass},
		{"a with ':' and '/', other ip", "192.0.2.2", "a@colon.test", Fail},
		{"a with ':' and '/', ip4-mapped client", "::ffff:192.0.2.1", "a@colon.test", Pass},
		{"a with ':', '/' and dual cidr", "192.0.2.200", "a@cidr.test", Pass},
		{"dual cidr, ip6", "2001:db8::ffff", "a@cidr.test", Pass},
		{"dual cidr, ip6 outside", "2001:db8:1::1", "a@cidr.test", Fail},
		{"dual cidr, ip4-mapped client", "::ffff:192.0.2.77", "a@cidr.test", Pass},
		{"mx with ':' and '/' and cidr", "198.51.100.14", "a@mxcolon.test", Pass},
		{"mx with ':' and '/', outside cidr", "198.51.100.17", "a@mxcolon.test", Fail},
		{"'/' next to macros", "203.0.113.200", "bob@slashmacro.test", Pass},
		{"'/' next to macros, other user", "203.0.113.200", "eve@slashmacro.test", Fail},
		{"%{p} validated name", "192.0.2.50", "a@ptr.test", Pass},
		{"%{p} unknown without PTR", "192.0.2.51", "a@pnone.test", Pass},
		{"%{p} validated name is not unknown", "192.0.2.50", "a@pnone.test", Fail},
		{"%{p} in include, %{d} of the target", "192.0.2.50", "a@pinc.test", Pass},
		{"exists A", "192.0.2.1", "a@ex.test", Pass},
		{"exists ignores IPv4-mapped AAAA", "192.0.2.3", "a@ex.test", Fail},
		{"exists ignores AAAA", "192.0.2.4", "a@ex.test", Fail},
		{"exists AAAA only, IPv6 client", "2001:db8::7", "a@exv6.test", Fail},
		{"exists A, IPv6 client", "2001:db8::7", "a@exa6.test", Pass},
		{"exists on AAAA-only names is void", "192.0.2.1", "a@exvoid.test", PermError},
		{"ten includes", "192.0.2.1", "a@lim10.test", Pass},
		{"eleven includes", "192.0.2.1", "a@lim11.test", PermError},
		{"eleven MX names", "192.0.2.1", "a@mx11.test", PermError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := c.Check(context.Background(), net.ParseIP(tc.ip), "h.test", tc.from)
			if v.Result != tc.want {
				t.Errorf("Check(%s, %q) = %s (%v), want %s", tc.ip, tc.from, v.Result, v.Err, tc.want)
			}
		})
	}
}

// FuzzRewrite feeds records through the rewriting: it must not panic,
// must keep every term, and a rewritten a/mx must keep its CIDR lengths
// and stand for the domain-spec it replaced.
func FuzzRewrite(f *testing.F) {
	for _, s := range []string{
		"v=spf1 a:foo:bar/baz.example.com/24//64 -all",
		"v=spf1 mx:x/y.example.com//64 ~all",
		"v=spf1 exists:%{p}.%{d} include:%{ir}.x.example redirect=%{d2}",
		"v=spf1 ptr ptr:%{d}/x a/24 mx a:/ -all exp=%{p}",
		"v=spf1 +a:%%{/ ?mx:a//",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rec string) {
		if !isSPFRecord(rec) {
			return
		}
		tr := newTracking(nil, net.ParseIP("192.0.2.1"), "h.example", "a@example.com")
		tr.validated = []string{"ptr.example"} // no lookups
		out := tr.rewrite(context.Background(), rec, "example.com", "example.com")
		in, got := strings.Split(rec, " "), strings.Split(out, " ")
		if len(in) != len(got) {
			t.Fatalf("rewrite(%q) = %q: %d terms, want %d", rec, out, len(got), len(in))
		}
		for i, term := range in {
			body := strings.TrimLeft(term, "+-?~")
			name, _, _ := strings.Cut(strings.ToLower(body), ":")
			if name != "a" && name != "mx" || got[i] == term {
				continue
			}
			arg := body[len(name):]
			rest, err := stripDualCIDR(arg)
			if err != nil {
				t.Fatalf("%q rewritten to %q despite a bad CIDR", term, got[i])
			}
			cidr := arg[len(rest):]
			if !strings.HasSuffix(got[i], cidr) {
				t.Fatalf("%q rewritten to %q: lost %q", term, got[i], cidr)
			}
			ph := strings.TrimSuffix(got[i][strings.IndexByte(got[i], ':')+1:], cidr)
			tg, ok := tr.lookupTarget(ph)
			if !ok || tg.spec != rest[1:] {
				t.Fatalf("%q rewritten to %q: placeholder %q stands for %+v", term, got[i], ph, tg)
			}
		}
	})
}
