//go:debug rsa1024min=0

package e2e

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"frontdesk/dnscheck/dnstest"
)

// The go:debug line lets this test make a 512-bit RSA key, to publish
// the key RFC 8301 §3.2 makes verifiers refuse.

// edgeMsg is signed over From, To and Subject.
const edgeMsg = "From: Alice <alice@a.test>\r\nTo: bob@b.test\r\nSubject: edge\r\n\r\nHello  Bob,\r\n\r\n\r\n"

// signRelaxed prepends a relaxed/relaxed rsa-sha256 DKIM-Signature with
// the given tags (everything but bh= and b=, in order) to msg. It is a
// second implementation of RFC 6376 §3.4.2/§3.4.4 and §3.7, checked
// against dkimpy below, so the tests can make signatures no signing
// library would (i= quoted-printable, chosen t= and x=).
func signRelaxed(t *testing.T, msg string, key *rsa.PrivateKey, tags string) string {
	t.Helper()
	head, body, _ := strings.Cut(msg, "\r\n\r\n")
	lines := strings.Split(body, "\r\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(strings.Join(strings.FieldsFunc(l, func(r rune) bool { return r == ' ' || r == '\t' }), " "), " ")
		if l != "" && (l[0] == ' ' || l[0] == '\t') && lines[i] != "" {
			lines[i] = " " + lines[i]
		}
	}
	cb := strings.TrimRight(strings.Join(lines, "\r\n"), "\r\n")
	if cb != "" {
		cb += "\r\n"
	}
	bh := sha256.Sum256([]byte(cb))
	relaxed := func(f string) string {
		name, value, _ := strings.Cut(f, ":")
		value = strings.Join(strings.Fields(strings.ReplaceAll(value, "\r\n", "")), " ")
		return strings.ToLower(strings.TrimSpace(name)) + ":" + value
	}
	fields := strings.Split(head, "\r\n")
	h := sha256.New()
	for _, name := range []string{"from", "to", "subject"} {
		for _, f := range fields {
			if strings.EqualFold(strings.TrimSpace(strings.SplitN(f, ":", 2)[0]), name) {
				h.Write([]byte(relaxed(f) + "\r\n"))
			}
		}
	}
	sig := "DKIM-Signature: " + tags + "; h=from:to:subject; bh=" + base64.StdEncoding.EncodeToString(bh[:]) + "; b="
	h.Write([]byte(relaxed(sig)))
	b, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, h.Sum(nil))
	if err != nil {
		t.Fatal(err)
	}
	return sig + base64.StdEncoding.EncodeToString(b) + "\r\n" + msg
}

func pubB64(t *testing.T, k *rsa.PrivateKey) string {
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

// dkimpyAt verifies msg's first signature with dkimpy (python3-dkim, the
// library of dkimverify) at time at, with the key records in recs;
// dkimverify itself can only ask the system's DNS.
func dkimpyAt(t *testing.T, msg string, at int64, recs map[string]string) string {
	t.Helper()
	req, _ := json.Marshal(map[string]any{"msg": []byte(msg), "at": at, "dns": recs})
	out, err := runTool(t, bytes.NewReader(req), dkimverifyPython(t), "-c", `
import sys, json, base64, time
req = json.load(sys.stdin)
time.time = lambda: req["at"]
import dkim
def dnsfunc(name, timeout=5):
    v = req["dns"].get(name.decode().rstrip(".").lower() if isinstance(name, bytes) else name)
    return None if v is None else v.encode()
print("pass" if dkim.verify(base64.b64decode(req["msg"]), dnsfunc=dnsfunc) else "fail")
`)
	if err != nil {
		t.Fatalf("dkimpy: %v\n%s", err, out)
	}
	return strings.TrimSpace(out)
}

// dkimverifyPython is the interpreter dkimverify runs on, which has the
// dkim module (another python3 may come first in PATH).
func dkimverifyPython(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(needTool(t, "dkimverify"))
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	interp := strings.Fields(strings.TrimPrefix(first, "#!"))
	if len(interp) == 2 && strings.HasSuffix(interp[0], "/env") {
		interp = interp[1:]
	}
	if len(interp) != 1 {
		return needTool(t, "python3")
	}
	return interp[0]
}

var verdictRE = regexp.MustCompile(`(?m)^d=\S* s=\S* a=\S* i=\S*: (\w+)(?: \((.*)\))?$`)

// TestDKIMEdgeCases runs `frontdesk dkim verify` on signatures and key
// records that RFC 6376 and RFC 8301 judge in ways easy to get wrong.
func TestDKIMEdgeCases(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	short, err := rsa.GenerateKey(rand.Reader, 512)
	if err != nil {
		t.Fatal(err)
	}
	good := pubB64(t, key)
	records := map[string]string{
		"good":     "v=DKIM1; k=rsa; p=" + good,
		"revoked":  "v=DKIM1; k=rsa; p=",
		"badb64":   "v=DKIM1; k=rsa; p=MIIBIjAN!!notbase64",
		"badder":   "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString([]byte("not DER at all")),
		"short":    "v=DKIM1; k=rsa; p=" + pubB64(t, short),
		"unknownk": "v=DKIM1; k=dsa; p=" + good,
		"keyv2":    "v=DKIM2; k=rsa; p=" + good,
	}
	dns := dnstest.New(t)
	dnsRecs := map[string]string{}
	for sel, rec := range records {
		name := sel + "._domainkey.a.test"
		dns.MustAdd(t, fmt.Sprintf(`%s. 300 IN TXT "%s"`, name, rec))
		dnsRecs[name] = rec
	}
	now := time.Now().Unix()
	t0 := now - 30*86400 // signed a month ago, valid for an hour
	window := fmt.Sprintf("t=%d; x=%d", t0, t0+3600)
	base := "v=1; a=rsa-sha256; c=relaxed/relaxed; d=a.test"

	for _, tc := range []struct {
		name, tags string
		at         int64 // 0: now
		want       string
		reason     string // in the reason, for refusals
		dkimpy     bool   // cross-check the pass with dkimpy
	}{
		{"plain", base + "; s=good", 0, "pass", "", true},
		{"i= domain in upper case", base + "; s=good; i=@A.TEST", 0, "pass", "", true},
		{"i= of a subdomain, quoted-printable", base + "; s=good; i=user=40x@Sub.A.Test", 0, "pass", "", true},
		// dkimpy compares i= undecoded, so it fails this one; RFC 6376
		// §3.5 makes i= dkim-quoted-printable.
		{"i= quoted-printable domain", base + "; s=good; i=bob@sub=2Ea.test", 0, "pass", "", false},
		{"i= of another domain", base + "; s=good; i=@other.test", 0, "permerror", "i= domain other.test is neither d=a.test", false},
		{"i= suffix without a dot", base + "; s=good; i=@evila.test", 0, "permerror", "neither d=a.test nor below it", false},
		{"i= bad quoted-printable", base + "; s=good; i=bob=4@a.test", 0, "permerror", "not valid dkim-quoted-printable", false},
		{"p= not base64", base + "; s=badb64", 0, "permerror", "public key is not valid base64 DER", false},
		{"p= not DER", base + "; s=badder", 0, "permerror", "public key is not valid base64 DER", false},
		{"key revoked", base + "; s=revoked", 0, "permerror", "key revoked (empty p=)", false},
		{"RSA-512", base + "; s=short", 0, "permerror", "RSA key of 512 bits is under 1024 bits", false},
		{"unknown k=", base + "; s=unknownk", 0, "permerror", "unknown key type k=dsa", false},
		{"key version DKIM2", base + "; s=keyv2", 0, "permerror", "key record version v=DKIM2 is not DKIM1", false},
		{"rsa-sha1", "v=1; a=rsa-sha1; c=relaxed/relaxed; d=a.test; s=good", 0, "permerror", "rsa-sha1 signatures are not accepted (RFC 8301", false},
		{"no v= (pre-RFC)", "a=rsa-sha256; c=relaxed/relaxed; d=a.test; s=good", 0, "permerror", "pre-RFC 6376", false},
		{"v=0.5 (draft)", "v=0.5; a=rsa-sha256; c=relaxed/relaxed; d=a.test; s=good", 0, "permerror", "signature version v=0.5 is not 1", false},
		{"expired now", base + "; s=good; " + window, 0, "permerror", "signature expired at", false},
		{"--at inside t..x", base + "; s=good; " + window, t0 + 60, "pass", "", true},
		{"--at after x=", base + "; s=good; " + window, t0 + 7200, "permerror", "signature expired at", false},
		{"--at before t=", base + "; s=good; " + window, t0 - 86400, "permerror", "is later than the time of verification", false},
	} {
		msg := signRelaxed(t, edgeMsg, key, tc.tags)
		args := []string{"dkim", "verify", "--dns", dns.Addr}
		if tc.at != 0 {
			args = append(args, "--at", strconv.FormatInt(tc.at, 10))
		}
		out, err := frontdesk(t, msg, args...)
		t.Logf("%s: %s", tc.name, strings.TrimSpace(out))
		m := verdictRE.FindStringSubmatch(out)
		if m == nil {
			t.Errorf("%s: no verdict line in %q (%v)", tc.name, out, err)
			continue
		}
		if m[1] != tc.want || !strings.Contains(m[2], tc.reason) || (err == nil) != (tc.want == "pass") {
			t.Errorf("%s: got %s (%s), exit %v; want %s (%s)", tc.name, m[1], m[2], err, tc.want, tc.reason)
		}
		if tc.dkimpy {
			at := tc.at
			if at == 0 {
				at = now
			}
			if got := dkimpyAt(t, msg, at, dnsRecs); got != "pass" {
				t.Errorf("%s: dkimpy says %s where Frontdesk says pass", tc.name, got)
			}
		}
	}

	// The i= Frontdesk reports is the decoded one.
	out, _ := frontdesk(t, signRelaxed(t, edgeMsg, key, base+"; s=good; i=user=40x@Sub.A.Test"), "dkim", "verify", "--dns", dns.Addr)
	if !strings.Contains(out, "i=user@x@Sub.A.Test: pass") {
		t.Errorf("decoded i= not shown: %q", out)
	}

	// Nine and more signatures: the first eight are verified, the rest
	// reported without a lookup.
	msg := edgeMsg
	for range 10 {
		msg = signRelaxed(t, msg, key, base+"; s=good")
	}
	out, err = frontdesk(t, msg, "dkim", "verify", "--dns", dns.Addr)
	if err != nil || strings.Count(out, ": pass\n") != 8 || strings.Count(out, ": neutral (not verified: more than 8 signatures)\n") != 2 {
		t.Errorf("10 signatures: %v\n%s", err, out)
	}
}

// TestCheckCommandsTakeData: `check spf` and `dkim verify` accept --data
// like every subcommand (they read nothing there), and --at is checked.
func TestCheckCommandsTakeData(t *testing.T) {
	dns := dnstest.New(t)
	dns.MustAdd(t, `a.test. 300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"`)
	data := filepath.Join(t.TempDir(), "data")
	for _, args := range [][]string{
		{"check", "spf", "--data", data, "--ip", "192.0.2.7", "--helo", "mx.a.test", "--from", "alice@a.test", "--dns", dns.Addr},
		{"check", "spf", "--ip", "192.0.2.7", "--helo", "mx.a.test", "--from", "alice@a.test", "--dns", dns.Addr, "--data=" + data},
	} {
		if out := mustFrontdesk(t, "", args...); !strings.HasPrefix(out, "pass\n") {
			t.Errorf("%v: %q, want pass", args, out)
		}
	}
	msg := "From: alice@a.test\r\nSubject: unsigned\r\n\r\nhi\r\n"
	for _, args := range [][]string{
		{"dkim", "verify", "--data", data, "--dns", dns.Addr},
		{"dkim", "verify", "--dns", dns.Addr, "--data=" + data, "--at", "1700000000"},
	} {
		if out, err := frontdesk(t, msg, args...); err == nil || !strings.Contains(err.Error(), "exit status 1") || !strings.Contains(out, "no DKIM signature") {
			t.Errorf("%v: %v %q, want exit 1 and no DKIM signature", args, err, out)
		}
	}
	for _, args := range [][]string{
		{"dkim", "verify", "--at", "yesterday"},
		{"dkim", "verify", "--at", "-5"},
		{"dkim", "verify", "--data"},
		{"check", "spf", "--ip", "192.0.2.7", "--helo", "x", "--data"},
	} {
		if _, err := frontdesk(t, msg, args...); err == nil || !strings.Contains(err.Error(), "exit status 2") {
			t.Errorf("%v: %v, want a usage error (exit 2)", args, err)
		}
	}
}

// TestDKIMResultsInHeader: a message delivered to the MX with ten
// signatures, one over a malformed key, gets one dkim result each in
// Authentication-Results: reasons as comments, the last two neutral.
func TestDKIMResultsInHeader(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	dns := dnstest.New(t)
	dns.MustAdd(t,
		`good._domainkey.a.test. 300 IN TXT "v=DKIM1; k=rsa; p=`+pubB64(t, key)+`"`,
		`badder._domainkey.a.test. 300 IN TXT "v=DKIM1; k=rsa; p=AAAA"`,
	)
	data := filepath.Join(t.TempDir(), "data")
	srv := startServerDNS(t, data, dns, "mx.example.test")
	mustFrontdesk(t, "", "domain", "add", "example.test", "--data", data)
	mustFrontdesk(t, alicePass+"\n", "user", "add", "alice@example.test", "--password-stdin", "--data", data)
	msg := "From: Carol <carol@a.test>\r\nTo: alice@example.test\r\nSubject: ten signatures\r\n\r\nhi\r\n"
	base := "v=1; a=rsa-sha256; c=relaxed/relaxed; d=a.test"
	for i := range 10 {
		sel := "good"
		if i == 9 { // the topmost field: verified first
			sel = "badder"
		}
		msg = signRelaxed(t, msg, key, base+"; s="+sel)
	}
	deliverRaw(t, srv.addr("smtp"), msg)
	got := waitMail(t, srv.addr("imap"), "alice@example.test", alicePass, "INBOX", "ten signatures")
	ar := strings.Join(strings.Fields(headerValue(got, "Authentication-Results")), " ")
	for want, n := range map[string]int{
		"dkim=permerror (public key is not valid base64 DER":                                     1,
		"dkim=pass header.d=a.test header.i=@a.test header.s=good header.a=rsa-sha256 header.b=": 7,
		"dkim=neutral (not verified: more than 8 signatures) header.d=a.test":                    2,
		"header.b=": 10,
	} {
		if c := strings.Count(ar, want); c != n {
			t.Errorf("%d× %q, want %d, in\n%s", c, want, n, ar)
		}
	}
}
