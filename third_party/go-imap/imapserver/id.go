package imapserver

import (
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/internal/imapwire"
)

// SessionID is an IMAP session which supports ID (RFC 2971).
type SessionID interface {
	Session

	// ID records what the client says about itself (nil for "ID NIL") and
	// returns what the server says about itself (nil for NIL). It may be
	// called in any state, before authentication too.
	ID(client *imap.IDData) *imap.IDData
}

func (c *Conn) handleID(dec *imapwire.Decoder) error {
	if !dec.ExpectSP() {
		return dec.Err()
	}
	var (
		client  *imap.IDData
		pending string
		isKey   = true
	)
	var atom string
	if dec.Atom(&atom) {
		if !dec.Expect(strings.EqualFold(atom, "NIL"), "NIL") {
			return dec.Err()
		}
	} else {
		client = &imap.IDData{}
		err := dec.ExpectList(func() error {
			var s string
			if isKey {
				if !dec.ExpectString(&s) {
					return dec.Err()
				}
				pending, isKey = strings.ToLower(s), false
				return nil
			}
			if !dec.ExpectNString(&s) {
				return dec.Err()
			}
			setIDField(client, pending, s)
			isKey = true
			return nil
		})
		if err != nil {
			return err
		}
		if !isKey {
			return newClientBugError("ID list must hold field and value pairs")
		}
	}
	if !dec.ExpectCRLF() {
		return dec.Err()
	}

	sess, ok := c.session.(SessionID)
	if !ok {
		return &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Unknown command"}
	}
	return c.writeID(sess.ID(client))
}

// setIDField stores one field of an ID list; unknown fields are ignored
// (RFC 2971 §3.3 lets clients send their own).
func setIDField(data *imap.IDData, key, value string) {
	switch key {
	case "name":
		data.Name = value
	case "version":
		data.Version = value
	case "os":
		data.OS = value
	case "os-version":
		data.OSVersion = value
	case "vendor":
		data.Vendor = value
	case "support-url":
		data.SupportURL = value
	case "address":
		data.Address = value
	case "date":
		data.Date = value
	case "command":
		data.Command = value
	case "arguments":
		data.Arguments = value
	case "environment":
		data.Environment = value
	}
}

func (c *Conn) writeID(data *imap.IDData) error {
	enc := newResponseEncoder(c)
	defer enc.end()
	enc.Atom("*").SP().Atom("ID").SP()
	if data == nil {
		enc.NIL()
		return enc.CRLF()
	}
	fields := []struct{ key, value string }{
		{"name", data.Name},
		{"version", data.Version},
		{"os", data.OS},
		{"os-version", data.OSVersion},
		{"vendor", data.Vendor},
		{"support-url", data.SupportURL},
		{"address", data.Address},
		{"date", data.Date},
		{"command", data.Command},
		{"arguments", data.Arguments},
		{"environment", data.Environment},
	}
	var set []int
	for i, f := range fields {
		if f.value != "" {
			set = append(set, i)
		}
	}
	if len(set) == 0 {
		enc.NIL()
		return enc.CRLF()
	}
	enc.List(len(set), func(i int) {
		f := fields[set[i]]
		enc.String(f.key).SP().String(f.value)
	})
	return enc.CRLF()
}
