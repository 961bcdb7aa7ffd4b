package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"frontdesk/dkim"
	"frontdesk/loadgen"
)

// benchSoak runs `bench soak`: two servers of this binary on fresh data
// directories (a.test, the one measured, and b.test, the remote MX its
// submitted mail goes to), an in-process DNS server that joins them, and
// loadgen's mixed load for --duration.
func benchSoak(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := loadgen.SoakOptions{Out: stdout}
	fs.DurationVar(&o.Duration, "duration", 30*time.Minute, "how long the load runs")
	fs.DurationVar(&o.Every, "every", time.Minute, "interval of the figures")
	fs.BoolVar(&o.JSON, "json", false, "print one JSON object a line")
	fs.Float64Var(&o.SMTPRate, "smtp-rate", 5, "inbound messages per second")
	fs.Float64Var(&o.SubmitRate, "submit-rate", 1, "submitted messages per second (to the second server)")
	fs.Float64Var(&o.IMAPRate, "imap-rate", 2, "IMAP rounds (fetch, store, search) per second")
	fs.IntVar(&o.Calls, "calls", 2, "concurrent SIP callers")
	fs.DurationVar(&o.Hold, "hold", 3*time.Second, "how long each call stays up")
	fs.IntVar(&o.Keep, "keep", 300, "INBOX messages kept; older ones are expunged")
	fs.IntVar(&o.Size, "size", 4096, "size of inbound messages in bytes")
	dir := fs.String("dir", "", "where the two data directories go (default: a new temporary directory, removed afterwards)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: bench soak takes no arguments, got %q", errUsage, fs.Arg(0))
	}
	keepDir := *dir != ""
	if keepDir {
		// Servers on an earlier run's data would start from its mail and
		// accounts, and the figures would not be of a fresh server.
		for _, sub := range []string{"a", "b"} {
			if _, err := os.Stat(filepath.Join(*dir, sub)); err == nil {
				return fmt.Errorf("%w: --dir %s already holds a soak run's data (%s); name a new or empty directory", errUsage, *dir, sub)
			}
		}
	} else {
		d, err := os.MkdirTemp("", "frontdesk-soak")
		if err != nil {
			return err
		}
		*dir = d
	}
	cleanup := func() {
		if !keepDir {
			os.RemoveAll(*dir)
		}
	}
	w, err := startSoakWorld(ctx, *dir, stderr)
	if err != nil {
		if w != nil {
			w.stop(stderr)
		}
		fmt.Fprintf(stderr, "bench soak: server logs kept in %s\n", *dir)
		return err
	}
	fmt.Fprintf(stderr, "bench soak: a.test (pid %d) and b.test (pid %d) in %s; load for %s, figures every %s\n",
		w.a.cmd.Process.Pid, w.b.cmd.Process.Pid, *dir, o.Duration, o.Every)
	o.MX, o.Submission, o.IMAP, o.SIP = w.a.addrs["smtp"], w.a.addrs["submission"], w.a.addrs["imap"], w.a.addrs["sip"]
	o.Metrics = "http://" + w.a.addrs["http"] + "/metrics"
	o.RemoteMetrics = "http://" + w.b.addrs["http"] + "/metrics"
	o.User, o.Password, o.RemoteRcpt = w.user, w.password, w.remote
	rep, err := loadgen.Soak(ctx, o)
	w.stop(stderr)
	// An error the servers logged (a recovered panic, a failed write) is a
	// failure of the run even if every client operation succeeded.
	logged := 0
	for _, s := range []*soakServer{w.a, w.b} {
		n, first := s.errorLines()
		if n == 0 {
			continue
		}
		logged += n
		if o.JSON {
			b, _ := json.Marshal(map[string]any{"server_errors": map[string]any{"server": s.name, "count": n, "first": first}})
			fmt.Fprintf(stdout, "%s\n", b)
		} else {
			fmt.Fprintf(stdout, "server %s logged %d errors; first: %s\n", s.name, n, first)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench soak: server logs kept in %s\n", *dir)
		return err
	}
	if logged > 0 {
		fmt.Fprintf(stderr, "bench soak: server logs kept in %s\n", *dir)
		return fmt.Errorf("soak: %s; the servers logged %d errors", rep.Verdict, logged)
	}
	cleanup()
	if !rep.Flat || rep.Errors > 0 {
		return fmt.Errorf("soak: %s", rep.Verdict)
	}
	return nil
}

// soakWorld is the two servers and the DNS that joins them.
type soakWorld struct {
	dns                    *soakDNS
	a, b                   *soakServer
	user, password, remote string
}

func startSoakWorld(ctx context.Context, dir string, stderr io.Writer) (*soakWorld, error) {
	dns, err := startSoakDNS()
	if err != nil {
		return nil, err
	}
	w := &soakWorld{dns: dns, user: "soak@a.test", remote: "soak@b.test", password: randomPassword()}
	w.b, err = startSoakServer(ctx, "b.test", filepath.Join(dir, "b"), dns.addr)
	if err != nil {
		return w, err
	}
	if err := w.addDomain(ctx, w.b, "b.test", w.remote); err != nil {
		return w, err
	}
	_, bPort, _ := net.SplitHostPort(w.b.addrs["smtp"])
	w.a, err = startSoakServer(ctx, "a.test", filepath.Join(dir, "a"), dns.addr, "--outbound-port", bPort)
	if err != nil {
		return w, err
	}
	return w, w.addDomain(ctx, w.a, "a.test", w.user)
}

// addDomain adds domain and one account on the running server s, as an
// admin would, and publishes the domain's MX, SPF, DKIM and DMARC records.
func (w *soakWorld) addDomain(ctx context.Context, s *soakServer, domain, user string) error {
	admin := func(stdin string, args ...string) error {
		var errb bytes.Buffer
		args = append(args, "--data", s.data)
		if runAdmin(ctx, args, strings.NewReader(stdin), io.Discard, &errb) != 0 {
			return fmt.Errorf("%s: %s", strings.Join(args, " "), strings.TrimSpace(errb.String()))
		}
		return nil
	}
	if err := admin("", "domain", "add", domain); err != nil {
		return err
	}
	if err := admin(w.password+"\n", "user", "add", user, "--password-stdin"); err != nil {
		return err
	}
	keys, err := dkim.OpenKeyring(filepath.Join(s.data, "keys", "dkim"))
	if err != nil {
		return err
	}
	lines := []string{
		domain + ". 300 IN MX 10 mx." + domain + ".",
		"mx." + domain + ". 300 IN A 127.0.0.1",
		domain + `. 300 IN TXT "v=spf1 ip4:127.0.0.1 -all"`,
		"_dmarc." + domain + `. 300 IN TXT "v=DMARC1; p=reject"`,
	}
	for _, k := range keys.All(domain) {
		lines = append(lines, k.ZoneLine())
	}
	return w.dns.add(lines...)
}

func (w *soakWorld) stop(stderr io.Writer) {
	for _, s := range []*soakServer{w.a, w.b} {
		if s != nil {
			s.stop(stderr)
		}
	}
	w.dns.close()
}

func randomPassword() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// soakServer is one `frontdesk serve` child process.
type soakServer struct {
	name, data string
	cmd        *exec.Cmd
	addrs      map[string]string
	done       chan struct{}
	log        *os.File

	mu         sync.Mutex
	errors     int    // guarded by mu
	firstError string // guarded by mu
}

var soakListenRE = regexp.MustCompile(`msg=listening service=(\S+) addr=(\S+)`)

// startSoakServer starts this binary's serve on loopback port 0 everywhere
// and waits until it is ready; its log goes to DATA.log.
func startSoakServer(ctx context.Context, domain, data, dns string, extra ...string) (*soakServer, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(data), 0o700); err != nil {
		return nil, err
	}
	logf, err := os.Create(data + ".log")
	if err != nil {
		return nil, err
	}
	args := append([]string{"serve", "--data", data, "--hostname", "mx." + domain, "--dns", dns,
		"--smtp", "127.0.0.1:0", "--submission", "127.0.0.1:0", "--imap", "127.0.0.1:0",
		"--http", "127.0.0.1:0", "--sip", "127.0.0.1:0"}, extra...)
	s := &soakServer{name: domain, data: data, addrs: map[string]string{}, done: make(chan struct{}), log: logf}
	s.cmd = exec.Command(exe, args...)
	pipe, err := s.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	ready := make(chan map[string]string, 1)
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		addrs := map[string]string{}
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			if m := soakListenRE.FindStringSubmatch(line); m != nil {
				addrs[m[1]] = m[2]
			}
			if strings.Contains(line, "frontdesk ready") {
				ready <- addrs
			}
			if strings.Contains(line, "level=ERROR") {
				s.mu.Lock()
				if s.errors++; s.firstError == "" {
					s.firstError = line
				}
				s.mu.Unlock()
			}
		}
		s.cmd.Wait()
		logf.Close()
	}()
	select {
	case s.addrs = <-ready:
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("serve for %s exited early; see %s.log", domain, data)
	case <-ctx.Done():
		s.stop(io.Discard)
		return nil, ctx.Err()
	case <-time.After(time.Minute):
		s.stop(io.Discard)
		return nil, fmt.Errorf("serve for %s not ready after a minute; see %s.log", domain, data)
	}
}

// stop asks the server to shut down as SIGTERM would, and kills it if it
// has not stopped within the grace period serve itself allows.
func (s *soakServer) stop(stderr io.Writer) {
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(shutdownGrace + 10*time.Second):
		fmt.Fprintf(stderr, "bench soak: %s did not stop on SIGINT; killing it\n", s.name)
		s.cmd.Process.Kill()
		<-s.done
	}
}

func (s *soakServer) errorLines() (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.errors, s.firstError
}
