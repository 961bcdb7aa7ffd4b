package imapd

import (
	"cmp"
	"context"
	"reflect"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"golang.org/x/text/unicode/norm"

	"frontdesk/store"
)

var _ imapserver.SessionSort = (*session)(nil)

// sortMsg is a message that SORT or THREAD orders, with the keys taken
// from its summary.
type sortMsg struct {
	seq, uid uint32
	m        *store.Message
	sum      *store.Summary // nil until needed
	srv      *Server
	acct     uint64
}

// summary returns the message's summary, decoded on first use.
func (m *sortMsg) summary() *store.Summary {
	if m.sum == nil {
		sum, ok := m.m.Summary()
		if !ok {
			// Stored before summaries were kept: read the header.
			sum = store.Summarize(m.srv.header(m.acct, m.m))
		}
		m.sum = sum
	}
	return m.sum
}

// num is the message's number as the command asked for it.
func (m *sortMsg) num(kind imapserver.NumKind) uint32 {
	if kind == imapserver.NumKindUID {
		return m.uid
	}
	return m.seq
}

// sentDate is the sent date of RFC 5256 section 2.2: the Date header, or
// the internal date when there is none.
func (m *sortMsg) sentDate() int64 {
	d, ok := m.m.SummaryDate()
	if !ok {
		d = m.summary().Date
	}
	if !d.IsZero() {
		return d.Unix()
	}
	return m.m.InternalDate.Unix()
}

// matching returns the messages that match criteria, in sequence order
// (UIDs ascend with it). SEARCH decides what matches, so SORT and THREAD
// accept every key it does.
func (s *session) matching(criteria *imap.SearchCriteria) ([]sortMsg, error) {
	v := s.sel
	if v == nil {
		return nil, errNoMailbox
	}
	var want []uint32
	if reflect.ValueOf(*criteria).IsZero() {
		// ALL, what clients send most: every message of the view, without
		// a pass through SEARCH.
		want = make([]uint32, 0, len(v.msgs))
		for _, m := range v.msgs {
			if !m.gone {
				want = append(want, m.uid)
			}
		}
	} else {
		data, err := s.Search(imapserver.NumKindUID, criteria, &imap.SearchOptions{ReturnAll: true})
		if err != nil {
			return nil, err
		}
		uidSet, _ := data.All.(imap.UIDSet)
		uids, _ := uidSet.Nums()
		want = make([]uint32, len(uids))
		for i, u := range uids {
			want[i] = uint32(u)
		}
	}
	ctx, cancel := s.ctx()
	defer cancel()
	msgs, err := s.srv.st.MessagesByUID(ctx, s.acct.ID, v.id, want)
	if err != nil {
		return nil, s.mapErr(err, false)
	}
	msgs = s.fillSummaries(ctx, msgs)
	out := make([]sortMsg, 0, len(msgs))
	for _, m := range msgs {
		i, ok := v.find(m.UID)
		if !ok || v.msgs[i].gone {
			continue
		}
		out = append(out, sortMsg{seq: uint32(i + 1), uid: m.UID, m: m, srv: s.srv, acct: s.acct.ID})
	}
	return out, nil
}

// fillSummaries has the store keep summaries for messages stored before
// it kept them, once, so that the next SORT of an old mailbox reads no
// file either. On failure the messages are sorted from their headers.
func (s *session) fillSummaries(ctx context.Context, msgs []*store.Message) []*store.Message {
	var old []uint32
	for _, m := range msgs {
		if _, ok := m.SummaryDate(); !ok {
			old = append(old, m.UID)
		}
	}
	if len(old) == 0 {
		return msgs
	}
	if _, err := s.srv.st.FillSummaries(ctx, s.acct.ID, s.sel.id, old); err != nil {
		s.log.Warn("imap sort: cannot store summaries", "err", err)
		return msgs
	}
	filled, err := s.srv.st.MessagesByUID(ctx, s.acct.ID, s.sel.id, old)
	if err != nil {
		return msgs
	}
	byUID := make(map[uint32]*store.Message, len(filled))
	for _, m := range filled {
		byUID[m.UID] = m
	}
	for i, m := range msgs {
		if f := byUID[m.UID]; f != nil {
			msgs[i] = f
		}
	}
	return msgs
}

// Sort answers SORT and UID SORT (RFC 5256 section 3) and ESORT (RFC 5267).
func (s *session) Sort(kind imapserver.NumKind, criteria *imap.SearchCriteria, options *imap.SortOptions) ([]uint32, error) {
	msgs, err := s.matching(criteria)
	if err != nil {
		return nil, err
	}
	sortMessages(msgs, options.SortCriteria)
	out := make([]uint32, len(msgs))
	for i := range msgs {
		out[i] = msgs[i].num(kind)
	}
	if options.Return != nil && options.Return.ReturnSave {
		var saved imap.UIDSet
		for i := range msgs {
			saved.AddNum(imap.UID(msgs[i].uid))
		}
		s.sel.searchRes = saved
	}
	return out, nil
}

// sortMessages orders msgs by the criteria; messages equal under all of
// them stay in sequence order (RFC 5256 section 3).
func sortMessages(msgs []sortMsg, criteria []imap.SortCriterion) {
	// Each key is computed once per message, not once per comparison,
	// into one flat array of numbers and one of strings.
	nInts, nStrs := 0, 0
	for _, c := range criteria {
		if isNumericKey(c.Key) {
			nInts++
		} else {
			nStrs++
		}
	}
	ints := make([]int64, len(msgs)*nInts)
	strs := make([]string, len(msgs)*nStrs)
	for i := range msgs {
		m := &msgs[i]
		ni, ns := i*nInts, i*nStrs
		for _, c := range criteria {
			switch c.Key {
			case imap.SortKeyArrival:
				ints[ni] = m.m.InternalDate.Unix()
			case imap.SortKeyDate:
				ints[ni] = m.sentDate()
			case imap.SortKeySize:
				ints[ni] = m.m.Size
			case imap.SortKeySubject:
				base, _ := baseSubject(m.summary().Subject)
				strs[ns] = casemap(base)
			case imap.SortKeyFrom:
				strs[ns] = casemap(addrMailbox(m.summary().From))
			case imap.SortKeyTo:
				strs[ns] = casemap(addrMailbox(m.summary().To))
			case imap.SortKeyCc:
				strs[ns] = casemap(addrMailbox(m.summary().Cc))
			}
			if isNumericKey(c.Key) {
				ni++
			} else {
				ns++
			}
		}
	}
	idx := make([]int, len(msgs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		ni, ns := 0, 0
		for _, c := range criteria {
			var r int
			if isNumericKey(c.Key) {
				r = cmp.Compare(ints[a*nInts+ni], ints[b*nInts+ni])
				ni++
			} else {
				r = strings.Compare(strs[a*nStrs+ns], strs[b*nStrs+ns])
				ns++
			}
			if c.Reverse {
				r = -r
			}
			if r != 0 {
				return r
			}
		}
		return cmp.Compare(msgs[a].seq, msgs[b].seq)
	})
	sorted := make([]sortMsg, len(msgs))
	for i, j := range idx {
		sorted[i] = msgs[j]
	}
	copy(msgs, sorted)
}

func isNumericKey(k imap.SortKey) bool {
	return k == imap.SortKeyArrival || k == imap.SortKeyDate || k == imap.SortKeySize
}

// addrMailbox is the addr-mailbox (local part) of an address, what RFC
// 5256 sorts FROM, TO and CC by.
func addrMailbox(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[:i]
	}
	return addr
}

// casemap is the i;unicode-casemap collation of RFC 5051, which RFC 5256
// asks of SORT and THREAD (through I18NLEVEL=1, RFC 5255): each character
// titlecased, then decomposed, and the results compared octet by octet.
// ASCII, the common case, only has its letters uppercased.
func casemap(s string) string {
	ascii := true
	lower := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
		lower = lower || 'a' <= c && c <= 'z'
	}
	if ascii && !lower {
		return s
	}
	if ascii {
		b := []byte(s)
		for i, c := range b {
			if 'a' <= c && c <= 'z' {
				b[i] = c - ('a' - 'A')
			}
		}
		return string(b)
	}
	return norm.NFD.String(strings.Map(unicode.ToTitle, s))
}
