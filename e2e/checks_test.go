package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"frontdesk/dkim"
	"frontdesk/dnscheck/dnstest"
)

// TestCheckCommands: `check spf` prints the result word and why, and
// `dkim verify` names each signature and exits 0 only when one passes.
func TestCheckCommands(t *testing.T) {
	dns := dnstest.New(t)
	dns.MustAdd(t,
		`a.test. 300 IN TXT "v=spf1 ip4:192.0.2.0/24 include:_spf.b.test -all"`,
		`_spf.b.test. 300 IN TXT "v=spf1 ip6:2001:db8::/32 ~all"`,
	)
	dns.ServFail("broken.test")
	for _, tc := range []struct{ ip, from, want string }{
		{"192.0.2.7", "alice@a.test", "pass"},
		{"2001:db8::1", "alice@a.test", "pass"}, // through the include
		{"198.51.100.1", "alice@a.test", "fail"},
		{"198.51.100.1", "bob@none.test", "none"},
		{"198.51.100.1", "bob@broken.test", "temperror"},
	} {
		out := mustFrontdesk(t, "", "check", "spf", "--ip", tc.ip, "--helo", "mx.sender.test", "--from", tc.from, "--dns", dns.Addr)
		lines := strings.SplitN(out, "\n", 2)
		if lines[0] != tc.want || !strings.Contains(out, "explanation:") {
			t.Errorf("check spf %s %s = %q, want %s and an explanation", tc.ip, tc.from, out, tc.want)
		}
	}
	if _, err := frontdesk(t, "", "check", "spf", "--ip", "not-an-ip", "--helo", "x", "--from", "a@a.test"); err == nil || !strings.Contains(err.Error(), "exit status 2") {
		t.Errorf("check spf with a bad IP: %v, want a usage error (exit 2)", err)
	}

	keys, err := dkim.OpenKeyring(filepath.Join(t.TempDir(), "keys"))
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
	msg := []byte("From: alice@a.test\r\nTo: bob@b.test\r\nSubject: signed\r\n\r\nbody\r\n")
	signed, err := dkim.Sign(msg, made)
	if err != nil {
		t.Fatal(err)
	}
	out, err := frontdesk(t, string(signed), "dkim", "verify", "--dns", dns.Addr)
	if err != nil || strings.Count(out, ": pass") != 2 || !strings.Contains(out, "d=a.test s="+made[0].Selector) {
		t.Errorf("dkim verify of a signed message: %v\n%s", err, out)
	}
	tampered := strings.Replace(string(signed), "body", "BODY", 1)
	out, err = frontdesk(t, tampered, "dkim", "verify", "--dns", dns.Addr)
	if err == nil || strings.Contains(out, ": pass") {
		t.Errorf("dkim verify of a tampered message exited 0:\n%s", out)
	}
	if out, err := frontdesk(t, string(msg), "dkim", "verify", "--dns", dns.Addr); err == nil || !strings.Contains(out, "no DKIM signature") {
		t.Errorf("dkim verify of an unsigned message: %v %q", err, out)
	}
}
