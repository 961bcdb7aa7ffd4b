package imapd

import (
	"cmp"
	"context"
	"slices"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"frontdesk/store"
)

// CONDSTORE and QRESYNC (RFC 7162). Every change to a message bumps the
// mailbox's HIGHESTMODSEQ and becomes the message's MODSEQ (store), and the
// store's change index answers "what changed since n", tombstones of
// expunged UIDs included, without reading the whole mailbox.

var (
	_ imapserver.SessionCondStore = (*session)(nil)
	_ imapserver.SessionQResync   = (*session)(nil)
)

// enabled reports whether the client enabled an extension with ENABLE or
// a CONDSTORE enabling command.
func (v *selected) enabled(c imap.Cap) bool {
	return v.conn != nil && v.conn.EnabledCaps().Has(c)
}

// expungeWriter is how expunges reach the client: EXPUNGE by sequence
// number, or VANISHED by UID once QRESYNC is enabled.
type expungeWriter interface {
	WriteExpunge(seqNum uint32) error
	WriteVanished(uids imap.UIDSet) error
}

// writeGone reports every message marked gone and drops them: as EXPUNGE
// from the highest sequence number down so earlier numbers stay valid, or
// as one VANISHED once QRESYNC is enabled (RFC 7162 §3.2.10).
func (v *selected) writeGone(w expungeWriter) error {
	if v.enabled(imap.CapQResync) {
		var uids imap.UIDSet
		for _, m := range v.msgs {
			if m.gone {
				uids.AddNum(imap.UID(m.uid))
			}
		}
		if len(uids) > 0 {
			if err := w.WriteVanished(uids); err != nil {
				return err
			}
		}
	} else {
		for i := len(v.msgs) - 1; i >= 0; i-- {
			if !v.msgs[i].gone {
				continue
			}
			if err := w.WriteExpunge(uint32(i + 1)); err != nil {
				return err
			}
		}
	}
	v.msgs = slices.DeleteFunc(v.msgs, func(m viewMsg) bool { return m.gone })
	return nil
}

// StoreUnchangedSince answers STORE (UNCHANGEDSINCE n) (RFC 7162 §3.1.3):
// messages changed after n keep their flags and come back for MODIFIED.
func (s *session) StoreUnchangedSince(w *imapserver.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, options *imap.StoreOptions) (imap.NumSet, error) {
	v := s.sel
	if v == nil {
		return nil, errNoMailbox
	}
	if v.readOnly {
		return nil, errReadOnly
	}
	_, isUID := numSet.(imap.UIDSet)
	uids := v.uidsOf(v.resolve(numSet))
	if len(uids) == 0 {
		return nil, nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	msgs, modified, err := s.srv.st.SetFlagsUnchangedSince(ctx, s.acct.ID, v.id, uids, storeOp(flags.Op), storeFlags(flags.Flags), options.UnchangedSince)
	if err != nil {
		return nil, s.mapErr(err, false)
	}
	if err := v.writeStored(w, msgs, flags.Silent); err != nil {
		return nil, err
	}
	if isUID {
		var set imap.UIDSet
		for _, uid := range modified {
			set.AddNum(imap.UID(uid))
		}
		return set, nil
	}
	var set imap.SeqSet
	for _, uid := range modified {
		if i, ok := v.find(uid); ok {
			set.AddNum(uint32(i + 1))
		}
	}
	return set, nil
}

func storeOp(op imap.StoreFlagsOp) store.FlagOp {
	switch op {
	case imap.StoreFlagsAdd:
		return store.FlagsAdd
	case imap.StoreFlagsDel:
		return store.FlagsRemove
	}
	return store.FlagsReplace
}

// writeStored records the flags a STORE left and sends them, with MODSEQ
// once CONDSTORE is enabled. A silent STORE then still sends the MODSEQ,
// so the client's cache stays right (RFC 7162 §3.1.3); otherwise nothing.
func (v *selected) writeStored(w *imapserver.FetchWriter, msgs []*store.Message, silent bool) error {
	condStore := v.enabled(imap.CapCondStore)
	for _, m := range msgs {
		i, ok := v.find(m.UID)
		if !ok {
			continue
		}
		if m.ModSeq >= v.msgs[i].modseq {
			v.msgs[i].modseq, v.msgs[i].flags = m.ModSeq, m.Flags
		}
		if silent && !condStore {
			continue
		}
		rw := w.CreateMessage(uint32(i + 1))
		rw.WriteUID(imap.UID(m.UID))
		if !silent {
			rw.WriteFlags(v.flagsOut(m.UID, m.Flags))
		}
		if condStore {
			rw.WriteModSeq(m.ModSeq)
		}
		if err := rw.Close(); err != nil {
			return err
		}
	}
	return nil
}

// Resync answers SELECT (QRESYNC (uidvalidity modseq [known-uids])) (RFC
// 7162 §3.2.5): the UIDs expunged since modseq as VANISHED (EARLIER), then
// the messages changed since as FETCH. A stale UIDVALIDITY gets neither:
// the client must then resynchronise from scratch.
func (s *session) Resync(w *imapserver.FetchWriter, q *imap.SelectQResync) error {
	v := s.sel
	if v == nil {
		return errNoMailbox
	}
	if q.UIDValidity != v.uidValidity {
		return nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	ch, err := s.srv.st.ChangedSince(ctx, s.acct.ID, v.id, q.ModSeq)
	if err != nil {
		return s.mapErr(err, false)
	}
	known := q.KnownUIDs
	if known == nil {
		known = imap.UIDSet{{Start: 1, Stop: imap.UID(max(v.maxUID, 1))}}
	}
	if err := w.WriteVanishedEarlier(v.vanishedSince(ch, known)); err != nil {
		return err
	}
	return v.writeChanged(w, ch.Changed)
}

// vanishedSince are the UIDs in set that the store expunged after the
// mod-sequence ch was asked for. UIDs the view still holds are left out:
// their expunge reaches the client as VANISHED in its turn, and VANISHED
// (EARLIER) must not name a message the client counts. Without tombstones
// that old, every UID of set that is not in the mailbox is named, which
// RFC 7162 §3.2.5.2 allows.
func (v *selected) vanishedSince(ch *store.Changes, set imap.UIDSet) imap.UIDSet {
	set = v.staticUIDs(set)
	var out imap.UIDSet
	if !ch.Complete {
		for _, r := range set {
			for uid := uint32(r.Start); uid <= uint32(r.Stop) && uid <= v.maxUID && uid != 0; uid++ {
				if _, ok := v.find(uid); !ok {
					out.AddNum(imap.UID(uid))
				}
			}
		}
		return out
	}
	for _, uid := range ch.Vanished {
		if !set.Contains(imap.UID(uid)) {
			continue
		}
		if _, ok := v.find(uid); ok {
			continue
		}
		out.AddNum(imap.UID(uid))
	}
	return out
}

// staticUIDs replaces "*" in a UID set by the highest UID of the view.
func (v *selected) staticUIDs(set imap.UIDSet) imap.UIDSet {
	out := make(imap.UIDSet, len(set))
	for i, r := range set {
		start, stop := staticRange(uint32(r.Start), uint32(r.Stop), v.maxUID)
		out[i] = imap.UIDRange{Start: imap.UID(start), Stop: imap.UID(stop)}
	}
	return out
}

// writeChanged sends FETCH (UID FLAGS MODSEQ) for the changed messages the
// view holds, in sequence order, and records what the client now knows.
func (v *selected) writeChanged(w *imapserver.FetchWriter, msgs []*store.Message) error {
	type hit struct {
		i int
		m *store.Message
	}
	var hits []hit
	for _, m := range msgs {
		if i, ok := v.find(m.UID); ok && !v.msgs[i].gone {
			hits = append(hits, hit{i, m})
		}
	}
	slices.SortFunc(hits, func(a, b hit) int { return a.i - b.i })
	for _, h := range hits {
		if h.m.ModSeq > v.msgs[h.i].modseq {
			v.msgs[h.i].modseq, v.msgs[h.i].flags = h.m.ModSeq, h.m.Flags
		}
		rw := w.CreateMessage(uint32(h.i + 1))
		rw.WriteUID(imap.UID(h.m.UID))
		rw.WriteFlags(v.flagsOut(h.m.UID, h.m.Flags))
		rw.WriteModSeq(h.m.ModSeq)
		if err := rw.Close(); err != nil {
			return err
		}
	}
	return nil
}

// changedIn returns the messages at the view indices idx (ascending) whose
// MODSEQ is above since, in UID order, from the store's change index: a
// client syncing flags asks for 1:* and only the few changed are read.
func (s *session) changedIn(ctx context.Context, idx []int, since uint64) ([]*store.Message, error) {
	v := s.sel
	ch, err := s.srv.st.ChangedSince(ctx, s.acct.ID, v.id, since)
	if err != nil {
		return nil, err
	}
	var out []*store.Message
	for _, m := range ch.Changed {
		i, ok := v.find(m.UID)
		if !ok {
			continue
		}
		if _, in := slices.BinarySearch(idx, i); in {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b *store.Message) int { return cmp.Compare(a.UID, b.UID) })
	return out, nil
}

// fetchVanished writes the VANISHED (EARLIER) of UID FETCH (CHANGEDSINCE n
// VANISHED) (RFC 7162 §3.2.6): the UIDs of set expunged after n.
func (s *session) fetchVanished(w *imapserver.FetchWriter, set imap.NumSet, since uint64) error {
	v := s.sel
	uids, ok := set.(imap.UIDSet)
	if !ok || imap.IsSearchRes(set) {
		return nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	ch, err := s.srv.st.ChangedSince(ctx, s.acct.ID, v.id, since)
	if err != nil {
		return s.mapErr(err, false)
	}
	return w.WriteVanishedEarlier(v.vanishedSince(ch, uids))
}
