package dkim

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/textproto"
	"strings"

	msgdkim "github.com/emersion/go-msgauth/dkim"
)

// signedFields are the header fields signed when present, in the order
// they appear in h=. RFC 6376 §5.4.1 asks for the fields that carry the
// message's meaning and that a recipient sees; Received and other trace
// fields are left out because relays add them.
var signedFields = []string{
	"From", "Sender", "Reply-To", "To", "Cc", "Subject", "Date",
	"Message-ID", "In-Reply-To", "References",
	"MIME-Version", "Content-Type", "Content-Transfer-Encoding",
	"Content-Disposition", "Content-Language",
	"List-Id", "List-Help", "List-Unsubscribe", "List-Unsubscribe-Post",
	"List-Subscribe", "List-Post", "List-Owner", "List-Archive",
}

// oversigned are listed in h= once more than they occur (RFC 6376 §5.4.2,
// §8.15): a verifier then hashes "no field" for the extra name, so a field
// of that name added later — a second From above the signed one, which
// many MUAs would show — breaks the signature. These are the RFC 5322 §3.6
// fields that may occur at most once, so no legitimate relay adds them.
var oversigned = map[string]bool{
	"From": true, "Reply-To": true, "To": true, "Cc": true, "Subject": true,
	"Date": true, "Message-ID": true, "In-Reply-To": true, "References": true,
	"MIME-Version": true, "Content-Type": true, "Content-Transfer-Encoding": true,
}

// Sign signs msg with every key and returns msg with one DKIM-Signature
// field per key prepended, in the order of keys. Signatures use
// relaxed/relaxed canonicalization (RFC 6376 §3.4.2, §3.4.4: survives the
// re-folding and whitespace changes of relays), carry t= and no l= (a body
// length limit lets anyone append content, §8.2).
//
// msg may use CRLF or LF line endings; the added fields use the same.
func Sign(msg []byte, keys []*Key) ([]byte, error) {
	if len(keys) == 0 {
		return nil, errors.New("dkim: sign: no keys")
	}
	msg = withHeaderEnd(msg)
	names, _, err := headerFields(msg)
	if err != nil {
		return nil, fmt.Errorf("dkim: sign: %w", err)
	}
	headerKeys := signedHeaderKeys(names)
	if headerKeys == nil {
		return nil, errors.New("dkim: sign: message has no From field (RFC 6376 §5.4)")
	}
	var sigs []string
	for _, key := range keys {
		if key == nil || key.Signer == nil || key.Domain == "" || key.Selector == "" {
			return nil, errors.New("dkim: sign: incomplete key")
		}
		s, err := msgdkim.NewSigner(&msgdkim.SignOptions{
			Domain:                 key.Domain,
			Selector:               key.Selector,
			Signer:                 key.Signer,
			HeaderCanonicalization: msgdkim.CanonicalizationRelaxed,
			BodyCanonicalization:   msgdkim.CanonicalizationRelaxed,
			HeaderKeys:             headerKeys,
		})
		if err != nil {
			return nil, fmt.Errorf("dkim: sign with %s: %w", key.Selector, err)
		}
		if _, err := s.Write(msg); err != nil {
			s.Close()
			return nil, fmt.Errorf("dkim: sign with %s: %w", key.Selector, err)
		}
		if err := s.Close(); err != nil {
			return nil, fmt.Errorf("dkim: sign with %s: %w", key.Selector, err)
		}
		sigs = append(sigs, s.Signature())
	}
	lf := usesLF(msg)
	var out bytes.Buffer
	out.Grow(len(msg) + 600*len(sigs))
	for _, sig := range sigs {
		if lf {
			sig = strings.ReplaceAll(sig, "\r\n", "\n")
		}
		out.WriteString(sig)
	}
	out.Write(msg)
	return out.Bytes(), nil
}

// signedHeaderKeys returns h= for a header with the given field names, or
// nil when there is no From.
func signedHeaderKeys(names []string) []string {
	count := map[string]int{}
	for _, n := range names {
		count[strings.ToLower(n)]++
	}
	if count["from"] == 0 {
		return nil
	}
	var keys []string
	for _, f := range signedFields {
		n := count[strings.ToLower(f)]
		if oversigned[f] {
			n++
		}
		for range n {
			keys = append(keys, f)
		}
	}
	return keys
}

// headerFields returns the names of msg's header fields in order, and the
// unfolded raw fields, split the way go-msgauth splits them (a line
// starting with white space continues the previous field) so that the
// n-th DKIM-Signature here is the n-th one it verifies.
func headerFields(msg []byte) (names, fields []string, err error) {
	tr := textproto.NewReader(bufio.NewReader(bytes.NewReader(msg)))
	for {
		l, err := tr.ReadLine()
		if err != nil {
			return nil, nil, fmt.Errorf("reading header: %w", err)
		}
		if l == "" {
			return names, fields, nil
		}
		if len(fields) > 0 && (l[0] == ' ' || l[0] == '\t') {
			fields[len(fields)-1] += "\r\n" + l
			continue
		}
		name, _, _ := strings.Cut(l, ":")
		names = append(names, strings.TrimSpace(name))
		fields = append(fields, l)
	}
}

// withHeaderEnd returns msg with the empty line that ends the header
// added when msg has no body: RFC 5322 §3.5 makes the body optional, but
// the DKIM code needs the separator.
func withHeaderEnd(msg []byte) []byte {
	if bytes.HasPrefix(msg, []byte("\r\n")) || bytes.HasPrefix(msg, []byte("\n")) ||
		bytes.Contains(msg, []byte("\n\r\n")) || bytes.Contains(msg, []byte("\n\n")) {
		return msg
	}
	nl := "\r\n"
	if usesLF(msg) {
		nl = "\n"
	}
	out := append([]byte(nil), msg...)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, nl...)
	}
	return append(out, nl...)
}

// usesLF reports whether msg's first line ends in a bare LF.
func usesLF(msg []byte) bool {
	i := bytes.IndexByte(msg, '\n')
	return i >= 0 && (i == 0 || msg[i-1] != '\r')
}
