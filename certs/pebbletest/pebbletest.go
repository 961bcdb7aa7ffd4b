// Package pebbletest runs Pebble, Let's Encrypt's test CA, on loopback
// for tests of certificate issuance (ACME, RFC 8555).
package pebbletest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
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

// Pebble is a running test CA.
type Pebble struct {
	// DirURL is the ACME directory.
	DirURL string
	// Client trusts Pebble's own HTTPS (its minica).
	Client *http.Client
	// MiniCA is the PEM file of the CA of Pebble's HTTPS.
	MiniCA string
	// Roots holds the root that signs the certificates Pebble issues.
	Roots *x509.CertPool
}

// Start builds Pebble with go install (GOBIN a temp dir, so go.mod
// is untouched) and runs it on loopback ports taken from :0 listeners,
// with challenge validation off (PEBBLE_VA_ALWAYS_VALID): no DNS or
// port 80/443 is needed.
func Start(t testing.TB) *Pebble {
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
	return &Pebble{DirURL: "https://" + addr + "/dir", Client: client, MiniCA: filepath.Join(certDir, "pebble.minica.pem"), Roots: roots}
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
