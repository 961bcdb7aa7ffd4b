package certs

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pebbleVersion is the Pebble (Let's Encrypt's test CA) built for the
// test from the module proxy, outside our go.mod.
const pebbleVersion = "v2.10.1"

// pebble is a running test CA.
type pebble struct {
	dirURL string
	client *http.Client // trusts Pebble's HTTPS (its minica)
	roots  *x509.CertPool
}

// startPebble builds Pebble with go install (GOBIN a temp dir, so go.mod
// is untouched) and runs it on loopback ports taken from :0 listeners,
// with challenge validation off (PEBBLE_VA_ALWAYS_VALID): no DNS or
// port 80/443 is needed.
func startPebble(t *testing.T) *pebble {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs Pebble")
	}
	gobin := t.TempDir()
	goCmd := func(args ...string) []byte {
		cmd := exec.Command("go", args...)
		cmd.Dir = gobin // outside our module
		cmd.Env = append(os.Environ(), "GOBIN="+gobin, "GOFLAGS=-mod=mod", "GOWORK=off")
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
		return out
	}
	mod := "github.com/letsencrypt/pebble/v2"
	goCmd("install", mod+"/cmd/pebble@"+pebbleVersion)
	var dl struct{ Dir string }
	if err := json.Unmarshal(goCmd("mod", "download", "-json", mod+"@"+pebbleVersion), &dl); err != nil || dl.Dir == "" {
		t.Fatalf("pebble module directory: %v", err)
	}
	certDir := filepath.Join(dl.Dir, "test", "certs")

	addr, mgmt := freeAddr(t), freeAddr(t)
	conf := map[string]any{"pebble": map[string]any{
		"listenAddress":           addr,
		"managementListenAddress": mgmt,
		"certificate":             filepath.Join(certDir, "localhost", "cert.pem"),
		"privateKey":              filepath.Join(certDir, "localhost", "key.pem"),
		"httpPort":                5002, // unused: validation is off
		"tlsPort":                 5001,
		"ocspResponderURL":        "",
		"retryAfter":              map[string]int{"authz": 1, "order": 1},
	}}
	confFile := filepath.Join(gobin, "pebble.json")
	data, _ := json.Marshal(conf)
	if err := os.WriteFile(confFile, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command(filepath.Join(gobin, "pebble"), "-config", confFile)
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_VA_ALWAYS_VALID=1",
		"PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=100")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("pebble log:\n%s", logs.String())
		}
	})

	minica, err := os.ReadFile(filepath.Join(certDir, "pebble.minica.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(minica)
	client := &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := client.Get("https://" + addr + "/dir")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble did not start: %v\n%s", err, logs.String())
		}
	}

	// The root that signs the certificates it issues (a new one per run).
	resp, err := client.Get("https://" + mgmt + "/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	rootPEM, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(rootPEM) {
		t.Fatalf("no root from /roots/0: %q", rootPEM)
	}
	return &pebble{dirURL: "https://" + addr + "/dir", client: client, roots: roots}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestACMEWithPebble(t *testing.T) {
	p := startPebble(t)
	cache := filepath.Join(t.TempDir(), "acme")
	hosts := []string{"mail.example.test", "www.example.test", "mta-sts.example.test"}
	conf, httpHandler, err := ACME(ACMEConfig{DirectoryURL: p.dirURL, Email: "postmaster@example.test",
		Hosts: hosts, CacheDir: cache, HTTPClient: p.client})
	if err != nil {
		t.Fatal(err)
	}

	// HTTPS: the web and mta-sts names.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	web := &http.Server{TLSConfig: conf, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", r.Host)
	})}
	go web.ServeTLS(ln, "", "")
	t.Cleanup(func() { web.Close() })
	for _, host := range hosts[1:] {
		client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: p.roots, ServerName: host}}}
		resp, err := client.Get("https://" + ln.Addr().String() + "/")
		if err != nil {
			t.Fatalf("https %s: %v", host, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "hello ") {
			t.Errorf("https %s: %s %q", host, resp.Status, body)
		}
		if got := resp.TLS.PeerCertificates[0].DNSNames; len(got) != 1 || got[0] != host {
			t.Errorf("https %s: certificate for %v", host, got)
		}
	}

	// IMAPS-style: a tls.Listener with the same configuration.
	mailLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsLn := tls.NewListener(mailLn, conf)
	t.Cleanup(func() { tlsLn.Close() })
	go func() {
		for {
			c, err := tlsLn.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(time.Minute))
				io.WriteString(c, "* OK [CAPABILITY IMAP4rev1] ready\r\n")
				io.Copy(io.Discard, c)
			}()
		}
	}()
	greet := func(cfg *tls.Config) *tls.ConnectionState {
		t.Helper()
		d := &tls.Dialer{Config: cfg, NetDialer: &net.Dialer{Timeout: time.Minute}}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := d.DialContext(ctx, "tcp", mailLn.Addr().String())
		if err != nil {
			t.Fatalf("imaps: %v", err)
		}
		defer c.Close()
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "* OK") {
			t.Fatalf("imaps greeting %q, %v", line, err)
		}
		st := c.(*tls.Conn).ConnectionState()
		return &st
	}
	// A mail client: SNI, ALPN "imap", verification against Pebble's root.
	st := greet(&tls.Config{RootCAs: p.roots, ServerName: "mail.example.test", NextProtos: []string{"imap"}})
	if st.NegotiatedProtocol != "imap" {
		t.Errorf("ALPN: %q", st.NegotiatedProtocol)
	}
	// An SMTP sender without SNI gets the mail host's certificate.
	st = greet(&tls.Config{InsecureSkipVerify: true})
	leaf := st.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range st.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "mail.example.test", Roots: p.roots, Intermediates: inter}); err != nil {
		t.Errorf("certificate without SNI: %v", err)
	}

	// Plain HTTP: challenges go to autocert, the rest is redirected.
	rec := &responseRecorder{header: http.Header{}}
	req, _ := http.NewRequest("GET", "http://www.example.test/page", nil)
	httpHandler.ServeHTTP(rec, req)
	if rec.code != http.StatusFound || rec.header.Get("Location") != "https://www.example.test/page" {
		t.Errorf("http: %d %q", rec.code, rec.header.Get("Location"))
	}

	// The certificates are cached: a new configuration serves them
	// without the CA.
	files, _ := os.ReadDir(cache)
	if len(files) < len(hosts) {
		t.Errorf("cache holds %d files", len(files))
	}
}

func TestACMEConfigErrors(t *testing.T) {
	for _, cfg := range []ACMEConfig{
		{Hosts: []string{"mail.example.test"}},
		{CacheDir: t.TempDir()},
		{CacheDir: t.TempDir(), Hosts: []string{"localhost"}},
	} {
		if _, _, err := ACME(cfg); err == nil {
			t.Errorf("ACME(%+v) succeeded", cfg)
		}
	}
}

type responseRecorder struct {
	header http.Header
	code   int
}

func (r *responseRecorder) Header() http.Header         { return r.header }
func (r *responseRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *responseRecorder) WriteHeader(code int)        { r.code = code }
