package mailauth

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"frontdesk/dkim"
	"frontdesk/dnscheck"
	"frontdesk/dnscheck/dnstest"
)

func TestCheck(t *testing.T) {
	dns := dnstest.New(t)
	keys, err := dkim.OpenKeyring(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	made, err := keys.Generate("a.test")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range made {
		dns.MustAdd(t, k.ZoneLine())
	}
	dns.MustAdd(t,
		`a.test. 300 IN TXT "v=spf1 ip4:192.0.2.10 -all"`,
		`_dmarc.a.test. 300 IN TXT "v=DMARC1; p=reject"`,
		`_dmarc.q.test. 300 IN TXT "v=DMARC1; p=quarantine"`,
	)
	r, err := dnscheck.NewResolver(dns.Addr)
	if err != nil {
		t.Fatal(err)
	}
	c := New(r.WithTimeout(time.Second), "mx.b.test")
	msg := []byte("From: Alice <alice@a.test>\r\nTo: bob@b.test\r\nSubject: hi\r\n\r\nhello\r\n")
	signed, err := dkim.Sign(msg, made)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tests := []struct {
		name   string
		in     Input
		want   []string
		action Action
	}{
		{"all pass", Input{IP: net.ParseIP("192.0.2.10"), Helo: "mx.a.test", MailFrom: "alice@a.test", Message: signed},
			[]string{"spf=pass", "dkim=pass", "dmarc=pass", "header.s=" + made[0].Selector}, Deliver},
		{"dkim alone aligns", Input{IP: net.ParseIP("198.51.100.1"), Helo: "relay.test", MailFrom: "alice@a.test", Message: signed},
			[]string{"spf=fail", "dkim=pass", "dmarc=pass"}, Deliver},
		{"forged", Input{IP: net.ParseIP("198.51.100.1"), Helo: "forger.test", MailFrom: "alice@a.test", Message: msg},
			[]string{"spf=fail", "dkim=none", "dmarc=fail"}, Reject},
		{"tampered", Input{IP: net.ParseIP("198.51.100.1"), Helo: "forger.test", MailFrom: "x@q.test",
			Message: []byte(strings.Replace(string(signed), "hello", "HELLO", 1))},
			[]string{"dkim=fail", "dmarc=fail"}, Reject},
		{"quarantine", Input{IP: net.ParseIP("198.51.100.1"), Helo: "forger.test", MailFrom: "x@q.test",
			Message: []byte("From: boss@q.test\r\n\r\nx\r\n")}, []string{"dmarc=fail"}, Junk},
	}
	for _, tc := range tests {
		res := c.Check(ctx, tc.in)
		for _, w := range tc.want {
			if !strings.Contains(res.Header, w) {
				t.Errorf("%s: header lacks %q:\n%s", tc.name, w, res.Header)
			}
		}
		if res.Action != tc.action {
			t.Errorf("%s: action %v, want %v (%s)", tc.name, res.Action, tc.action, res)
		}
		if !strings.HasPrefix(res.Header, "Authentication-Results: mx.b.test;") || !strings.HasSuffix(res.Header, "\r\n") {
			t.Errorf("%s: malformed header %q", tc.name, res.Header)
		}
		for _, line := range strings.Split(strings.TrimSuffix(res.Header, "\r\n"), "\r\n") {
			if len(line) > 998 {
				t.Errorf("%s: header line of %d bytes", tc.name, len(line))
			}
		}
	}
}

func TestFromDomain(t *testing.T) {
	for msg, want := range map[string]string{
		"From: A <a@Example.COM>\r\n\r\nx": "example.com",
		"Subject: x\r\n\r\nFrom: a@b.test": "",
		"From: a@b.test\n\nLF only":        "b.test",
		"garbage":                          "",
	} {
		if got := FromDomain([]byte(msg)); got != want {
			t.Errorf("FromDomain(%q) = %q, want %q", msg, got, want)
		}
	}
}
