package e2e

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// mailLogins tries user and password with Python's smtplib (AUTH PLAIN and
// AUTH LOGIN on submission, then a message to the user when accepted) and
// imaplib (LOGIN and AUTHENTICATE PLAIN), and returns one word per try,
// e.g. "smtp-PLAIN:535 imap-LOGIN:NO".
func mailLogins(t *testing.T, srv *server, user, pass string) string {
	t.Helper()
	subHost, subPort, _ := net.SplitHostPort(srv.addr("submission"))
	out, err := python(t, `
import smtplib, imaplib, sys
host, sport, iport, user, pw = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
res = []
for mech in ("PLAIN", "LOGIN"):
    s = smtplib.SMTP(host, sport)
    s.ehlo("client.test")
    s.user, s.password = user, pw
    try:
        code, _ = s.auth(mech, getattr(s, "auth_" + mech.lower()), initial_response_ok=(mech == "PLAIN"))
        s.sendmail(user, [user], "From: %s\r\nTo: %s\r\nSubject: sent with AUTH %s\r\n\r\nhello\r\n" % (user, user, mech))
    except smtplib.SMTPAuthenticationError as e:
        code = e.smtp_code
    res.append("smtp-%s:%d" % (mech, code))
    s.quit()
for how in ("LOGIN", "AUTHENTICATE"):
    m = imaplib.IMAP4(host, iport)
    try:
        if how == "LOGIN":
            m.login(user, pw)
        else:
            m.authenticate("PLAIN", lambda _: ("\0%s\0%s" % (user, pw)).encode())
        m.select("INBOX")
        m.fetch("1:*", "(BODY.PEEK[HEADER])")
        res.append("imap-%s:OK" % how)
        m.logout()
    except imaplib.IMAP4.error:
        res.append("imap-%s:NO" % how)
print(" ".join(res))
`, subHost, subPort, portOf(t, srv.addr("imap")), user, pass)
	if err != nil {
		t.Fatalf("smtplib/imaplib: %v\n%s", err, out)
	}
	return strings.TrimSpace(out)
}

// webLogin logs in to the web console with curl as a browser would (the
// login form's CSRF cookie and field) and returns the HTTP status.
func webLogin(t *testing.T, srv *server, user, pass string) string {
	t.Helper()
	curl := needTool(t, "curl")
	jar := filepath.Join(t.TempDir(), "cookies")
	base := "http://" + srv.addr("http")
	page, err := runTool(t, nil, curl, "-sS", "--max-time", "30", "-c", jar, base+"/login")
	if err != nil {
		t.Fatalf("curl /login: %v\n%s", err, page)
	}
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF field on the login page:\n%s", page)
	}
	code, err := runTool(t, nil, curl, "-sS", "--max-time", "30", "-b", jar, "-o", "/dev/null", "-w", "%{http_code}",
		"--data-urlencode", "csrf="+m[1], "--data-urlencode", "address="+user, "--data-urlencode", "password="+pass, base+"/login")
	if err != nil {
		t.Fatalf("curl POST /login: %v\n%s", err, code)
	}
	return code
}

// refusedRE is deploy/fail2ban/frontdesk.conf's failregex in Go, with the
// fields a ban decision and an admin read.
var refusedRE = regexp.MustCompile(`^time=\S+ level=WARN msg="auth failed" (?:[a-z_]+=\S+ )*?proto=(smtp|imap|web|sip) ip=(\S+) user=("(?:[^"\\]|\\.)*"|\S*) reason=(\S+)`)

// refusedLines are the log's refused-login lines, by "proto user reason".
func refusedLines(log string) (lines []string, fields []string) {
	for _, l := range strings.Split(log, "\n") {
		if m := refusedRE.FindStringSubmatch(l); m != nil {
			lines = append(lines, l)
			fields = append(fields, fmt.Sprintf("%s %s %s %s", m[1], m[2], strings.Trim(m[3], `"`), m[4]))
		}
	}
	return lines, fields
}

// TestRefusedLoginsForFail2ban: a wrong password through every login a
// client can try (smtplib AUTH PLAIN and LOGIN, imaplib LOGIN and
// AUTHENTICATE, curl on the web login, a bogus API token, sipp REGISTER
// with a wrong digest) leaves one line each that the shipped fail2ban
// filter matches, naming the protocol, the client's address and the
// account; a user name that mimics the line's fields does not fool it.
func TestRefusedLoginsForFail2ban(t *testing.T) {
	curl := needTool(t, "curl")
	srv := newAliceServer(t)
	mustFrontdesk(t, "sip secret 7\n", "agent", "add", "alice@example.test", "--skills", "support", "--sip-password-stdin", "--data", srv.data)

	if got := mailLogins(t, srv, "alice@example.test", "not-her-password"); got != "smtp-PLAIN:535 smtp-LOGIN:535 imap-LOGIN:NO imap-AUTHENTICATE:NO" {
		t.Errorf("wrong passwords by smtplib and imaplib: %s", got)
	}
	if code := webLogin(t, srv, "alice@example.test", "not-her-password"); code != "401" {
		t.Errorf("web login with a wrong password: HTTP %s, want 401", code)
	}
	// A user name crafted to look like another address must not move the ban.
	if code := webLogin(t, srv, "x proto=web ip=192.0.2.1 user=y", "guess"); code != "401" {
		t.Errorf("web login as a crafted user name: HTTP %s, want 401", code)
	}
	if code, _ := runTool(t, nil, curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer fdt_guessed",
		"http://"+srv.addr("http")+"/api/me"); code != "401" {
		t.Errorf("API call with a guessed token: HTTP %s, want 401", code)
	}
	sipp(t, srv.addr("sip"), "register_forbidden", "-au", "alice@example.test", "-ap", "not-her-sip-password",
		"-key", "user", "alice@example.test", "-key", "contact_port", fmt.Sprint(freeUDPPort(t)))

	want := []string{
		"smtp 127.0.0.1 alice@example.test bad-password",
		"smtp 127.0.0.1 alice@example.test bad-password",
		"imap 127.0.0.1 alice@example.test bad-password",
		"imap 127.0.0.1 alice@example.test bad-password",
		"web 127.0.0.1 alice@example.test bad-password",
		"web 127.0.0.1 x proto=web ip=192.0.2.1 user=y bad-password",
		"web 127.0.0.1  bad-token",
		"sip 127.0.0.1 alice@example.test bad-password",
	}
	var lines, got []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if lines, got = refusedLines(srv.Log()); len(got) >= len(want) {
			break
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("refused-login lines:\n%s\nwant (proto ip user reason):\n%s\nlog:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), srv.Log())
	}

	// fail2ban itself reads the whole log with the shipped filter: it must
	// find exactly these lines, all from 127.0.0.1.
	f2b := needTool(t, "fail2ban-regex")
	logFile := filepath.Join(t.TempDir(), "frontdesk.log")
	if err := os.WriteFile(logFile, []byte(srv.Log()), 0o600); err != nil {
		t.Fatal(err)
	}
	filter, err := filepath.Abs(filepath.Join("..", "deploy", "fail2ban", "frontdesk.conf"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := runTool(t, nil, f2b, "-v", "--print-all-matched", logFile, filter)
	if err != nil {
		t.Fatalf("fail2ban-regex: %v\n%s", err, out)
	}
	if m := regexp.MustCompile(`Lines: \d+ lines, 0 ignored, (\d+) matched`).FindStringSubmatch(out); m == nil || m[1] != fmt.Sprint(len(want)) {
		t.Errorf("fail2ban-regex matched %v lines, want %d:\n%s", m, len(want), out)
	}
	if n := strings.Count(out, "127.0.0.1  "); n < len(want) || strings.Contains(out, "192.0.2.1  ") {
		t.Errorf("fail2ban-regex found 127.0.0.1 %d times, want %d, and never the crafted 192.0.2.1:\n%s", n, len(want), out)
	}
	t.Logf("refused-login lines:\n%s", strings.Join(lines, "\n"))
	for _, l := range lines {
		if !strings.Contains(out, strings.TrimPrefix(l[strings.Index(l, " "):], " ")) {
			t.Errorf("fail2ban-regex did not list the line %q:\n%s", l, out)
		}
	}
}

// TestSecretsNeverLogged runs a whole working day through the binary at
// debug level — an account made with a password, mail submitted with AUTH
// PLAIN and LOGIN and read over IMAP, a web login, an agent's softphone
// registering with its SIP password, a password change, and wrong
// passwords everywhere — and then looks for every password in the
// server's log and the CLI's output, plain, base64 (as SASL carries them)
// and as the SIP digest's HA1.
func TestSecretsNeverLogged(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	srv := startServer(t, data, "--log-level", "debug")
	const (
		userPass  = "Correct-Horse-7d1e"
		wrongPass = "Wrong-Battery-93af"
		sipPass   = "Sip-Staple-44c2"
		sipWrong  = "Sip-Guess-0b7e"
		newPass   = "Changed-Tuesday-61fd"
		user      = "alice@example.test"
	)
	var cli strings.Builder
	run := func(stdin string, args ...string) {
		out, err := frontdesk(t, stdin, args...)
		cli.WriteString(out)
		if err != nil {
			cli.WriteString(err.Error())
			t.Fatalf("frontdesk %s: %v", strings.Join(args, " "), err)
		}
	}
	run("", "domain", "add", "example.test", "--data", data)
	run(userPass+"\n", "user", "add", user, "--password-stdin", "--data", data)
	run(sipPass+"\n", "agent", "add", user, "--skills", "support", "--sip-password-stdin", "--data", data)

	if got := mailLogins(t, srv, user, userPass); got != "smtp-PLAIN:235 smtp-LOGIN:235 imap-LOGIN:OK imap-AUTHENTICATE:OK" {
		t.Errorf("right password by smtplib and imaplib: %s", got)
	}
	if got := mailLogins(t, srv, user, wrongPass); got != "smtp-PLAIN:535 smtp-LOGIN:535 imap-LOGIN:NO imap-AUTHENTICATE:NO" {
		t.Errorf("wrong password by smtplib and imaplib: %s", got)
	}
	if code := webLogin(t, srv, user, userPass); code != "303" {
		t.Errorf("web login with the right password: HTTP %s, want 303", code)
	}
	if code := webLogin(t, srv, user, wrongPass); code != "401" {
		t.Errorf("web login with a wrong password: HTTP %s, want 401", code)
	}
	sip := srv.addr("sip")
	sipp(t, sip, "register", "-au", user, "-ap", sipPass, "-key", "user", user, "-key", "contact_port", fmt.Sprint(freeUDPPort(t)))
	sipp(t, sip, "register_forbidden", "-au", user, "-ap", sipWrong, "-key", "user", user, "-key", "contact_port", fmt.Sprint(freeUDPPort(t)))
	run(newPass+"\n", "user", "password", user, "--password-stdin", "--data", data)
	if code := webLogin(t, srv, user, newPass); code != "303" {
		t.Errorf("web login with the changed password: HTTP %s, want 303", code)
	}
	run("", "queue", "list", "--data", data)
	srv.stop()

	log := srv.Log()
	if !strings.Contains(log, "level=DEBUG") {
		t.Errorf("no debug lines: the test did not run at debug level")
	}
	if _, got := refusedLines(log); len(got) != 6 {
		t.Errorf("%d refused-login lines, want 6 (SMTP twice, IMAP twice, web, SIP):\n%s", len(got), strings.Join(got, "\n"))
	}
	b64 := base64.StdEncoding.EncodeToString
	secrets := map[string]string{}
	for _, p := range []string{userPass, wrongPass, newPass} {
		secrets[p] = "password " + p
		secrets[b64([]byte(p))] = "base64 of " + p + " (AUTH LOGIN)"
		secrets[b64([]byte("\x00"+user+"\x00"+p))] = "base64 of AUTH PLAIN with " + p
		secrets[b64([]byte(user+"\x00"+user+"\x00"+p))] = "base64 of AUTH PLAIN with identity and " + p
	}
	for _, p := range []string{sipPass, sipWrong} {
		secrets[p] = "SIP password " + p
		for _, realm := range []string{"frontdesk", "mx.example.test"} {
			h := md5.Sum([]byte(user + ":" + realm + ":" + p))
			secrets[hex.EncodeToString(h[:])] = "digest HA1 of " + p + " in realm " + realm
		}
	}
	for s, what := range secrets {
		if strings.Contains(log, s) {
			t.Errorf("the server log holds the %s", what)
		}
		if strings.Contains(cli.String(), s) {
			t.Errorf("the CLI printed the %s", what)
		}
	}
	if t.Failed() {
		t.Logf("server log:\n%s", log)
	}
}
