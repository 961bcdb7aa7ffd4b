package mailauth

import (
	"strings"

	"frontdesk/dkim"
)

// dkimResults formats one dkim method result per signature (RFC 8601
// §2.7.1), each with its reason as a comment and header.d, header.i,
// header.s, header.a and header.b (RFC 6008: the first 8 characters of
// b=, which tell apart several signatures of one domain), or "dkim=none"
// when there is no signature. Each part begins with "; ".
func dkimResults(rs []dkim.Result) string {
	if len(rs) == 0 {
		return "; dkim=none"
	}
	var b strings.Builder
	for _, r := range rs {
		b.WriteString("; dkim=" + r.Status)
		if r.Err != nil && r.Status != dkim.StatusPass {
			b.WriteString(" (" + comment(strings.TrimPrefix(r.Err.Error(), "dkim: ")) + ")")
		}
		for _, p := range [][2]string{
			{"header.d", r.Domain}, {"header.i", r.Identifier}, {"header.s", r.Selector},
			{"header.a", r.Algorithm}, {"header.b", prefix(r.B, 8)},
		} {
			if v := pvalue(p[1]); v != "" {
				b.WriteString(" " + p[0] + "=" + v)
			}
		}
	}
	return b.String()
}

// comment makes s the text of an RFC 5322 comment on one line: printable
// ASCII, with the characters that would end or escape it replaced.
func comment(s string) string {
	return strings.Map(func(c rune) rune {
		switch {
		case c == '(' || c == '[':
			return '['
		case c == ')' || c == ']':
			return ']'
		case c == '\\' || c == ';':
			return ','
		case c < ' ' || c > '~':
			return '?'
		}
		return c
	}, s)
}

// pvalue is s as an RFC 8601 pvalue, quoted when it holds characters a
// token may not; the values come from the message, so they are cleaned.
func pvalue(s string) string {
	if s == "" {
		return ""
	}
	clean := strings.Map(func(c rune) rune {
		if c <= ' ' || c > '~' || c == '"' || c == '\\' {
			return -1
		}
		return c
	}, s)
	if strings.ContainsAny(clean, "()<>,;:[]?=") {
		return `"` + clean + `"`
	}
	return clean
}

func prefix(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
