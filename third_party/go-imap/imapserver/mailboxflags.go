package imapserver

import (
	"github.com/emersion/go-imap/v2"
)

// WritePermanentFlags writes an untagged OK with the PERMANENTFLAGS response
// code, for instance when a new keyword extends the flags of the selected
// mailbox.
func (w *UpdateWriter) WritePermanentFlags(flags []imap.Flag) error {
	return w.conn.writePermanentFlags(flags)
}

// WriteMailboxFlags writes a FLAGS response. A server that adds a keyword to
// the mailbox in STORE sends it before the FETCH responses that use it.
func (w *FetchWriter) WriteMailboxFlags(flags []imap.Flag) error {
	return w.conn.writeFlags(flags)
}

// WritePermanentFlags writes an untagged OK with the PERMANENTFLAGS response
// code.
func (w *FetchWriter) WritePermanentFlags(flags []imap.Flag) error {
	return w.conn.writePermanentFlags(flags)
}
