package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"frontdesk/dnscheck/dnstest"
)

// TestCheckSPFEdgeCases runs `frontdesk check spf` against the in-process
// DNS server on the RFC 7208 cases a user might trip over: domain-specs
// with ':' and '/' (§7.1), %{p} (§7.3), exists on A records only (§5.7),
// and a HELO that fails (§2.3).
func TestCheckSPFEdgeCases(t *testing.T) {
	dns := dnstest.New(t)
	dns.MustAdd(t,
		`colon.test. 300 IN TXT "v=spf1 a:foo:bar/baz.colon.test -all"`,
		`foo:bar/baz.colon.test. 300 IN A 192.0.2.1`,
		`cidr.test. 300 IN TXT "v=spf1 a:foo:bar/baz.colon.test/24//64 -all"`,
		`foo:bar/baz.colon.test. 300 IN AAAA 2001:db8::1`,
		`mxcolon.test. 300 IN TXT "v=spf1 mx:mx:x/y.mxcolon.test/28 -all"`,
		`mx:x/y.mxcolon.test. 300 IN MX 10 mail.mxcolon.test.`,
		`mail.mxcolon.test. 300 IN A 198.51.100.1`,
		// 192.0.2.50 names bad.ptr.test (which does not point back) and
		// good.ptr.test (which does): %{p} is good.ptr.test.
		`50.2.0.192.in-addr.arpa. 300 IN PTR bad.ptr.test.`,
		`50.2.0.192.in-addr.arpa. 300 IN PTR good.ptr.test.`,
		`good.ptr.test. 300 IN A 192.0.2.50`,
		`bad.ptr.test. 300 IN A 192.0.2.99`,
		`ptr.test. 300 IN TXT "v=spf1 exists:%{p}.allow.ptr.test -all"`,
		`good.ptr.test.allow.ptr.test. 300 IN A 127.0.0.2`,
		`ex.test. 300 IN TXT "v=spf1 exists:%{i}.ex.test -all"`,
		`192.0.2.1.ex.test. 300 IN A 127.0.0.2`,
		`192.0.2.3.ex.test. 300 IN AAAA ::ffff:127.0.0.2`,
		`exv6.test. 300 IN TXT "v=spf1 exists:%{v}.exv6.test -all"`,
		`ip6.exv6.test. 300 IN AAAA 2001:db8::2`,
		`mx.sender.test. 300 IN TXT "v=spf1 ip4:192.0.2.1 -all"`,
		`open.test. 300 IN TXT "v=spf1 +all"`,
	)
	for _, tc := range []struct {
		name, ip, helo, from string
		want, explain        string
	}{
		{"a with ':' and '/'", "192.0.2.1", "h.test", "a@colon.test", "pass", "colon.test authorizes"},
		{"a with ':' and '/', other ip", "192.0.2.2", "h.test", "a@colon.test", "fail", "colon.test does not authorize"},
		{"a with ':' and '/', ip4-mapped", "::ffff:192.0.2.1", "h.test", "a@colon.test", "pass", "colon.test authorizes"},
		{"dual cidr after the domain", "192.0.2.200", "h.test", "a@cidr.test", "pass", "cidr.test authorizes"},
		{"dual cidr, ip6", "2001:db8::abcd", "h.test", "a@cidr.test", "pass", "cidr.test authorizes"},
		{"dual cidr, ip6 outside", "2001:db8:1::1", "h.test", "a@cidr.test", "fail", "cidr.test does not authorize"},
		{"mx with ':' and '/'", "198.51.100.9", "h.test", "a@mxcolon.test", "pass", "mxcolon.test authorizes"},
		{"mx with ':' and '/', outside /28", "198.51.100.17", "h.test", "a@mxcolon.test", "fail", "mxcolon.test does not authorize"},
		{"%{p} is the validated name", "192.0.2.50", "h.test", "a@ptr.test", "pass", "ptr.test authorizes"},
		{"%{p} without PTR is unknown", "192.0.2.51", "h.test", "a@ptr.test", "fail", "ptr.test does not authorize"},
		{"exists on A", "192.0.2.1", "h.test", "a@ex.test", "pass", "ex.test authorizes"},
		{"exists ignores AAAA", "192.0.2.3", "h.test", "a@ex.test", "fail", "ex.test does not authorize"},
		{"exists ignores AAAA, IPv6 client", "2001:db8::2", "h.test", "a@exv6.test", "fail", "exv6.test does not authorize"},
		{"HELO fail decides", "192.0.2.9", "mx.sender.test", "a@open.test", "fail", "mx.sender.test does not authorize for 192.0.2.9 (helo postmaster@mx.sender.test)"},
		{"HELO pass, MAIL FROM decides", "192.0.2.1", "mx.sender.test", "a@colon.test", "pass", "(mailfrom a@colon.test)"},
		{"HELO address literal is not checked", "192.0.2.9", "[192.0.2.9]", "a@open.test", "pass", "(mailfrom a@open.test)"},
		{"null sender: HELO", "192.0.2.1", "mx.sender.test", "", "pass", "(helo postmaster@mx.sender.test)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := mustFrontdesk(t, "", "check", "spf", "--ip", tc.ip, "--helo", tc.helo, "--from", tc.from, "--dns", dns.Addr)
			word, rest, _ := strings.Cut(out, "\n")
			if word != tc.want || !strings.Contains(rest, tc.explain) {
				t.Errorf("check spf --ip %s --helo %s --from %q:\n%s\nwant %s and %q", tc.ip, tc.helo, tc.from, out, tc.want, tc.explain)
			}
		})
	}
}

// TestHeloFailRecorded: a client whose HELO name's SPF record does not
// cover it sends with swaks, from a MAIL FROM domain that does; the
// message is delivered, and its Authentication-Results, read back with
// imaplib, says spf=fail for smtp.helo (RFC 7208 §2.3, RFC 8601 §2.7.2).
func TestHeloFailRecorded(t *testing.T) {
	swaks := needTool(t, "swaks")
	data := filepath.Join(t.TempDir(), "data")
	dns := dnstest.New(t)
	srv := startServerDNS(t, data, dns, "mx.example.test")
	mustFrontdesk(t, "", "domain", "add", "example.test", "--data", data)
	mustFrontdesk(t, alicePass+"\n", "user", "add", "alice@example.test", "--password-stdin", "--data", data)
	dns.MustAdd(t,
		`relay.forged.test. 300 IN TXT "v=spf1 ip4:192.0.2.1 -all"`, // not 127.0.0.1
		`honest.test. 300 IN TXT "v=spf1 ip4:127.0.0.1 -all"`,
	)

	host, port, _ := net.SplitHostPort(srv.addr("smtp"))
	for _, m := range []struct{ helo, subject string }{
		{"relay.forged.test", "HELO fails"},
		{"mail.honest.test", "HELO has no policy"},
	} {
		msgFile := filepath.Join(t.TempDir(), "msg.eml")
		os.WriteFile(msgFile, []byte("From: <carol@honest.test>\r\nTo: <alice@example.test>\r\nSubject: "+m.subject+
			"\r\nMessage-ID: <"+strings.ReplaceAll(m.subject, " ", ".")+"@honest.test>\r\n\r\nhello"), 0o600)
		out, err := runTool(t, nil, swaks, "--server", host, "--port", port, "--from", "carol@honest.test",
			"--to", "alice@example.test", "--data", msgFile, "--helo", m.helo)
		if err != nil || !strings.Contains(out, "<-  250 ") {
			t.Fatalf("swaks --helo %s: %v\n%s", m.helo, err, out)
		}
	}

	imapHost, imapPort, _ := net.SplitHostPort(srv.addr("imap"))
	got, err := python(t, `
import imaplib, sys, time, email
m = imaplib.IMAP4(sys.argv[1], int(sys.argv[2]))
m.login("alice@example.test", sys.argv[3])
for _ in range(200):
    typ, data = m.select("INBOX")
    if data[0] == b"2":
        break
    time.sleep(0.1)
assert data[0] == b"2", data
for n in (b"1", b"2"):
    typ, data = m.fetch(n, "(BODY.PEEK[HEADER])")
    assert typ == "OK", typ
    msg = email.message_from_bytes(data[0][1])
    ar = " ".join(msg["Authentication-Results"].split())
    print(msg["Subject"] + ": " + ar)
m.logout()
`, imapHost, imapPort, alicePass)
	if err != nil {
		t.Fatalf("imaplib: %v\n%s", err, got)
	}
	lines := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(got), "\n") {
		subject, ar, _ := strings.Cut(l, ": ")
		lines[subject] = ar
	}
	spfOf := func(ar string) string { // the spf result and its properties
		for _, p := range strings.Split(ar, ";") {
			if p = strings.TrimSpace(p); strings.HasPrefix(p, "spf=") {
				return p
			}
		}
		return ""
	}
	if s := spfOf(lines["HELO fails"]); !strings.HasPrefix(s, "spf=fail ") || !strings.Contains(s, "smtp.helo=relay.forged.test") ||
		strings.Contains(s, "smtp.mailfrom") {
		t.Errorf("HELO that fails SPF: Authentication-Results %q, want spf=fail smtp.helo=relay.forged.test", lines["HELO fails"])
	}
	if s := spfOf(lines["HELO has no policy"]); !strings.HasPrefix(s, "spf=pass ") || !strings.Contains(s, "smtp.mailfrom=carol@honest.test") ||
		strings.Contains(s, "smtp.helo") {
		t.Errorf("HELO without policy: Authentication-Results %q, want spf=pass smtp.mailfrom=carol@honest.test", lines["HELO has no policy"])
	}
}
