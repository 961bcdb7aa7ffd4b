package imapserver

import (
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/internal"
	"github.com/emersion/go-imap/v2/internal/imapwire"
)

func (c *Conn) handleStore(tag string, dec *imapwire.Decoder, numKind NumKind) error {
	var (
		numSet      imap.NumSet
		item        string
		options     imap.StoreOptions
		conditional bool
	)
	if !dec.ExpectSP() || !dec.ExpectNumSet(numKind.wire(), &numSet) || !dec.ExpectSP() {
		return dec.Err()
	}
	if dec.Special('(') {
		// store-modifiers (RFC 4466 §2.5); the list's opening parenthesis
		// is already read.
		var err error
		if conditional, err = readStoreModifiersRest(dec, &options); err != nil {
			return err
		}
		if !dec.ExpectSP() {
			return dec.Err()
		}
	}
	if !dec.ExpectAtom(&item) || !dec.ExpectSP() {
		return dec.Err()
	}
	var flags []imap.Flag
	isList, err := dec.List(func() error {
		flag, err := internal.ExpectFlag(dec)
		if err != nil {
			return err
		}
		flags = append(flags, flag)
		return nil
	})
	if err != nil {
		return err
	} else if !isList {
		for {
			flag, err := internal.ExpectFlag(dec)
			if err != nil {
				return err
			}
			flags = append(flags, flag)

			if !dec.SP() {
				break
			}
		}
	}
	if !dec.ExpectCRLF() {
		return dec.Err()
	}

	item = strings.ToUpper(item)
	silent := strings.HasSuffix(item, ".SILENT")
	item = strings.TrimSuffix(item, ".SILENT")

	var op imap.StoreFlagsOp
	switch {
	case strings.HasPrefix(item, "+"):
		op = imap.StoreFlagsAdd
		item = strings.TrimPrefix(item, "+")
	case strings.HasPrefix(item, "-"):
		op = imap.StoreFlagsDel
		item = strings.TrimPrefix(item, "-")
	default:
		op = imap.StoreFlagsSet
	}

	if item != "FLAGS" {
		return newClientBugError("STORE can only change FLAGS")
	}

	if err := c.checkState(imap.ConnStateSelected); err != nil {
		return err
	}

	storeFlags := &imap.StoreFlags{
		Op:     op,
		Silent: silent,
		Flags:  flags,
	}
	w := &FetchWriter{conn: c}
	var modified imap.NumSet
	if conditional {
		sess, ok := c.condStoreSession()
		if !ok {
			return errNoCondStore
		}
		c.enableCondStore()
		var err error
		if modified, err = sess.StoreUnchangedSince(w, numSet, storeFlags, &options); err != nil {
			return err
		}
	} else if err := c.session.Store(w, numSet, storeFlags, &options); err != nil {
		return err
	}

	cmdName := "STORE"
	if numKind == NumKindUID {
		cmdName = "UID STORE"
	}
	if err := c.poll(cmdName); err != nil {
		return err
	}
	return c.writeStoreOK(tag, cmdName, modified)
}
