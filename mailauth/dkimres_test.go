package mailauth

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/authres"

	"frontdesk/dkim"
	"frontdesk/dnscheck"
	"frontdesk/dnscheck/dnstest"
)

// TestDKIMPerSignature: every signature gets its own dkim= result with
// its reason as a comment and header.b; beyond the eighth, neutral, and
// the header still parses.
func TestDKIMPerSignature(t *testing.T) {
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
	r, err := dnscheck.NewResolver(dns.Addr)
	if err != nil {
		t.Fatal(err)
	}
	c := New(r.WithTimeout(time.Second), "mx.b.test")
	msg := []byte("From: alice@a.test\r\nTo: bob@b.test\r\nSubject: hi\r\n\r\nhello\r\n")
	signed := msg
	for range 5 { // 10 signatures: 8 verified, 2 not
		if signed, err = dkim.Sign(signed, made); err != nil {
			t.Fatal(err)
		}
	}
	res := c.Check(context.Background(), Input{IP: net.ParseIP("192.0.2.1"), Helo: "x.test", MailFrom: "alice@a.test", Message: signed})
	if n := strings.Count(res.Header, "dkim=pass"); n != 8 {
		t.Errorf("%d dkim=pass, want 8:\n%s", n, res.Header)
	}
	if n := strings.Count(res.Header, "dkim=neutral (not verified: more than 8 signatures)"); n != 2 {
		t.Errorf("%d neutral with the reason, want 2:\n%s", n, res.Header)
	}
	if n := strings.Count(res.Header, "header.b="); n != 10 {
		t.Errorf("%d header.b, want 10:\n%s", n, res.Header)
	}
	unfolded := strings.ReplaceAll(strings.TrimSuffix(res.Header, "\r\n"), "\r\n\t", " ")
	_, value, _ := strings.Cut(unfolded, ": ")
	id, parsed, err := authres.Parse(value)
	if err != nil || id != "mx.b.test" || len(parsed) != 12 {
		t.Errorf("header does not parse back into 12 results: %v %q %d\n%s", err, id, len(parsed), res.Header)
	}

	tampered := []byte(strings.Replace(string(signed), "hello", "HELLO", 1))
	res = c.Check(context.Background(), Input{IP: net.ParseIP("192.0.2.1"), Helo: "x.test", MailFrom: "alice@a.test", Message: tampered})
	if !strings.Contains(res.Header, "dkim=fail (body hash did not verify) header.d=a.test header.i=@a.test header.s=") {
		t.Errorf("tampered: no fail with reason:\n%s", res.Header)
	}
}

func TestDKIMResultsText(t *testing.T) {
	got := dkimResults([]dkim.Result{
		{Domain: "a.test", Identifier: "@a.test", Selector: "s1", Algorithm: "rsa-sha256", B: "abcdefghijkl", Status: dkim.StatusPass},
		{Domain: "a.test", Selector: "s2", Status: dkim.StatusPermError, Err: errString("key revoked (empty p=); see (x)")},
		{Domain: "we;ird", Selector: "s\"3", Status: dkim.StatusTempError, Err: errString("x\r\ny")},
	})
	want := "; dkim=pass header.d=a.test header.i=@a.test header.s=s1 header.a=rsa-sha256 header.b=abcdefgh" +
		"; dkim=permerror (key revoked [empty p=], see [x]) header.d=a.test header.s=s2" +
		`; dkim=temperror (x??y) header.d="we;ird" header.s=s3`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if dkimResults(nil) != "; dkim=none" {
		t.Errorf("no signatures: %q", dkimResults(nil))
	}
}

type errString string

func (e errString) Error() string { return string(e) }
