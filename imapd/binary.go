package imapd

import (
	"bytes"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"frontdesk/store"
)

// binaries are the decoded BINARY sections and BINARY.SIZE answers of one
// message, in the order of the FETCH options.
type binaries struct {
	sections [][]byte
	sizes    []uint32
}

// decodeBinaries decodes what BINARY and BINARY.SIZE ask of each message
// (RFC 3516), by UID; nil when they ask nothing. A message gone meanwhile
// answers empty. A Content-Transfer-Encoding that cannot be decoded is an
// *imap.Error with code UNKNOWN-CTE.
func (s *session) decodeBinaries(msgs []*store.Message, options *imap.FetchOptions) (map[uint32]*binaries, error) {
	if len(options.BinarySection)+len(options.BinarySectionSize) == 0 {
		return nil, nil
	}
	out := make(map[uint32]*binaries, len(msgs))
	for _, m := range msgs {
		data, err := s.srv.st.ReadMessage(s.acct.ID, m)
		if err != nil {
			s.log.Debug("imap fetch: read message", "uid", m.UID, "err", err)
		}
		b, err := decodeBinary(data, options)
		if err != nil {
			return nil, err
		}
		out[m.UID] = b
	}
	return out, nil
}

func decodeBinary(data []byte, options *imap.FetchOptions) (*binaries, error) {
	var b binaries
	for _, bs := range options.BinarySection {
		sec, err := imapserver.DecodeBinarySection(bytes.NewReader(data), bs)
		if err != nil {
			return nil, err
		}
		b.sections = append(b.sections, sec)
	}
	for _, bss := range options.BinarySectionSize {
		size, err := imapserver.DecodeBinarySectionSize(bytes.NewReader(data), bss)
		if err != nil {
			return nil, err
		}
		b.sizes = append(b.sizes, size)
	}
	return &b, nil
}

// write sends the sections; content with NUL goes in a literal8.
func (b *binaries) write(rw *imapserver.FetchResponseWriter, options *imap.FetchOptions) error {
	if b == nil {
		return nil
	}
	for i, bs := range options.BinarySection {
		if err := rw.WriteBinarySectionData(bs, b.sections[i]); err != nil {
			return err
		}
	}
	for i, bss := range options.BinarySectionSize {
		rw.WriteBinarySectionSize(bss, b.sizes[i])
	}
	return nil
}
