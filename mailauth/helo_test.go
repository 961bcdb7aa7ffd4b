package mailauth

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"frontdesk/dnscheck"
	"frontdesk/dnscheck/dnstest"
)

// TestHeloIdentity: a HELO that fails SPF decides, recorded as smtp.helo
// (RFC 7208 §2.3, RFC 8601 §2.7.2); otherwise MAIL FROM is judged.
func TestHeloIdentity(t *testing.T) {
	dns := dnstest.New(t)
	dns.MustAdd(t,
		`a.test. 300 IN TXT "v=spf1 ip4:192.0.2.10 -all"`,
		`mx.h.test. 300 IN TXT "v=spf1 ip4:192.0.2.99 -all"`,
	)
	r, err := dnscheck.NewResolver(dns.Addr)
	if err != nil {
		t.Fatal(err)
	}
	c := New(r.WithTimeout(time.Second), "mx.b.test")
	msg := []byte("From: Alice <alice@a.test>\r\nTo: bob@b.test\r\nSubject: hi\r\n\r\nhello\r\n")
	for _, tc := range []struct {
		name, ip, helo, from string
		result, prop, not    string
	}{
		{"helo fail decides", "192.0.2.10", "mx.h.test", "alice@a.test",
			"spf=fail", "smtp.helo=mx.h.test", "smtp.mailfrom"},
		{"helo pass, mailfrom judged", "192.0.2.99", "mx.h.test", "alice@a.test",
			"spf=fail", "smtp.mailfrom=alice@a.test", "smtp.helo"},
		{"helo without policy, mailfrom judged", "192.0.2.10", "other.test", "alice@a.test",
			"spf=pass", "smtp.mailfrom=alice@a.test", "smtp.helo"},
		{"null sender", "192.0.2.99", "mx.h.test", "",
			"spf=pass", "smtp.helo=mx.h.test", "smtp.mailfrom"},
	} {
		res := c.Check(context.Background(), Input{IP: net.ParseIP(tc.ip), Helo: tc.helo, MailFrom: tc.from, Message: msg})
		var spfPart string // the spf result, as "spf=... props"
		for _, p := range strings.Split(strings.ReplaceAll(res.Header, ";\r\n\t", "; "), "; ") {
			if strings.HasPrefix(p, "spf=") {
				spfPart = p
			}
		}
		f := strings.Fields(spfPart)
		if len(f) == 0 || f[0] != tc.result || !strings.Contains(spfPart, " "+tc.prop) || strings.Contains(spfPart, tc.not) {
			t.Errorf("%s: spf result %q in %q, want %s with %s, no %s", tc.name, spfPart, res.Header, tc.result, tc.prop, tc.not)
		}
	}
}
