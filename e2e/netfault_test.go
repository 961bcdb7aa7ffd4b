package e2e

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"frontdesk/dnscheck/dnstest"
)

// faultServer runs a server with the given config file text, alice as
// its user, and example.test as its domain.
func faultServer(t *testing.T, dns *dnstest.Server, conf string, extra ...string) *server {
	t.Helper()
	srv := confServer(t, dns, conf, extra...)
	mustFrontdesk(t, "", "domain", "add", "example.test", "--data", srv.data)
	mustFrontdesk(t, alicePass+"\n", "user", "add", "alice@example.test", "--password-stdin", "--data", srv.data)
	return srv
}

// confServer runs a server with the given config file text.
func confServer(t *testing.T, dns *dnstest.Server, conf string, extra ...string) *server {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "frontdesk.toml")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	return startServerDNS(t, data, dns, "mx.example.test", append([]string{"--config", path}, extra...)...)
}

// swaksTo sends one message from carol@sender.test to alice with swaks
// and returns its transcript.
func swaksTo(t *testing.T, srv *server, subject string) string {
	t.Helper()
	swaks := needTool(t, "swaks")
	host, port, _ := net.SplitHostPort(srv.addr("smtp"))
	msgFile := filepath.Join(t.TempDir(), "msg.eml")
	os.WriteFile(msgFile, []byte("From: <carol@sender.test>\r\nTo: <alice@example.test>\r\nSubject: "+subject+
		"\r\nMessage-ID: <"+strings.ReplaceAll(subject, " ", ".")+"@sender.test>\r\n\r\nhello"), 0o600)
	out, _ := runTool(t, nil, swaks, "--server", host, "--port", port, "--from", "carol@sender.test",
		"--to", "alice@example.test", "--data", msgFile, "--helo", "mail.sender.test")
	return out
}

// TestDNSDownOrSlowDefersMail: with the resolver down (nothing listens)
// or slower than the query timeout, the MX answers the message 451 4.7.0
// (the sender retries) within the per-message DNS budget, and the
// session goes on: swaks gets its QUIT answered.
func TestDNSDownOrSlowDefersMail(t *testing.T) {
	const conf = "dns_timeout = \"200ms\"\n[smtp]\ndns_budget = \"2s\"\n"
	dns := dnstest.New(t)
	dns.MustAdd(t, `sender.test. 300 IN TXT "v=spf1 ip4:127.0.0.1 -all"`)

	srv := faultServer(t, dns, conf)
	dns.SetDelay(5 * time.Second)
	start := time.Now()
	out := swaksTo(t, srv, "dns slow")
	t.Logf("DNS slow: swaks session took %v with dns_budget 2s", time.Since(start).Round(10*time.Millisecond))
	if !strings.Contains(out, "<** 451 4.7.0 Temporary authentication failure") || !strings.Contains(out, "<-  221 ") {
		t.Errorf("DNS slow: swaks:\n%s", out)
	}
	dns.Close() // down: queries are refused
	start = time.Now()
	out = swaksTo(t, srv, "dns down")
	t.Logf("DNS down: swaks session took %v", time.Since(start).Round(10*time.Millisecond))
	if !strings.Contains(out, "<** 451 4.7.0 Temporary authentication failure") || !strings.Contains(out, "<-  221 ") {
		t.Errorf("DNS down: swaks:\n%s", out)
	}
	if log := srv.Log(); !strings.Contains(log, "spf=temperror") || !strings.Contains(log, "dmarc=temperror") {
		t.Errorf("log has no temperror verdict:\n%s", log)
	}
}

// TestDNSTempErrorAcceptMarks: with smtp.on_dns_temperror = "accept", a
// message met by a dead resolver is delivered, and its
// Authentication-Results, read back with imaplib, says temperror.
func TestDNSTempErrorAcceptMarks(t *testing.T) {
	dns := dnstest.New(t)
	srv := faultServer(t, dns, "dns_timeout = \"200ms\"\n[smtp]\ndns_budget = \"2s\"\non_dns_temperror = \"accept\"\n",
		"--dns", dnstest.DeadAddr(t))
	if out := swaksTo(t, srv, "accepted anyway"); !strings.Contains(out, "<-  250 ") {
		t.Fatalf("swaks:\n%s", out)
	}
	host, port, _ := net.SplitHostPort(srv.addr("imap"))
	got, err := python(t, `
import imaplib, sys, time, email
m = imaplib.IMAP4(sys.argv[1], int(sys.argv[2]))
m.login("alice@example.test", sys.argv[3])
for _ in range(200):
    typ, data = m.select("INBOX")
    if data[0] == b"1":
        break
    time.sleep(0.1)
typ, data = m.fetch(b"1", "(BODY.PEEK[HEADER])")
print(" ".join(email.message_from_bytes(data[0][1])["Authentication-Results"].split()))
m.logout()
`, host, port, alicePass)
	if err != nil {
		t.Fatalf("imaplib: %v\n%s", err, got)
	}
	for _, w := range []string{"spf=temperror", "dmarc=temperror"} {
		if !strings.Contains(got, w) {
			t.Errorf("Authentication-Results %q lacks %s", got, w)
		}
	}
}

// TestIdleSMTPClientGets421: a client silent past smtp.command_timeout
// is told 421 4.4.2 and disconnected.
func TestIdleSMTPClientGets421(t *testing.T) {
	srv := confServer(t, dnstest.New(t), "[smtp]\ncommand_timeout = \"1s\"\n")
	c, err := net.Dial("tcp", srv.addr("smtp"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	greeting, _ := r.ReadString('\n')
	bye, _ := r.ReadString('\n')
	if !strings.HasPrefix(greeting, "220 ") || !strings.HasPrefix(bye, "421 4.4.2 ") || !strings.Contains(bye, "timeout") {
		t.Errorf("greeting %q, then %q; want 421 4.4.2 ... timeout", greeting, bye)
	}
	if _, err := r.ReadByte(); err == nil {
		t.Error("connection open after the 421")
	}
}
