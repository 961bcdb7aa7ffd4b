package spam

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"path"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
)

// Limits that keep a hostile message from costing unbounded time or memory.
// Spam signal lives in the first few kilobytes of a part; a 20 MB attachment
// adds nothing but work.
const (
	maxDepth      = 8         // MIME nesting levels followed
	maxParts      = 64        // MIME parts looked at per message
	maxPartBytes  = 256 << 10 // decoded bytes of one text part tokenized
	maxTokens     = 8000      // distinct tokens per message
	maxHeaderSize = 64 << 10  // header bytes parsed
)

// Tokenize splits a raw RFC 5322 message (an mbox "From " first line is
// skipped) into the distinct tokens the classifier scores.
//
// Header tokens carry the field name as prefix ("subject:free",
// "from:domain:example.com", "received:mail.example.net"); only fields a
// real mailbox shows and a sender controls are read, so headers added on
// delivery (Delivered-To, Return-Path, our own X-Spam-*) and mailing-list
// plumbing (List-*, Precedence, X-Mailman-*) never train the filter. Bodies
// of every text part are decoded (base64, quoted-printable, charset to
// UTF-8), HTML is reduced to its text plus a few "html:" tag tokens, URLs
// become "url:" host and path tokens, CJK runs become overlapping bigrams.
// Everything is lower-cased and each token appears once: like bogofilter and
// SpamBayes we count in how many messages a token occurs, not how often.
func Tokenize(msg []byte) []string {
	t := &tokenizer{seen: make(map[string]struct{}, 256)}
	if bytes.HasPrefix(msg, []byte("From ")) {
		if i := bytes.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		} else {
			msg = nil
		}
	}
	t.entity(msg, 0, true)
	// Message-wide shape: how many links, and whether any plain text
	// was offered at all (hand-written mail nearly always has some).
	t.add("url:count:" + countBucket(t.nurls))
	if t.html && !t.plain {
		t.add("html:only")
	}
	return t.out
}

// tokenizer collects distinct tokens of one message.
type tokenizer struct {
	seen  map[string]struct{}
	out   []string
	parts int

	nurls int  // URLs seen
	html  bool // an HTML part was seen
	plain bool // a text/plain part with words was seen
}

// add records tok once. Callers pass lower-cased, length-checked tokens.
func (t *tokenizer) add(tok string) {
	if tok == "" || len(t.out) >= maxTokens {
		return
	}
	if _, ok := t.seen[tok]; ok {
		return
	}
	t.seen[tok] = struct{}{}
	t.out = append(t.out, tok)
}

// field is one header field, unfolded.
type field struct{ name, value string }

// splitHeader separates header fields from the body. It is lenient on
// purpose: spam is often malformed, and a line that is neither a field nor a
// continuation is skipped rather than ending the parse.
func splitHeader(msg []byte) (fields []field, body []byte) {
	rest := msg
	for len(rest) > 0 {
		if len(msg)-len(rest) > maxHeaderSize {
			break
		}
		i := bytes.IndexByte(rest, '\n')
		var line []byte
		if i < 0 {
			line, rest = rest, nil
		} else {
			line, rest = rest[:i], rest[i+1:]
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			return fields, rest
		}
		if line[0] == ' ' || line[0] == '\t' {
			if n := len(fields); n > 0 {
				fields[n-1].value += " " + string(bytes.TrimSpace(line))
			}
			continue
		}
		c := bytes.IndexByte(line, ':')
		if c <= 0 || bytes.ContainsAny(line[:c], " \t") {
			continue
		}
		fields = append(fields, field{
			name:  strings.ToLower(string(line[:c])),
			value: string(bytes.TrimSpace(line[c+1:])),
		})
	}
	return fields, rest
}

// getField returns the first value of the lower-case field name.
func getField(fields []field, name string) string {
	for _, f := range fields {
		if f.name == name {
			return f.value
		}
	}
	return ""
}

// entity tokenizes one MIME entity; top says whether its header is the
// message header (and so carries Subject, From, Received...).
func (t *tokenizer) entity(raw []byte, depth int, top bool) {
	t.parts++
	if depth > maxDepth || t.parts > maxParts {
		return
	}
	fields, body := splitHeader(raw)
	if top {
		t.headers(fields)
	}
	ctype := getField(fields, "content-type")
	mediatype, params, err := mime.ParseMediaType(ctype)
	if err != nil || mediatype == "" {
		// RFC 2045 section 5.2: a missing or broken Content-Type means
		// text/plain; broken ones are a signal of their own.
		if ctype != "" {
			t.add("content-type:invalid")
		}
		mediatype, params = "text/plain", map[string]string{}
	}
	t.add("content-type:" + clip(mediatype, 40))
	cte := strings.ToLower(strings.TrimSpace(getField(fields, "content-transfer-encoding")))
	if cte != "" {
		t.add("encoding:" + clip(cte, 30))
	}
	if fn := filename(fields, params); fn != "" {
		if ext := strings.ToLower(path.Ext(fn)); ext != "" {
			t.add("filename:" + clip(ext, 12))
		}
	}

	switch {
	case strings.HasPrefix(mediatype, "multipart/"):
		boundary := params["boundary"]
		if boundary == "" {
			t.add("multipart:noboundary")
			return
		}
		mr := multipart.NewReader(bytes.NewReader(body), boundary)
		for t.parts < maxParts {
			p, err := mr.NextRawPart()
			if err != nil {
				break
			}
			// NextRawPart has parsed the part header already; rebuild the
			// raw entity so one code path handles every part.
			var buf bytes.Buffer
			for k, vs := range p.Header {
				for _, v := range vs {
					buf.WriteString(k + ": " + v + "\n")
				}
			}
			buf.WriteByte('\n')
			if _, err := io.Copy(&buf, io.LimitReader(p, maxPartBytes*2)); err != nil && buf.Len() == 0 {
				break
			}
			t.entity(buf.Bytes(), depth+1, false)
		}
	case mediatype == "message/rfc822":
		// A forwarded or bounced message: its body words count, its
		// transport headers belong to someone else.
		t.entity(decodeCTE(body, cte), depth+1, false)
	case strings.HasPrefix(mediatype, "text/"):
		text := toUTF8(decodeCTE(body, cte), params["charset"])
		if cs := strings.ToLower(params["charset"]); cs != "" {
			t.add("charset:" + clip(cs, 30))
		}
		if mediatype == "text/html" || (mediatype == "text/plain" && looksHTML(text)) {
			t.html = true
			text = t.htmlText(text)
		} else if strings.TrimSpace(text) != "" {
			t.plain = true
		}
		t.text(text, "")
	}
}

// filename returns the attachment's file name from Content-Disposition or
// the Content-Type name parameter.
func filename(fields []field, ctParams map[string]string) string {
	if cd := getField(fields, "content-disposition"); cd != "" {
		if _, p, err := mime.ParseMediaType(cd); err == nil && p["filename"] != "" {
			return p["filename"]
		}
	}
	return ctParams["name"]
}

// decodeCTE undoes the Content-Transfer-Encoding, leniently: a broken
// encoding yields whatever decoded before the error, or the raw bytes.
func decodeCTE(body []byte, cte string) []byte {
	if len(body) > maxPartBytes*2 {
		body = body[:maxPartBytes*2]
	}
	switch cte {
	case "base64":
		// Strip everything outside the alphabet (line breaks, junk) so a
		// sloppy encoder does not hide the text.
		clean := make([]byte, 0, len(body))
		for _, c := range body {
			if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' {
				clean = append(clean, c)
			}
		}
		if len(clean)%4 == 1 { // a lone trailing sextet holds no byte
			clean = clean[:len(clean)-1]
		}
		out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
		n, _ := base64.RawStdEncoding.Decode(out, clean)
		return out[:n]
	case "quoted-printable":
		out, err := io.ReadAll(io.LimitReader(quotedprintable.NewReader(bytes.NewReader(body)), maxPartBytes))
		if err != nil && len(out) == 0 {
			return body
		}
		return out
	}
	return body
}

// toUTF8 converts text in the named charset to valid UTF-8. Unknown
// charsets and undeclared 8-bit text fall back to Windows-1252, the usual
// truth behind "iso-8859-1" and "unknown-8bit" in 2000s mail.
func toUTF8(b []byte, cs string) string {
	if len(b) > maxPartBytes {
		b = b[:maxPartBytes]
	}
	if enc := lookupCharset(cs); enc != nil {
		if out, err := enc.NewDecoder().Bytes(b); err == nil {
			return strings.ToValidUTF8(string(out), " ")
		}
	}
	if utf8.Valid(b) {
		return string(b)
	}
	out, _ := charmap.Windows1252.NewDecoder().Bytes(b)
	return strings.ToValidUTF8(string(out), " ")
}

// lookupCharset finds a decoder for a MIME charset name; nil for UTF-8,
// ASCII and names x/text does not know.
func lookupCharset(cs string) encoding.Encoding {
	cs = strings.ToLower(strings.Trim(cs, `"' `))
	switch cs {
	case "", "utf-8", "utf8", "us-ascii", "ascii":
		return nil
	case "ks_c_5601-1987": // Outlook's name for what WHATWG calls euc-kr.
		cs = "euc-kr"
	}
	if enc, err := htmlindex.Get(cs); err == nil {
		return enc
	}
	if enc, err := ianaindex.MIME.Encoding(cs); err == nil && enc != nil {
		return enc
	}
	return nil
}

// wordDecoder decodes RFC 2047 encoded words in any charset x/text knows.
var wordDecoder = &mime.WordDecoder{CharsetReader: func(cs string, r io.Reader) (io.Reader, error) {
	if enc := lookupCharset(cs); enc != nil {
		return enc.NewDecoder().Reader(r), nil
	}
	return r, nil
}}

// decodeHeader decodes RFC 2047 encoded words, keeping the raw value when
// decoding fails, and makes the result valid UTF-8.
func decodeHeader(v string) string {
	if strings.Contains(v, "=?") {
		if d, err := wordDecoder.DecodeHeader(v); err == nil {
			v = d
		}
	}
	if !utf8.ValidString(v) {
		return toUTF8([]byte(v), "")
	}
	return v
}

// clip limits s to n bytes without splitting a UTF-8 sequence.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// TokenizeText returns the distinct tokens of free text (a ticket's subject
// and first mail, say) the way message bodies are tokenized, with the
// subject's words marked "subject:" so they weigh apart from the body's.
func TokenizeText(subject, body string) []string {
	t := &tokenizer{seen: make(map[string]struct{}, 128)}
	t.text(decodeHeader(subject), "subject:")
	t.text(body, "")
	return t.out
}
