package dkim

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"

	"frontdesk/dnscheck"
	"frontdesk/dnscheck/dnstest"
)

var update = flag.Bool("update", false, "rewrite testdata/conformance.golden")

// conformanceDir holds RFC 8463's example and dkimpy's test data, beside
// the checkout (see shared/conformance/README.md).
const conformanceDir = "../../shared/conformance/dkim"

// TestConformance verifies published test vectors and compares what it
// got, one line per case, with testdata/conformance.golden. On a
// difference it writes testdata/conformance.got beside it, so a diff
// shows the change (go test -update accepts it).
func TestConformance(t *testing.T) {
	if _, err := os.Stat(conformanceDir); err != nil {
		need(t, "conformance data: %v", err)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(conformanceDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var got []string
	report := func(name string, format string, args ...any) {
		got = append(got, name+": "+fmt.Sprintf(format, args...))
	}
	// verify serves zone lines and verifies msg.
	verify := func(msg []byte, zone ...string) string {
		srv := dnstest.New(t)
		srv.MustAdd(t, zone...)
		r, _ := dnscheck.NewResolver(srv.Addr)
		rs, err := NewVerifier(r.WithTimeout(2*time.Second)).Verify(context.Background(), msg)
		if err != nil {
			return "error " + err.Error()
		}
		return statuses(rs)
	}
	rfc8463DNS := strings.Split(strings.TrimSpace(string(read("rfc8463/dns-records.txt"))), "\n")

	// RFC 8463 Appendix A: the Ed25519 and the RSA signature both verify.
	report("rfc8463/signed-message.eml", "%s", verify(read("rfc8463/signed-message.eml"), rfc8463DNS...))

	// …and signing the unsigned message with the given keys and the signed
	// message's tags reproduces its b= values (both algorithms are deterministic).
	seed, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(string(read("rfc8463/brisbane.football.example.com.ed25519.seed.b64"))))
	block, _ := pem.Decode(read("rfc8463/test.football.example.com.rsa.pem"))
	rsaKey, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	signed, unsigned := read("rfc8463/signed-message.eml"), read("rfc8463/unsigned-message.eml")
	for i, signer := range []crypto.Signer{ed25519.NewKeyFromSeed(seed), rsaKey} {
		report("rfc8463/unsigned-message.eml", "signature %d b= %s", i, reproduce(t, signed, unsigned, i, signer))
	}

	// dkimpy: the RFC 6376/8463 message with both selectors (same keys).
	report("dkimpy/rfc6376.signed.msg", "%s", verify(read("dkimpy/rfc6376.signed.msg"), rfc8463DNS...))
	// Exim's Ed25519 signature, relaxed/relaxed.
	report("dkimpy/ed25519test2.msg", "%s", verify(read("dkimpy/ed25519test2.msg"),
		txtLine("sed._domainkey.test.ex", strings.TrimSpace(string(read("dkimpy/eximtest.dns"))))))
	// ed25519test.key signs (with Frontdesk's Sign), ed25519test.dns verifies.
	seed, _ = base64.StdEncoding.DecodeString(strings.TrimSpace(string(read("dkimpy/ed25519test.key"))))
	edKey := &Key{Domain: "example.com", Selector: "test", Algorithm: AlgEd25519, Signer: ed25519.NewKeyFromSeed(seed)}
	msg, err := Sign(read("dkimpy/ed25519test.msg"), []*Key{edKey})
	if err != nil {
		t.Fatal(err)
	}
	edDNS := txtLine(edKey.RecordName(), strings.TrimSpace(string(read("dkimpy/ed25519test.dns"))))
	report("dkimpy/ed25519test.msg", "signed with ed25519test.key: %s", verify(msg, edDNS))
	if edKey.RecordValue() != "v=DKIM1; k=ed25519; p="+parseTags(string(read("dkimpy/ed25519test.dns")))["p"] {
		report("dkimpy/ed25519test.dns", "differs from our record %q", edKey.RecordValue())
	}

	// test.message signed with test.private in the four canonicalization
	// pairs, against the good and the bad key records.
	block, _ = pem.Decode(read("dkimpy/test.private"))
	testKey, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	records := []string{"test.txt", "test2.txt", "badversion.txt", "badk.txt", "test_bad.txt", "test_tlsrpt.txt"}
	for _, canon := range []string{"simple/simple", "simple/relaxed", "relaxed/simple", "relaxed/relaxed"} {
		hc, bc, _ := strings.Cut(canon, "/")
		var out bytes.Buffer
		err := msgdkim.Sign(&out, bytes.NewReader(read("dkimpy/test.message")), &msgdkim.SignOptions{
			Domain: "example.com", Selector: "test", Signer: testKey,
			HeaderCanonicalization: msgdkim.Canonicalization(hc), BodyCanonicalization: msgdkim.Canonicalization(bc),
		})
		if err != nil {
			t.Fatal(err)
		}
		var line []string
		for _, rec := range records {
			st := verify(out.Bytes(), txtLine("test._domainkey.example.com", strings.TrimSpace(string(read("dkimpy/"+rec)))))
			line = append(line, rec+"→"+strings.TrimPrefix(st, "test="))
		}
		report("dkimpy/test.message", "%s: %s", canon, strings.Join(line, " "))
	}
	// test_nofrom.message: From must be signed (RFC 6376 §5.4), so no signature.
	if _, err := Sign(read("dkimpy/test_nofrom.message"), []*Key{edKey}); err != nil {
		report("dkimpy/test_nofrom.message", "sign refused: %v", err)
	} else {
		report("dkimpy/test_nofrom.message", "signed")
	}
	// Real-world signatures without published keys: they must parse
	// (test2.message has degenerate folding) and report the missing key.
	report("dkimpy/test2.message", "no key published: %s", verify(read("dkimpy/test2.message")))
	report("dkimpy/message.mbox", "no key published: %s", verify(read("dkimpy/message.mbox")))

	compareGolden(t, "testdata/conformance.golden", strings.Join(got, "\n")+"\n")
}

var bTag = regexp.MustCompile(`(^|;)(\s*b\s*=)[^;]*`)

// reproduce signs the header of unsigned with the idx-th DKIM-Signature
// field of signed as template (b= emptied) and reports whether bh= and b=
// come out the same. Both use simple/simple, so canonicalization is the
// identity on header fields (RFC 6376 §3.4.1) and drops trailing empty
// lines of the body (§3.4.3); Ed25519 signs the SHA-256 hash (RFC 8463 §3).
func reproduce(t *testing.T, signed, unsigned []byte, idx int, key crypto.Signer) string {
	snames, sfields, err := headerFields(signed)
	if err != nil {
		t.Fatal(err)
	}
	var sig string
	for i, n := range snames {
		if strings.EqualFold(n, "DKIM-Signature") {
			if idx == 0 {
				sig = sfields[i]
				break
			}
			idx--
		}
	}
	tags := parseTags(strings.SplitN(sig, ":", 2)[1])
	if tags["c"] != "simple/simple" {
		t.Fatalf("c=%s", tags["c"])
	}
	names, fields, err := headerFields(unsigned)
	if err != nil {
		t.Fatal(err)
	}
	_, body, _ := bytes.Cut(unsigned, []byte("\r\n\r\n"))
	bh := sha256.Sum256(append(bytes.TrimRight(body, "\r\n"), "\r\n"...))

	var data bytes.Buffer
	used := map[int]bool{}
	for _, h := range strings.Split(tags["h"], ":") {
		for i := len(names) - 1; i >= 0; i-- { // bottom-up (RFC 6376 §5.4.2)
			if !used[i] && strings.EqualFold(names[i], h) {
				used[i] = true
				data.WriteString(fields[i] + "\r\n")
				break
			}
		}
	}
	data.WriteString(bTag.ReplaceAllString(sig, "$1$2"))
	hash := sha256.Sum256(data.Bytes())
	var b []byte
	switch key := key.(type) {
	case ed25519.PrivateKey:
		b = ed25519.Sign(key, hash[:])
	case *rsa.PrivateKey:
		b, err = rsa.SignPKCS1v15(nil, key, crypto.SHA256, hash[:])
		if err != nil {
			t.Fatal(err)
		}
	}
	same := func(ok bool) string {
		if ok {
			return "same"
		}
		return "DIFFERENT"
	}
	return fmt.Sprintf("%s, bh= %s (%s)", same(base64.StdEncoding.EncodeToString(b) == tags["b"]),
		same(base64.StdEncoding.EncodeToString(bh[:]) == tags["bh"]), tags["a"])
}

func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	gotPath := strings.TrimSuffix(path, ".golden") + ".got"
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run Conformance -update)", err)
	}
	if string(want) == got {
		os.Remove(gotPath)
		return
	}
	if err := os.WriteFile(gotPath, []byte(got), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Errorf("conformance results differ from %s; see %s (diff them; -update accepts)\ngot:\n%s", path, gotPath, got)
}
