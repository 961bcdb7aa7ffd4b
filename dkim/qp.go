package dkim

import (
	"errors"
	"strings"
)

// decodeQP decodes a dkim-quoted-printable value (RFC 6376 §2.11): "="
// and two upper- or lower-case hex digits stand for one octet, folding
// white space is dropped, and any other octet but ";" stands for itself.
// A "=" not followed by two hex digits is an error.
func decodeQP(s string) (string, error) {
	if !strings.ContainsAny(s, "=; \t\r\n") {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			continue
		case c == ';':
			return "", errors.New(`";" in a quoted-printable value`)
		case c != '=':
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(s) || unhex(s[i+1]) < 0 || unhex(s[i+2]) < 0 {
			return "", errors.New(`"=" not followed by two hex digits`)
		}
		b.WriteByte(byte(unhex(s[i+1])<<4 | unhex(s[i+2])))
		i += 2
	}
	return b.String(), nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
