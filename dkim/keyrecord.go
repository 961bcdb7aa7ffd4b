package dkim

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"

	"frontdesk/dnscheck"
)

// publicKey is a parsed key record (RFC 6376 §3.6.1).
type publicKey struct {
	keyType string           // k=: "rsa" or "ed25519"
	pub     crypto.PublicKey // *rsa.PublicKey or ed25519.PublicKey
	hashes  map[string]bool  // h=, nil when absent (all allowed)
	strict  bool             // t=s: i= must be in d= itself
}

// lookupKey fetches and parses the key record at name (§6.1.2).
func (v *Verifier) lookupKey(ctx context.Context, name string) (*publicKey, error) {
	txts, err := v.r.LookupTXT(ctx, name)
	switch {
	case err != nil && dnscheck.IsNotFound(err):
		return nil, permerr("no key published at %s", name)
	case err != nil:
		return nil, &sigError{StatusTempError, fmt.Sprintf("key lookup at %s failed, try later: %v", name, err)}
	case len(txts) == 0:
		return nil, permerr("no key published at %s", name)
	case len(txts) > 1:
		return nil, permerr("%d key records at %s, one is needed (RFC 6376 §3.6.2.2)", len(txts), name)
	}
	return parseKeyRecord(txts[0])
}

// parseKeyRecord parses one key record, refusing what RFC 6376 and RFC
// 8301 refuse with a reason an admin can act on.
func parseKeyRecord(rec string) (*publicKey, error) {
	tags, err := parseTagList(rec)
	if err != nil {
		return nil, permerr("key record is malformed: %v", err)
	}
	if v, ok := tags["v"]; ok {
		if noFWS(v) != "DKIM1" {
			return nil, permerr("key record version v=%s is not DKIM1", noFWS(v))
		}
		if !strings.HasPrefix(strings.TrimSpace(rec), "v") {
			return nil, permerr("key record's v= is not its first tag (RFC 6376 §3.6.1)")
		}
	}
	k := &publicKey{keyType: "rsa"}
	if kt, ok := tags["k"]; ok {
		k.keyType = strings.ToLower(noFWS(kt))
	}
	if k.keyType != "rsa" && k.keyType != "ed25519" {
		return nil, permerr("unknown key type k=%s", k.keyType)
	}
	if h, ok := tags["h"]; ok {
		k.hashes = map[string]bool{}
		for _, a := range strings.Split(noFWS(h), ":") {
			k.hashes[strings.ToLower(a)] = true
		}
	}
	if s, ok := tags["s"]; ok {
		email := false
		for _, t := range strings.Split(noFWS(s), ":") {
			email = email || t == "*" || strings.EqualFold(t, "email")
		}
		if !email {
			return nil, permerr("key is not for email (s=%s)", noFWS(s))
		}
	}
	if t, ok := tags["t"]; ok {
		for _, f := range strings.Split(noFWS(t), ":") {
			k.strict = k.strict || f == "s"
		}
	}
	p, ok := tags["p"]
	if !ok {
		return nil, permerr("key record has no p= tag")
	}
	p = noFWS(p)
	if p == "" {
		return nil, permerr("key revoked (empty p=)")
	}
	der, err := base64.StdEncoding.DecodeString(p)
	if err != nil {
		return nil, permerr("public key is not valid base64 DER (p=)")
	}
	if k.keyType == "ed25519" {
		if len(der) != ed25519.PublicKeySize {
			return nil, permerr("Ed25519 public key is %d bytes, not %d (RFC 8463 §4.2)", len(der), ed25519.PublicKeySize)
		}
		k.pub = ed25519.PublicKey(der)
		return k, nil
	}
	// SubjectPublicKeyInfo (§3.6.1), or a bare RSAPublicKey, which
	// erratum 3017 allows and some signers publish.
	var rsaPub *rsa.PublicKey
	if pub, err := x509.ParsePKIXPublicKey(der); err == nil {
		var isRSA bool
		if rsaPub, isRSA = pub.(*rsa.PublicKey); !isRSA {
			return nil, permerr("public key is a %T, not an RSA key (k=rsa)", pub)
		}
	} else if rsaPub, err = x509.ParsePKCS1PublicKey(der); err != nil {
		return nil, permerr("public key is not valid base64 DER (p= decodes, but not to an RSA key)")
	}
	if bits := rsaPub.N.BitLen(); bits < 1024 {
		return nil, permerr("RSA key of %d bits is under 1024 bits: not accepted (RFC 8301 §3.2)", bits)
	}
	k.pub = rsaPub
	return k, nil
}
