// Package e2e drives the frontdesk binary as an admin and its users would:
// the CLI, and real mail clients (swaks, Python's smtplib and imaplib,
// mbsync, curl) over loopback.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"frontdesk/dnscheck/dnstest"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "frontdesk-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "frontdesk")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "frontdesk/cmd/frontdesk")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build frontdesk:", err)
		os.Exit(1)
	}
	if raceEnabled && os.Getenv("GORACE") == "" {
		// A race-built binary sleeps a second at every exit unless told
		// not to; the suite runs the CLI hundreds of times.
		os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// needTool returns a client's path; a missing client fails the test in CI
// and skips it elsewhere.
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI (.ci/run installs it): %v", name, err)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// server is one running `frontdesk serve`.
type server struct {
	t     testing.TB
	data  string
	dns   *dnstest.Server
	cmd   *exec.Cmd
	addrs map[string]string
	done  chan struct{}

	mu  sync.Mutex
	log bytes.Buffer
}

var listenRE = regexp.MustCompile(`msg=listening service=(\S+) addr=(\S+)`)

// startServer runs serve on fresh loopback ports with the given data
// directory and waits until it is ready.
func startServer(t testing.TB, data string, extra ...string) *server {
	t.Helper()
	// Every lookup goes to an in-process DNS server: tests never query
	// anything off this machine.
	return startServerDNS(t, data, dnstest.New(t), "mx.example.test", extra...)
}

// startServerDNS starts a server named hostname that resolves through dns.
func startServerDNS(t testing.TB, data string, dns *dnstest.Server, hostname string, extra ...string) *server {
	t.Helper()
	return startServerBin(t, binary, nil, data, dns, hostname, extra...)
}

// startServerBin is startServerDNS with another build of frontdesk and
// extra environment variables (NAME=value).
func startServerBin(t testing.TB, bin string, env []string, data string, dns *dnstest.Server, hostname string, extra ...string) *server {
	t.Helper()
	args := append([]string{"serve", "--data", data, "--hostname", hostname, "--dns", dns.Addr,
		"--smtp", "127.0.0.1:0", "--submission", "127.0.0.1:0", "--imap", "127.0.0.1:0",
		"--http", "127.0.0.1:0", "--sip", "127.0.0.1:0"}, extra...)
	s := &server{t: t, data: data, dns: dns, addrs: map[string]string{}, done: make(chan struct{})}
	s.cmd = exec.Command(bin, args...)
	if env != nil {
		s.cmd.Env = append(os.Environ(), env...)
	}
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.log.WriteString(line + "\n")
			if m := listenRE.FindStringSubmatch(line); m != nil {
				s.addrs[m[1]] = m[2]
			}
			s.mu.Unlock()
			if strings.Contains(line, "frontdesk ready") {
				once.Do(func() { close(ready) })
			}
		}
		s.cmd.Wait()
	}()
	select {
	case <-ready:
	case <-s.done:
		t.Fatalf("serve exited early:\n%s", s.Log())
	case <-time.After(30 * time.Second):
		t.Fatalf("serve not ready after 30s:\n%s", s.Log())
	}
	t.Cleanup(func() { s.stop() })
	return s
}

func (s *server) addr(service string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.addrs[service]
	if a == "" {
		s.t.Fatalf("no %s listener in log", service)
	}
	return a
}

// Log returns what the server logged so far.
func (s *server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop() {
	if s.cmd.ProcessState != nil {
		return
	}
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(40 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
		s.t.Errorf("server did not stop on SIGTERM:\n%s", s.Log())
	}
}

// kill stops the server with SIGKILL, as a crash would.
func (s *server) kill() {
	s.cmd.Process.Kill()
	<-s.done
}

// frontdesk runs an admin command and returns its standard output.
func frontdesk(t testing.TB, stdin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%v: %s", err, errb.String())
	}
	return out.String(), nil
}

func mustFrontdesk(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	out, err := frontdesk(t, stdin, args...)
	if err != nil {
		t.Fatalf("frontdesk %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// runTool runs a client program with a deadline and returns its combined output.
func runTool(t testing.TB, stdin io.Reader, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// python runs a Python 3 script with arguments.
func python(t testing.TB, script string, args ...string) (string, error) {
	t.Helper()
	py := needTool(t, "python3")
	return runTool(t, nil, py, append([]string{"-c", script}, args...)...)
}

// bodyBelowTrace strips the trace headers Frontdesk prepends (Received,
// and later Authentication-Results) so a stored message can be compared
// with what the client sent.
func bodyBelowTrace(msg []byte) []byte {
	for {
		i := bytes.Index(msg, []byte("\r\n"))
		if i < 0 {
			return msg
		}
		line := msg[:i]
		lower := strings.ToLower(string(line))
		trace := strings.HasPrefix(lower, "received:") || strings.HasPrefix(lower, "authentication-results:") ||
			strings.HasPrefix(lower, "x-spam-") || strings.HasPrefix(lower, "return-path:")
		if trace {
			msg = msg[i+2:]
			for len(msg) > 0 && (msg[0] == ' ' || msg[0] == '\t') {
				j := bytes.Index(msg, []byte("\r\n"))
				if j < 0 {
					return nil
				}
				msg = msg[j+2:]
			}
			continue
		}
		return msg
	}
}

func dialer() *net.Dialer { return &net.Dialer{Timeout: 30 * time.Second} }

// imapLogin opens an IMAP session as user over plain text (loopback) and,
// unless mailbox is empty, selects it. The session closes with the test.
func imapLogin(t testing.TB, addr, user, pass, mailbox string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(user, pass).Wait(); err != nil {
		t.Fatalf("IMAP login as %s: %v", user, err)
	}
	if mailbox != "" {
		if _, err := c.Select(mailbox, nil).Wait(); err != nil {
			t.Fatalf("SELECT %s: %v", mailbox, err)
		}
	}
	return c
}

// submitAs sends a short message as user (password pass) through the
// submission port at addr.
func submitAs(t testing.TB, addr, user, pass, to, subject string) {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	domain := user[strings.LastIndexByte(user, '@')+1:]
	if err := c.Hello("laptop." + domain); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(sasl.NewPlainClient("", user, pass)); err != nil {
		t.Fatal(err)
	}
	msg := "From: <" + user + ">\r\nTo: <" + to + ">\r\nSubject: " + subject +
		"\r\nDate: " + time.Now().Format(time.RFC1123Z) + "\r\nMessage-ID: <" + fmt.Sprint(time.Now().UnixNano()) + "@" + domain + ">\r\n\r\nHello from " + domain + ".\r\n"
	if err := c.SendMail(user, []string{to}, strings.NewReader(msg)); err != nil {
		t.Fatalf("submit to %s: %v", to, err)
	}
}
