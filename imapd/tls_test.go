package imapd

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"frontdesk/authn"
)

func testTLSConfig(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

func TestTLS(t *testing.T) {
	e := newTestEnv(t)
	srv := New(e.st, authn.New(e.st), Config{TLS: testTLSConfig(t), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	plain, _ := net.Listen("tcp", "127.0.0.1:0")
	implicit, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(plain)
	go srv.ServeTLS(implicit)
	defer srv.Close()
	clientTLS := &tls.Config{InsecureSkipVerify: true}

	c, err := imapclient.DialTLS(implicit.Addr().String(), &imapclient.Options{TLSConfig: clientTLS})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(testUser, testPass).Wait(); err != nil {
		t.Fatalf("IMAPS login: %v", err)
	}

	c2, err := imapclient.DialStartTLS(plain.Addr().String(), &imapclient.Options{TLSConfig: clientTLS})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.Login(testUser, testPass).Wait(); err != nil {
		t.Fatalf("STARTTLS login: %v", err)
	}

	// A remote peer may log in after STARTTLS.
	server, client := net.Pipe()
	srv.dispatch(fakeRemote{server, &net.TCPAddr{IP: net.ParseIP("198.51.100.7"), Port: 5000}})
	defer client.Close()
	client.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(client)
	expect := func(r *bufio.Reader, prefix string) string {
		t.Helper()
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("waiting for %q: %v", prefix, err)
			}
			if strings.HasPrefix(line, prefix) {
				return line
			}
		}
	}
	if line := expect(r, "* OK"); !strings.Contains(line, "STARTTLS") || !strings.Contains(line, "LOGINDISABLED") {
		t.Fatalf("greeting %q", line)
	}
	io.WriteString(client, "a STARTTLS\r\n")
	expect(r, "a OK")
	tc := tls.Client(client, clientTLS)
	io.WriteString(tc, "b LOGIN "+testUser+" \""+testPass+"\"\r\n")
	if line := expect(bufio.NewReader(tc), "b "); !strings.HasPrefix(line, "b OK") {
		t.Fatalf("LOGIN after STARTTLS: %q", line)
	}
}
