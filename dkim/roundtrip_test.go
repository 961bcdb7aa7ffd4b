package dkim

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/authres"
)

func mustSign(t testing.TB, msg string, keys []*Key) string {
	t.Helper()
	signed, err := Sign([]byte(msg), keys)
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

func verifyStatuses(t *testing.T, v *Verifier, msg string) string {
	t.Helper()
	rs, err := v.Verify(context.Background(), []byte(msg))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	for _, r := range rs {
		if r.Status != StatusPass {
			t.Logf("%s: %s: %v", r.Selector, r.Status, r.Err)
		}
	}
	return statuses(rs)
}

func TestSignVerify(t *testing.T) {
	keys := testKeys()
	srv, v := dnsWith(t, keys...)
	signed := mustSign(t, testMsg, keys)
	pass := "fd202605r=pass fd202605e=pass"
	fail := "fd202605r=fail fd202605e=fail"

	// The header set: From oversigned, trace fields not signed, t=, no l=.
	rs, _ := v.Verify(context.Background(), []byte(signed))
	if len(rs) != 2 || rs[0].Algorithm != AlgRSA || rs[1].Algorithm != AlgEd25519 ||
		rs[0].Domain != "example.test" || rs[0].Identifier != "@example.test" {
		t.Fatalf("results %+v", rs)
	}
	first, _, _ := strings.Cut(signed, "\r\nDKIM-Signature")
	tags := parseTags(strings.TrimPrefix(first, "DKIM-Signature:"))
	if h := tags["h"]; !strings.HasPrefix(h, "From:From:") || strings.Contains(h, "Received") ||
		!strings.Contains(h, "Subject:Subject") || !strings.Contains(h, "Content-Type") {
		t.Errorf("h=%s", h)
	}
	if tags["c"] != "relaxed/relaxed" || tags["t"] == "" || tags["l"] != "" {
		t.Errorf("c=%q t=%q l=%q", tags["c"], tags["t"], tags["l"])
	}

	cases := []struct {
		name string
		msg  string
		want string
	}{
		{"unchanged", signed, pass},
		{"subject changed", strings.Replace(signed, "Subject: Quarterly figures", "Subject: Quarterly figures!", 1), fail},
		{"body byte changed", strings.Replace(signed, "Hello Bob", "Hello Rob", 1), fail},
		{"body appended", signed + "P.S. send money\r\n", fail},
		{"second From on top", "From: ceo@example.test\r\n" + signed, fail},
		{"second From below", strings.Replace(signed, "\r\n\r\n", "\r\nFrom: ceo@example.test\r\n\r\n", 1), fail},
		{"second Cc", strings.Replace(signed, "\r\n\r\n", "\r\nCc: eve@evil.test\r\n\r\n", 1), fail},
		// Relaxed canonicalization (RFC 6376 §3.4.2, §3.4.4) absorbs what relays do.
		{"refolded and respaced", strings.Replace(strings.Replace(signed, "Subject: Quarterly figures", "subject:   Quarterly\r\n\tfigures  ", 1),
			"attached.   Regards", "attached. Regards", 1), pass},
		{"trace field added", "Received: from relay by mx.elsewhere.test\r\n" + signed, pass},
		{"trailing empty lines", signed + "\r\n\r\n", pass},
		{"LF line endings", strings.ReplaceAll(signed, "\r\n", "\n"), pass},
	}
	for _, c := range cases {
		if got := verifyStatuses(t, v, c.msg); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}

	// Key lookup failures (RFC 6376 §6.1.2).
	srv.Remove(keys[0].RecordName(), 0)
	srv.ServFail(keys[1].RecordName())
	rs, err := v.Verify(context.Background(), []byte(signed))
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(rs); got != "fd202605r=permerror fd202605e=temperror" {
		t.Errorf("missing / SERVFAIL key: got %q", got)
	}
}

func TestVerifyKeyRecords(t *testing.T) {
	keys := testKeys()
	signed := mustSign(t, testMsg, keys[:1])
	other := testKeys()[1] // the wrong key under the right name
	cases := []struct{ record, want string }{
		{keys[0].RecordValue(), "pass"},
		{"v=DKIM1; k=rsa; p=", "permerror"},                                         // revoked (§3.6.1)
		{"v=DKIM2; k=rsa; p=" + parseTags(keys[0].RecordValue())["p"], "permerror"}, // bad version
		{"v=DKIM1; k=rsa; p=!!notbase64", "permerror"},
		{strings.Replace(other.RecordValue(), "k=ed25519", "k=rsa", 1), "permerror"}, // not an RSA key
		{"v=DKIM1; k=rsa; s=tlsrpt; p=" + parseTags(keys[0].RecordValue())["p"], "permerror"},
		{"v=DKIM1; h=sha1; k=rsa; p=" + parseTags(keys[0].RecordValue())["p"], "permerror"},
	}
	for _, c := range cases {
		srv, v := dnsWith(t)
		srv.MustAdd(t, txtLine(keys[0].RecordName(), c.record))
		if got := verifyStatuses(t, v, signed); got != "fd202605r="+c.want {
			t.Errorf("record %.40q: got %q, want %s", c.record, got, c.want)
		}
	}
}

func TestVerifyEdgeCases(t *testing.T) {
	keys := testKeys()
	_, v := dnsWith(t, keys...)
	ctx := context.Background()

	rs, err := v.Verify(ctx, []byte(testMsg))
	if err != nil || rs == nil || len(rs) != 0 {
		t.Errorf("unsigned: %v, %v; want empty slice", rs, err)
	}
	// A message without body (RFC 5322 §3.5) signs and verifies.
	headOnly := "From: alice@example.test\r\nSubject: ping"
	if got := verifyStatuses(t, v, mustSign(t, headOnly, keys)); got != "fd202605r=pass fd202605e=pass" {
		t.Errorf("header-only message: %q", got)
	}
	// A message with LF line endings is signed as such and verifies.
	lfSigned := mustSign(t, strings.ReplaceAll(testMsg, "\r\n", "\n"), keys)
	if strings.Contains(lfSigned, "\r") {
		t.Error("signing an LF message added CRs")
	}
	if got := verifyStatuses(t, v, lfSigned); got != "fd202605r=pass fd202605e=pass" {
		t.Errorf("LF message: %q", got)
	}
	// l= is refused as policy (RFC 6376 §8.2).
	signed := mustSign(t, testMsg, keys[1:])
	withL := strings.Replace(signed, "DKIM-Signature: ", "DKIM-Signature: l=10; ", 1)
	if got := verifyStatuses(t, v, withL); got != "fd202605e=policy" {
		t.Errorf("l=: %q", got)
	}
	// Beyond MaxSignatures, signatures are not checked.
	many := signed
	for range MaxSignatures {
		many = signed[:strings.Index(signed, "\r\nFrom: Alice")+2] + many
	}
	rs, err = v.Verify(ctx, []byte(many))
	if err != nil || len(rs) != MaxSignatures+1 || rs[0].Status != StatusPass || rs[MaxSignatures].Status != StatusNeutral {
		t.Errorf("many signatures: %s, %v", statuses(rs), err)
	}
	// A malformed signature field is a permerror result, not an error.
	bad := "DKIM-Signature: v=1; a=rsa-sha256; d=example.test\r\n" + testMsg
	if got := verifyStatuses(t, v, bad); got != "=permerror" {
		t.Errorf("malformed signature: %q", got)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := v.Verify(cctx, []byte(signed)); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
}

func TestSignErrors(t *testing.T) {
	if _, err := Sign([]byte(testMsg), nil); err == nil {
		t.Error("no keys: no error")
	}
	if _, err := Sign([]byte("To: bob@elsewhere.test\r\n\r\nhi\r\n"), testKeys()); err == nil {
		t.Error("no From: no error")
	}
	if _, err := Sign([]byte(testMsg), []*Key{{Domain: "example.test"}}); err == nil {
		t.Error("incomplete key: no error")
	}
}

func TestAuthResult(t *testing.T) {
	keys := testKeys()
	_, v := dnsWith(t, keys...)
	signed := mustSign(t, testMsg, keys)
	rs, err := v.Verify(context.Background(), []byte(strings.Replace(signed, "Hello", "Hullo", 1)))
	if err != nil || len(rs) != 2 {
		t.Fatal(rs, err)
	}
	rs[0].Status, rs[0].Err = StatusPass, nil
	got := authres.Format("mx.example.test", []authres.Result{rs[0].AuthResultFull(), rs[1].AuthResult(), rs[1].AuthResultFull()})
	want := "mx.example.test; dkim=pass header.a=rsa-sha256 header.d=example.test header.i=@example.test header.s=fd202605r" +
		`; dkim=fail reason="body hash did not verify" header.d=example.test header.i=@example.test` +
		`; dkim=fail reason="body hash did not verify" header.a=ed25519-sha256 header.d=example.test header.i=@example.test header.s=fd202605e`
	if got != want {
		t.Errorf("Authentication-Results:\n got %s\nwant %s", got, want)
	}
}
