package dkim

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"sync"
	"testing"
	"time"

	"frontdesk/dnscheck"
	"frontdesk/dnscheck/dnstest"
)

// testMsg is a typical outgoing message, CRLF line endings.
var testMsg = crlf(`From: Alice Example <alice@example.test>
To: Bob <bob@elsewhere.test>
Cc: carol@elsewhere.test
Subject: Quarterly figures
Date: Mon, 04 May 2026 10:00:00 +0000
Message-ID: <20260504100000.1@example.test>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Received: from client by mx.example.test; Mon, 04 May 2026 10:00:00 +0000

Hello Bob,

the figures are attached.   Regards,
Alice
`)

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// testKeys are one RSA and one Ed25519 key for example.test, generated
// once per test binary (RSA-2048 generation is slow under -race).
var testKeys = sync.OnceValue(func() []*Key {
	rk, err := rsa.GenerateKey(rand.Reader, RSABits)
	if err != nil {
		panic(err)
	}
	_, ek, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	now := time.Now()
	return []*Key{
		{Domain: "example.test", Selector: "fd202605r", Algorithm: AlgRSA, Signer: rk, Created: now},
		{Domain: "example.test", Selector: "fd202605e", Algorithm: AlgEd25519, Signer: ek, Created: now},
	}
})

// txtLine is a zone-file TXT line for value, split into 255-byte strings.
func txtLine(name, value string) string {
	var b strings.Builder
	b.WriteString(strings.TrimSuffix(name, ".") + ". 300 IN TXT")
	for len(value) > 0 {
		n := min(len(value), 255)
		b.WriteString(` "` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(value[:n]) + `"`)
		value = value[n:]
	}
	return b.String()
}

// dnsWith starts a DNS server publishing keys and returns it with a
// verifier using it.
func dnsWith(t testing.TB, keys ...*Key) (*dnstest.Server, *Verifier) {
	t.Helper()
	srv := dnstest.New(t)
	for _, k := range keys {
		srv.MustAdd(t, k.ZoneLine())
	}
	r, err := dnscheck.NewResolver(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	return srv, NewVerifier(r.WithTimeout(2 * time.Second))
}

// statuses returns "selector=status" for each result.
func statuses(rs []Result) string {
	var parts []string
	for _, r := range rs {
		parts = append(parts, r.Selector+"="+r.Status)
	}
	return strings.Join(parts, " ")
}
