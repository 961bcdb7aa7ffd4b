package e2e

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"frontdesk/certs/pebbletest"
)

// TestACMEOnIMAPSAndHTTPS: with [acme] pointing at Pebble, the server gets
// a certificate for its host name and serves it on IMAPS and HTTPS.
func TestACMEOnIMAPSAndHTTPS(t *testing.T) {
	p := pebbletest.Start(t)
	conf := filepath.Join(t.TempDir(), "acme.toml")
	os.WriteFile(conf, []byte(fmt.Sprintf("[acme]\ndirectory = %q\nemail = \"postmaster@example.test\"\nhosts = [\"mx.example.test\"]\nca = %q\n",
		p.DirURL, p.MiniCA)), 0o600)
	srv := startServer(t, filepath.Join(t.TempDir(), "data"), "--config", conf, "--imaps", "127.0.0.1:0", "--https", "127.0.0.1:0")
	client := &tls.Config{RootCAs: p.Roots, ServerName: "mx.example.test"}

	c, err := tls.DialWithDialer(dialer(), "tcp", srv.addr("imaps"), client)
	if err != nil {
		t.Fatalf("IMAPS with a certificate from the test CA: %v\n%s", err, srv.Log())
	}
	greeting, _ := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if !strings.HasPrefix(greeting, "* OK") {
		t.Errorf("IMAPS greeting %q", greeting)
	}

	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: client}}
	resp, err := hc.Get("https://" + srv.addr("https") + "/login")
	if err != nil {
		t.Fatalf("HTTPS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /login over HTTPS: %s", resp.Status)
	}
	if issuer := resp.TLS.PeerCertificates[0].Issuer.CommonName; !strings.Contains(strings.ToLower(issuer), "pebble") {
		t.Errorf("certificate issued by %q, want Pebble", issuer)
	}
}
