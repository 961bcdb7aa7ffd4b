package telephony

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestDigest(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	d := &digestAuth{realm: "frontdesk", key: []byte("k"), now: func() time.Time { return now }}
	ha1 := DigestHA1("a@example.com", "frontdesk", "secret")
	lookup := func(u string) (string, error) {
		if u == "a@example.com" {
			return ha1, nil
		}
		return "", ErrUnknownAgent
	}
	nonce := d.nonce()
	uri := "sip:127.0.0.1"
	h2 := md5hex("REGISTER:" + uri)
	good := md5hex(ha1 + ":" + nonce + ":00000001:abc:auth:" + h2)
	hdr := func(user, resp, qop string) string {
		return fmt.Sprintf(`Digest username="%s", realm="frontdesk", nonce="%s", uri="%s", response="%s", algorithm=MD5, cnonce="abc", qop=%s, nc=00000001`, user, nonce, uri, resp, qop)
	}
	if u, err := d.verify(hdr("a@example.com", good, "auth"), "REGISTER", lookup); err != nil || u != "a@example.com" {
		t.Fatalf("good credentials: %v", err)
	}
	// RFC 2069 style, no qop.
	old := fmt.Sprintf(`Digest username="a@example.com",realm="frontdesk",nonce="%s",uri="%s",response="%s"`, nonce, uri, md5hex(ha1+":"+nonce+":"+h2))
	if _, err := d.verify(old, "REGISTER", lookup); err != nil {
		t.Fatalf("no-qop credentials: %v", err)
	}
	if _, err := d.verify(hdr("a@example.com", md5hex("wrong"), "auth"), "REGISTER", lookup); !errors.Is(err, errDigestMismatch) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := d.verify(hdr("b@example.com", good, "auth"), "REGISTER", lookup); !errors.Is(err, errDigestMismatch) {
		t.Fatalf("unknown user: %v", err)
	}
	if _, err := d.verify(hdr("a@example.com", good, "auth"), "INVITE", lookup); !errors.Is(err, errDigestMismatch) {
		t.Fatalf("other method: %v", err)
	}
	for _, bad := range []string{"", "Basic abc", `Digest username="x`, "Digest nonsense"} {
		if _, err := d.verify(bad, "REGISTER", lookup); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	forged := hdr("a@example.com", good, "auth")
	d2 := &digestAuth{realm: "frontdesk", key: []byte("other"), now: d.now}
	if _, err := d2.verify(forged, "REGISTER", lookup); !errors.Is(err, errDigestMalformed) {
		t.Fatalf("foreign nonce: %v", err)
	}
	now = now.Add(nonceLife + time.Second)
	if _, err := d.verify(hdr("a@example.com", good, "auth"), "REGISTER", lookup); !errors.Is(err, errDigestStale) {
		t.Fatalf("stale nonce: %v", err)
	}
}
