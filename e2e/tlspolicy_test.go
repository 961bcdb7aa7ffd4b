package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// handshake is one openssl s_client attempt and what the listener must do.
type handshake struct {
	name string
	args []string
	ok   bool
	want string // in s_client's output
}

// sClient runs openssl s_client against addr (with STARTTLS for starttls
// unless empty) and reports whether the handshake completed.
func sClient(t *testing.T, addr, starttls string, args ...string) (string, bool) {
	t.Helper()
	openssl, _ := exec.LookPath("openssl") // checkHandshakes made sure it is there
	all := []string{"s_client", "-connect", addr, "-servername", "mx.example.test"}
	if starttls != "" {
		all = append(all, "-starttls", starttls)
	}
	out, err := runTool(t, strings.NewReader(""), openssl, append(all, args...)...)
	return out, err == nil && strings.Contains(out, "New, TLS")
}

// checkHandshakes runs every case against every listener, the listeners
// side by side.
func checkHandshakes(t *testing.T, srv *server, listeners map[string]string, cases []handshake) {
	t.Helper()
	needTool(t, "openssl")
	var wg sync.WaitGroup
	for service, starttls := range listeners {
		addr := srv.addr(service)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, c := range cases {
				out, ok := sClient(t, addr, starttls, c.args...)
				if ok != c.ok || !strings.Contains(out, c.want) {
					t.Errorf("%s, %s (openssl s_client %s): handshake ok=%v, want ok=%v and %q in:\n%s",
						service, c.name, strings.Join(c.args, " "), ok, c.ok, c.want, tailOf(out))
				}
			}
		}()
	}
	wg.Wait()
}

// TestTLSPolicyEveryListener checks with openssl, as an auditor would,
// that every TLS listener (STARTTLS on MX, submission and IMAP; implicit
// TLS on 465, 993 and HTTPS) speaks TLS 1.2 and 1.3 only, with ECDHE and
// AEAD suites only, on an RSA certificate from the config file and on the
// self-signed ECDSA one made by default.
func TestTLSPolicyEveryListener(t *testing.T) {
	openssl := needTool(t, "openssl")
	curl := needTool(t, "curl")
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if out, err := runTool(t, nil, openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
		"-out", cert, "-subj", "/CN=mx.example.test", "-days", "2"); err != nil {
		t.Fatalf("openssl req: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "frontdesk.toml")
	toml := "[listen]\nsubmissions = \"127.0.0.1:0\"\n[tls]\ncert = \"" + cert + "\"\nkey = \"" + key + "\"\n"
	if err := os.WriteFile(cfg, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, filepath.Join(dir, "data"), "--config", cfg, "--imaps", "127.0.0.1:0", "--https", "127.0.0.1:0")
	listeners := map[string]string{"smtp": "smtp", "submission": "smtp", "submissions": "",
		"imap": "imap", "imaps": "", "https": ""}

	// Old protocol versions need SECLEVEL=0 in OpenSSL 3, or the client
	// itself refuses to offer them and the server is never tested.
	refusedVersion := "alert protocol version"
	refusedSuite := "alert handshake failure"
	checkHandshakes(t, srv, listeners, []handshake{
		{"TLS 1.0", []string{"-tls1", "-cipher", "DEFAULT@SECLEVEL=0"}, false, refusedVersion},
		{"TLS 1.1", []string{"-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"}, false, refusedVersion},
		{"TLS 1.2 CBC", []string{"-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA"}, false, refusedSuite},
		{"TLS 1.2 CBC-SHA384", []string{"-tls1_2", "-cipher", "ECDHE-RSA-AES256-SHA384"}, false, refusedSuite},
		{"TLS 1.2 RSA key exchange", []string{"-tls1_2", "-cipher", "AES128-GCM-SHA256"}, false, refusedSuite},
		{"TLS 1.2 P-384 only", []string{"-tls1_2", "-groups", "secp384r1"}, false, refusedSuite},
		{"TLS 1.2 AES-GCM", []string{"-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"}, true, "Cipher is ECDHE-RSA-AES128-GCM-SHA256"},
		{"TLS 1.2 ChaCha20", []string{"-tls1_2", "-cipher", "ECDHE-RSA-CHACHA20-POLY1305"}, true, "Cipher is ECDHE-RSA-CHACHA20-POLY1305"},
		{"TLS 1.2 X25519", []string{"-tls1_2", "-groups", "X25519"}, true, "Server Temp Key: X25519"},
		{"TLS 1.3", []string{"-tls1_3"}, true, "New, TLSv1.3"},
	})

	https := "https://" + srv.addr("https") + "/login"
	for _, c := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"--tlsv1.1", "--tls-max", "1.1", "--ciphers", "DEFAULT@SECLEVEL=0"}, false},
		{[]string{"--tlsv1.2", "--tls-max", "1.2", "--ciphers", "ECDHE-RSA-AES128-SHA"}, false},
		{[]string{"--tlsv1.2", "--tls-max", "1.2", "--ciphers", "ECDHE-RSA-AES128-GCM-SHA256"}, true},
		{[]string{"--tlsv1.3"}, true},
	} {
		out, err := runTool(t, nil, curl, append([]string{"-sk", "-o", "/dev/null", "-w", "%{http_code}", https}, c.args...)...)
		if ok := err == nil && out == "200"; ok != c.ok {
			t.Errorf("curl %s %s: got %q (err %v), want success=%v", strings.Join(c.args, " "), https, out, err, c.ok)
		}
	}
	srv.stop()

	// The default certificate is ECDSA P-256: the same policy, ECDSA suites.
	def := startServer(t, filepath.Join(dir, "data2"), "--imaps", "127.0.0.1:0")
	checkHandshakes(t, def, map[string]string{"submission": "smtp", "imaps": ""}, []handshake{
		{"TLS 1.1", []string{"-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"}, false, refusedVersion},
		{"TLS 1.2 CBC", []string{"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA"}, false, refusedSuite},
		{"TLS 1.2 AES-GCM", []string{"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"}, true, "Cipher is ECDHE-ECDSA-AES128-GCM-SHA256"},
		{"TLS 1.3", []string{"-tls1_3"}, true, "New, TLSv1.3"},
	})
}
