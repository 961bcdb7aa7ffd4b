package dkim

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The verification of one signature (RFC 6376 §6.1), done here rather
// than in go-msgauth so that i= is compared as §3.5 says (decoded from
// dkim-quoted-printable, domains case-insensitively), the time is the
// caller's, and every refusal carries a reason a postmaster can act on.

// sigError is why a signature did not pass, with its RFC 8601 result.
type sigError struct {
	status string
	msg    string
}

func (e *sigError) Error() string { return e.msg }

func permerr(format string, args ...any) error {
	return &sigError{StatusPermError, fmt.Sprintf(format, args...)}
}

// clockSkew is how far in the future t= may be: signers' clocks drift, and
// RFC 6376 §3.5 only allows, not requires, refusing future timestamps.
const clockSkew = 15 * time.Minute

// message is a message split for verification, line ends made CRLF.
type message struct {
	fields []string // raw header fields, folded lines and final CRLF included
	body   []byte
	// bodyHashes caches the body hash per canonicalization and l=.
	bodyHashes map[string][]byte
}

func splitMessage(msg []byte) *message {
	msg = toCRLF(msg)
	m := &message{bodyHashes: map[string][]byte{}}
	rest := msg
	for len(rest) > 0 {
		if bytes.HasPrefix(rest, []byte("\r\n")) {
			m.body = rest[2:]
			return m
		}
		end := 0
		for {
			i := bytes.Index(rest[end:], []byte("\r\n"))
			if i < 0 {
				end = len(rest)
				break
			}
			end += i + 2
			if end >= len(rest) || (rest[end] != ' ' && rest[end] != '\t') {
				break
			}
		}
		m.fields = append(m.fields, string(rest[:end]))
		rest = rest[end:]
	}
	return m
}

// toCRLF turns bare LF line ends into CRLF (RFC 6376 §5.3: verifiers
// work on the CRLF form).
func toCRLF(msg []byte) []byte {
	n := bytes.Count(msg, []byte("\n")) - bytes.Count(msg, []byte("\r\n"))
	if n == 0 {
		return msg
	}
	out := make([]byte, 0, len(msg)+n)
	for i, c := range msg {
		if c == '\n' && (i == 0 || msg[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}

// fieldName is the name of a raw field: its first line up to ":", as
// headerFields reads it, so both count the same signatures.
func fieldName(f string) string {
	first, _, _ := strings.Cut(f, "\r\n")
	name, _, _ := strings.Cut(first, ":")
	return strings.TrimSpace(name)
}

// parseTagList parses a tag-list (RFC 6376 §3.2) strictly: every tag has
// a name and "=", no name repeats. Values keep inner white space.
func parseTagList(s string) (map[string]string, error) {
	tags := map[string]string{}
	for _, part := range strings.Split(s, ";") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		k = strings.TrimSpace(k)
		if !ok || !validTagName(k) {
			return nil, fmt.Errorf("%q is not a tag=value pair", strings.TrimSpace(part))
		}
		if _, dup := tags[k]; dup {
			return nil, fmt.Errorf("tag %s= appears twice", k)
		}
		tags[k] = strings.TrimSpace(v)
	}
	return tags, nil
}

func validTagName(k string) bool {
	if k == "" || !isAlpha(k[0]) {
		return false
	}
	for i := 1; i < len(k); i++ {
		if !isAlpha(k[i]) && !('0' <= k[i] && k[i] <= '9') && k[i] != '_' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }

func noFWS(s string) string { return strings.Join(strings.Fields(s), "") }

// checkSignature verifies the DKIM-Signature field sigField of m at time
// now. It fills in r's labels as far as it gets.
func (v *Verifier) checkSignature(ctx context.Context, m *message, sigField string, now time.Time, r *Result) error {
	_, value, _ := strings.Cut(sigField, ":")
	tags, err := parseTagList(value)
	if err != nil {
		return permerr("malformed signature: %v", err)
	}
	r.Domain, r.Selector, r.Algorithm = noFWS(tags["d"]), noFWS(tags["s"]), noFWS(tags["a"])
	r.B = noFWS(tags["b"])
	r.Identifier = "@" + r.Domain
	ver, hasV := tags["v"]
	switch {
	case !hasV:
		return permerr("no v= tag: a pre-RFC 6376 (DomainKeys or draft) signature, not accepted")
	case noFWS(ver) != "1":
		return permerr("signature version v=%s is not 1: not accepted (RFC 6376 §3.5)", noFWS(ver))
	}
	for _, t := range []string{"a", "b", "bh", "d", "h", "s"} {
		if _, ok := tags[t]; !ok {
			return permerr("signature lacks the required %s= tag", t)
		}
	}
	if r.Domain == "" || r.Selector == "" {
		return permerr("signature has an empty d= or s=")
	}
	domain := strings.ToLower(strings.TrimSuffix(r.Domain, "."))

	var hash crypto.Hash = crypto.SHA256
	switch strings.ToLower(r.Algorithm) {
	case "rsa-sha256", "ed25519-sha256":
	case "rsa-sha1":
		return permerr("rsa-sha1 signatures are not accepted (RFC 8301 §3.1)")
	default:
		return permerr("unknown signing algorithm a=%s", r.Algorithm)
	}
	keyType, _, _ := strings.Cut(strings.ToLower(r.Algorithm), "-")

	// i= (RFC 6376 §3.5): dkim-quoted-printable; its domain is d= or a
	// subdomain of it, compared without regard to case.
	var idDomain string
	if raw, ok := tags["i"]; ok {
		id, err := decodeQP(raw)
		if err != nil {
			return permerr("i= is not valid dkim-quoted-printable: %v", err)
		}
		at := strings.LastIndexByte(id, '@')
		if at < 0 {
			return permerr("i=%s has no \"@\"", id)
		}
		r.Identifier = id
		idDomain = strings.ToLower(strings.TrimSuffix(id[at+1:], "."))
		if idDomain != domain && !strings.HasSuffix(idDomain, "."+domain) {
			return permerr("i= domain %s is neither d=%s nor below it (RFC 6376 §3.5)", id[at+1:], r.Domain)
		}
	}

	headers := strings.Split(noFWS(tags["h"]), ":")
	fromSigned := false
	for _, h := range headers {
		fromSigned = fromSigned || strings.EqualFold(h, "From")
	}
	if !fromSigned {
		return permerr("From is not signed (h= lacks it; RFC 6376 §5.4)")
	}

	hc, bc := "simple", "simple"
	if c, ok := tags["c"]; ok {
		c = strings.ToLower(noFWS(c))
		h, b, hasB := strings.Cut(c, "/")
		hc = h
		if hasB {
			bc = b
		}
	}
	if (hc != "simple" && hc != "relaxed") || (bc != "simple" && bc != "relaxed") {
		return permerr("unknown canonicalization c=%s", noFWS(tags["c"]))
	}
	if q, ok := tags["q"]; ok {
		found := false
		for _, m := range strings.Split(noFWS(q), ":") {
			found = found || strings.EqualFold(m, "dns/txt")
		}
		if !found {
			return permerr("unknown key query method q=%s", noFWS(q))
		}
	}

	var signed, expires int64 = -1, -1
	if t, ok := tags["t"]; ok {
		if signed, err = strconv.ParseInt(noFWS(t), 10, 64); err != nil || signed < 0 {
			return permerr("t=%s is not a time", noFWS(t))
		}
	}
	if x, ok := tags["x"]; ok {
		if expires, err = strconv.ParseInt(noFWS(x), 10, 64); err != nil || expires < 0 {
			return permerr("x=%s is not a time", noFWS(x))
		}
		if signed >= 0 && expires < signed {
			return permerr("x= is before t= (RFC 6376 §3.5)")
		}
		if now.Unix() > expires {
			return permerr("signature expired at %s (x=)", time.Unix(expires, 0).UTC().Format(time.RFC3339))
		}
	}
	if signed >= 0 && time.Unix(signed, 0).After(now.Add(clockSkew)) {
		return permerr("signature time t= %s is later than the time of verification", time.Unix(signed, 0).UTC().Format(time.RFC3339))
	}
	if _, ok := tags["l"]; ok {
		// A body length limit lets anyone append content (§8.2).
		return &sigError{StatusPolicy, "l= leaves part of the body unsigned (RFC 6376 §8.2): not accepted"}
	}

	bh, err := base64.StdEncoding.DecodeString(noFWS(tags["bh"]))
	if err != nil {
		return permerr("bh= is not valid base64")
	}
	sig, err := base64.StdEncoding.DecodeString(r.B)
	if err != nil || len(sig) == 0 {
		return permerr("b= is not valid base64")
	}

	key, err := v.lookupKey(ctx, r.Selector+"._domainkey."+domain)
	if err != nil {
		return err
	}
	if key.keyType != keyType {
		return permerr("the signature is %s but the key is %s (k=)", r.Algorithm, key.keyType)
	}
	if key.hashes != nil && !key.hashes["sha256"] {
		return permerr("the key's h= does not allow sha256")
	}
	if key.strict && idDomain != "" && idDomain != domain {
		return permerr("the key's t=s requires the i= domain to be d=%s exactly", r.Domain)
	}

	got := m.bodyHash(bc)
	if !bytes.Equal(got, bh) {
		return &sigError{StatusFail, "body hash did not verify"}
	}

	h := sha256.New()
	used := map[int]bool{}
	for _, name := range headers {
		for i := len(m.fields) - 1; i >= 0; i-- { // bottom-up (§5.4.2)
			if !used[i] && strings.EqualFold(fieldName(m.fields[i]), name) {
				used[i] = true
				h.Write([]byte(canonHeader(hc, m.fields[i])))
				break
			}
		}
	}
	h.Write([]byte(strings.TrimSuffix(canonHeader(hc, emptyB(sigField)), "\r\n")))
	digest := h.Sum(nil)
	ok := false
	switch pub := key.pub.(type) {
	case *rsa.PublicKey:
		ok = rsa.VerifyPKCS1v15(pub, hash, digest, sig) == nil
	case ed25519.PublicKey:
		ok = ed25519.Verify(pub, digest, sig) // RFC 8463 §3: signs the hash
	}
	if !ok {
		return &sigError{StatusFail, "signature did not verify"}
	}
	return nil
}

var bValue = regexp.MustCompile(`(^|[;:])(\s*b\s*=)[^;]*`)

// emptyB is the signature field with b='s value removed (§3.7).
func emptyB(f string) string {
	name, value, _ := strings.Cut(f, ":")
	return name + ":" + bValue.ReplaceAllString(value, "$1$2")
}

// canonHeader canonicalizes one raw field (§3.4.1, §3.4.2).
func canonHeader(c, f string) string {
	if c == "simple" {
		return f
	}
	name, value, _ := strings.Cut(f, ":")
	value = strings.ReplaceAll(value, "\r\n", "")
	value = strings.Join(strings.FieldsFunc(value, func(r rune) bool { return r == ' ' || r == '\t' }), " ")
	return strings.ToLower(strings.TrimRight(name, " \t")) + ":" + value + "\r\n"
}

// bodyHash is the SHA-256 of the body canonicalized with c (§3.4.3,
// §3.4.4).
func (m *message) bodyHash(c string) []byte {
	if h, ok := m.bodyHashes[c]; ok {
		return h
	}
	body := m.body
	if c == "relaxed" {
		var b bytes.Buffer
		b.Grow(len(body))
		for i, l := range bytes.Split(body, []byte("\r\n")) {
			if i > 0 {
				b.WriteString("\r\n")
			}
			relaxLine(&b, l)
		}
		body = b.Bytes()
	}
	for bytes.HasSuffix(body, []byte("\r\n")) {
		body = body[:len(body)-2]
	}
	sum := sha256.New()
	sum.Write(body)
	if len(body) > 0 || c == "simple" {
		sum.Write([]byte("\r\n"))
	}
	h := sum.Sum(nil)
	m.bodyHashes[c] = h
	return h
}

// relaxLine writes l with every run of WSP made one SP and trailing WSP
// dropped (§3.4.4).
func relaxLine(b *bytes.Buffer, l []byte) {
	space := false
	for _, c := range l {
		if c == ' ' || c == '\t' {
			space = true
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteByte(c)
	}
}
