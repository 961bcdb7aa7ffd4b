package dkim

import (
	"strings"
	"testing"
)

func TestDecodeQP(t *testing.T) {
	for in, want := range map[string]string{
		"@example.com":             "@example.com",
		"user=40x@sub.example.com": "user@x@sub.example.com",
		"joe=3Dx@Example.COM":      "joe=x@Example.COM",
		"a=2ea=2Eb@c":              "a.a.b@c",
		"@exa\r\n mple.com":        "@example.com", // folding white space
		"":                         "",
	} {
		if got, err := decodeQP(in); err != nil || got != want {
			t.Errorf("decodeQP(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"a=4", "a=", "a=zz@b", "a;b", "=4G"} {
		if got, err := decodeQP(in); err == nil {
			t.Errorf("decodeQP(%q) = %q, want an error", in, got)
		}
	}
}

// FuzzDecodeQP: decoding never panics, and a value encoded as
// dkim-quoted-printable decodes back to itself.
func FuzzDecodeQP(f *testing.F) {
	for _, s := range []string{"@example.com", "user=40x@sub.example.com", "a=4", "=", "a =2 0b", "=FF=00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		decodeQP(s)
		var enc strings.Builder
		for i := 0; i < len(s); i++ {
			enc.WriteString("=" + strings.ToUpper(string("0123456789abcdef"[s[i]>>4])+string("0123456789abcdef"[s[i]&15])))
		}
		if got, err := decodeQP(enc.String()); err != nil || got != s {
			t.Fatalf("decodeQP(encode(%q)) = %q, %v", s, got, err)
		}
	})
}

// FuzzParseKeyRecord: no key record makes the parser panic, and every
// refusal is a permerror with a reason.
func FuzzParseKeyRecord(f *testing.F) {
	for _, s := range []string{
		"v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB",
		"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
		"v=DKIM1; p=", "p=AAAA", "k=dsa; p=AA==", "v=DKIM1: g=*; p=x", "; ;", "h=sha1; s=email:*; t=y:s; p=AA",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := parseKeyRecord(s)
		if err != nil {
			se, ok := err.(*sigError)
			if !ok || se.status != StatusPermError || se.msg == "" {
				t.Fatalf("parseKeyRecord(%q): %#v", s, err)
			}
			return
		}
		if k.pub == nil || (k.keyType != "rsa" && k.keyType != "ed25519") {
			t.Fatalf("parseKeyRecord(%q) = %+v", s, k)
		}
	})
}
