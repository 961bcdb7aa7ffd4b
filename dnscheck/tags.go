package dnscheck

import (
	"crypto/x509"
	"encoding/base64"
	"strings"
)

// Parsing of the tag=value records (DKIM, DMARC, MTA-STS, TLS-RPT) and
// the version tag that starts them and SPF's.

// parses reports whether p (base64) is a public key of type k: DER
// SubjectPublicKeyInfo for RSA (RFC 6376 §3.6.1), 32 raw bytes for Ed25519.
func parses(k, p string) bool {
	der, err := base64.StdEncoding.DecodeString(p)
	if err != nil {
		return false
	}
	if strings.EqualFold(k, "ed25519") {
		return len(der) == 32 // RFC 8463 §4: the raw public key
	}
	_, err = x509.ParsePKIXPublicKey(der)
	return err == nil
}

// validSTSID: sts-id = 1*32( ALPHA / DIGIT ) (RFC 8461 §3.1).
func validSTSID(id string) bool {
	if id == "" || len(id) > 32 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// parseTags parses a tag=value list (RFC 6376 §3.2, which DMARC, MTA-STS
// and TLS-RPT records share): names lower-cased, values trimmed.
func parseTags(s string) map[string]string {
	tags := map[string]string{}
	for _, part := range strings.Split(s, ";") {
		name, value, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		name = strings.ToLower(strings.TrimSpace(name))
		if _, dup := tags[name]; !dup {
			tags[name] = strings.TrimSpace(value)
		}
	}
	return tags
}

// hasTag reports whether the record's first term is name=value (the
// version tag all these records start with), case-insensitively. SPF's
// terms are separated by spaces, the others' by ";".
func hasTag(record, name, value string) bool {
	first := strings.TrimSpace(record)
	// SPF ends a term at a space (RFC 7208 §4.6.1); tag=value records end
	// it at ";" and allow spaces around "=" (RFC 6376 §3.2, RFC 7489 §6.4).
	sep := ";"
	if strings.EqualFold(value, "spf1") {
		sep = "; \t"
	}
	if i := strings.IndexAny(first, sep); i >= 0 {
		first = first[:i]
	}
	n, v, ok := strings.Cut(first, "=")
	return ok && strings.EqualFold(strings.TrimSpace(n), name) && strings.EqualFold(strings.TrimSpace(v), value)
}

func stripSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
