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

// signedMessage returns a message from alice@a.test signed with keys
// published on dns, with SPF and DMARC records that would pass it.
func signedMessage(t *testing.T, dns *dnstest.Server) []byte {
	t.Helper()
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
	dns.MustAdd(t, `a.test. 300 IN TXT "v=spf1 ip4:192.0.2.10 -all"`, `_dmarc.a.test. 300 IN TXT "v=DMARC1; p=reject"`)
	signed, err := dkim.Sign([]byte("From: Alice <alice@a.test>\r\nTo: bob@b.test\r\nSubject: hi\r\n\r\nhello\r\n"), made)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func checker(t *testing.T, addr string, timeout, budget time.Duration) *Checker {
	t.Helper()
	r, err := dnscheck.NewResolver(addr)
	if err != nil {
		t.Fatal(err)
	}
	return New(r.WithTimeout(timeout), "mx.b.test").WithBudget(budget)
}

// TestDNSFaultsGiveTempError: with the resolver's server down, slow past
// the query timeout, or never answering, SPF, DKIM and DMARC all say
// temperror (never fail, none or reject), and the result says so.
func TestDNSFaultsGiveTempError(t *testing.T) {
	in := func(msg []byte) Input {
		return Input{IP: net.ParseIP("192.0.2.10"), Helo: "mx.a.test", MailFrom: "alice@a.test", Message: msg}
	}
	want := []string{"spf=temperror", "dkim=temperror", "dmarc=temperror"}
	check := func(name string, c *Checker, msg []byte) {
		t.Helper()
		res := c.Check(context.Background(), in(msg))
		for _, w := range want {
			if !strings.Contains(res.Header, w) {
				t.Errorf("%s: header lacks %q:\n%s", name, w, res.Header)
			}
		}
		if !res.TempError() || res.Action != Deliver {
			t.Errorf("%s: TempError %v, action %v (%s)", name, res.TempError(), res.Action, res)
		}
	}

	// Down: nothing listens, every query is refused at once.
	msg := signedMessage(t, dnstest.New(t))
	check("server down", checker(t, dnstest.DeadAddr(t), time.Second, 5*time.Second), msg)

	// Slow: every answer comes after the query timeout.
	slow := dnstest.New(t)
	msg = signedMessage(t, slow)
	slow.SetDelay(2 * time.Second)
	check("server slow", checker(t, slow.Addr, 200*time.Millisecond, 5*time.Second), msg)

	// Silent, with a budget shorter than one query's timeout: the budget
	// ends every lookup of the message together.
	silent := dnstest.New(t)
	msg = signedMessage(t, silent)
	for _, name := range []string{"a.test", "mx.a.test", "_dmarc.a.test"} {
		silent.Silence(name)
	}
	silent.SetDelay(time.Minute)
	check("server silent, budget", checker(t, silent.Addr, time.Hour, 300*time.Millisecond), msg)
}

// TestTempErrorBesideDMARCPass: a temperror that cannot change the
// verdict (DMARC passes through DKIM) is no reason to defer.
func TestTempErrorBesideDMARCPass(t *testing.T) {
	dns := dnstest.New(t)
	msg := signedMessage(t, dns)
	dns.ServFail("mx.a.test") // the HELO's SPF lookup
	dns.ServFail("a.test")    // and the MAIL FROM's
	res := checker(t, dns.Addr, time.Second, 5*time.Second).Check(context.Background(),
		Input{IP: net.ParseIP("192.0.2.10"), Helo: "mx.a.test", MailFrom: "alice@a.test", Message: msg})
	if !strings.Contains(res.Header, "spf=temperror") || !strings.Contains(res.Header, "dmarc=pass") {
		t.Fatalf("header:\n%s", res.Header)
	}
	if res.TempError() {
		t.Errorf("TempError with DMARC pass: %s", res)
	}
}
