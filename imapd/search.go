package imapd

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"frontdesk/search"
	"frontdesk/store"
)

// Search answers SEARCH and UID SEARCH (RFC 9051 §6.4.4) with ESEARCH data
// (RFC 4731). Flags, dates, sizes and sets come from metadata; header keys
// read the header; TEXT and BODY are narrowed by the index (Config.Index)
// and verified on the decoded text, each file read at most once per search.
func (s *session) Search(kind imapserver.NumKind, criteria *imap.SearchCriteria, options *imap.SearchOptions) (*imap.SearchData, error) {
	v := s.sel
	if v == nil {
		return nil, errNoMailbox
	}
	v.staticCriteria(criteria)
	ctx, cancel := s.ctx()
	defer cancel()
	// The index narrows first, so a rare word in a large mailbox reads the
	// metadata of its few candidates only.
	allow := s.narrow(ctx, v.id, criteria)
	all := make([]uint32, 0, len(v.msgs))
	for _, m := range v.msgs {
		if !m.gone && (allow == nil || allow[m.uid]) {
			all = append(all, m.uid)
		}
	}
	msgs, err := s.srv.st.MessagesByUID(ctx, s.acct.ID, v.id, all)
	if err != nil {
		return nil, s.mapErr(err, false)
	}
	data := &imap.SearchData{}
	var seqs imap.SeqSet
	var uids imap.UIDSet
	for _, m := range msgs {
		if allow != nil && !allow[m.UID] {
			continue
		}
		i, ok := v.find(m.UID)
		if !ok {
			continue
		}
		c := &candidate{srv: s.srv, acct: s.acct.ID, m: m, seq: uint32(i + 1), recent: v.isRecent(m.UID)}
		if !c.match(criteria) {
			continue
		}
		uids.AddNum(imap.UID(m.UID))
		num := c.seq
		if kind == imapserver.NumKindUID {
			num = m.UID
		} else {
			seqs.AddNum(c.seq)
		}
		if data.Min == 0 || num < data.Min {
			data.Min = num
		}
		if num > data.Max {
			data.Max = num
		}
		data.Count++
		data.ModSeq = max(data.ModSeq, m.ModSeq)
	}
	if kind == imapserver.NumKindUID {
		data.All = uids
	} else {
		data.All = seqs
	}
	if options.ReturnSave {
		v.searchRes = uids
	}
	return data, nil
}

// staticCriteria replaces "*" and "$" in the criteria's sets by what they
// stand for now.
func (v *selected) staticCriteria(c *imap.SearchCriteria) {
	var seqs []imap.SeqSet
	for _, set := range c.SeqNum {
		if imap.IsSearchRes(set) {
			c.UID = append(c.UID, v.searchRes)
			continue
		}
		n := uint32(len(v.msgs))
		out := make(imap.SeqSet, len(set))
		for i, r := range set {
			start, stop := staticRange(r.Start, r.Stop, n)
			out[i] = imap.SeqRange{Start: start, Stop: stop}
		}
		seqs = append(seqs, out)
	}
	c.SeqNum = seqs
	var last uint32
	if len(v.msgs) > 0 {
		last = v.msgs[len(v.msgs)-1].uid
	}
	for j, set := range c.UID {
		if imap.IsSearchRes(set) {
			c.UID[j] = v.searchRes
			continue
		}
		out := make(imap.UIDSet, len(set))
		for i, r := range set {
			start, stop := staticRange(uint32(r.Start), uint32(r.Stop), last)
			out[i] = imap.UIDRange{Start: imap.UID(start), Stop: imap.UID(stop)}
		}
		c.UID[j] = out
	}
	for i := range c.Not {
		v.staticCriteria(&c.Not[i])
	}
	for i := range c.Or {
		v.staticCriteria(&c.Or[i][0])
		v.staticCriteria(&c.Or[i][1])
	}
}

// candidate is one message under test; its header and body are loaded on
// first use.
type candidate struct {
	srv  *Server
	acct uint64
	m    *store.Message
	seq  uint32
	// recent is \Recent in this session.
	recent bool

	data   []byte // whole message, once read
	loaded bool
	header *mail.Header
	text   *searchText // decoded text, for TEXT and BODY
}

func (c *candidate) bytes() []byte {
	if !c.loaded {
		c.loaded = true
		c.data, _ = c.srv.st.ReadMessage(c.acct, c.m)
	}
	return c.data
}

func (c *candidate) hdr() *mail.Header {
	if c.header == nil {
		var r io.Reader
		if c.loaded {
			r = bytes.NewReader(c.data)
		} else if f, err := c.srv.st.OpenMessage(c.acct, c.m); err == nil {
			defer f.Close()
			r = io.LimitReader(f, 1<<20)
		} else {
			r = bytes.NewReader(nil)
		}
		h, _ := textproto.ReadHeader(bufio.NewReader(r))
		c.header = &mail.Header{Header: gomessage.Header{Header: h}}
	}
	return c.header
}

func (c *candidate) match(cr *imap.SearchCriteria) bool {
	m := c.m
	// MODSEQ n matches messages changed at n or later (RFC 7162 §3.1.5).
	if cr.ModSeq != nil && m.ModSeq < cr.ModSeq.ModSeq {
		return false
	}
	for _, set := range cr.SeqNum {
		if !set.Contains(c.seq) {
			return false
		}
	}
	for _, set := range cr.UID {
		if !set.Contains(imap.UID(m.UID)) {
			return false
		}
	}
	for _, f := range cr.Flag {
		if !c.hasFlag(f) {
			return false
		}
	}
	for _, f := range cr.NotFlag {
		if c.hasFlag(f) {
			return false
		}
	}
	if cr.Larger != 0 && m.Size <= cr.Larger {
		return false
	}
	if cr.Smaller != 0 && m.Size >= cr.Smaller {
		return false
	}
	if !matchDate(m.InternalDate, cr.Since, cr.Before) {
		return false
	}
	if cr.ModSeq != nil && m.ModSeq < cr.ModSeq.ModSeq {
		return false
	}
	for _, hf := range cr.Header {
		if !matchFields(c.hdr().FieldsByKey(hf.Key), hf.Value) {
			return false
		}
	}
	if !cr.SentSince.IsZero() || !cr.SentBefore.IsZero() {
		t, err := c.hdr().Date()
		if err != nil || !matchDate(t, cr.SentSince, cr.SentBefore) {
			return false
		}
	}
	for _, not := range cr.Not {
		if c.match(&not) {
			return false
		}
	}
	for _, or := range cr.Or {
		if !c.match(&or[0]) && !c.match(&or[1]) {
			return false
		}
	}
	for _, text := range cr.Text {
		if !c.matchText(search.FieldText, text) {
			return false
		}
	}
	for _, body := range cr.Body {
		if !c.matchText(search.FieldBody, body) {
			return false
		}
	}
	return true
}

// matchDate compares dates only, ignoring time and zone (RFC 9051 §6.4.4).
func matchDate(t, since, before time.Time) bool {
	t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	if !since.IsZero() && t.Before(since) {
		return false
	}
	if !before.IsZero() && !t.Before(before) {
		return false
	}
	return true
}

func matchFields(fields gomessage.HeaderFields, pattern string) bool {
	if pattern == "" {
		return fields.Len() > 0
	}
	pattern = strings.ToLower(pattern)
	for fields.Next() {
		v, err := fields.Text()
		if err != nil {
			v = fields.Value()
		}
		if strings.Contains(strings.ToLower(v), pattern) {
			return true
		}
	}
	return false
}

// Store answers STORE (RFC 9051 §6.4.6). The new flags are sent unless
// .SILENT; either way the session records them, so the feed's echo of
// this change is not sent again.
func (s *session) Store(w *imapserver.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, _ *imap.StoreOptions) error {
	v := s.sel
	if v == nil {
		return errNoMailbox
	}
	if v.readOnly {
		return errReadOnly
	}
	var op store.FlagOp
	switch flags.Op {
	case imap.StoreFlagsAdd:
		op = store.FlagsAdd
	case imap.StoreFlagsDel:
		op = store.FlagsRemove
	default:
		op = store.FlagsReplace
	}
	uids := v.uidsOf(v.resolve(numSet))
	if len(uids) == 0 {
		return nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	msgs, err := s.srv.st.SetFlags(ctx, s.acct.ID, v.id, uids, op, storeFlags(flags.Flags))
	if err != nil {
		return s.mapErr(err, false)
	}
	if err := v.announceKeywords(w, storeFlags(flags.Flags)); err != nil {
		return err
	}
	return v.writeStored(w, msgs, flags.Silent)
}
