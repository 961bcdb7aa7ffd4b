package imapd

import (
	"slices"
	"sort"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"frontdesk/store"
)

// viewMsg is one message as the client knows it.
type viewMsg struct {
	uid    uint32
	modseq uint64   // of the flags last reported (or fetched)
	flags  []string // as last reported
	gone   bool     // expunged in the store, EXPUNGE not sent yet
}

// selected is the selected mailbox of a session: its own numbering of the
// messages (sequence number i is msgs[i-1]) kept in step with the store's
// change feed, and changed only when the client may learn of it.
type selected struct {
	id          uint64
	name        string
	readOnly    bool
	uidValidity uint32
	sub         *store.Subscription
	msgs        []viewMsg   // ascending UID
	maxUID      uint32      // highest UID ever in the view; UIDs never return
	searchRes   imap.UIDSet // SEARCH RETURN (SAVE), RFC 5182
	recent      recentView
	mbFlags     []imap.Flag // the FLAGS the client was last sent

	// conn tells what the client enabled (CONDSTORE, QRESYNC).
	conn *imapserver.Conn
}

func (v *selected) close() { v.sub.Close() }

// find returns the index of uid in the view.
func (v *selected) find(uid uint32) (int, bool) {
	i := sort.Search(len(v.msgs), func(i int) bool { return v.msgs[i].uid >= uid })
	return i, i < len(v.msgs) && v.msgs[i].uid == uid
}

// Select opens a mailbox. It subscribes to the feed before taking the
// snapshot, so no change falls between the two; changes already in the
// snapshot are recognised by UID and MODSEQ and dropped.
func (s *session) Select(name string, options *imap.SelectOptions) (*imap.SelectData, error) {
	if s.sel != nil {
		s.sel.close()
		s.sel = nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	mb, err := s.srv.st.MailboxByName(ctx, s.acct.ID, name)
	if err != nil {
		return nil, s.mapErr(err, false)
	}
	sub := s.srv.st.Subscribe(s.acct.ID)
	mb, msgs, err := s.srv.st.MessageStates(ctx, s.acct.ID, mb.ID)
	if err != nil {
		sub.Close()
		return nil, s.mapErr(err, false)
	}
	v := &selected{id: mb.ID, name: mb.Name, readOnly: options.ReadOnly, uidValidity: mb.UIDValidity, sub: sub,
		msgs: make([]viewMsg, len(msgs))}
	var firstUnseen uint32
	keywords := map[string]bool{}
	for i, m := range msgs {
		v.msgs[i] = viewMsg{uid: m.UID, modseq: m.ModSeq, flags: m.Flags}
		v.maxUID = m.UID
		if firstUnseen == 0 && !m.HasFlag(store.FlagSeen) {
			firstUnseen = uint32(i + 1)
		}
		for _, f := range m.Flags {
			if len(f) > 0 && f[0] != '\\' {
				keywords[f] = true
			}
		}
	}
	if mb.UIDNext > 0 && mb.UIDNext-1 > v.maxUID {
		v.maxUID = mb.UIDNext - 1
	}
	v.conn = s.conn
	s.sel = v
	numRecent := s.initRecent(v, mb.UIDNext-1)
	flags := []imap.Flag{imap.FlagSeen, imap.FlagAnswered, imap.FlagFlagged, imap.FlagDeleted, imap.FlagDraft, imap.FlagJunk}
	for _, k := range slices.Sorted(mapKeys(keywords)) {
		if !slices.Contains(flags, imap.Flag(k)) {
			flags = append(flags, imap.Flag(k))
		}
	}
	v.mbFlags = slices.Clone(flags)
	var perm []imap.Flag
	if !options.ReadOnly {
		perm = append(slices.Clone(flags), imap.FlagWildcard)
	}
	s.log.Debug("imap select", "mailbox", mb.Name, "messages", len(msgs), "readonly", options.ReadOnly)
	return &imap.SelectData{
		Flags:             flags,
		PermanentFlags:    perm,
		NumMessages:       uint32(len(msgs)),
		NumRecent:         numRecent,
		FirstUnseenSeqNum: firstUnseen,
		UIDNext:           imap.UID(mb.UIDNext),
		UIDValidity:       mb.UIDValidity,
		HighestModSeq:     mb.HighestModSeq,
	}, nil
}

func mapKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// Unselect leaves the selected state.
func (s *session) Unselect() error {
	if s.sel != nil {
		s.sel.close()
		s.sel = nil
	}
	return nil
}

// Poll reports what changed since the last command: new messages (EXISTS),
// flag changes (FETCH FLAGS) and, where allowed, expunges (RFC 9051 §7.5.1:
// not during FETCH, STORE and SEARCH, so sequence numbers stay put).
func (s *session) Poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	if s.sel == nil {
		return nil
	}
	return s.sel.poll(w, allowExpunge)
}

// Idle waits for changes until stop is closed (RFC 2177).
func (s *session) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	v := s.sel
	if v == nil {
		<-stop
		return nil
	}
	if err := v.poll(w, true); err != nil {
		return err
	}
	for {
		select {
		case <-stop:
			return nil
		case <-v.sub.C():
			if err := v.poll(w, true); err != nil {
				return err
			}
		}
	}
}

func (v *selected) poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	added := false
	var newest uint32
	var flagged []uint32
	var flagLists [][]string // of new and changed messages, for new keywords
	for _, c := range v.sub.Drain() {
		if c.Mailbox != v.id {
			continue
		}
		switch c.Kind {
		case store.ChangeNew:
			if c.UID > v.maxUID {
				v.msgs = append(v.msgs, viewMsg{uid: c.UID, modseq: c.ModSeq, flags: c.Flags})
				v.maxUID = c.UID
				added = true
				newest = c.UID
				flagLists = append(flagLists, c.Flags)
			}
		case store.ChangeExpunge:
			if i, ok := v.find(c.UID); ok {
				v.msgs[i].gone = true
			}
		case store.ChangeFlags:
			if i, ok := v.find(c.UID); ok && !v.msgs[i].gone && c.ModSeq > v.msgs[i].modseq {
				v.msgs[i].modseq, v.msgs[i].flags = c.ModSeq, c.Flags
				flagged = append(flagged, c.UID)
				flagLists = append(flagLists, c.Flags)
			}
		}
	}
	if allowExpunge {
		if err := v.writeGone(w); err != nil {
			return err
		}
	}
	if err := v.announceKeywords(w, flagLists...); err != nil {
		return err
	}
	if added {
		if err := w.WriteNumMessages(uint32(len(v.msgs))); err != nil {
			return err
		}
		if v.recent.on {
			if err := v.recent.learn(newest); err != nil {
				return err
			}
			if err := w.WriteNumRecent(v.numRecent()); err != nil {
				return err
			}
		}
	}
	slices.Sort(flagged)
	for _, uid := range slices.Compact(flagged) {
		i, ok := v.find(uid)
		if !ok || v.msgs[i].gone {
			continue
		}
		if err := w.WriteMessageFlagsModSeq(uint32(i+1), imap.UID(uid), v.flagsOut(uid, v.msgs[i].flags), v.msgs[i].modseq); err != nil {
			return err
		}
	}
	return nil
}

// markGone marks the given UIDs as expunged.
func (v *selected) markGone(uids []uint32) {
	for _, uid := range uids {
		if i, ok := v.find(uid); ok {
			v.msgs[i].gone = true
		}
	}
}

// resolve turns a sequence or UID set into view indices, ascending. "*"
// is the last message (RFC 9051 §9: seq-number); a SEARCHRES "$" is the
// saved result.
func (v *selected) resolve(numSet imap.NumSet) []int {
	if imap.IsSearchRes(numSet) {
		numSet = v.searchRes
	}
	var out []int
	switch set := numSet.(type) {
	case imap.SeqSet:
		n := uint32(len(v.msgs))
		seen := make([]bool, n)
		for _, r := range set {
			start, stop := staticRange(r.Start, r.Stop, n)
			for seq := start; seq <= stop && seq <= n; seq++ {
				if seq > 0 && !seen[seq-1] {
					seen[seq-1] = true
					out = append(out, int(seq-1))
				}
			}
		}
		slices.Sort(out)
	case imap.UIDSet:
		var last uint32
		if len(v.msgs) > 0 {
			last = v.msgs[len(v.msgs)-1].uid
		}
		static := make(imap.UIDSet, len(set))
		for i, r := range set {
			start, stop := staticRange(uint32(r.Start), uint32(r.Stop), last)
			static[i] = imap.UIDRange{Start: imap.UID(start), Stop: imap.UID(stop)}
		}
		for i, m := range v.msgs {
			if static.Contains(imap.UID(m.uid)) {
				out = append(out, i)
			}
		}
	}
	return out
}

func staticRange(start, stop, max uint32) (uint32, uint32) {
	if start == 0 {
		start = max
	}
	if stop == 0 {
		stop = max
	}
	if start > stop {
		start, stop = stop, start
	}
	return start, stop
}

// uidsOf returns the UIDs at the given view indices.
func (v *selected) uidsOf(idx []int) []uint32 {
	out := make([]uint32, len(idx))
	for i, j := range idx {
		out[i] = v.msgs[j].uid
	}
	return out
}

var errReadOnly = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "mailbox is read-only (EXAMINE)"}

var errNoMailbox = &imap.Error{Type: imap.StatusResponseTypeBad, Text: "no mailbox selected"}

// Expunge removes \Deleted messages the client knows of (all, or those in
// uids for UID EXPUNGE, RFC 4315 §2.1) and reports them at once.
func (s *session) Expunge(w *imapserver.ExpungeWriter, uids *imap.UIDSet) error {
	v := s.sel
	if v == nil {
		return errNoMailbox
	}
	if v.readOnly {
		return errReadOnly
	}
	var idx []int
	if uids != nil {
		idx = v.resolve(*uids)
	} else {
		idx = make([]int, len(v.msgs))
		for i := range idx {
			idx[i] = i
		}
	}
	// Only messages the client knows of: one that arrived since the last
	// poll would otherwise vanish before its EXISTS.
	candidates := v.uidsOf(idx)
	ctx, cancel := s.ctx()
	defer cancel()
	doomed := s.deletedFiles(ctx, v, candidates)
	removed, err := s.srv.st.Expunge(ctx, s.acct.ID, v.id, candidates)
	if err != nil {
		return s.mapErr(err, false)
	}
	s.srv.forget(s.acct.ID, doomed, removed)
	v.markGone(removed)
	// Messages others expunged go out too: this is a point where the
	// client expects sequence numbers to shift.
	return v.writeGone(w)
}

// Copy copies messages (RFC 4315 COPYUID in the answer).
func (s *session) Copy(numSet imap.NumSet, dest string) (*imap.CopyData, error) {
	v := s.sel
	if v == nil {
		return nil, errNoMailbox
	}
	uids := v.uidsOf(v.resolve(numSet))
	ctx, cancel := s.ctx()
	defer cancel()
	res, err := s.srv.st.Copy(ctx, s.acct.ID, v.id, uids, dest)
	if err != nil {
		return nil, s.mapErr(err, true)
	}
	s.filed(ctx, v.id, dest, res)
	return copyData(res), nil
}

func copyData(res *store.CopyResult) *imap.CopyData {
	if len(res.Source) == 0 {
		return nil // nothing copied: no COPYUID to give
	}
	var src, dst imap.UIDSet
	for i := range res.Source {
		src.AddNum(imap.UID(res.Source[i]))
		dst.AddNum(imap.UID(res.Dest[i]))
	}
	return &imap.CopyData{UIDValidity: res.UIDValidity, SourceUIDs: src, DestUIDs: dst}
}

// Move moves messages atomically (RFC 6851) and reports COPYUID and the
// EXPUNGEs of the moved messages.
func (s *session) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
	v := s.sel
	if v == nil {
		return errNoMailbox
	}
	if v.readOnly {
		return errReadOnly
	}
	uids := v.uidsOf(v.resolve(numSet))
	ctx, cancel := s.ctx()
	defer cancel()
	res, err := s.srv.st.Move(ctx, s.acct.ID, v.id, uids, dest)
	if err != nil {
		return s.mapErr(err, true)
	}
	s.filed(ctx, v.id, dest, res)
	if cd := copyData(res); cd != nil {
		if err := w.WriteCopyData(cd); err != nil {
			return err
		}
	}
	v.markGone(res.Source)
	return v.writeGone(w)
}
