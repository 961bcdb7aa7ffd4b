package dkim

import (
	"context"
	"strings"
	"testing"
	"time"

	"frontdesk/dnscheck"
	"frontdesk/dnscheck/dnstest"
)

// FuzzVerify: no message makes Verify panic or hang, and every
// DKIM-Signature field gets a result with a known status. The committed
// corpus (testdata/fuzz/FuzzVerify) holds RFC 8463's and Exim's signed
// messages, whose keys the test server publishes, and malformed ones.
func FuzzVerify(f *testing.F) {
	srv := dnstest.New(f)
	srv.MustAdd(f,
		`brisbane._domainkey.football.example.com. IN TXT "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="`,
		`test._domainkey.football.example.com. IN TXT "v=DKIM1; g=*; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB"`,
		`sed._domainkey.test.ex. IN TXT "v=DKIM1; k=ed25519; p=sPs07Vu29FpHT/80UXUcYHFOHifD4o2ZlP2+XUh9g6E="`,
	)
	srv.ServFail("servfail._domainkey.football.example.com")
	for _, k := range testKeys() {
		srv.MustAdd(f, k.ZoneLine())
	}
	signed, err := Sign([]byte(testMsg), testKeys())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(signed)
	r, err := dnscheck.NewResolver(srv.Addr)
	if err != nil {
		f.Fatal(err)
	}
	v := NewVerifier(r.WithTimeout(time.Second))
	valid := map[string]bool{StatusPass: true, StatusFail: true, StatusNeutral: true,
		StatusTempError: true, StatusPermError: true, StatusPolicy: true}

	f.Fuzz(func(t *testing.T, msg []byte) {
		rs, err := v.Verify(context.Background(), msg)
		if err != nil {
			return
		}
		names, _, err := headerFields(withHeaderEnd(msg))
		if err != nil {
			t.Fatalf("Verify read a header that headerFields cannot: %v", err)
		}
		n := 0
		for _, name := range names {
			if strings.EqualFold(name, "DKIM-Signature") {
				n++
			}
		}
		if len(rs) != n {
			t.Fatalf("%d results for %d signatures", len(rs), n)
		}
		for _, r := range rs {
			if !valid[r.Status] || (r.Status == StatusPass) != (r.Err == nil) {
				t.Fatalf("result %+v", r)
			}
			_ = r.AuthResult()
			_ = r.AuthResultFull()
		}
	})
}
