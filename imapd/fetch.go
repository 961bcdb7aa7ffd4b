package imapd

import (
	"bufio"
	"bytes"
	"io"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-message/textproto"

	"frontdesk/store"
)

// Fetch answers FETCH (RFC 9051 §6.4.5). FLAGS, UID, INTERNALDATE and
// RFC822.SIZE come from metadata; ENVELOPE reads only the header (cached);
// the message file is read whole only for body items.
func (s *session) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	v := s.sel
	if v == nil {
		return errNoMailbox
	}
	idx := v.resolve(numSet)
	if options.Vanished {
		// Even when none of the set is left (RFC 7162 §3.2.6).
		if err := s.fetchVanished(w, numSet, options.ChangedSince); err != nil {
			return err
		}
	}
	if len(idx) == 0 {
		return nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	var msgs []*store.Message
	var err error
	if options.ChangedSince != 0 {
		msgs, err = s.changedIn(ctx, idx, options.ChangedSince)
	} else {
		msgs, err = s.srv.st.MessagesByUID(ctx, s.acct.ID, v.id, v.uidsOf(idx))
	}
	if err != nil {
		return s.mapErr(err, false)
	}
	// A part that cannot be decoded fails the command before anything is
	// sent or flagged (RFC 3516 §4.3).
	bins, err := s.decodeBinaries(msgs, options)
	if err != nil {
		return err
	}
	// Fetching a body without PEEK sets \Seen (RFC 9051 §6.4.5), and the
	// new flags are sent along even when FLAGS was not asked for.
	seenSet := map[uint32]bool{}
	if !v.readOnly && wantsSeen(options) {
		var unseen []uint32
		for _, m := range msgs {
			if !m.HasFlag(store.FlagSeen) {
				unseen = append(unseen, m.UID)
			}
		}
		if len(unseen) > 0 {
			updated, err := s.srv.st.SetFlags(ctx, s.acct.ID, v.id, unseen, store.FlagsAdd, []string{store.FlagSeen})
			if err != nil {
				return s.mapErr(err, false)
			}
			byUID := make(map[uint32]*store.Message, len(updated))
			for _, m := range updated {
				byUID[m.UID] = m
				seenSet[m.UID] = true
			}
			for i, m := range msgs {
				if u := byUID[m.UID]; u != nil {
					msgs[i] = u
				}
			}
		}
	}
	if options.Flags || len(seenSet) > 0 {
		if err := v.announceFetched(w, msgs); err != nil {
			return err
		}
	}
	needBody := options.BodyStructure != nil || len(options.BodySection) > 0 ||
		len(options.BinarySection) > 0 || len(options.BinarySectionSize) > 0
	// Clients listing a mailbox ask for header fields of every message:
	// those come from the cached header, without reading whole files.
	headerOnly := options.BodyStructure == nil && len(options.BinarySection) == 0 &&
		len(options.BinarySectionSize) == 0 && headerSectionsOnly(options.BodySection)
	condStore := v.enabled(imap.CapCondStore)
	for _, m := range msgs {
		// A message expunged by another session but not yet reported is
		// missing from msgs and silently skipped (RFC 9051 §7.5.1 allows it).
		i, ok := v.find(m.UID)
		if !ok {
			continue
		}
		rw := w.CreateMessage(uint32(i + 1))
		rw.WriteUID(imap.UID(m.UID))
		if options.Flags || seenSet[m.UID] {
			rw.WriteFlags(v.flagsOut(m.UID, m.Flags))
			if m.ModSeq > v.msgs[i].modseq {
				v.msgs[i].modseq, v.msgs[i].flags = m.ModSeq, m.Flags
			}
		}
		if options.ModSeq || condStore && seenSet[m.UID] {
			rw.WriteModSeq(m.ModSeq)
		}
		if options.InternalDate {
			rw.WriteInternalDate(m.InternalDate)
		}
		if options.RFC822Size {
			rw.WriteRFC822Size(m.Size)
		}
		var data []byte
		if needBody && headerOnly {
			data = s.srv.header(s.acct.ID, m)
		} else if needBody {
			data, err = s.srv.st.ReadMessage(s.acct.ID, m)
			if err != nil {
				// Removed between the metadata read and now: answer empty.
				s.log.Debug("imap fetch: read message", "uid", m.UID, "err", err)
				data = nil
			}
		}
		if options.Envelope {
			if data != nil {
				rw.WriteEnvelope(envelopeOf(bytes.NewReader(data)))
			} else {
				rw.WriteEnvelope(s.srv.envelope(s.acct.ID, m))
			}
		}
		if options.BodyStructure != nil {
			rw.WriteBodyStructure(sanitizeBS(imapserver.ExtractBodyStructure(bytes.NewReader(data))))
		}
		for _, bs := range options.BodySection {
			b := bodySection(data, bs)
			if err := writeLiteral(rw.WriteBodySection(bs, int64(len(b))), b); err != nil {
				return err
			}
		}
		if err := bins[m.UID].write(rw, options); err != nil {
			return err
		}
		if err := rw.Close(); err != nil {
			return err
		}
	}
	return nil
}

// headerSectionsOnly reports whether every section is of the top-level
// header: HEADER, HEADER.FIELDS or HEADER.FIELDS.NOT.
func headerSectionsOnly(sections []*imap.FetchItemBodySection) bool {
	for _, bs := range sections {
		if len(bs.Part) > 0 || bs.Specifier != imap.PartSpecifierHeader {
			return false
		}
	}
	return true
}

// header returns a message's header section, blank line included, from
// the cache or the start of its file; nil when the file is gone.
func (s *Server) header(acct uint64, m *store.Message) []byte {
	key := cacheKey{acct, m.File}
	if h, ok := s.headers.get(key); ok {
		return h
	}
	f, err := s.st.OpenMessage(acct, m)
	if err != nil {
		return nil
	}
	defer f.Close()
	// Headers beyond 1 MiB are abuse: serve what there is.
	br := bufio.NewReader(io.LimitReader(f, 1<<20))
	var h []byte
	for {
		line, err := br.ReadBytes('\n')
		h = append(h, line...)
		if len(bytes.TrimRight(line, "\r\n")) == 0 && len(line) > 0 || err != nil {
			break
		}
	}
	s.headers.put(key, h)
	return h
}

func wantsSeen(options *imap.FetchOptions) bool {
	for _, bs := range options.BodySection {
		if !bs.Peek {
			return true
		}
	}
	for _, bs := range options.BinarySection {
		if !bs.Peek {
			return true
		}
	}
	return false
}

func writeLiteral(wc io.WriteCloser, b []byte) error {
	_, err := wc.Write(b)
	if cerr := wc.Close(); err == nil {
		err = cerr
	}
	return err
}

// bodySection extracts a section. The whole message and its text are sent
// from the raw bytes, so BODY[] is exactly what was stored.
func bodySection(data []byte, bs *imap.FetchItemBodySection) []byte {
	if len(bs.Part) == 0 && len(bs.HeaderFields) == 0 && len(bs.HeaderFieldsNot) == 0 {
		switch bs.Specifier {
		case imap.PartSpecifierNone:
			return partial(data, bs.Partial)
		case imap.PartSpecifierHeader, imap.PartSpecifierText:
			h := headerLen(data)
			if bs.Specifier == imap.PartSpecifierHeader {
				return partial(data[:h], bs.Partial)
			}
			return partial(data[h:], bs.Partial)
		}
	}
	if len(bs.Part) == 0 && bs.Specifier == imap.PartSpecifierHeader {
		if len(bs.HeaderFields) > 0 {
			return partial(headerFields(data[:headerLen(data)], bs.HeaderFields, false), bs.Partial)
		}
		if len(bs.HeaderFieldsNot) > 0 {
			return partial(headerFields(data[:headerLen(data)], bs.HeaderFieldsNot, true), bs.Partial)
		}
	}
	return imapserver.ExtractBodySection(bytes.NewReader(data), bs)
}

// headerFields returns the fields of a header section named in names (or,
// with not, those not named), as they stand in the message, then the
// blank line (RFC 9051 §6.4.5 HEADER.FIELDS); lines end in CRLF, as IMAP
// sends them. Mail clients ask this for every message when they list a
// mailbox, so it works on the raw bytes.
func headerFields(h []byte, names []string, not bool) []byte {
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[strings.ToLower(n)] = true
	}
	var out []byte
	for i := 0; i < len(h); {
		end := len(h)
		if j := bytes.IndexByte(h[i:], '\n'); j >= 0 {
			end = i + j + 1
		}
		if len(bytes.TrimRight(h[i:end], "\r\n")) == 0 {
			break
		}
		// A field goes on over lines that begin with white space.
		for end < len(h) && (h[end] == ' ' || h[end] == '\t') {
			if j := bytes.IndexByte(h[end:], '\n'); j >= 0 {
				end += j + 1
			} else {
				end = len(h)
			}
		}
		field := h[i:end]
		if colon := bytes.IndexByte(field, ':'); colon > 0 {
			name := strings.ToLower(string(bytes.TrimSpace(field[:colon])))
			if want[name] != not {
				out = appendCRLF(out, field)
			}
		}
		i = end
	}
	return append(out, "\r\n"...)
}

// appendCRLF appends lines, ending each in CRLF whatever it ended in.
func appendCRLF(out, lines []byte) []byte {
	for len(lines) > 0 {
		j := bytes.IndexByte(lines, '\n')
		if j < 0 {
			return append(append(out, lines...), "\r\n"...)
		}
		out = append(append(out, bytes.TrimSuffix(lines[:j], []byte("\r"))...), "\r\n"...)
		lines = lines[j+1:]
	}
	return out
}

// headerLen is the length of the header including the blank line that
// ends it (the whole message if there is none).
func headerLen(data []byte) int {
	for i := 0; i < len(data); {
		j := bytes.IndexByte(data[i:], '\n')
		if j < 0 {
			return len(data)
		}
		line := data[i : i+j+1]
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			return i + j + 1
		}
		i += j + 1
	}
	return len(data)
}

func partial(b []byte, p *imap.SectionPartial) []byte {
	if p == nil {
		return b
	}
	if p.Offset >= int64(len(b)) || p.Offset < 0 {
		return nil
	}
	end := int64(len(b))
	if p.Size >= 0 && p.Offset+p.Size < end {
		end = p.Offset + p.Size
	}
	return b[p.Offset:end]
}

// sanitizeBS repairs structures imapserver would refuse to write (it
// panics on a multipart without parts), so a hostile message cannot
// break a FETCH.
func sanitizeBS(bs imap.BodyStructure) imap.BodyStructure {
	switch b := bs.(type) {
	case *imap.BodyStructureMultiPart:
		if len(b.Children) == 0 {
			return textPlain(0)
		}
		for i, c := range b.Children {
			b.Children[i] = sanitizeBS(c)
		}
		if b.Extended == nil {
			b.Extended = &imap.BodyStructureMultiPartExt{}
		}
		if b.Subtype == "" {
			b.Subtype = "mixed"
		}
	case *imap.BodyStructureSinglePart:
		if b.Type == "" || b.Subtype == "" {
			b.Type, b.Subtype = "text", "plain"
		}
		if b.Extended == nil {
			b.Extended = &imap.BodyStructureSinglePartExt{}
		}
		if m := b.MessageRFC822; m != nil {
			m.BodyStructure = sanitizeBS(m.BodyStructure)
		}
	case nil:
		return textPlain(0)
	}
	return bs
}

func textPlain(size uint32) *imap.BodyStructureSinglePart {
	return &imap.BodyStructureSinglePart{Type: "text", Subtype: "plain", Params: map[string]string{"charset": "us-ascii"},
		Size: size, Text: &imap.BodyStructureText{}, Extended: &imap.BodyStructureSinglePartExt{}}
}

func envelopeOf(r io.Reader) *imap.Envelope {
	h, err := textproto.ReadHeader(bufio.NewReader(r))
	if err != nil && h.Len() == 0 {
		return nil
	}
	return imapserver.ExtractEnvelope(h)
}

// envelope returns a message's envelope, reading only its header.
func (s *Server) envelope(acct uint64, m *store.Message) *imap.Envelope {
	key := cacheKey{acct, m.File}
	if env, ok := s.cache.get(key); ok {
		return env
	}
	f, err := s.st.OpenMessage(acct, m)
	if err != nil {
		return nil
	}
	defer f.Close()
	env := envelopeOf(io.LimitReader(f, 1<<20)) // headers beyond 1 MiB are abuse
	s.cache.put(key, env)
	return env
}

// cacheKey names a message file, which the store never rewrites.
type cacheKey struct {
	acct uint64
	file string
}
