package smtpd

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// needTool finds a client binary: missing is a failure in CI, a skip elsewhere.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not installed (CI must install it): %v", name, err)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// TestPythonSmtplib submits through Python's smtplib (AUTH on loopback)
// and delivers to the MX, as an independent client implementation.
func TestPythonSmtplib(t *testing.T) {
	py := needTool(t, "python3")
	sub := newEnv(t, Submission, nil)
	mx := newEnv(t, MX, nil)
	subHost, subPort, _ := net.SplitHostPort(sub.addr)
	mxHost, mxPort, _ := net.SplitHostPort(mx.addr)
	script := `
import smtplib, sys
from email.message import EmailMessage
m = EmailMessage()
m["From"] = "Alice <alice@example.test>"
m["To"] = "alice@example.test"
m["Subject"] = "from python"
m.set_content("caf\u00e9 line\n.leading dot\n")
with smtplib.SMTP(sys.argv[1], int(sys.argv[2])) as s:
    s.ehlo("py.example")
    assert s.has_extn("auth"), s.esmtp_features
    s.login("alice@example.test", "password123")
    s.send_message(m)
    try:
        s.sendmail("alice@example.test", ["bob@remote.test"], m.as_bytes())
        sys.exit("remote recipient accepted without outbound")
    except smtplib.SMTPRecipientsRefused as e:
        code, text = e.recipients["bob@remote.test"]
        assert code == 550 and b"not configured" in text, e.recipients
with smtplib.SMTP(sys.argv[3], int(sys.argv[4])) as s:
    s.sendmail("bob@remote.test", ["alice@example.test"], b"Subject: mx\r\n\r\nhello\r\n")
    try:
        s.sendmail("bob@remote.test", ["victim@elsewhere.test"], b"Subject: relay\r\n\r\nx\r\n")
        sys.exit("relay accepted")
    except smtplib.SMTPRecipientsRefused as e:
        assert e.recipients["victim@elsewhere.test"][0] == 550
`
	out, err := exec.Command(py, "-c", script, subHost, subPort, mxHost, mxPort).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	msgs := sub.inbox()
	if len(msgs) != 1 {
		t.Fatalf("submission stored %d messages", len(msgs))
	}
	hdr, rest := splitReceived(t, msgs[0])
	if !strings.Contains(hdr, "from py.example") || !strings.Contains(hdr, "ESMTPA") ||
		!strings.Contains(string(rest), "Subject: from python") {
		t.Errorf("stored %q", msgs[0])
	}
	if got := mx.inbox(); len(got) != 1 || !strings.HasSuffix(string(got[0]), "Subject: mx\r\n\r\nhello\r\n") {
		t.Errorf("MX stored %q", got)
	}
}

// TestSwaks drives swaks through STARTTLS and AUTH LOGIN on submission,
// and plainly against the MX.
func TestSwaks(t *testing.T) {
	swaks := needTool(t, "swaks")
	sub := newEnv(t, Submission, func(c *Config) { c.TLS = testTLS(t) })
	out, err := exec.Command(swaks, "--server", sub.addr, "--helo", "swaks.example",
		"--from", alice, "--to", alice, "--header", "From: alice@example.test", "--header", "Subject: swaks",
		"-tls", "--auth", "LOGIN", "--auth-user", alice, "--auth-password", alicePW,
		"--body", "hello from swaks").CombinedOutput()
	if err != nil {
		t.Fatalf("swaks submission: %v\n%s", err, out)
	}
	msgs := sub.inbox()
	if len(msgs) != 1 {
		t.Fatalf("%d messages\n%s", len(msgs), out)
	}
	hdr, rest := splitReceived(t, msgs[0])
	if !strings.Contains(hdr, "ESMTPSA") || !strings.Contains(string(rest), "hello from swaks") {
		t.Errorf("stored %q", msgs[0])
	}

	mx := newEnv(t, MX, nil)
	out, err = exec.Command(swaks, "--server", mx.addr, "--from", "bob@remote.test", "--to", "nobody@example.test",
		"--quit-after", "RCPT").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "550 5.1.1") {
		t.Errorf("swaks to unknown user: %v\n%s", err, out)
	}
	out, err = exec.Command(swaks, "--server", mx.addr, "--from", "bob@remote.test", "--to", alice,
		"--body", "inbound via swaks").CombinedOutput()
	if err != nil {
		t.Fatalf("swaks mx: %v\n%s", err, out)
	}
	if got := mx.inbox(); len(got) != 1 || !strings.Contains(string(got[0]), "inbound via swaks") {
		t.Errorf("MX stored %q", got)
	}
}
