package imapserver

import (
	"bytes"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/internal/imapwire"
)

// WriteBinarySectionData writes a binary section whose decoded content is
// b. Content with a NUL octet goes in a literal8, anything else in a plain
// literal, so that clients can tell binary data from text without scanning
// it (RFC 9051 section 7.5.2, RFC 3516 section 4.3).
func (w *FetchResponseWriter) WriteBinarySectionData(section *imap.FetchItemBinarySection, b []byte) error {
	w.writeItemSep()
	enc := w.enc.Encoder
	writeItemBinarySection(enc, section)
	enc.SP()
	if bytes.IndexByte(b, 0) >= 0 {
		enc.Special('~') // literal8
	}
	wc := w.enc.Literal(int64(len(b)))
	_, err := wc.Write(b)
	if cerr := wc.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeItemBinarySection writes "BINARY[part]", then "<origin>" for a
// partial fetch (RFC 3516 section 4.2: the answer names the origin only).
func writeItemBinarySection(enc *imapwire.Encoder, section *imap.FetchItemBinarySection) {
	enc.Atom("BINARY").Special('[')
	writeSectionPart(enc, section.Part)
	enc.Special(']')
	if partial := section.Partial; partial != nil {
		enc.Special('<').Number(uint32(partial.Offset)).Special('>')
	}
}
