package imapserver

import (
	"io"
	"mime"
	"strings"

	gomessage "github.com/emersion/go-message"

	"github.com/emersion/go-imap/v2"
)

// ParseAddressList parses the value of an address header field (RFC 5322
// section 3.4, with the obsolete syntax of section 4.4) into the addresses
// of an envelope (RFC 3501 section 7.4.2, RFC 9051 section 7.5.2).
//
// A group becomes a start marker (Mailbox holds the group name), its
// members and an end marker, even when it has no members. A source route
// is kept in ADL. Comments are dropped, except that a mailbox without a
// display name takes its last comment as name. Display names have their
// encoded words decoded. A quoted local part keeps its quotes unless it is
// a plain dot-atom, so that Mailbox "@" Host is a valid address. A mailbox
// without a domain, or one that cannot be parsed, is skipped; parsing goes
// on at the next comma.
func ParseAddressList(s string) []imap.Address {
	// NUL can be in no IMAP string, not even a literal (RFC 9051 section 4.3).
	p := addrParser{s: strings.ReplaceAll(s, "\x00", "")}
	var l []imap.Address
	for {
		p.skipCFWS()
		if p.eof() {
			return l
		}
		// A stray ";" between addresses is taken for a comma, as
		// people type it so.
		if c := p.peek(); c == ',' || c == ';' {
			p.pos++
			continue
		}
		l = p.address(l)
	}
}

type addrParser struct {
	s       string
	pos     int
	comment string // last comment skipped
}

func (p *addrParser) eof() bool  { return p.pos >= len(p.s) }
func (p *addrParser) peek() byte { return p.s[p.pos] }

// address parses a mailbox or a group and appends it to l. On a syntax
// error it skips to the next comma (or the end of the group).
func (p *addrParser) address(l []imap.Address) []imap.Address {
	start := p.pos
	if name, ok := p.phrase(); ok && !p.eof() && p.peek() == ':' {
		p.pos++
		// A start marker without a name would read as an end marker:
		// the members of a nameless group stand alone.
		if name != "" {
			l = append(l, imap.Address{Mailbox: name})
		}
		for {
			p.skipCFWS()
			if p.eof() {
				break
			}
			if c := p.peek(); c == ';' {
				p.pos++
				break
			} else if c == ',' {
				p.pos++
				continue
			}
			if addr, ok := p.mailbox(); ok {
				l = append(l, addr)
			} else {
				p.skipTo(",;")
			}
		}
		if name == "" {
			return l
		}
		return append(l, imap.Address{})
	}
	p.pos = start
	if addr, ok := p.mailbox(); ok {
		return append(l, addr)
	}
	p.skipTo(",")
	return l
}

// skipTo moves to the next of the given separators outside of quoted
// strings, comments and angle brackets (to the end if there is none).
func (p *addrParser) skipTo(seps string) {
	for !p.eof() {
		switch c := p.peek(); {
		case c == '"':
			p.quoted()
		case c == '(':
			p.skipComment()
		case strings.IndexByte(seps, c) >= 0:
			return
		default:
			p.pos++
		}
	}
}

// mailbox parses name-addr or addr-spec, then the comments after it.
func (p *addrParser) mailbox() (imap.Address, bool) {
	start := p.pos
	p.comment = ""
	name, _ := p.phrase()
	var addr imap.Address
	if !p.eof() && p.peek() == '<' {
		p.pos++
		addr.ADL = p.route()
		local, host, ok := p.addrSpec()
		p.skipCFWS()
		if !ok || p.eof() || p.peek() != '>' {
			return imap.Address{}, false
		}
		p.pos++
		addr.Name, addr.Mailbox, addr.Host = name, local, host
	} else {
		// No angle brackets: a bare addr-spec; its local part was read
		// as a phrase, so read it again.
		p.pos = start
		p.comment = ""
		local, host, ok := p.addrSpec()
		if !ok {
			return imap.Address{}, false
		}
		addr.Mailbox, addr.Host = local, host
		// An address used as display name, unquoted ("a@b <a@b>"), is
		// common enough to be read as the name it was meant to be.
		if p.skipCFWS(); !p.eof() && p.peek() == '<' {
			name := strings.Join(strings.Fields(p.s[start:p.pos]), " ")
			p.pos++
			addr.ADL = p.route()
			local, host, ok := p.addrSpec()
			p.skipCFWS()
			if !ok || p.eof() || p.peek() != '>' {
				return imap.Address{}, false
			}
			p.pos++
			addr.Name, addr.Mailbox, addr.Host = name, local, host
		}
	}
	comment := p.comment
	p.skipCFWS()
	if p.comment != "" {
		comment = p.comment
	}
	if !p.eof() && !strings.ContainsRune(",;", rune(p.peek())) {
		return imap.Address{}, false
	}
	if addr.Name == "" {
		addr.Name = decodeWords(strings.TrimSpace(comment))
	}
	return addr, addr.Host != ""
}

// route parses an obsolete source route ("@a,@b:") and returns it as the
// envelope's adl, "@a,@b"; "" when there is none.
func (p *addrParser) route() string {
	p.skipCFWS()
	if p.eof() || p.peek() != '@' {
		return ""
	}
	start := p.pos
	var domains []string
	for {
		p.skipCFWS()
		if p.eof() {
			break
		}
		switch p.peek() {
		case ',':
			p.pos++
			continue
		case '@':
			p.pos++
			if d, ok := p.domain(); ok {
				domains = append(domains, "@"+d)
				continue
			}
		case ':':
			p.pos++
			return strings.Join(domains, ",")
		}
		break
	}
	p.pos = start // not a route after all
	return ""
}

// addrSpec parses local-part "@" domain.
func (p *addrParser) addrSpec() (local, host string, ok bool) {
	p.skipCFWS()
	local, ok = p.localPart()
	if !ok {
		return "", "", false
	}
	p.skipCFWS()
	if p.eof() || p.peek() != '@' {
		return "", "", false
	}
	p.pos++
	host, ok = p.domain()
	return local, host, ok
}

// localPart parses a dot-atom or quoted string, or the obsolete mix of
// words and dots.
func (p *addrParser) localPart() (string, bool) {
	var b strings.Builder
	needQuotes := false
	for {
		p.skipCFWS()
		if p.eof() {
			break
		}
		if p.peek() == '"' {
			q, ok := p.quoted()
			if !ok {
				return "", false
			}
			if !isDotAtom(q) {
				needQuotes = true
			}
			b.WriteString(q)
		} else if a := p.atom(); a != "" {
			b.WriteString(a)
		} else {
			return "", false
		}
		p.skipCFWS()
		if p.eof() || p.peek() != '.' {
			break
		}
		p.pos++
		b.WriteByte('.')
	}
	s := b.String()
	if s == "" {
		return "", false
	}
	if needQuotes {
		return quoteLocal(s), true
	}
	return s, true
}

// domain parses a dot-atom or a domain literal.
func (p *addrParser) domain() (string, bool) {
	p.skipCFWS()
	if p.eof() {
		return "", false
	}
	if p.peek() == '[' {
		end := strings.IndexByte(p.s[p.pos:], ']')
		if end < 0 {
			return "", false
		}
		lit := p.s[p.pos : p.pos+end+1]
		p.pos += end + 1
		return strings.Join(strings.Fields(lit), ""), true
	}
	var parts []string
	for {
		p.skipCFWS()
		a := p.atom()
		if a == "" {
			return "", false
		}
		parts = append(parts, a)
		p.skipCFWS()
		if p.eof() || p.peek() != '.' {
			return strings.Join(parts, "."), true
		}
		p.pos++
	}
}

// phrase parses a display name: words (atoms, quoted strings and, as RFC
// 5322 section 4.1 allows, dots) joined by one space, with encoded words
// decoded. ok is false when there is no word.
func (p *addrParser) phrase() (string, bool) {
	var words []string
	quoted := false
	for {
		p.skipCFWS()
		if p.eof() {
			break
		}
		if c := p.peek(); c == '"' {
			q, ok := p.quoted()
			if !ok {
				return "", false
			}
			words = append(words, q)
			quoted = true
			continue
		} else if c == '.' && len(words) > 0 {
			p.pos++
			words[len(words)-1] += "."
			continue
		}
		a := p.atom()
		if a == "" {
			break
		}
		words = append(words, a)
	}
	if len(words) == 0 {
		return "", quoted
	}
	return decodeWords(strings.Join(words, " ")), true
}

// atom reads atext characters (RFC 5322 section 3.2.3), and any byte
// beyond ASCII, as RFC 6532 allows UTF-8 there.
func (p *addrParser) atom() string {
	start := p.pos
	for !p.eof() && isAtext(p.peek()) {
		p.pos++
	}
	return p.s[start:p.pos]
}

// quoted reads a quoted string and returns its content, unescaped.
func (p *addrParser) quoted() (string, bool) {
	var b strings.Builder
	p.pos++ // opening quote
	for !p.eof() {
		c := p.peek()
		p.pos++
		switch c {
		case '"':
			return b.String(), true
		case '\\':
			if !p.eof() {
				if c := p.peek(); c != '\r' && c != '\n' {
					b.WriteByte(c)
				}
				p.pos++
			}
		case '\r', '\n':
		default:
			b.WriteByte(c)
		}
	}
	return "", false
}

// skipCFWS skips white space and comments, remembering the last comment.
func (p *addrParser) skipCFWS() {
	for !p.eof() {
		switch p.peek() {
		case ' ', '\t', '\r', '\n':
			p.pos++
		case '(':
			p.skipComment()
		default:
			return
		}
	}
}

// skipComment skips a comment, nested comments included, and keeps its
// text in p.comment.
func (p *addrParser) skipComment() {
	var b strings.Builder
	depth := 0
	for !p.eof() {
		c := p.peek()
		p.pos++
		switch c {
		case '(':
			if depth > 0 {
				b.WriteByte(c)
			}
			depth++
		case ')':
			depth--
			if depth == 0 {
				p.comment = b.String()
				return
			}
			b.WriteByte(c)
		case '\\':
			if !p.eof() {
				if c := p.peek(); c != '\r' && c != '\n' {
					b.WriteByte(c)
				}
				p.pos++
			}
		case '\r', '\n':
		default:
			b.WriteByte(c)
		}
	}
	p.comment = b.String()
}

func isAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c >= 0x80:
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '.' && !isAtext(s[i]) {
			return false
		}
	}
	return true
}

func quoteLocal(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

var addrWordDecoder = mime.WordDecoder{CharsetReader: func(charset string, input io.Reader) (io.Reader, error) {
	if gomessage.CharsetReader == nil {
		return nil, mime.ErrInvalidMediaParameter
	}
	return gomessage.CharsetReader(charset, input)
}}

// decodeWords decodes the encoded words of a display name (RFC 2047); a
// name that does not decode is kept as it stands.
func decodeWords(s string) string {
	if !strings.Contains(s, "=?") {
		return s
	}
	d, err := addrWordDecoder.DecodeHeader(s)
	if err != nil || d == "" {
		return s
	}
	return d
}
