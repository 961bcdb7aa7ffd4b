package e2e

import (
	"net"
	"strings"
	"testing"
)

// TestNoOpenRelayAndSafeAuth checks what an attacker on the Internet
// would try first, with real clients.
func TestNoOpenRelayAndSafeAuth(t *testing.T) {
	swaks := needTool(t, "swaks")
	srv := newAliceServer(t)
	host, port, _ := net.SplitHostPort(srv.addr("smtp"))

	out, _ := runTool(t, nil, swaks, "--server", host, "--port", port, "--from", "spammer@bad.test",
		"--to", "victim@elsewhere.test", "--helo", "bad.test")
	if !strings.Contains(out, "550 5.7.1") {
		t.Errorf("relay attempt through the MX: want 550 5.7.1, got\n%s", out)
	}
	out, _ = runTool(t, nil, swaks, "--server", host, "--port", port, "--from", "x@bad.test",
		"--to", "nobody@example.test", "--helo", "bad.test")
	if !strings.Contains(out, "550 5.1.1") {
		t.Errorf("unknown local user: want 550 5.1.1, got\n%s", out)
	}

	subHost, subPort, _ := net.SplitHostPort(srv.addr("submission"))
	out, _ = runTool(t, nil, swaks, "--server", subHost, "--port", subPort, "--from", "alice@example.test",
		"--to", "victim@elsewhere.test", "--helo", "client.test")
	if !strings.Contains(out, "530 5.7.0") {
		t.Errorf("submission without AUTH: want 530 5.7.0, got\n%s", out)
	}
	out, err := runTool(t, nil, swaks, "--server", subHost, "--port", subPort, "--from", "alice@example.test",
		"--to", "alice@example.test", "--auth", "PLAIN", "--auth-user", "alice@example.test", "--auth-password", alicePass, "--helo", "client.test")
	if err != nil || !strings.Contains(out, "235 ") || !strings.Contains(out, "<-  250 ") {
		t.Errorf("authenticated submission to a local user failed: %v\n%s", err, out)
	}
	out, _ = runTool(t, nil, swaks, "--server", subHost, "--port", subPort, "--from", "alice@example.test",
		"--to", "someone@elsewhere.test", "--auth", "LOGIN", "--auth-user", "alice@example.test", "--auth-password", alicePass, "--helo", "client.test")
	if !strings.Contains(out, "<-  250 ") {
		t.Errorf("authenticated submission to a remote recipient was not queued:\n%s", out)
	}
	// elsewhere.test does not exist in this test's DNS: a permanent
	// failure, reported to alice as a DSN (RFC 3464).
	dsn := waitMail(t, srv.addr("imap"), "alice@example.test", alicePass, "INBOX", "Undelivered Mail Returned to Sender")
	if !strings.Contains(dsn, "multipart/report") || !strings.Contains(dsn, "Final-Recipient: rfc822; someone@elsewhere.test") {
		t.Errorf("DSN lacks the report or the failed recipient:\n%s", dsn)
	}

	// Wrong passwords: the 11th in a minute is refused without a check.
	got, err := python(t, `
import smtplib, sys
codes = []
for i in range(11):
    s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]))
    s.ehlo("client.test")
    try:
        s.login("alice@example.test", "wrong-password-%d" % i)
        codes.append(235)
    except smtplib.SMTPAuthenticationError as e:
        codes.append(e.smtp_code)
    except smtplib.SMTPResponseException as e:
        codes.append(e.smtp_code)
    s.close()
print(" ".join(map(str, codes)))
`, subHost, subPort)
	if err != nil {
		t.Fatalf("smtplib: %v\n%s", err, got)
	}
	codes := strings.Fields(got)
	if len(codes) != 11 || codes[0] != "535" || codes[10] == "535" || codes[10] == "235" {
		t.Errorf("reply codes of 11 wrong passwords = %v; want 535 first and a rate-limit refusal last", codes)
	}
	// IMAP shares the throttle: alice's right password is refused now too.
	imapHost, imapPort, _ := net.SplitHostPort(srv.addr("imap"))
	got, _ = python(t, `
import imaplib, sys
m = imaplib.IMAP4(sys.argv[1], int(sys.argv[2]))
try:
    m.login("alice@example.test", sys.argv[3])
    print("OK")
except imaplib.IMAP4.error as e:
    print("NO", e)
`, imapHost, imapPort, alicePass)
	if !strings.HasPrefix(got, "NO") {
		t.Errorf("IMAP login right after 11 failures = %q; want refused while throttled", got)
	}
}
