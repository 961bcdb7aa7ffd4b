package certs

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"frontdesk/certs/pebbletest"
)

func TestACMEWithPebble(t *testing.T) {
	p := pebbletest.Start(t)
	cache := filepath.Join(t.TempDir(), "acme")
	hosts := []string{"mail.example.test", "www.example.test", "mta-sts.example.test"}
	conf, httpHandler, err := ACME(ACMEConfig{DirectoryURL: p.DirURL, Email: "postmaster@example.test",
		Hosts: hosts, CacheDir: cache, HTTPClient: p.Client})
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
			TLSClientConfig: &tls.Config{RootCAs: p.Roots, ServerName: host}}}
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
	st := greet(&tls.Config{RootCAs: p.Roots, ServerName: "mail.example.test", NextProtos: []string{"imap"}})
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
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "mail.example.test", Roots: p.Roots, Intermediates: inter}); err != nil {
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
