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

// FuzzSPFRecord serves each input as the SPF record of the MAIL FROM
// domain, and another as the explanation it may point to, through the
// in-process DNS server: whatever they hold, the result is one of RFC
// 7208's, and neither Authentication-Results nor the explanation that goes
// into an SMTP reply breaks a line.
func FuzzSPFRecord(f *testing.F) {
	for _, s := range [][2]string{
		{"v=spf1 ip4:192.0.2.0/24 -all", ""},
		{"v=spf1 a mx include:inc.fuzz.test ~all", ""},
		{"v=spf1 -all exp=exp.fuzz.test", "%{i} is not one of %{d}'s servers"},
		{"v=spf1 -all exp=exp.fuzz.test", "line one\r\n550 injected"},
		{"v=spf1 a:%{ir}.%{v}._spf.%{d2} exists:%{l1r+-}.fuzz.test ?all", ""},
		{"v=spf1 redirect=fuzz.test", ""},
		{"v=spf1 ip6:2001:db8::/32 ip4:1.2.3.4/33 -all", ""},
		{"v=spf1 include:fuzz.test -all\r\n", ""},
		{"v=spf1 ptr:%{p} -all", ""},
		{"v=spf1 mx:foo:bar/baz.fuzz.test/24//64 -all", ""},
	} {
		f.Add(s[0], s[1])
	}
	srv := newDNSServer(f)
	srv.MustAdd(f, `inc.fuzz.test. TXT "v=spf1 ip4:192.0.2.1 -all"`, `fuzz.test. A 192.0.2.1`, `fuzz.test. MX 10 fuzz.test.`)
	r, err := dnscheck.NewResolver(srv.Addr)
	if err != nil {
		f.Fatal(err)
	}
	c := NewChecker(r.WithTimeout(time.Second))
	ip := net.ParseIP("198.51.100.7")
	f.Fuzz(func(t *testing.T, record, exp string) {
		if len(record) > 2048 || len(exp) > 1024 {
			return // past what one DNS answer carries in practice
		}
		srv.SetTXT("fuzz.test", record)
		srv.SetTXT("exp.fuzz.test", exp)
		v := c.CheckSMTP(context.Background(), ip, "mx.client.test", "user@fuzz.test")
		switch v.Result {
		case None, Neutral, Pass, Fail, SoftFail, TempError, PermError:
		default:
			t.Fatalf("result %q for %q", v.Result, record)
		}
		if v.Result != None && !isSPFRecord(record) {
			t.Fatalf("%q is no SPF record, yet the result is %q", record, v.Result)
		}
		if strings.ContainsFunc(v.Explanation, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			t.Fatalf("explanation %q of %q holds control characters", v.Explanation, exp)
		}
		h := authres.Format("mx.fuzz.test", []authres.Result{v.AuthResult()})
		if strings.ContainsAny(h, "\r\n") {
			t.Fatalf("Authentication-Results for %q spans lines: %q", record, h)
		}
	})
}
