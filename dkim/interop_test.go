package dkim

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Interoperability with dkimpy (Debian python3-dkim), the implementation
// behind dkimverify/dkimsign. The dkimverify command looks keys up in the
// system's DNS and cannot be pointed at our test server, so the tests call
// dkimpy's Python API (dkim.DKIM.verify with a dnsfunc, dkim.sign) with the
// interpreter dkimverify itself runs on.

const dkimpyScript = `
import sys, json, base64, dkim
req = json.load(sys.stdin)
msg = base64.b64decode(req["msg"])
if req["op"] == "verify":
    recs = {k.lower().rstrip("."): v for k, v in req["dns"].items()}
    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode()
        v = recs.get(name.lower().rstrip("."))
        return None if v is None else v.encode()
    out = []
    for i in range(req["count"]):
        try:
            ok = dkim.DKIM(msg).verify(idx=i, dnsfunc=dnsfunc)
            out.append("pass" if ok else "fail")
        except dkim.DKIMException as e:
            # dkim.verify() turns these into False as well.
            print("signature %d: %s" % (i, e), file=sys.stderr)
            out.append("fail")
    print(json.dumps(out))
else:
    sig = dkim.sign(msg, req["selector"].encode(), req["domain"].encode(), req["key"].encode(),
                    signature_algorithm=req["alg"].encode(),
                    canonicalize=tuple(c.encode() for c in req["canon"]))
    print(json.dumps(base64.b64encode(sig).decode()))
`

// need skips the test, or fails it under CI, where the tools must be there.
func need(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("CI: "+format, args...)
	}
	t.Skipf(format, args...)
}

// dkimpyPython returns the interpreter of the dkimverify script, checked
// to import dkim and nacl (Ed25519).
func dkimpyPython(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("dkimverify")
	if err != nil {
		need(t, "dkimverify not installed (apt-get install python3-dkim)")
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	interp := strings.Fields(strings.TrimPrefix(line, "#!"))
	if len(interp) == 0 {
		interp = []string{"python3"}
	}
	if len(interp) == 2 && strings.HasSuffix(interp[0], "/env") {
		interp = interp[1:]
	}
	if out, err := exec.Command(interp[0], "-c", "import dkim, nacl").CombinedOutput(); err != nil {
		need(t, "%s cannot import dkim and nacl: %v\n%s", interp[0], err, out)
	}
	return interp[0]
}

func runDkimpy(t *testing.T, python string, req map[string]any, out any) {
	t.Helper()
	in, _ := json.Marshal(req)
	cmd := exec.Command(python, "-c", dkimpyScript)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("dkimpy: %v\n%s", err, stderr.String())
	}
	if err := json.Unmarshal(stdout, out); err != nil {
		t.Fatalf("dkimpy output %q: %v", stdout, err)
	}
}

// dkimpyVerify verifies each of the first n signatures of msg with dkimpy.
func dkimpyVerify(t *testing.T, python, msg string, n int, keys []*Key) string {
	t.Helper()
	dns := map[string]string{}
	for _, k := range keys {
		dns[k.RecordName()] = k.RecordValue()
	}
	var got []string
	runDkimpy(t, python, map[string]any{"op": "verify", "msg": []byte(msg), "dns": dns, "count": n}, &got)
	return strings.Join(got, " ")
}

// tampered returns the changes to a signed message that must break every
// signature over it (RFC 6376 §3.7: signed fields and body are hashed).
func tampered(signed string) map[string]string {
	return map[string]string{
		"subject":     strings.Replace(signed, "Subject: Quarterly figures", "Subject: Quarterly figures!", 1),
		"to":          strings.Replace(signed, "To: Bob <bob@", "To: Bob <rob@", 1),
		"body byte":   strings.Replace(signed, "figures are", "figures arE", 1),
		"body append": signed + "P.S. pay the invoice\r\n",
	}
}

func TestDkimpyVerifiesFrontdesk(t *testing.T) {
	python := dkimpyPython(t)
	keys := testKeys()
	signed := mustSign(t, testMsg, keys)
	if got := dkimpyVerify(t, python, signed, 2, keys); got != "pass pass" {
		t.Fatalf("dkimpy on Frontdesk's RSA and Ed25519 signatures: %s", got)
	}
	for name, msg := range tampered(signed) {
		if got := dkimpyVerify(t, python, msg, 2, keys); got != "fail fail" {
			t.Errorf("%s changed: dkimpy says %s", name, got)
		}
	}
	// Oversigned From: dkimpy hashes the extra From too.
	if got := dkimpyVerify(t, python, "From: ceo@example.test\r\n"+signed, 2, keys); got != "fail fail" {
		t.Errorf("second From: dkimpy says %s", got)
	}
}

func TestFrontdeskVerifiesDkimpy(t *testing.T) {
	python := dkimpyPython(t)
	keys := testKeys()
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY",
		Bytes: x509.MarshalPKCS1PrivateKey(keys[0].Signer.(*rsa.PrivateKey))})
	edSeed := base64.StdEncoding.EncodeToString(keys[1].Signer.(ed25519.PrivateKey).Seed())
	sign := func(k *Key, key string, canon ...string) string {
		var sig []byte
		runDkimpy(t, python, map[string]any{"op": "sign", "msg": []byte(testMsg), "selector": k.Selector,
			"domain": k.Domain, "key": key, "alg": k.Algorithm, "canon": canon}, &sig)
		return string(sig)
	}
	cases := []struct {
		name   string
		signed string
	}{
		{"rsa relaxed/relaxed + ed25519 simple/simple",
			sign(keys[0], string(rsaPEM), "relaxed", "relaxed") + sign(keys[1], edSeed, "simple", "simple") + testMsg},
		{"rsa simple/simple + ed25519 relaxed/relaxed",
			sign(keys[0], string(rsaPEM), "simple", "simple") + sign(keys[1], edSeed, "relaxed", "relaxed") + testMsg},
	}
	_, v := dnsWith(t, keys...)
	for _, c := range cases {
		if got := verifyStatuses(t, v, c.signed); got != "fd202605r=pass fd202605e=pass" {
			t.Errorf("%s: Frontdesk says %s", c.name, got)
		}
		if got := dkimpyVerify(t, python, c.signed, 2, keys); got != "pass pass" {
			t.Errorf("%s: dkimpy says %s about its own signatures", c.name, got)
		}
		for name, msg := range tampered(c.signed) {
			rs, err := v.Verify(context.Background(), []byte(msg))
			if err != nil || statuses(rs) != "fd202605r=fail fd202605e=fail" {
				t.Errorf("%s, %s changed: Frontdesk says %s %v", c.name, name, statuses(rs), err)
			}
			if got := dkimpyVerify(t, python, msg, 2, keys); got != "fail fail" {
				t.Errorf("%s, %s changed: dkimpy says %s", c.name, name, got)
			}
		}
	}
}
