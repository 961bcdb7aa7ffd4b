package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// System flags (RFC 9051 §2.3.2).
const (
	FlagSeen     = `\Seen`
	FlagAnswered = `\Answered`
	FlagFlagged  = `\Flagged`
	FlagDeleted  = `\Deleted`
	FlagDraft    = `\Draft`
	FlagJunk     = `$Junk`
)

// Message is the metadata of one message in a mailbox.
type Message struct {
	UID          uint32
	ModSeq       uint64
	Size         int64
	InternalDate time.Time
	Flags        []string // system flags in canonical case, then keywords
	File         string   // path below the account's message directory

	summary string // encoded Summary; empty in records older than v2
}

// HasFlag reports whether the message carries flag (case-insensitive, as
// IMAP flags are).
func (m *Message) HasFlag(flag string) bool {
	for _, f := range m.Flags {
		if strings.EqualFold(f, flag) {
			return true
		}
	}
	return false
}

// CanonicalFlag gives system flags their canonical case; keywords are kept.
func CanonicalFlag(f string) string {
	for _, sys := range []string{FlagSeen, FlagAnswered, FlagFlagged, FlagDeleted, FlagDraft} {
		if strings.EqualFold(f, sys) {
			return sys
		}
	}
	return f
}

// normalizeFlags canonicalizes, de-duplicates (case-insensitively) and sorts.
func normalizeFlags(flags []string) []string {
	out := make([]string, 0, len(flags))
	for _, f := range flags {
		f = CanonicalFlag(f)
		if f == "" || strings.EqualFold(f, `\Recent`) {
			continue
		}
		if !slices.ContainsFunc(out, func(g string) bool { return strings.EqualFold(f, g) }) {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
}

// Binary layout, versioned by its first byte so fields can be added:
// v1 uid:4 modseq:8 size:8 date:8 file:len16 flags:count16 (len16 bytes)*
// v2 as v1, then the encoded Summary to the end of the record
func encodeMessage(m *Message) []byte {
	n := 1 + 4 + 8 + 8 + 8 + 2 + len(m.File) + 2 + len(m.summary)
	for _, f := range m.Flags {
		n += 2 + len(f)
	}
	b := make([]byte, 0, n)
	if m.summary != "" {
		b = append(b, 2)
	} else {
		b = append(b, 1)
	}
	b = binary.BigEndian.AppendUint32(b, m.UID)
	b = binary.BigEndian.AppendUint64(b, m.ModSeq)
	b = binary.BigEndian.AppendUint64(b, uint64(m.Size))
	b = binary.BigEndian.AppendUint64(b, uint64(m.InternalDate.UnixNano()))
	b = appendStr(b, m.File)
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.Flags)))
	for _, f := range m.Flags {
		b = appendStr(b, f)
	}
	return append(b, m.summary...)
}

func appendStr(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

var errCorrupt = errors.New("store: corrupt message record")

func decodeMessage(b []byte) (*Message, error) {
	if len(b) < 1+4+8+8+8+2 || b[0] != 1 && b[0] != 2 {
		return nil, errCorrupt
	}
	m := &Message{
		UID:          binary.BigEndian.Uint32(b[1:]),
		ModSeq:       binary.BigEndian.Uint64(b[5:]),
		Size:         int64(binary.BigEndian.Uint64(b[13:])),
		InternalDate: time.Unix(0, int64(binary.BigEndian.Uint64(b[21:]))).UTC(),
	}
	// One string holds the file name, the flags and the summary, so a
	// record costs one allocation for all of them.
	rest := string(b[29:])
	var ok bool
	if m.File, rest, ok = readStr(rest); !ok || len(rest) < 2 {
		return nil, errCorrupt
	}
	n := int(rest[0])<<8 | int(rest[1])
	rest = rest[2:]
	m.Flags = make([]string, 0, n)
	for i := 0; i < n; i++ {
		var f string
		if f, rest, ok = readStr(rest); !ok {
			return nil, errCorrupt
		}
		m.Flags = append(m.Flags, f)
	}
	if b[0] == 2 {
		m.summary = rest
	}
	return m, nil
}

// readStr reads a len16 string; from a string it takes a substring,
// without copying.
func readStr[T string | []byte](b T) (string, T, bool) {
	if len(b) < 2 {
		return "", b[:0], false
	}
	n := int(b[0])<<8 | int(b[1])
	if len(b) < 2+n {
		return "", b[:0], false
	}
	return string(b[2 : 2+n]), b[2+n:], true
}

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func bytesU32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }

func bytesU64(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// FlagOp says how SetFlags combines flags.
type FlagOp int

// The flag operations of IMAP STORE.
const (
	FlagsReplace FlagOp = iota
	FlagsAdd
	FlagsRemove
)

func applyFlags(cur []string, op FlagOp, flags []string) []string {
	switch op {
	case FlagsReplace:
		return normalizeFlags(flags)
	case FlagsAdd:
		return normalizeFlags(append(slices.Clone(cur), flags...))
	case FlagsRemove:
		out := make([]string, 0, len(cur))
		for _, f := range cur {
			if !slices.ContainsFunc(flags, func(g string) bool { return strings.EqualFold(f, g) }) {
				out = append(out, f)
			}
		}
		return out
	}
	panic(fmt.Sprintf("store: unknown FlagOp %d", op))
}
