package telephony

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Digest authentication for REGISTER, RFC 3261 section 22.4 with the
// algorithm of RFC 2617 section 3.2.2 (MD5, qop "auth" or none). Nonces are
// stateless: a timestamp and its HMAC under a per-server key, valid for
// nonceLife, so a challenge survives no restart but needs no table.

const nonceLife = 5 * time.Minute

type digestAuth struct {
	realm string
	key   []byte // HMAC key for nonces
	now   func() time.Time
}

func (d *digestAuth) nonce() string {
	ts := binary.BigEndian.AppendUint64(nil, uint64(d.now().Unix()))
	m := hmac.New(sha256.New, d.key)
	m.Write(ts)
	return hex.EncodeToString(ts) + hex.EncodeToString(m.Sum(nil)[:12])
}

// challenge is the WWW-Authenticate value for a 401.
func (d *digestAuth) challenge(stale bool) string {
	s := fmt.Sprintf(`Digest realm="%s", nonce="%s", algorithm=MD5, qop="auth"`, d.realm, d.nonce())
	if stale {
		s += ", stale=true"
	}
	return s
}

var (
	errDigestMalformed = errors.New("malformed digest credentials")
	errDigestStale     = errors.New("stale nonce")
	errDigestMismatch  = errors.New("digest response mismatch")
)

func (d *digestAuth) checkNonce(n string) error {
	if len(n) != 16+24 {
		return errDigestMalformed
	}
	ts, err := hex.DecodeString(n[:16])
	if err != nil {
		return errDigestMalformed
	}
	m := hmac.New(sha256.New, d.key)
	m.Write(ts)
	if !hmac.Equal([]byte(hex.EncodeToString(m.Sum(nil)[:12])), []byte(n[16:])) {
		return errDigestMalformed
	}
	age := d.now().Sub(time.Unix(int64(binary.BigEndian.Uint64(ts)), 0))
	if age < -time.Minute || age > nonceLife {
		return errDigestStale
	}
	return nil
}

// parseDigest splits `Digest k="v", k=v` into a map with lower-case keys.
func parseDigest(h string) (map[string]string, error) {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "digest") {
		return nil, errDigestMalformed
	}
	out := map[string]string{}
	for rest = strings.TrimSpace(rest); rest != ""; {
		k, after, ok := strings.Cut(rest, "=")
		if !ok {
			return nil, errDigestMalformed
		}
		k = strings.ToLower(strings.TrimSpace(k))
		after = strings.TrimLeft(after, " ")
		var v string
		if strings.HasPrefix(after, `"`) {
			end := strings.IndexByte(after[1:], '"')
			if end < 0 {
				return nil, errDigestMalformed
			}
			v, rest = after[1:1+end], after[2+end:]
		} else {
			v, rest, _ = strings.Cut(after, ",")
			v = strings.TrimSpace(v)
			rest = "," + rest
		}
		out[k] = v
		rest = strings.TrimSpace(rest)
		rest = strings.TrimPrefix(rest, ",")
		rest = strings.TrimSpace(rest)
	}
	return out, nil
}

// digestUser is the username of Authorization credentials, or "" if they
// do not parse; for the log of a refused REGISTER.
func digestUser(header string) string {
	p, err := parseDigest(header)
	if err != nil {
		return ""
	}
	return p["username"]
}

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// verify checks Authorization credentials for method against ha1 lookup.
// It returns the username on success.
func (d *digestAuth) verify(header, method string, ha1 func(user string) (string, error)) (string, error) {
	p, err := parseDigest(header)
	if err != nil {
		return "", err
	}
	user, uri, resp, nonce := p["username"], p["uri"], p["response"], p["nonce"]
	if user == "" || uri == "" || resp == "" || nonce == "" || p["realm"] != d.realm {
		return "", errDigestMalformed
	}
	if alg := p["algorithm"]; alg != "" && !strings.EqualFold(alg, "MD5") {
		return "", errDigestMalformed
	}
	if err := d.checkNonce(nonce); err != nil {
		return "", err
	}
	h1, err := ha1(user)
	if err != nil {
		return "", fmt.Errorf("%w: %w", errDigestMismatch, err)
	}
	h2 := md5hex(method + ":" + uri)
	var want string
	switch qop := p["qop"]; qop {
	case "":
		want = md5hex(h1 + ":" + nonce + ":" + h2)
	case "auth":
		if _, err := strconv.ParseUint(p["nc"], 16, 32); err != nil || p["cnonce"] == "" {
			return "", errDigestMalformed
		}
		want = md5hex(h1 + ":" + nonce + ":" + p["nc"] + ":" + p["cnonce"] + ":auth:" + h2)
	default:
		return "", errDigestMalformed
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(resp))) != 1 {
		return "", errDigestMismatch
	}
	return user, nil
}
