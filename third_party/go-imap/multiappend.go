package imap

// MultiAppendData is the data returned by an APPEND command carrying
// several messages (MULTIAPPEND, RFC 3502).
type MultiAppendData struct {
	// requires UIDPLUS or IMAP4rev2
	UIDValidity uint32
	UIDs        UIDSet
}
