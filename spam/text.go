package spam

import (
	"html"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Word length limits, in runes. Shorter words are mostly stop words; longer
// ones are hashes, base64 debris and run-together URLs. Like SpamBayes we
// replace an over-long word by a "skip:" token of its first letter and
// rough length, which keeps a little signal at bounded vocabulary cost.
const (
	minWord = 3
	maxWord = 20
)

// text tokenizes free text: URLs first (and blanked out, so their pieces
// do not also count as words), then words and CJK bigrams. prefix marks the
// source ("subject:", "from:name:"); body text has none.
func (t *tokenizer) text(s, prefix string) {
	if prefix == "" {
		s = t.urls(s)
	}
	var cjk []rune
	flushCJK := func() {
		// CJK has no spaces between words; overlapping bigrams are the
		// usual stand-in (e.g. 你好世界 → 你好 好世 世界).
		if len(cjk) == 1 {
			t.add(prefix + string(cjk))
		}
		for i := 0; i+1 < len(cjk); i++ {
			t.add(prefix + string(cjk[i:i+2]))
		}
		cjk = cjk[:0]
	}
	start := -1 // byte offset of the current word, -1 when outside one
	for i, r := range s {
		switch {
		case isCJK(r):
			if start >= 0 {
				t.word(prefix, s[start:i])
				start = -1
			}
			cjk = append(cjk, r)
		case isWordRune(r):
			if len(cjk) > 0 {
				flushCJK()
			}
			if start < 0 {
				start = i
			}
		default:
			if len(cjk) > 0 {
				flushCJK()
			}
			if start >= 0 {
				t.word(prefix, s[start:i])
				start = -1
			}
		}
	}
	if start >= 0 {
		t.word(prefix, s[start:])
	}
	flushCJK()
}

// isWordRune reports runes that make up a word. '$', '%' and inner
// punctuation stay so "$19.95", "100%" and "e-mail" are single tokens.
func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '$' || r == '%' || r == '\'' || r == '-' || r == '.' || r == '_'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || r == '€' || r == '£'
}

// isCJK reports Han, kana and Hangul runes.
func isCJK(r rune) bool {
	if r < 0x2E80 {
		return false
	}
	return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) ||
		unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Hangul, r)
}

// word normalizes and emits one word.
func (t *tokenizer) word(prefix, w string) {
	w = strings.Trim(w, "'-._")
	if w == "" {
		return
	}
	n := utf8.RuneCountInString(w)
	if n > maxWord {
		r, _ := utf8.DecodeRuneInString(w)
		t.add(prefix + "skip:" + strings.ToLower(string(r)) + " " + strconv.Itoa(n/10*10))
		return
	}
	if n < minWord && !strings.ContainsAny(w, "$%") {
		return
	}
	// Pure numbers (dates, order numbers, prices without a currency sign)
	// are noise; they would bloat the database with single-use tokens.
	letter := false
	for _, r := range w {
		if r > '9' || r == '$' || r == '%' {
			letter = true
			break
		}
	}
	if !letter {
		return
	}
	lw := toLower(w)
	t.add(prefix + lw)
	// Shouting is a habit of advertisers: keep that an all-capitals word
	// was written so, beside its lower-case form.
	if n >= 4 && lw != w && strings.ToUpper(w) == w {
		t.add(prefix + "upper:" + lw)
	}
}

// toLower is strings.ToLower without the allocation for ASCII lower case.
func toLower(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			return strings.ToLower(s)
		}
	}
	return s
}

// urls emits tokens for every http(s), ftp and www. URL in s and returns s
// with the URLs replaced by spaces.
func (t *tokenizer) urls(s string) string {
	lower := toLower(s)
	if len(lower) != len(s) { // case mapping changed lengths; work on lower only
		s = lower
	}
	var b []byte // copy of s made on the first URL
	from := 0
	for {
		i := indexURL(lower[from:])
		if i < 0 {
			break
		}
		i += from
		end := i
		for end < len(lower) && !urlStop(lower[end]) {
			end++
		}
		t.url(strings.TrimRight(lower[i:end], ".,;:!?'"))
		if b == nil {
			b = []byte(s)
		}
		for k := i; k < end; k++ {
			b[k] = ' '
		}
		from = end
	}
	if b == nil {
		return s
	}
	return string(b)
}

// indexURL finds the next URL start in lower-case s.
func indexURL(s string) int {
	best := -1
	for _, p := range [...]string{"http://", "https://", "ftp://", "www."} {
		if i := strings.Index(s, p); i >= 0 && (best < 0 || i < best) {
			if p == "www." && i > 0 && (isWordRune(rune(s[i-1])) || s[i-1] == '/') {
				continue // inside a word or already part of a URL
			}
			best = i
		}
	}
	return best
}

func urlStop(c byte) bool {
	return c <= ' ' || c == '"' || c == '<' || c == '>' || c == '\'' || c == '(' || c == ')' || c == '[' || c == ']' || c == '{' || c == '}' || c == '\\' || c == '^' || c == '`'
}

// url emits "url:" tokens for one lower-case URL: scheme, host and parent
// domains, oddities that phishers use (numeric hosts, user@ prefixes,
// %-escaped hosts, ports), and the words of the path.
func (t *tokenizer) url(u string) {
	t.nurls++
	if i := strings.Index(u, "://"); i >= 0 {
		t.add("url:scheme:" + clip(u[:i], 10))
		u = u[i+3:]
	}
	hostEnd := strings.IndexAny(u, "/?#")
	if hostEnd < 0 {
		hostEnd = len(u)
	}
	h, rest := u[:hostEnd], u[hostEnd:]
	if at := strings.LastIndexByte(h, '@'); at >= 0 {
		t.add("url:userinfo")
		h = h[at+1:]
	}
	if c := strings.LastIndexByte(h, ':'); c >= 0 {
		t.add("url:port")
		h = h[:c]
	}
	if strings.Contains(h, "%") {
		t.add("url:escaped")
	}
	if isIPv4(h) {
		t.add("url:ip")
	}
	t.host("url:", h)
	// Path words: campaign and tracker names recur across a spam run.
	for _, w := range strings.FieldsFunc(rest, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) {
		if len(w) >= minWord && len(w) <= maxWord {
			t.add("url:" + w)
		}
	}
}

// looksHTML reports text/plain parts that are really HTML, which mail
// clients render as such.
func looksHTML(s string) bool {
	head := s
	if len(head) > 2048 {
		head = head[:2048]
	}
	head = toLower(head)
	return strings.Contains(head, "<html") || strings.Contains(head, "<body") ||
		strings.Contains(head, "<table") || strings.Contains(head, "<font")
}

// htmlTags whose presence is worth a token: layout and tricks of bulk
// mail rather than of hand-written messages.
var htmlTags = map[string]bool{
	"img": true, "font": true, "table": true, "a": true, "form": true, "input": true,
	"script": true, "iframe": true, "map": true, "area": true, "center": true,
	"style": true, "object": true, "embed": true, "base": true, "meta": true, "body": true,
}

// blockTags break words when rendered; other tags (font, b, span) and
// comments do not, so "V<b></b>iagra" reads "Viagra" as the reader sees it.
var blockTags = map[string]bool{
	"br": true, "p": true, "div": true, "td": true, "th": true, "tr": true, "li": true,
	"table": true, "h1": true, "h2": true, "h3": true, "h4": true, "hr": true, "title": true,
	"ul": true, "ol": true, "center": true, "blockquote": true, "pre": true, "body": true,
}

// htmlText returns the visible text of an HTML part, emitting "html:" tokens
// for notable tags and url tokens for link and image targets. Script and
// style contents are dropped. A simple scanner, not a parser: it only has to
// be right for text extraction and must never fail.
func (t *tokenizer) htmlText(s string) string {
	var out strings.Builder
	out.Grow(len(s) / 2)
	text := func(chunk string) {
		if strings.IndexByte(chunk, '&') >= 0 {
			chunk = html.UnescapeString(chunk)
		}
		out.WriteString(chunk)
	}
	for len(s) > 0 {
		lt := strings.IndexByte(s, '<')
		if lt < 0 {
			text(s)
			break
		}
		text(s[:lt])
		s = s[lt:]
		if strings.HasPrefix(s, "<!--") {
			t.add("html:comment")
			end := strings.Index(s, "-->")
			if end < 0 {
				break
			}
			s = s[end+3:]
			continue
		}
		gt := strings.IndexByte(s, '>')
		if gt < 0 {
			break
		}
		tag := s[1:gt]
		s = s[gt+1:]
		name, attrs := tagName(tag)
		if htmlTags[name] {
			t.add("html:" + name)
		}
		if blockTags[name] {
			out.WriteByte(' ')
		}
		t.attrs(name, attrs)
		if name == "script" || name == "style" {
			end := indexClose(s, name)
			if end < 0 {
				break
			}
			s = s[end:]
		}
	}
	return out.String()
}

// indexClose finds "</name" in s, ignoring case, without lower-casing
// all of s (which a page of many scripts would make quadratic).
func indexClose(s, name string) int {
	for off := 0; ; {
		i := strings.Index(s[off:], "</")
		if i < 0 {
			return -1
		}
		i += off
		if j := i + 2 + len(name); j <= len(s) && strings.EqualFold(s[i+2:j], name) {
			return i
		}
		off = i + 2
	}
}

// tagName splits "a href=..." into "a" and the attribute text; closing
// tags give "/a".
func tagName(tag string) (name, attrs string) {
	tag = strings.TrimSpace(tag)
	i := strings.IndexAny(tag, " \t\r\n/")
	if i == 0 && strings.HasPrefix(tag, "/") {
		j := strings.IndexAny(tag[1:], " \t\r\n")
		if j < 0 {
			return "/" + toLower(tag[1:]), ""
		}
		return "/" + toLower(tag[1:j+1]), ""
	}
	if i < 0 {
		return toLower(tag), ""
	}
	return toLower(tag[:i]), tag[i:]
}

// attrs emits url tokens for href/src/action targets and a few style
// tricks (tiny or invisible text).
func (t *tokenizer) attrs(name, attrs string) {
	if attrs == "" {
		return
	}
	la := toLower(attrs)
	for _, key := range [...]string{"href=", "src=", "action=", "background="} {
		i := strings.Index(la, key)
		if i < 0 {
			continue
		}
		v := strings.TrimLeft(la[i+len(key):], " \"'")
		if end := strings.IndexAny(v, " \t\r\n\"'>"); end >= 0 {
			v = v[:end]
		}
		switch {
		case strings.HasPrefix(v, "mailto:"):
			t.add("html:mailto")
			addr := v[len("mailto:"):]
			if q := strings.IndexByte(addr, '?'); q >= 0 {
				addr = addr[:q]
			}
			t.domain("url:mailto:", addr)
		case strings.Contains(v, "://"):
			t.url(v)
		}
	}
	if name == "font" {
		if i := strings.Index(la, "size="); i >= 0 {
			v := strings.TrimLeft(la[i+5:], "\"' ")
			n := 0
			for n < len(v) && n < 3 && (v[n] >= '0' && v[n] <= '9' || v[n] == '+' || v[n] == '-') {
				n++
			}
			t.add("html:font:size:" + v[:n])
		}
	}
	if strings.Contains(la, "display:none") || strings.Contains(la, "visibility:hidden") {
		t.add("html:hidden")
	}
}
