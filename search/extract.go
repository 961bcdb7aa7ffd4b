package search

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // non-UTF-8 charsets of text parts and encoded words
	"github.com/emersion/go-message/mail"
	"golang.org/x/net/html"
)

// Field names a part of a message that Candidates can search, after the
// IMAP SEARCH keys of RFC 9051 §6.4.4.
type Field int

// The searchable fields.
const (
	FieldText    Field = iota // TEXT: every header field and the body
	FieldBody                 // BODY: the body's text, HTML text and attachment names
	FieldSubject              // SUBJECT
	FieldFrom                 // FROM
	FieldTo                   // TO
	FieldCc                   // CC
	FieldBcc                  // BCC
)

// Limits on what Extract reads, so one huge message cannot stall indexing.
// A message cut short is marked Partial and is then always a candidate.
const (
	maxTextBytes = 2 << 20 // decoded body text kept per message
	maxParts     = 500     // MIME parts walked per message
	maxDepth     = 10      // nesting of multiparts and message/rfc822
)

// Doc is the text of a message as the index sees it: decoded encoded words,
// transfer encodings and charsets, HTML reduced to its text. Candidates is
// exact with respect to Doc: it returns every message whose Doc.Field(f)
// contains the searched string under Fold.
type Doc struct {
	Subject string
	From    string // addresses as `Name <addr>`, comma-separated
	To      string
	Cc      string
	Bcc     string
	Date    time.Time // the Date header; zero when missing or unparsable
	// Header holds every header field of the message as "Key: value"
	// lines, encoded words decoded.
	Header string
	// Body holds the text of every text part (HTML reduced to text) and of
	// embedded messages, then the attachment file names, one per line.
	Body        string
	Attachments []string
	// Partial is set when the message could not be read in full (a
	// malformed part, an unknown charset, a limit reached): such a message
	// is a candidate for every search of its mailbox.
	Partial bool
}

// Field returns the text of field f. FieldText is the header, a newline
// and the body.
func (d *Doc) Field(f Field) string {
	switch f {
	case FieldText:
		return d.Header + "\n" + d.Body
	case FieldBody:
		return d.Body
	case FieldSubject:
		return d.Subject
	case FieldFrom:
		return d.From
	case FieldTo:
		return d.To
	case FieldCc:
		return d.Cc
	case FieldBcc:
		return d.Bcc
	}
	return ""
}

// Fold maps s to the form searches compare: every rune to one
// representative of its case (lower case of its upper case, so that Σ, σ
// and ς, or K and the Kelvin sign, meet). It keeps the number of runes, so
// a substring of s folds to a substring of Fold(s).
func Fold(s string) string {
	// Most mail is ASCII: fold it a byte at a time.
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		b.WriteRune(foldRune(r))
	}
	return b.String()
}

func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return r
	}
	return unicode.ToLower(unicode.ToUpper(r))
}

// Extract decodes a message into the text the index holds. It never fails:
// what cannot be parsed is indexed as far as it can be read, and the Doc is
// marked Partial.
func Extract(msg []byte) Doc {
	var d Doc
	e, err := message.Read(bytes.NewReader(msg))
	if e == nil {
		// Not even a header block: index the bytes as text.
		d.Body = clean(msg)
		d.Partial = true
		return d
	}
	if err != nil {
		d.Partial = true
	}
	h := mail.Header{Header: e.Header}
	d.Subject = headerText(e.Header, "Subject")
	d.From = addresses(h, "From")
	d.To = addresses(h, "To")
	d.Cc = addresses(h, "Cc")
	d.Bcc = addresses(h, "Bcc")
	if t, err := h.Date(); err == nil {
		d.Date = t
	}
	d.Header = headerLines(e.Header)

	x := extractor{doc: &d}
	x.walk(e, 0)
	x.body.WriteString(strings.Join(d.Attachments, "\n"))
	d.Body = strings.TrimRight(x.body.String(), "\n")
	return d
}

type extractor struct {
	doc   *Doc
	body  strings.Builder
	parts int
}

func (x *extractor) walk(e *message.Entity, depth int) {
	x.parts++
	if x.parts > maxParts || depth > maxDepth {
		x.doc.Partial = true
		return
	}
	mt, params, err := e.Header.ContentType()
	if err != nil || mt == "" {
		mt = "text/plain" // RFC 2045 §5.2 default, also for a broken header
	}
	if name := partName(e.Header, params); name != "" {
		x.doc.Attachments = append(x.doc.Attachments, name)
	}
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		mr := e.MultipartReader()
		if mr == nil {
			x.doc.Partial = true
			return
		}
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return
			}
			if p == nil {
				x.doc.Partial = true // a broken boundary: keep what was read
				return
			}
			if err != nil {
				x.doc.Partial = true
			}
			x.walk(p, depth+1)
		}
	case mt == "message/rfc822" || mt == "message/global":
		inner, err := message.Read(e.Body)
		if inner == nil {
			x.doc.Partial = true
			return
		}
		if err != nil {
			x.doc.Partial = true
		}
		x.add(headerLines(inner.Header))
		x.walk(inner, depth+1)
	case mt == "text/html":
		b := x.read(e.Body)
		x.add(htmlText(b))
	case strings.HasPrefix(mt, "text/"):
		x.add(clean(x.read(e.Body)))
	}
}

// read reads a part's decoded body, within what remains of the budget.
func (x *extractor) read(r io.Reader) []byte {
	room := maxTextBytes - x.body.Len()
	if room <= 0 {
		x.doc.Partial = true
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(r, int64(room)+1))
	if err != nil {
		x.doc.Partial = true // bad base64 and the like: keep what decoded
	}
	if len(b) > room {
		b = b[:room]
		x.doc.Partial = true
	}
	return b
}

func (x *extractor) add(s string) {
	if s == "" {
		return
	}
	x.body.WriteString(s)
	if !strings.HasSuffix(s, "\n") {
		x.body.WriteByte('\n')
	}
}

// partName returns a part's file name: Content-Disposition filename,
// else the Content-Type name parameter (RFC 2183, RFC 2231 via mime).
func partName(h message.Header, ctParams map[string]string) string {
	ah := mail.AttachmentHeader{Header: h}
	name, err := ah.Filename()
	if err != nil || name == "" {
		name = ctParams["name"]
		if dec, err := new(mime.WordDecoder).DecodeHeader(name); err == nil {
			name = dec
		}
	}
	return strings.TrimSpace(cleanString(name))
}

func headerText(h message.Header, key string) string {
	v, err := h.Text(key)
	if err != nil {
		v = h.Get(key)
	}
	return strings.TrimSpace(cleanString(v))
}

// addresses renders an address header as `Name <addr>, ...`, or as its
// decoded text when it does not parse.
func addresses(h mail.Header, key string) string {
	if h.Get(key) == "" {
		return ""
	}
	list, err := h.AddressList(key)
	if err != nil || len(list) == 0 {
		return headerText(h.Header, key)
	}
	parts := make([]string, 0, len(list))
	for _, a := range list {
		if a.Name != "" {
			parts = append(parts, a.Name+" <"+a.Address+">")
		} else {
			parts = append(parts, "<"+a.Address+">")
		}
	}
	return cleanString(strings.Join(parts, ", "))
}

func headerLines(h message.Header) string {
	var b strings.Builder
	fields := h.Fields()
	for fields.Next() {
		v, err := fields.Text()
		if err != nil {
			v = fields.Value()
		}
		b.WriteString(fields.Key())
		b.WriteString(": ")
		b.WriteString(strings.TrimSpace(cleanString(v)))
		b.WriteByte('\n')
	}
	return b.String()
}

// htmlText returns the text of an HTML document: entities decoded, script
// and style dropped, block boundaries as newlines.
func htmlText(b []byte) string {
	z := html.NewTokenizer(bytes.NewReader(b))
	var out strings.Builder
	skip := 0
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return strings.TrimSpace(cleanString(out.String()))
		case html.TextToken:
			if skip == 0 {
				out.Write(z.Text())
			}
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			tag := string(name)
			switch tag {
			case "script", "style":
				if tt == html.StartTagToken {
					skip++
				} else if skip > 0 {
					skip--
				}
			case "br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "pre", "hr":
				out.WriteByte('\n')
			case "td", "th":
				out.WriteByte(' ')
			}
		}
	}
}

// clean makes text valid UTF-8 with plain newlines.
func clean(b []byte) string { return cleanString(string(b)) }

func cleanString(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if strings.IndexByte(s, '\r') >= 0 {
		s = strings.ReplaceAll(s, "\r\n", "\n")
	}
	return s
}
