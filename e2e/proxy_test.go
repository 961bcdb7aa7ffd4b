package e2e

import (
	"bufio"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"frontdesk/dnscheck/dnstest"
)

// proxyServer runs a server behind a pretend balancer at 127.0.0.1: its
// MX and IMAP take PROXY headers from there, and 127.0.0.2 may use
// XCLIENT. Peers at 127.0.0.2 and 127.0.0.3 (all of 127/8 is loopback)
// are untrusted direct clients. sender.test's SPF allows only 192.0.2.7.
func proxyServer(t *testing.T) *server {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "frontdesk.toml")
	os.WriteFile(conf, []byte(`
[proxy]
trusted_proxies = ["127.0.0.1/32"]
proxy_protocol = ["smtp", "imap"]
xclient_hosts = ["127.0.0.2"]
`), 0o600)
	dns := dnstest.New(t)
	dns.MustAdd(t, `sender.test. 300 IN TXT "v=spf1 ip4:192.0.2.7 -all"`)
	data := filepath.Join(dir, "data")
	srv := startServerDNS(t, data, dns, "mx.example.test", "--config", conf)
	mustFrontdesk(t, "", "domain", "add", "example.test", "--data", data)
	mustFrontdesk(t, alicePass+"\n", "user", "add", "alice@example.test", "--password-stdin", "--data", data)
	return srv
}

// imapScript fetches every message alice has in INBOX and Junk through a
// PROXY v1 header claiming to be 203.0.113.9, after STARTTLS (plain-text
// login is for loopback clients only, and this one is not). With "fail"
// it first tries a wrong password as 203.0.113.66.
const imapScript = `
import imaplib, socket, ssl, sys
host, port, mode, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]

class Proxied(imaplib.IMAP4):
    def __init__(self, src):
        self.src = src
        imaplib.IMAP4.__init__(self, host, port)
    def _create_socket(self, timeout):
        s = socket.create_connection((self.host, self.port), 30)
        s.sendall(("PROXY TCP4 %s 127.0.0.1 40000 143\r\n" % self.src).encode())
        return s

ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
if mode == "fail":
    m = Proxied("203.0.113.66")
    m.starttls(ssl_context=ctx)
    try:
        m.login("alice@example.test", "wrong password")
        print("LOGIN ACCEPTED")
    except imaplib.IMAP4.error as e:
        print("refused:", e)
    try:
        m.logout()
    except imaplib.IMAP4.abort:
        pass
m = Proxied("203.0.113.9")
m.starttls(ssl_context=ctx)
m.login("alice@example.test", pw)
for box in ("INBOX", "Junk"):
    m.select(box, readonly=True)
    typ, data = m.search(None, "ALL")
    for num in data[0].split():
        typ, msg = m.fetch(num, "(BODY.PEEK[])")
        sys.stdout.write("=== %s\n" % box)
        sys.stdout.write(msg[0][1].decode("utf-8", "replace").replace("\r\n", "\n"))
try:
    m.logout()
except imaplib.IMAP4.abort:
    pass
`

// messagesOf splits imapScript's output into messages by Subject.
func messagesOf(out string) map[string]string {
	msgs := map[string]string{}
	for _, m := range strings.Split(out, "=== ")[1:] {
		if s := regexp.MustCompile(`(?m)^Subject: (.*)$`).FindStringSubmatch(m); s != nil {
			msgs[s[1]] = m
		}
	}
	return msgs
}

// TestProxyProtocol: mail relayed by a trusted balancer with a PROXY v2
// header is judged on the client address the header names; a header
// from anyone else, or none from the balancer, gets the connection
// closed; IMAP through a v1 header logs and throttles the real client.
func TestProxyProtocol(t *testing.T) {
	swaks := needTool(t, "swaks")
	srv := proxyServer(t)
	host, port, _ := net.SplitHostPort(srv.addr("smtp"))
	send := func(subject, source string, extra ...string) (string, error) {
		args := append([]string{"--server", host, "--port", port, "--from", "news@sender.test", "--to", "alice@example.test",
			"--helo", "relay.sender.test", "--h-Subject", subject,
			"--proxy-version", "2", "--proxy-family", "AF_INET", "--proxy-source", source, "--proxy-source-port", "40000",
			"--proxy-dest", "127.0.0.1", "--proxy-dest-port", "25"}, extra...)
		return runTool(t, nil, swaks, args...)
	}
	if out, err := send("from the allowed address", "192.0.2.7"); err != nil {
		t.Fatalf("swaks through PROXY v2 as 192.0.2.7: %v\n%s", err, out)
	}
	if out, err := send("from another address", "198.51.100.9"); err != nil {
		t.Fatalf("swaks through PROXY v2 as 198.51.100.9: %v\n%s", err, out)
	}
	// The same header from a peer that is not a trusted balancer.
	out, err := send("spoofed", "192.0.2.7", "--local-interface", "127.0.0.2")
	if err == nil || strings.Contains(out, "<~  250 2.0.0") {
		t.Errorf("untrusted PROXY header: swaks succeeded:\n%s", out)
	}

	// The balancer itself without a header: closed before the greeting.
	c, err := net.Dial("tcp", srv.addr("smtp"))
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(c, "EHLO direct.example\r\n")
	got, _ := io.ReadAll(bufio.NewReader(c))
	c.Close()
	if len(got) != 0 {
		t.Errorf("balancer without a header got %q, want the connection closed at once", got)
	}

	out, err = python(t, imapScript, "127.0.0.1", portOf(t, srv.addr("imap")), "fail", alicePass)
	if err != nil {
		t.Fatalf("imaplib through PROXY v1: %v\n%s", err, out)
	}
	if !strings.Contains(out, "refused:") {
		t.Errorf("wrong password accepted:\n%s", out)
	}
	msgs := messagesOf(out)
	if len(msgs) != 2 {
		t.Fatalf("alice has %d messages, want the two relayed ones:\n%s", len(msgs), out)
	}
	ar := func(subject string) string {
		m := strings.ReplaceAll(msgs[subject], "\n", "\r\n")
		return headerValue(m, "Authentication-Results") + "\n" + headerValue(m, "Received")
	}
	if a := ar("from the allowed address"); !strings.Contains(a, "spf=pass") || !strings.Contains(a, "[192.0.2.7]") {
		t.Errorf("mail relayed for 192.0.2.7:\n%s", a)
	}
	if a := ar("from another address"); !strings.Contains(a, "spf=fail") || !strings.Contains(a, "[198.51.100.9]") {
		t.Errorf("mail relayed for 198.51.100.9:\n%s", a)
	}
	if _, ok := msgs["spoofed"]; ok {
		t.Errorf("the untrusted peer's mail was delivered")
	}

	log := srv.Log()
	for _, re := range []string{
		`proxy protocol: header from untrusted peer refused.* peer=127\.0\.0\.2:\d+`,
		`proxy protocol: connection refused.* peer=127\.0\.0\.1:\d+ reason="no PROXY protocol header"`,
		`msg="auth failed" service=imap proto=imap ip=203\.0\.113\.66 user=alice@example\.test reason=bad-password`,
	} {
		if !regexp.MustCompile(re).MatchString(log) {
			t.Errorf("log lacks %s:\n%s", re, log)
		}
	}
}

// TestXClient: a configured test host tells the MX which client it
// speaks for with swaks --xclient-addr, and the mail is judged on that
// address; another host is refused with 550 5.7.0.
func TestXClient(t *testing.T) {
	swaks := needTool(t, "swaks")
	srv := proxyServer(t)
	host, port, _ := net.SplitHostPort(srv.addr("smtp"))
	send := func(subject, local string, extra ...string) (string, error) {
		args := append([]string{"--server", host, "--port", port, "--local-interface", local,
			"--from", "news@sender.test", "--to", "alice@example.test", "--helo", "tester.example",
			"--h-Subject", subject, "--xclient-addr", "192.0.2.7", "--xclient-name", "relay.sender.test"}, extra...)
		return runTool(t, nil, swaks, args...)
	}
	out, err := send("tested as 192.0.2.7", "127.0.0.2")
	if err != nil {
		t.Fatalf("swaks --xclient-addr from a test host: %v\n%s", err, out)
	}
	if !strings.Contains(out, "XCLIENT ADDR NAME") || !strings.Contains(out, "<-  220 mx.example.test") {
		t.Errorf("XCLIENT not advertised or not answered with a new greeting:\n%s", out)
	}
	// swaks sends XCLIENT only where it is advertised; smtplib sends it anyway.
	out, err = python(t, `
import smtplib, sys
s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), source_address=("127.0.0.3", 0))
code, msg = s.ehlo("tester.example")
print("advertised" if s.has_extn("xclient") else "not advertised")
print(s.docmd("XCLIENT ADDR=192.0.2.7"))
s.sendmail("news@sender.test", ["alice@example.test"], "Subject: refused host\r\n\r\nx\r\n")
s.quit()
`, host, port)
	if err != nil || !strings.Contains(out, "not advertised") || !strings.Contains(out, "(550, b'5.7.0 Error: insufficient authorization')") {
		t.Errorf("XCLIENT from a host not listed: err %v\n%s", err, out)
	}

	out, err = python(t, imapScript, "127.0.0.1", portOf(t, srv.addr("imap")), "ok", alicePass)
	if err != nil {
		t.Fatalf("imaplib: %v\n%s", err, out)
	}
	msgs := messagesOf(out)
	m := strings.ReplaceAll(msgs["tested as 192.0.2.7"], "\n", "\r\n")
	if a := headerValue(m, "Authentication-Results"); !strings.Contains(a, "spf=pass") {
		t.Errorf("mail tested as 192.0.2.7: %s\n%s", a, out)
	}
	if r := headerValue(m, "Received"); !strings.Contains(r, "(relay.sender.test [192.0.2.7])") {
		t.Errorf("Received: %s", r)
	}
	// The refused host's mail is judged on its own address.
	if a := headerValue(strings.ReplaceAll(msgs["refused host"], "\n", "\r\n"), "Authentication-Results"); !strings.Contains(a, "spf=fail") {
		t.Errorf("mail from the refused XCLIENT host: %q\n%s", a, out)
	}
}

func portOf(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
