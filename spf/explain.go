package spf

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	libspf "blitiri.com.ar/go/spf"
)

// macroEnv holds the values macros expand to (RFC 7208 §7.3).
type macroEnv struct {
	sender string // s
	domain string // d, the domain of the current check_host()
	ip     net.IP // i, c, v
	helo   string // h
	now    time.Time
	// ptr returns the validated domain name of ip (p), looked up only
	// when a macro asks for it.
	ptr func() string
}

// expand expands a macro-string (RFC 7208 §7), with c, r and t allowed
// only when expText is set (§7.1).
func (e macroEnv) expand(s string, expText bool) (string, error) {
	toks, err := macroTokens(s, expText)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, t := range toks {
		switch {
		case !t.macro:
			b.WriteString(t.text)
		case t.text == "%%":
			b.WriteString("%")
		case t.text == "%_":
			b.WriteString(" ")
		case t.text == "%-":
			b.WriteString("%20")
		default:
			b.WriteString(e.expandOne(t.text[2 : len(t.text)-1]))
		}
	}
	return b.String(), nil
}

// expandOne expands the body of one %{...} already checked by
// checkMacroBody (§7.3, transformers §7.4).
func (e macroEnv) expandOne(body string) string {
	m := macroBody.FindStringSubmatch(body)
	letter, digits, reverse, delims := m[1], m[2], m[3] != "", m[4]
	var v string
	switch strings.ToLower(letter) {
	case "s":
		v = e.sender
	case "l":
		v, _, _ = strings.Cut(e.sender, "@")
	case "o":
		_, v, _ = strings.Cut(e.sender, "@")
	case "d":
		v = e.domain
	case "i":
		v = dottedIP(e.ip)
	case "p":
		v = "unknown" // §7.3: p SHOULD NOT be used; "unknown" is allowed
		if e.ptr != nil {
			v = e.ptr()
		}
	case "v":
		v = "in-addr"
		if e.ip.To4() == nil {
			v = "ip6"
		}
	case "h":
		v = e.helo
	case "c":
		v = e.ip.String()
	case "r":
		v = "unknown" // the receiving host; we do not know our name here
	case "t":
		v = strconv.FormatInt(e.now.Unix(), 10)
	}
	if delims == "" {
		delims = "."
	}
	parts := strings.FieldsFunc(v, func(r rune) bool { return strings.ContainsRune(delims, r) })
	if reverse {
		slices.Reverse(parts)
	}
	if n, _ := strconv.Atoi(digits); n > 0 && n < len(parts) {
		parts = parts[len(parts)-n:]
	}
	v = strings.Join(parts, ".")
	if letter != strings.ToLower(letter) {
		// Upper-case letters are URL-escaped (§7.3).
		v = strings.ReplaceAll(url.QueryEscape(v), "+", "%20")
	}
	return v
}

// dottedIP is the "i" macro: dotted quad, or dot-separated nibbles,
// upper-case as in the examples of RFC 7208 §7.4.
func dottedIP(ip net.IP) string {
	if ip4 := ip.To4(); ip4 != nil {
		return ip4.String()
	}
	var b strings.Builder
	for _, x := range ip.To16() {
		fmt.Fprintf(&b, "%X.%X.", x>>4, x&0xf)
	}
	return strings.TrimSuffix(b.String(), ".")
}

// recordOf returns the one SPF record of domain, or "".
func (c *Checker) recordOf(ctx context.Context, domain string) string {
	txts, err := c.r.LookupTXT(ctx, domain)
	if err != nil {
		return ""
	}
	var recs []string
	for _, t := range txts {
		if isSPFRecord(t) {
			recs = append(recs, t)
		}
	}
	if len(recs) != 1 {
		return ""
	}
	return recs[0]
}

// explain finds the explanation of a fail (RFC 7208 §6.2): the exp= of the
// record whose mechanism failed, which is the top record or the end of its
// redirect chain (an include never passes a fail up, §5.2). Any problem
// gives no explanation, as §6.2 says.
func (c *Checker) explain(ctx context.Context, ip net.IP, helo, sender, domain string) string {
	ctx, cancel := context.WithTimeout(ctx, shortTimeout)
	defer cancel()
	local, _, _ := strings.Cut(sender, "@")
	for hop := 0; hop <= 10; hop++ {
		rec := c.recordOf(ctx, domain)
		if rec == "" || CheckSyntax(rec) != nil {
			return ""
		}
		env := macroEnv{sender: sender, domain: domain, ip: ip, helo: helo, now: time.Now(),
			ptr: func() string { return c.validatedName(ctx, ip, domain) }}
		var exp, redirect string
		hasAll := false
		var kept []string
		for _, term := range strings.Split(rec, " ") {
			lt := strings.ToLower(term)
			switch {
			case strings.HasPrefix(lt, "exp="):
				exp = term[len("exp="):]
			case strings.HasPrefix(lt, "redirect="):
				redirect = term[len("redirect="):]
				continue
			case strings.TrimLeft(lt, "+-?~") == "all":
				hasAll = true
			}
			kept = append(kept, term)
		}
		// §6.1: redirect is used only when no mechanism matched, and never
		// when the record has "all".
		if redirect != "" && !hasAll && !c.failsWithout(ctx, ip, helo, local, domain, strings.Join(kept, " ")) {
			next, err := env.expand(redirect, false)
			if err != nil {
				return ""
			}
			domain = strings.TrimSuffix(next, ".")
			continue
		}
		if exp == "" {
			return ""
		}
		return c.expText(ctx, env, exp)
	}
	return ""
}

// failsWithout reports whether rec, evaluated for domain without its
// redirect, fails by itself.
func (c *Checker) failsWithout(ctx context.Context, ip net.IP, helo, local, domain, rec string) bool {
	tr := newTracking(c.r, ip, helo, local+"@"+domain)
	tr.override = map[string]string{strings.ToLower(domain): rec}
	res, _ := libspf.CheckHostWithSender(ip, helo, local+"@"+domain,
		libspf.WithContext(ctx), libspf.WithResolver(tr))
	return Result(res) == Fail
}

// expText fetches and expands the explanation string at the exp= target
// (§6.2): exactly one TXT record, a valid macro-string of visible ASCII.
func (c *Checker) expText(ctx context.Context, env macroEnv, exp string) string {
	target, err := env.expand(exp, false)
	if err != nil {
		return ""
	}
	target = truncateName(target)
	txts, err := c.r.LookupTXT(ctx, target)
	if err != nil || len(txts) != 1 {
		return ""
	}
	for _, r := range txts[0] {
		if r != ' ' && (r < 0x21 || r > 0x7e) {
			return "" // §6.2: explanation text is 7-bit ASCII
		}
	}
	var out []string
	for _, word := range strings.Split(txts[0], " ") {
		w, err := env.expand(word, true)
		if err != nil {
			return ""
		}
		out = append(out, w)
	}
	return strings.Join(out, " ")
}

// truncateName applies RFC 7208 §4.8 to an expanded domain-spec: over 253
// characters, labels are removed from the left until it fits.
func truncateName(name string) string {
	for len(strings.TrimSuffix(name, ".")) > 253 {
		_, rest, ok := strings.Cut(name, ".")
		if !ok {
			return name
		}
		name = rest
	}
	return name
}

// validatedName is the "p" macro (RFC 7208 §7.3) of the record of
// domain.
func (c *Checker) validatedName(ctx context.Context, ip net.IP, domain string) string {
	return pickName(validNames(ctx, c.r, ip), domain)
}
