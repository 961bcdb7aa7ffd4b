package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"frontdesk/dnscheck/dnstest"
)

// holdConns opens n connections to addr and reads each greeting: the
// server has accepted them and holds them open, idle.
func holdConns(t *testing.T, addr string, n int, greeting string) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for i := 0; i < n; i++ {
		c, err := net.DialTimeout("tcp", addr, 30*time.Second)
		if err != nil {
			t.Fatalf("connection %d of %d to %s: %v", i+1, n, addr, err)
		}
		conns = append(conns, c)
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, greeting) {
			t.Fatalf("connection %d of %d to %s: greeting %q, %v", i+1, n, addr, line, err)
		}
	}
	return conns
}

// raiseFileLimit lets the test hold many sockets.
func raiseFileLimit(t *testing.T, need uint64) {
	t.Helper()
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	if rl.Cur < need {
		rl.Cur = min(need, rl.Max)
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur < need {
			t.Fatalf("open-file limit %d (hard %d), the test needs %d: %v", rl.Cur, rl.Max, need, err)
		}
	}
}

// serverFileLimit is the running server's own open-file limit.
func serverFileLimit(t *testing.T, srv *server) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", srv.cmd.Process.Pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 5 && strings.HasPrefix(line, "Max open files") {
			n, _ := strconv.ParseUint(f[3], 10, 64)
			return n
		}
	}
	t.Fatal("no open-file limit in /proc/PID/limits")
	return 0
}

// procFigures is the server's resident memory and open files, for the log.
func procFigures(srv *server) string {
	pid := srv.cmd.Process.Pid
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	rss := "?"
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			rss = strings.Join(strings.Fields(line)[1:], " ")
		}
	}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return fmt.Sprintf("RSS %s, %d open files", rss, len(fds))
}

// TestThousandIdleConnections: 500 idle SMTP and 500 idle IMAP
// connections held open do not keep a new client out: swaks delivers a
// message and imaplib logs in and finds it while they are held.
func TestThousandIdleConnections(t *testing.T) {
	swaks := needTool(t, "swaks")
	raiseFileLimit(t, 1500)
	srv := faultServer(t, dnstest.New(t), `
[smtp]
max_connections_per_ip = 600
[imap]
max_connections_per_ip = 600
login_timeout = "5m"
`)
	if n := serverFileLimit(t, srv); n < 1200 {
		t.Fatalf("the server may open %d files, fewer than the connections of this test", n)
	}
	before := procFigures(srv)
	holdConns(t, srv.addr("smtp"), 500, "220 ")
	holdConns(t, srv.addr("imap"), 500, "* OK")
	t.Logf("server before: %s; with 1,000 idle connections: %s", before, procFigures(srv))

	host, port, _ := net.SplitHostPort(srv.addr("smtp"))
	out, err := runTool(t, nil, swaks, "--server", host, "--port", port, "--from", "carol@sender.test",
		"--to", "alice@example.test", "--header", "Subject: among a thousand", "--helo", "mail.sender.test")
	if err != nil || !strings.Contains(out, "<-  250 ") {
		t.Fatalf("swaks with 1,000 idle connections held: %v\n%s", err, out)
	}
	imapHost, imapPort, _ := net.SplitHostPort(srv.addr("imap"))
	got, err := python(t, `
import imaplib, sys, time
m = imaplib.IMAP4(sys.argv[1], int(sys.argv[2]))
m.login("alice@example.test", sys.argv[3])
for _ in range(200):
    typ, data = m.select("INBOX")
    if data[0] == b"1":
        break
    time.sleep(0.1)
typ, data = m.fetch(b"1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
print(data[0][1].decode().strip())
m.logout()
`, imapHost, imapPort, alicePass)
	if err != nil || !strings.Contains(got, "Subject: among a thousand") {
		t.Fatalf("imaplib with 1,000 idle connections held: %v\n%s", err, got)
	}
}

// TestPerIPConnectionLimit: past max_connections_per_ip a client gets
// SMTP's 421 4.7.0 or IMAP's BYE, as smtplib and imaplib report them,
// and is closed at once; a connection closed frees its slot. Loopback is
// limited like any address.
func TestPerIPConnectionLimit(t *testing.T) {
	srv := confServer(t, dnstest.New(t), "[smtp]\nmax_connections_per_ip = 3\n[imap]\nmax_connections_per_ip = 3\n")
	smtpHeld := holdConns(t, srv.addr("smtp"), 3, "220 ")
	holdConns(t, srv.addr("imap"), 3, "* OK")

	smtpHost, smtpPort, _ := net.SplitHostPort(srv.addr("smtp"))
	imapHost, imapPort, _ := net.SplitHostPort(srv.addr("imap"))
	script := `
import imaplib, smtplib, sys
try:
    smtplib.SMTP(sys.argv[1], int(sys.argv[2]), timeout=30)
    print("smtp: admitted")
except smtplib.SMTPConnectError as e:
    print("smtp: %d %s" % (e.smtp_code, e.smtp_error.decode()))
try:
    imaplib.IMAP4(sys.argv[3], int(sys.argv[4]), timeout=30)
    print("imap: admitted")
except imaplib.IMAP4.error as e:
    print("imap: %s" % e)
`
	got, err := python(t, script, smtpHost, smtpPort, imapHost, imapPort)
	if err != nil {
		t.Fatalf("python: %v\n%s", err, got)
	}
	if !strings.Contains(got, "smtp: 421 4.7.0 Too many connections from your address") {
		t.Errorf("smtplib over the limit:\n%s", got)
	}
	if !strings.Contains(got, "imap: b'* BYE Too many connections from your address'") {
		t.Errorf("imaplib over the limit:\n%s", got)
	}

	smtpHeld[0].Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("tcp", srv.addr("smtp"))
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, _ := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if strings.HasPrefix(line, "220 ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a freed slot is not given out again: %q", line)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestHTTPSlowHeaderAndLimit: a client that never finishes its request
// header is disconnected after http.read_header_timeout (slowloris);
// past http.max_connections_per_ip, curl gets 503 with Retry-After.
func TestHTTPSlowHeaderAndLimit(t *testing.T) {
	curl := needTool(t, "curl")
	srv := confServer(t, dnstest.New(t), "[http]\nread_header_timeout = \"1s\"\nmax_connections_per_ip = 2\n")
	addr := srv.addr("http")

	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	slow.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := slow.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	// Both slots are taken while the slow client waits.
	out, _ := runTool(t, nil, curl, "-s", "-i", "http://"+addr+"/login")
	if !strings.HasPrefix(out, "HTTP/1.1 503") || !strings.Contains(out, "Retry-After:") || !strings.Contains(out, "Too many connections") {
		t.Errorf("curl over the limit:\n%s", out)
	}
	// The slow header is cut off: the server closes, answering at most a 408.
	rest, err := bufio.NewReader(slow).ReadString(0)
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() || (rest != "" && !strings.Contains(rest, "408")) {
		t.Errorf("slow header: read %q, %v; want the connection closed", rest, err)
	}
}
