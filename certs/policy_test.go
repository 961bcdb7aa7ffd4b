package certs

import (
	"crypto/tls"
	"net"
	"path/filepath"
	"slices"
	"testing"
)

// TestEveryCertificateSourceHasThePolicy: configured files, the
// self-signed default and ACME all give the one policy, and a handshake
// shows it holds.
func TestEveryCertificateSourceHasThePolicy(t *testing.T) {
	dir := t.TempDir()
	self, err := SelfSigned(dir, []string{"mail.example.test", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	files, err := Files(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	acme, _, err := ACME(ACMEConfig{Hosts: []string{"mail.example.test"}, CacheDir: filepath.Join(dir, "acme")})
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*tls.Config{"self-signed": self, "files": files, "acme": acme} {
		if c.MinVersion != tls.VersionTLS12 || !slices.Equal(c.CipherSuites, CipherSuites) || !slices.Equal(c.CurvePreferences, Curves) {
			t.Errorf("%s: MinVersion %x, suites %v, curves %v; want the shared policy", name, c.MinVersion, c.CipherSuites, c.CurvePreferences)
		}
	}
	for _, s := range CipherSuites {
		if slices.ContainsFunc(tls.InsecureCipherSuites(), func(i *tls.CipherSuite) bool { return i.ID == s }) {
			t.Errorf("suite %s is in Go's insecure list", tls.CipherSuiteName(s))
		}
	}

	client := func(c *tls.Config) error {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
			tls.Server(conn, self).Handshake()
		}()
		c.InsecureSkipVerify = true
		conn, err := tls.Dial("tcp", ln.Addr().String(), c)
		if err != nil {
			return err
		}
		return conn.Close()
	}
	refused := []*tls.Config{
		{MaxVersion: tls.VersionTLS11},
		{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}},
		{MaxVersion: tls.VersionTLS12, CurvePreferences: []tls.CurveID{tls.CurveP384}},
	}
	for _, c := range refused {
		if err := client(c); err == nil {
			t.Errorf("client with max version %x, suites %v, curves %v: handshake succeeded, want refused", c.MaxVersion, c.CipherSuites, c.CurvePreferences)
		}
	}
	for _, c := range []*tls.Config{
		{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}},
		{MinVersion: tls.VersionTLS13},
	} {
		if err := client(c); err != nil {
			t.Errorf("client with max version %x, suites %v: %v", c.MaxVersion, c.CipherSuites, err)
		}
	}
}
