package imapserver

import (
	"errors"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/internal/imapwire"
)

// SessionCondStore is an IMAP session which supports CONDSTORE (RFC 7162).
//
// Besides StoreUnchangedSince, such a session fills
// SelectData.HighestModSeq (zero for a mailbox without mod-sequences, sent
// as NOMODSEQ) and StatusData.HighestModSeq, honours FetchOptions.ModSeq
// and FetchOptions.ChangedSince, and SearchCriteria.ModSeq (setting
// SearchData.ModSeq to the highest mod-sequence of the messages found).
//
// Once the client has enabled CONDSTORE (see Conn.EnabledCaps), FETCH
// responses about flag changes carry the message's mod-sequence: see
// FetchResponseWriter.WriteModSeq and UpdateWriter.WriteMessageFlagsModSeq.
type SessionCondStore interface {
	Session

	// StoreUnchangedSince is Store with the UNCHANGEDSINCE modifier: only
	// messages whose mod-sequence is not above options.UnchangedSince are
	// changed. The others are returned, numbered as numSet is (sequence
	// numbers or UIDs), for the MODIFIED response code.
	StoreUnchangedSince(w *FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, options *imap.StoreOptions) (modified imap.NumSet, err error)
}

// SessionQResync is an IMAP session which supports QRESYNC (RFC 7162).
//
// Once the client has enabled QRESYNC, the session reports expunges with
// WriteVanished (of ExpungeWriter, UpdateWriter and MoveWriter) instead of
// WriteExpunge, and Fetch honours FetchOptions.Vanished with
// FetchWriter.WriteVanishedEarlier.
type SessionQResync interface {
	SessionCondStore

	// Resync is called once SELECT or EXAMINE with a QRESYNC parameter has
	// written the mailbox's data. Unless the UIDVALIDITY the client knows
	// is stale, it reports the messages expunged since the client's
	// mod-sequence with WriteVanishedEarlier, then those changed since with
	// FETCH responses (UID, FLAGS and MODSEQ).
	Resync(w *FetchWriter, options *imap.SelectQResync) error
}

func (c *Conn) condStoreSession() (SessionCondStore, bool) {
	sess, ok := c.session.(SessionCondStore)
	return sess, ok
}

func (c *Conn) qresyncSession() (SessionQResync, bool) {
	sess, ok := c.session.(SessionQResync)
	return sess, ok
}

// enableCondStore records that the client issued a CONDSTORE enabling
// command (RFC 7162 §3.1).
func (c *Conn) enableCondStore() {
	c.mutex.Lock()
	c.enabled[imap.CapCondStore] = struct{}{}
	c.mutex.Unlock()
}

func (c *Conn) hasEnabled(cap imap.Cap) bool {
	c.mutex.Lock()
	defer c.mutex.Unlock()
	return c.enabled.Has(cap)
}

var errNoCondStore = newClientBugError("CONDSTORE is not supported")

var errExpungeNotAllowed = errors.New("imapserver: EXPUNGE updates are not allowed in this context")

// readSelectParams reads the optional parameters of SELECT and EXAMINE
// (RFC 4466 §2.1): CONDSTORE and QRESYNC.
func readSelectParams(dec *imapwire.Decoder, options *imap.SelectOptions) error {
	n := 0
	err := dec.ExpectList(func() error {
		n++
		var name string
		if !dec.ExpectAtom(&name) {
			return dec.Err()
		}
		switch strings.ToUpper(name) {
		case "CONDSTORE":
			options.CondStore = true
		case "QRESYNC":
			if options.QResync != nil {
				return newClientBugError("QRESYNC given twice")
			}
			var q imap.SelectQResync
			if !dec.ExpectSP() {
				return dec.Err()
			}
			if err := readQResyncParam(dec, &q); err != nil {
				return err
			}
			options.QResync = &q
		default:
			return newClientBugError("Unknown SELECT parameter")
		}
		return nil
	})
	if err == nil && n == 0 {
		err = newClientBugError("Empty SELECT parameter list")
	}
	return err
}

// readQResyncParam reads
//
//	"(" uidvalidity SP mod-sequence-value [SP known-uids] [SP seq-match-data] ")"
func readQResyncParam(dec *imapwire.Decoder, q *imap.SelectQResync) error {
	if !dec.ExpectSpecial('(') || !dec.ExpectNumber(&q.UIDValidity) || !dec.ExpectSP() || !dec.ExpectModSeq(&q.ModSeq) {
		return dec.Err()
	}
	if q.UIDValidity == 0 {
		return newClientBugError("QRESYNC UIDVALIDITY must not be zero")
	}
	if q.ModSeq == 0 {
		return newClientBugError("QRESYNC mod-sequence must not be zero")
	}
	if dec.SP() {
		if !dec.Special('(') {
			known, err := expectStaticSet(dec, imapwire.NumKindUID)
			if err != nil {
				return err
			}
			q.KnownUIDs = known.(imap.UIDSet)
			if !dec.SP() {
				return expectSpecialErr(dec, ')')
			}
			if !dec.ExpectSpecial('(') {
				return dec.Err()
			}
		}
		var match imap.SelectQResyncSeqMatch
		seqs, err := expectStaticSet(dec, imapwire.NumKindSeq)
		if err != nil {
			return err
		}
		if !dec.ExpectSP() {
			return dec.Err()
		}
		uids, err := expectStaticSet(dec, imapwire.NumKindUID)
		if err != nil {
			return err
		}
		if !dec.ExpectSpecial(')') {
			return dec.Err()
		}
		match.SeqNums, match.UIDs = seqs.(imap.SeqSet), uids.(imap.UIDSet)
		if !sameSize(match.SeqNums, match.UIDs) {
			return newClientBugError("QRESYNC seq-match-data sets differ in size")
		}
		q.SeqMatch = &match
	}
	return expectSpecialErr(dec, ')')
}

// expectStaticSet reads a sequence set that is not "$" (SEARCHRES); a
// malformed one is a syntax error the client is told about.
func expectStaticSet(dec *imapwire.Decoder, kind imapwire.NumKind) (imap.NumSet, error) {
	if dec.Special('$') {
		return nil, newClientBugError("$ is not allowed here")
	}
	var s string
	if !dec.Expect(dec.Func(&s, isNumSetAtomChar), "sequence-set") {
		return nil, dec.Err()
	}
	seqs, err := imapwire.ParseSeqSet(s)
	if err != nil {
		return nil, newClientBugError("Syntax error: " + err.Error())
	}
	if kind == imapwire.NumKindSeq {
		return seqs, nil
	}
	uids := make(imap.UIDSet, len(seqs))
	for i, r := range seqs {
		uids[i] = imap.UIDRange{Start: imap.UID(r.Start), Stop: imap.UID(r.Stop)}
	}
	return uids, nil
}

func isNumSetAtomChar(ch byte) bool {
	return ch == '*' || imapwire.IsAtomChar(ch)
}

func expectSpecialErr(dec *imapwire.Decoder, ch byte) error {
	if !dec.ExpectSpecial(ch) {
		return dec.Err()
	}
	return nil
}

// sameSize reports whether two static sets name as many numbers; sets
// with "*" or too large to count are refused.
func sameSize(seqs imap.SeqSet, uids imap.UIDSet) bool {
	const limit = 1 << 20
	var n, m uint64
	for _, r := range seqs {
		if r.Start == 0 || r.Stop == 0 {
			return false
		}
		n += rangeLen(r.Start, r.Stop)
	}
	for _, r := range uids {
		if r.Start == 0 || r.Stop == 0 {
			return false
		}
		m += rangeLen(uint32(r.Start), uint32(r.Stop))
	}
	return n == m && n <= limit
}

func rangeLen(a, b uint32) uint64 {
	if a > b {
		a, b = b, a
	}
	return uint64(b-a) + 1
}

// checkSelectParams checks the SELECT parameters against what the session
// supports and the client enabled, and enables CONDSTORE when asked.
func (c *Conn) checkSelectParams(options *imap.SelectOptions) error {
	if options.CondStore || options.QResync != nil {
		if _, ok := c.condStoreSession(); !ok {
			return errNoCondStore
		}
	}
	if options.QResync != nil {
		if _, ok := c.qresyncSession(); !ok || !c.hasEnabled(imap.CapQResync) {
			// RFC 7162 §3.2.5: BAD unless QRESYNC was enabled first.
			return newClientBugError("QRESYNC must be enabled first (ENABLE QRESYNC)")
		}
	}
	if options.CondStore {
		c.enableCondStore()
	}
	return nil
}

// checkFetchCondStore checks FETCH's CONDSTORE items and modifiers. The
// CHANGEDSINCE modifier implies the MODSEQ item (RFC 7162 §3.1.4.1).
func (c *Conn) checkFetchCondStore(numKind NumKind, options *imap.FetchOptions) error {
	if !options.ModSeq && options.ChangedSince == 0 && !options.Vanished {
		return nil
	}
	if _, ok := c.condStoreSession(); !ok {
		return errNoCondStore
	}
	if options.Vanished {
		switch {
		case numKind != NumKindUID:
			return newClientBugError("VANISHED is only allowed in UID FETCH")
		case options.ChangedSince == 0:
			return newClientBugError("VANISHED requires CHANGEDSINCE")
		case !c.hasEnabled(imap.CapQResync):
			return newClientBugError("VANISHED requires QRESYNC to be enabled")
		}
	}
	if options.ChangedSince != 0 {
		options.ModSeq = true
	}
	c.enableCondStore()
	return nil
}

func searchHasModSeq(criteria *imap.SearchCriteria) bool {
	if criteria.ModSeq != nil {
		return true
	}
	for i := range criteria.Not {
		if searchHasModSeq(&criteria.Not[i]) {
			return true
		}
	}
	for i := range criteria.Or {
		if searchHasModSeq(&criteria.Or[i][0]) || searchHasModSeq(&criteria.Or[i][1]) {
			return true
		}
	}
	return false
}

// readFetchModifiers reads the FETCH modifiers of RFC 7162:
// "(" CHANGEDSINCE mod-sequence-value [SP VANISHED] ")", in any order.
func readFetchModifiers(dec *imapwire.Decoder, options *imap.FetchOptions) error {
	n := 0
	err := dec.ExpectList(func() error {
		n++
		var name string
		if !dec.ExpectAtom(&name) {
			return dec.Err()
		}
		switch strings.ToUpper(name) {
		case "CHANGEDSINCE":
			if !dec.ExpectSP() || !dec.ExpectModSeq(&options.ChangedSince) {
				return dec.Err()
			}
			if options.ChangedSince == 0 {
				return newClientBugError("CHANGEDSINCE must not be zero")
			}
		case "VANISHED":
			options.Vanished = true
		default:
			return newClientBugError("Unknown FETCH modifier")
		}
		return nil
	})
	if err == nil && n == 0 {
		err = newClientBugError("Empty FETCH modifier list")
	}
	return err
}

// readStoreModifiersRest reads the rest of store-modifiers once their
// opening parenthesis is read: UNCHANGEDSINCE mod-sequence-valzer ")".
func readStoreModifiersRest(dec *imapwire.Decoder, options *imap.StoreOptions) (given bool, err error) {
	for {
		var name string
		if !dec.ExpectAtom(&name) {
			return false, dec.Err()
		}
		if !strings.EqualFold(name, "UNCHANGEDSINCE") {
			return false, newClientBugError("Unknown STORE modifier")
		}
		if given {
			return false, newClientBugError("UNCHANGEDSINCE given twice")
		}
		if !dec.ExpectSP() || !dec.ExpectModSeq(&options.UnchangedSince) {
			return false, dec.Err()
		}
		given = true
		if dec.Special(')') {
			return true, nil
		}
		if !dec.ExpectSP() {
			return false, dec.Err()
		}
	}
}

// readSearchKeyModSeq reads what follows the MODSEQ search key:
//
//	[SP entry-name SP entry-type-req] SP mod-sequence-valzer
func readSearchKeyModSeq(dec *imapwire.Decoder) (*imap.SearchCriteriaModSeq, error) {
	if !dec.ExpectSP() {
		return nil, dec.Err()
	}
	var crit imap.SearchCriteriaModSeq
	if dec.ModSeq(&crit.ModSeq) {
		return &crit, nil
	}
	var typ string
	if !dec.ExpectString(&crit.MetadataName) || !dec.ExpectSP() || !dec.ExpectAtom(&typ) || !dec.ExpectSP() {
		return nil, dec.Err()
	}
	switch t := imap.SearchCriteriaMetadataType(strings.ToLower(typ)); t {
	case imap.SearchCriteriaMetadataPrivate, imap.SearchCriteriaMetadataShared, imap.SearchCriteriaMetadataAll:
		crit.MetadataType = t
	default:
		return nil, newClientBugError("MODSEQ entry type must be priv, shared or all")
	}
	if !dec.ExpectModSeq(&crit.ModSeq) {
		return nil, dec.Err()
	}
	return &crit, nil
}

func (c *Conn) writeHighestModSeq(modSeq uint64) error {
	enc := newResponseEncoder(c)
	defer enc.end()
	enc.Atom("*").SP().Atom("OK").SP()
	if modSeq == 0 {
		enc.Special('[').Atom("NOMODSEQ").Special(']').SP().Text("No mod-sequences in this mailbox")
	} else {
		enc.Special('[').Atom("HIGHESTMODSEQ").SP().ModSeq(modSeq).Special(']').SP().Text("Highest mod-sequence")
	}
	return enc.CRLF()
}

func (c *Conn) writeVanished(uids imap.UIDSet, earlier bool) error {
	if len(uids) == 0 {
		return nil
	}
	enc := newResponseEncoder(c)
	defer enc.end()
	enc.Atom("*").SP().Atom("VANISHED").SP()
	if earlier {
		enc.Special('(').Atom("EARLIER").Special(')').SP()
	}
	enc.NumSet(uids)
	return enc.CRLF()
}

func (c *Conn) writeStoreOK(tag, cmdName string, modified imap.NumSet) error {
	enc := newResponseEncoder(c)
	defer enc.end()
	enc.Atom(tag).SP().Atom("OK").SP()
	if modified != nil && !isNumSetEmpty(modified) {
		enc.Special('[').Atom("MODIFIED").SP().NumSet(modified).Special(']').SP()
		enc.Text("Conditional " + cmdName + " failed for some messages")
	} else {
		enc.Text(cmdName + " completed")
	}
	return enc.CRLF()
}

// WriteModSeq writes the message's mod-sequence (CONDSTORE).
func (w *FetchResponseWriter) WriteModSeq(modSeq uint64) {
	w.writeItemSep()
	w.enc.Atom("MODSEQ").SP().Special('(').ModSeq(modSeq).Special(')')
}

// WriteVanishedEarlier writes a VANISHED (EARLIER) response: messages
// expunged before this command, answering FETCH with the VANISHED modifier
// or SELECT with a QRESYNC parameter. It must come before any FETCH
// response of the command.
func (cmd *FetchWriter) WriteVanishedEarlier(uids imap.UIDSet) error {
	return cmd.conn.writeVanished(uids, true)
}

// WriteVanished writes a VANISHED response (QRESYNC), which replaces
// EXPUNGE once the client has enabled QRESYNC.
func (w *ExpungeWriter) WriteVanished(uids imap.UIDSet) error {
	if w.conn == nil {
		return nil
	}
	return w.conn.writeVanished(uids, false)
}

// WriteVanished writes a VANISHED response for a MOVE command (QRESYNC).
func (w *MoveWriter) WriteVanished(uids imap.UIDSet) error {
	return w.conn.writeVanished(uids, false)
}

// WriteVanished writes a VANISHED response (QRESYNC). Like EXPUNGE, it is
// not allowed in every context.
func (w *UpdateWriter) WriteVanished(uids imap.UIDSet) error {
	if !w.allowExpunge {
		return errExpungeNotAllowed
	}
	return w.conn.writeVanished(uids, false)
}

// WriteMessageFlagsModSeq writes a FETCH response with FLAGS and, once the
// client has enabled CONDSTORE, MODSEQ.
func (w *UpdateWriter) WriteMessageFlagsModSeq(seqNum uint32, uid imap.UID, flags []imap.Flag, modSeq uint64) error {
	fetchWriter := &FetchWriter{conn: w.conn}
	respWriter := fetchWriter.CreateMessage(seqNum)
	if uid != 0 {
		respWriter.WriteUID(uid)
	}
	respWriter.WriteFlags(flags)
	if modSeq != 0 && w.conn.hasEnabled(imap.CapCondStore) {
		respWriter.WriteModSeq(modSeq)
	}
	return respWriter.Close()
}
