package smtpd

import (
	"crypto/rand"
	"encoding/base32"
	"net"
	"strings"
	"time"
)

// trace is what goes into the Received header of one transaction.
type trace struct {
	helo     string // the client's EHLO/HELO argument
	rdns     string // the client's reverse DNS name, "" if none
	ip       net.IP
	hostname string
	tls      bool
	auth     bool
	utf8     bool   // MAIL FROM carried SMTPUTF8
	id       string // transaction id, also in the log
	rcpt     string // the one recipient, or "" when there are several
	date     time.Time
}

// header returns the Received header (RFC 5321 §4.4), folded, ending in
// CRLF:
//
//	Received: from HELO (RDNS [IP])
//		by HOSTNAME (Frontdesk) with ESMTPSA id ID
//		for <RCPT>; DATE
//
// The "with" protocol is ESMTP, or UTF8SMTP when the transaction used
// SMTPUTF8 (RFC 6531 §3.7.3), with S appended for TLS and A for
// authentication (RFC 3848). "for" is given only for a single recipient,
// so one copy never reveals the other (Bcc) recipients.
func (t *trace) header() []byte {
	var b strings.Builder
	b.WriteString("Received: from ")
	b.WriteString(traceToken(t.helo, "unknown"))
	b.WriteString(" (")
	if t.rdns != "" {
		b.WriteString(traceToken(t.rdns, ""))
		b.WriteString(" ")
	}
	b.WriteString(addressLiteral(t.ip))
	b.WriteString(")\r\n\tby ")
	b.WriteString(traceToken(t.hostname, "localhost"))
	b.WriteString(" (Frontdesk) with ")
	b.WriteString(t.protocol())
	b.WriteString(" id ")
	b.WriteString(t.id)
	if t.rcpt != "" {
		b.WriteString("\r\n\tfor <")
		b.WriteString(traceToken(t.rcpt, ""))
		b.WriteString(">")
	}
	b.WriteString(";\r\n\t")
	b.WriteString(t.date.Format(time.RFC1123Z))
	b.WriteString("\r\n")
	return []byte(b.String())
}

func (t *trace) protocol() string {
	p := "ESMTP"
	if t.utf8 {
		p = "UTF8SMTP"
	}
	if t.tls {
		p += "S"
	}
	if t.auth {
		p += "A"
	}
	return p
}

// addressLiteral formats an IP as in RFC 5321 §4.1.3.
func addressLiteral(ip net.IP) string {
	switch {
	case ip == nil:
		return "[unknown]"
	case ip.To4() != nil:
		return "[" + ip.String() + "]"
	}
	return "[IPv6:" + ip.String() + "]"
}

// traceToken makes client-supplied text safe inside the header: the HELO
// argument is whatever the client sent, and must not end the header,
// close the comment or smuggle in control characters.
func traceToken(s, empty string) string {
	if len(s) > 255 {
		s = s[:255]
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 0x21 || r == 0x7f || r == '(' || r == ')' || r == '\\' || r == ';' || r == '"' || r == '<' || r == '>':
			b.WriteByte('_')
		case r == 0xfffd:
			b.WriteByte('?') // invalid UTF-8
		default:
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return empty
	}
	return b.String()
}

var idEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// newID returns a transaction id: random, so ids from several servers or
// restarts never collide in logs.
func newID() string {
	b := make([]byte, 10)
	rand.Read(b)
	return idEncoding.EncodeToString(b)
}
