package dkim

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"frontdesk/dnscheck"
	"frontdesk/dnscheck/dnstest"
)

func TestKeyringGenerateReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys", "dkim")
	kr, err := OpenKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kr.Generate("Example.TEST.")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].Algorithm != AlgRSA || keys[1].Algorithm != AlgEd25519 {
		t.Fatalf("Generate = %v", keys)
	}
	if n := keys[0].Signer.(*rsa.PrivateKey).N.BitLen(); n != 2048 {
		t.Errorf("RSA key has %d bits", n)
	}
	if _, ok := keys[1].Signer.(ed25519.PrivateKey); !ok {
		t.Errorf("Ed25519 signer is %T", keys[1].Signer)
	}
	if !regexp.MustCompile(`^fd\d{6}r$`).MatchString(keys[0].Selector) ||
		keys[1].Selector != strings.TrimSuffix(keys[0].Selector, "r")+"e" {
		t.Errorf("selectors %q %q", keys[0].Selector, keys[1].Selector)
	}
	for _, k := range keys {
		if k.Domain != "example.test" {
			t.Errorf("domain %q", k.Domain)
		}
	}
	if _, err := kr.Generate("example.test"); !errors.Is(err, ErrHasKeys) {
		t.Errorf("second Generate: %v, want ErrHasKeys", err)
	}

	ddir := filepath.Join(dir, "example.test")
	assertMode(t, ddir, 0o700)
	for _, name := range []string{keys[0].Selector + ".pem", keys[1].Selector + ".pem", manifestName} {
		assertMode(t, filepath.Join(ddir, name), 0o600)
	}
	if left, _ := filepath.Glob(filepath.Join(ddir, ".tmp-*")); len(left) > 0 {
		t.Errorf("temp files left: %v", left)
	}

	kr2, err := OpenKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	assertSameKeys(t, kr2.All("example.test"), keys)
	assertSameKeys(t, kr2.Active("EXAMPLE.test"), keys)
	if d := kr2.Domains(); len(d) != 1 || d[0] != "example.test" {
		t.Errorf("Domains = %v", d)
	}
	if got := kr2.Active("other.test"); got != nil {
		t.Errorf("Active(other) = %v", got)
	}
}

func TestKeyringRotate(t *testing.T) {
	dir := t.TempDir()
	kr, _ := OpenKeyring(dir)
	if _, err := kr.Rotate("example.test"); !errors.Is(err, ErrNoKeys) {
		t.Errorf("Rotate without keys: %v", err)
	}
	first, err := kr.Generate("example.test")
	if err != nil {
		t.Fatal(err)
	}
	second, err := kr.Rotate("example.test")
	if err != nil {
		t.Fatal(err)
	}
	third, err := kr.Rotate("example.test") // twice in a month: counter suffix
	if err != nil {
		t.Fatal(err)
	}
	base := strings.TrimSuffix(first[0].Selector, "r")
	got := []string{second[0].Selector, second[1].Selector, third[0].Selector, third[1].Selector}
	want := []string{base + "r2", base + "e2", base + "r3", base + "e3"}
	if strings.HasPrefix(third[1].Selector, base) && strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("rotated selectors %v, want %v", got, want)
	}
	all := append(append(append([]*Key{}, first...), second...), third...)
	assertSameKeys(t, kr.All("example.test"), all)
	// Rotated keys are published first and sign only once activated.
	assertSameKeys(t, kr.Active("example.test"), first)
	assertSameKeys(t, kr.Pending("example.test"), third)
	if _, err := kr.Activate("example.test"); err != nil {
		t.Fatal(err)
	}
	assertSameKeys(t, kr.Active("example.test"), third)
	if p := kr.Pending("example.test"); p != nil {
		t.Errorf("pending after Activate: %v", p)
	}

	reopened, err := OpenKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	assertSameKeys(t, reopened.All("example.test"), all)
	assertSameKeys(t, reopened.Active("example.test"), third)

	if err := reopened.Remove("example.test", third[0].Selector); err == nil {
		t.Error("removing an active key succeeded")
	}
	if err := reopened.Remove("example.test", "nosuch"); err == nil {
		t.Error("removing an unknown selector succeeded")
	}
	if err := reopened.Remove("example.test", first[0].Selector); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "example.test", first[0].Selector+".pem")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("removed key file: %v", err)
	}
	again, err := OpenKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	assertSameKeys(t, again.All("example.test"), all[1:])
	assertSameKeys(t, again.Active("example.test"), third)
}

// A Generate that crashed before keyring.json leaves key files: they are
// ignored, and their selectors not reused.
func TestKeyringCrashLeftovers(t *testing.T) {
	dir := t.TempDir()
	kr, _ := OpenKeyring(dir)
	keys, err := kr.Generate("example.test")
	if err != nil {
		t.Fatal(err)
	}
	// Pretend the manifest never got written.
	if err := os.Remove(filepath.Join(dir, "example.test", manifestName)); err != nil {
		t.Fatal(err)
	}
	kr2, err := OpenKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := kr2.All("example.test"); len(got) != 0 {
		t.Fatalf("All = %v, want none", got)
	}
	fresh, err := kr2.Generate("example.test")
	if err != nil {
		t.Fatal(err)
	}
	if fresh[0].Selector == keys[0].Selector || fresh[1].Selector == keys[1].Selector {
		t.Errorf("selectors reused: %s %s", fresh[0].Selector, fresh[1].Selector)
	}
}

func TestKeyringBadDomain(t *testing.T) {
	kr, _ := OpenKeyring(t.TempDir())
	for _, d := range []string{"", ".", "../etc", "a..b", "a/b", "-a.test", "a_b.test", strings.Repeat("a", 64) + ".test"} {
		if _, err := kr.Generate(d); err == nil {
			t.Errorf("Generate(%q) succeeded", d)
		}
	}
}

// The record values parse back to the public keys, and the zone lines,
// served by a DNS server, come back whole through the resolver.
func TestRecordValue(t *testing.T) {
	srv := dnstest.New(t)
	r, _ := dnscheck.NewResolver(srv.Addr)
	for _, k := range testKeys() {
		if want := k.Selector + "._domainkey.example.test"; k.RecordName() != want {
			t.Errorf("RecordName = %q", k.RecordName())
		}
		v := k.RecordValue()
		tags := parseTags(v)
		if tags["v"] != "DKIM1" || !strings.HasPrefix(v, "v=DKIM1; ") {
			t.Errorf("record %q: v= not first", v)
		}
		p, err := base64.StdEncoding.DecodeString(tags["p"])
		if err != nil {
			t.Fatalf("p=: %v", err)
		}
		switch k.Algorithm {
		case AlgRSA:
			if tags["k"] != "rsa" {
				t.Errorf("k=%q", tags["k"])
			}
			pub, err := x509.ParsePKIXPublicKey(p)
			if err != nil || !pub.(*rsa.PublicKey).Equal(k.Signer.Public()) {
				t.Errorf("RSA p= does not parse to the key: %v", err)
			}
		case AlgEd25519:
			if tags["k"] != "ed25519" || len(p) != ed25519.PublicKeySize || !ed25519.PublicKey(p).Equal(k.Signer.Public()) {
				t.Errorf("Ed25519 record %q does not hold the raw key", v)
			}
		}
		srv.MustAdd(t, k.ZoneLine())
		got, err := r.LookupTXT(context.Background(), k.RecordName())
		if err != nil || len(got) != 1 || got[0] != v {
			t.Errorf("served %q, %v; want %q", got, err, v)
		}
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %o, want %o", path, got, want)
	}
}

func assertSameKeys(t *testing.T, got, want []*Key) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d keys, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		type pub interface{ Equal(x crypto.PublicKey) bool }
		if g.Selector != w.Selector || g.Algorithm != w.Algorithm || g.Domain != w.Domain ||
			!g.Created.Equal(w.Created) || !g.Signer.Public().(pub).Equal(w.Signer.Public()) {
			t.Errorf("key %d: got %s/%s/%s %v, want %s/%s/%s %v", i,
				g.Domain, g.Selector, g.Algorithm, g.Created, w.Domain, w.Selector, w.Algorithm, w.Created)
		}
	}
}

// Signing goroutines read the keyring while an admin rotates.
func TestKeyringConcurrent(t *testing.T) {
	kr, _ := OpenKeyring(t.TempDir())
	if _, err := kr.Generate("example.test"); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 2 {
			if _, err := kr.Rotate("example.test"); err != nil {
				t.Error(err)
			}
		}
	}()
	for {
		select {
		case <-done:
			if n := len(kr.All("example.test")); n != 6 {
				t.Errorf("All has %d keys, want 6", n)
			}
			return
		default:
			if a := kr.Active("example.test"); len(a) != 2 || a[0].Algorithm != AlgRSA {
				t.Errorf("Active = %v", a)
				<-done
				return
			}
			_ = kr.Domains()
		}
	}
}

// A second Keyring (the CLI, or an admin command) generating or rotating
// keys is seen by the server's Keyring without a restart.
func TestKeyringSeesOtherWriters(t *testing.T) {
	dir := t.TempDir()
	server, err := OpenKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := server.Active("example.test"); len(got) != 0 {
		t.Fatalf("keys before generation: %v", got)
	}
	cli, err := OpenKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	made, err := cli.Generate("example.test")
	if err != nil {
		t.Fatal(err)
	}
	if got := server.Active("example.test"); len(got) != 2 || got[0].Selector != made[0].Selector {
		t.Fatalf("server sees %v after another keyring generated %v", got, made)
	}
	rotated, err := cli.Rotate("example.test")
	if err != nil {
		t.Fatal(err)
	}
	if got := server.Pending("example.test"); len(got) != 2 || got[0].Selector != rotated[0].Selector {
		t.Errorf("server sees pending %v after rotation to %v", got, rotated)
	}
	if _, err := cli.Activate("example.test"); err != nil {
		t.Fatal(err)
	}
	if got := server.Active("example.test"); len(got) != 2 || got[0].Selector != rotated[0].Selector {
		t.Errorf("server signs with %v after rotation to %v", got, rotated)
	}
	if got := server.All("example.test"); len(got) != 4 {
		t.Errorf("server publishes %d keys after rotation, want 4", len(got))
	}
}
