package main

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"frontdesk/dkim"
	"frontdesk/dnscheck"
	"frontdesk/dnscheck/dnstest"
	"frontdesk/mailauth"
	"frontdesk/smtpd"
)

// TestJudgeDNSTempError: a message DMARC would refuse only because its
// DKIM key could not be fetched is deferred (451) by default, and with
// on_dns_temperror = "accept" goes to Junk, never refused.
func TestJudgeDNSTempError(t *testing.T) {
	dns := dnstest.New(t)
	keys, err := dkim.OpenKeyring(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	made, err := keys.Generate("a.test")
	if err != nil {
		t.Fatal(err)
	}
	dns.MustAdd(t, `a.test. 300 IN TXT "v=spf1 ip4:192.0.2.10 -all"`, `_dmarc.a.test. 300 IN TXT "v=DMARC1; p=reject"`)
	for _, k := range made {
		dns.MustAdd(t, k.ZoneLine())
		dns.ServFail(k.RecordName()) // the key cannot be fetched
	}
	msg, err := dkim.Sign([]byte("From: <alice@a.test>\r\nTo: <bob@b.test>\r\nSubject: hi\r\n\r\nhello\r\n"), made)
	if err != nil {
		t.Fatal(err)
	}
	r, err := dnscheck.NewResolver(dns.Addr)
	if err != nil {
		t.Fatal(err)
	}
	checker := mailauth.New(r.WithTimeout(time.Second), "mx.b.test")
	// Relayed through an address SPF does not list: only DKIM could pass.
	in := smtpd.JudgeInput{IP: net.ParseIP("198.51.100.1"), Helo: "relay.test", MailFrom: "alice@a.test",
		Recipients: []uint64{7}, Message: msg}

	got := judge{auth: checker}.Judge(context.Background(), in)
	if !got.Defer || got.Reject || !strings.Contains(got.Reason, "Temporary authentication failure") {
		t.Errorf("defer mode: %+v", got)
	}
	got = judge{auth: checker, acceptTempError: true}.Judge(context.Background(), in)
	if got.Defer || got.Reject || got.Mailbox[7] != "Junk" || !strings.Contains(got.Headers, "dkim=temperror") {
		t.Errorf("accept mode: defer %v reject %v mailbox %q headers %q", got.Defer, got.Reject, got.Mailbox[7], got.Headers)
	}
}
