package spam

import (
	"net/mail"
	"strings"
	"unicode"
)

// headers emits tokens of the top-level header fields we trust to describe
// the sender rather than the route into our store.
func (t *tokenizer) headers(fields []field) {
	for _, f := range fields {
		switch f.name {
		case "subject":
			t.subject(decodeHeader(f.value))
		case "from":
			t.addresses("from:", f.value)
		case "to", "cc":
			t.addresses(f.name+":", f.value)
			t.add(f.name + ":count:" + countBucket(strings.Count(f.value, "@")))
		case "reply-to":
			for _, a := range parseAddrs(f.value) {
				t.domain("reply-to:domain:", a.Address)
			}
		case "received":
			t.received(f.value)
		case "x-mailer", "user-agent":
			t.text(decodeHeader(f.value), "x-mailer:")
		case "x-priority", "x-msmail-priority", "importance":
			t.add(f.name + ":" + clip(strings.ToLower(f.value), 20))
		case "message-id":
			t.messageID(f.value)
		}
		// Which fields a message has says something of the software that
		// wrote it: replies carry In-Reply-To, Outlook adds Thread-Index,
		// bulk mailers their own X- fields.
		if senderField(f.name) {
			t.add("header:" + clip(f.name, 40))
		}
	}
	if getField(fields, "subject") == "" {
		t.add("subject:none")
	}
}

// senderField reports header fields that the sender's software wrote, as
// opposed to those added on the way by relays, mailing lists and the
// receiving site (trace fields, RFC 5322 section 3.6.7; list fields,
// RFC 2369 and RFC 2919; delivery and filter annotations). Only the former
// describe the message; the latter describe where it was delivered.
func senderField(name string) bool {
	switch name {
	case "received", "return-path", "delivered-to", "x-original-to", "envelope-to",
		"delivery-date", "precedence", "errors-to", "sender", "x-loop", "mailing-list",
		"x-beenthere", "x-original-date", "x-keywords", "status", "x-status", "x-uid",
		"content-length", "lines", "x-mime-autoconverted", "x-virus-scanned",
		"x-authentication-warning", "x-apparently-to", "x-sequence", "approved-by":
		return false
	}
	for _, p := range [...]string{"list-", "x-list", "x-mailman", "x-spam", "x-egroups", "x-yahoo",
		"resent-", "x-mailscanner", "x-ecartis", "x-original-", "x-bogosity", "x-virus"} {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	return true
}

// subject emits the subject's words and a few features of its shape that
// advertisers favour: shouting, exclamation marks, money, and padding with
// spaces before a tracking number.
func (t *tokenizer) subject(s string) {
	t.text(s, "subject:")
	if strings.Contains(s, "!") {
		t.add("subject:feat:exclamation")
	}
	if strings.Contains(s, "$") {
		t.add("subject:feat:dollar")
	}
	if strings.Contains(s, "   ") {
		t.add("subject:feat:spaces")
	}
	letters, upper := 0, 0
	for _, r := range s {
		if unicode.IsLetter(r) {
			letters++
			if unicode.IsUpper(r) {
				upper++
			}
		}
	}
	if letters >= 8 && upper*10 >= letters*8 {
		t.add("subject:feat:upper")
	}
}

// parseAddrs parses an address list leniently: on failure each
// comma-separated piece is tried alone.
func parseAddrs(v string) []*mail.Address {
	p := mail.AddressParser{WordDecoder: wordDecoder}
	if as, err := p.ParseList(v); err == nil {
		return as
	}
	var out []*mail.Address
	for _, s := range strings.Split(v, ",") {
		if a, err := p.Parse(s); err == nil {
			out = append(out, a)
		} else if i := strings.LastIndexByte(s, '@'); i > 0 {
			out = append(out, &mail.Address{Address: strings.Trim(strings.TrimSpace(s), "<>")})
		}
	}
	return out
}

// addresses emits display-name words, the address and its domain.
func (t *tokenizer) addresses(prefix, v string) {
	as := parseAddrs(v)
	if len(as) == 0 {
		t.add(prefix + "invalid")
		lv := strings.ToLower(v)
		if strings.Contains(lv, "undisclosed") {
			t.add(prefix + "undisclosed")
		}
		return
	}
	for _, a := range as {
		if a.Name == "" {
			t.add(prefix + "noname")
		} else {
			t.text(a.Name, prefix+"name:")
		}
		addr := strings.ToLower(a.Address)
		if len(addr) <= 64 {
			t.add(prefix + "addr:" + addr)
		}
		t.domain(prefix+"domain:", addr)
	}
}

// domain emits the domain of an address and its parents down to two labels
// ("a.b.example.com" → a.b.example.com, b.example.com, example.com).
func (t *tokenizer) domain(prefix, addr string) {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return
	}
	t.host(prefix, strings.ToLower(addr[i+1:]))
}

// host emits a host name and its parent domains, or an IPv4 address and its
// /24 prefix.
func (t *tokenizer) host(prefix, h string) {
	h = strings.Trim(h, ".[]<> ")
	if h == "" || len(h) > 100 {
		return
	}
	if isIPv4(h) {
		if privateIPv4(h) {
			return
		}
		t.add(prefix + h)
		parts := strings.Split(h, ".")
		// The /24 groups a sender's neighbouring servers; wider
		// prefixes lump whole providers or countries together.
		t.add(prefix + strings.Join(parts[:3], ".") + ".")
		return
	}
	labels := strings.Split(h, ".")
	if len(labels) < 2 {
		return
	}
	for i := 0; i+2 <= len(labels) && i < 4; i++ {
		t.add(prefix + strings.Join(labels[i:], "."))
	}
}

func isIPv4(s string) bool {
	dots := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			dots++
		case c < '0' || c > '9':
			return false
		}
	}
	return dots == 3
}

// privateIPv4 reports loopback, RFC 1918 and link-local addresses: they
// describe the receiving site's own network, not the sender.
func privateIPv4(s string) bool {
	if strings.HasPrefix(s, "10.") || strings.HasPrefix(s, "127.") ||
		strings.HasPrefix(s, "192.168.") || strings.HasPrefix(s, "169.254.") {
		return true
	}
	if strings.HasPrefix(s, "172.") {
		var b int
		for _, c := range s[4:] {
			if c == '.' {
				break
			}
			b = b*10 + int(c-'0')
		}
		return b >= 16 && b <= 31
	}
	return false
}

// received emits the sending host names and IPs of a Received field's
// "from" clause (RFC 5321 section 4.4); the "by" and "for" parts name our
// own servers and recipients and are ignored.
func (t *tokenizer) received(v string) {
	from, ok := strings.CutPrefix(strings.ToLower(v), "from ")
	if !ok {
		return
	}
	// "from by x" has an empty from clause; Index finds " by " only after it.
	if strings.HasPrefix(from, "by ") {
		from = ""
	} else if i := strings.Index(from, " by "); i >= 0 {
		from = from[:i]
	}
	for _, w := range strings.FieldsFunc(from, func(r rune) bool {
		return r == ' ' || r == '(' || r == ')' || r == '[' || r == ']' || r == '=' || r == ';' || r == ','
	}) {
		// Skip envelope addresses ("root@host") and the local host.
		if strings.Contains(w, ".") && !strings.Contains(w, "@") && !strings.HasPrefix(w, "localhost") {
			t.host("received:", w)
		}
	}
}

// messageID emits the Message-ID's domain part, or a token for its absence
// or malformation (a favourite of bulk mailers).
func (t *tokenizer) messageID(v string) {
	v = strings.Trim(strings.TrimSpace(v), "<>")
	i := strings.LastIndexByte(v, '@')
	if i < 0 {
		t.add("message-id:invalid")
		return
	}
	t.host("message-id:", strings.ToLower(v[i+1:]))
}

// countBucket groups recipient counts: the exact number matters less than
// one versus many.
func countBucket(n int) string {
	switch {
	case n == 0:
		return "0"
	case n == 1:
		return "1"
	case n <= 3:
		return "2-3"
	case n <= 9:
		return "4-9"
	}
	return "10+"
}
