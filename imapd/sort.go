package imapd

import (
	"cmp"
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"frontdesk/store"
)

var _ imapserver.SessionSort = (*session)(nil)

// sortMsg is a message that SORT or THREAD orders, with the keys taken
// from its summary.
type sortMsg struct {
	seq, uid uint32
	m        *store.Message
	sum      *store.Summary
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
	if !m.sum.Date.IsZero() {
		return m.sum.Date.Unix()
	}
	return m.m.InternalDate.Unix()
}

// matching returns the messages that match criteria, in sequence order,
// with their summaries. SEARCH decides what matches, so SORT and THREAD
// accept every key it does.
func (s *session) matching(criteria *imap.SearchCriteria) ([]sortMsg, error) {
	v := s.sel
	if v == nil {
		return nil, errNoMailbox
	}
	data, err := s.Search(imapserver.NumKindUID, criteria, &imap.SearchOptions{ReturnAll: true})
	if err != nil {
		return nil, err
	}
	uidSet, _ := data.All.(imap.UIDSet)
	uids, _ := uidSet.Nums()
	want := make([]uint32, len(uids))
	for i, u := range uids {
		want[i] = uint32(u)
	}
	ctx, cancel := s.ctx()
	defer cancel()
	msgs, err := s.srv.st.MessagesByUID(ctx, s.acct.ID, v.id, want)
	if err != nil {
		return nil, s.mapErr(err, false)
	}
	out := make([]sortMsg, 0, len(msgs))
	for _, m := range msgs {
		i, ok := v.find(m.UID)
		if !ok || v.msgs[i].gone {
			continue
		}
		sum, ok := m.Summary()
		if !ok {
			// Stored before summaries were kept: read the header.
			sum = store.Summarize(s.srv.header(s.acct.ID, m))
		}
		out = append(out, sortMsg{seq: uint32(i + 1), uid: m.UID, m: m, sum: sum})
	}
	slices.SortFunc(out, func(a, b sortMsg) int { return cmp.Compare(a.seq, b.seq) })
	return out, nil
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
	// Each key is computed once per message, not once per comparison.
	type keyed struct {
		ints []int64
		strs []string
	}
	keys := make([]keyed, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		k := &keys[i]
		for _, c := range criteria {
			switch c.Key {
			case imap.SortKeyArrival:
				k.ints = append(k.ints, m.m.InternalDate.Unix())
			case imap.SortKeyDate:
				k.ints = append(k.ints, m.sentDate())
			case imap.SortKeySize:
				k.ints = append(k.ints, m.m.Size)
			case imap.SortKeySubject:
				base, _ := baseSubject(m.sum.Subject)
				k.strs = append(k.strs, casemap(base))
			case imap.SortKeyFrom:
				k.strs = append(k.strs, casemap(addrMailbox(m.sum.From)))
			case imap.SortKeyTo:
				k.strs = append(k.strs, casemap(addrMailbox(m.sum.To)))
			case imap.SortKeyCc:
				k.strs = append(k.strs, casemap(addrMailbox(m.sum.Cc)))
			}
		}
	}
	idx := make([]int, len(msgs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		ka, kb := &keys[a], &keys[b]
		ni, ns := 0, 0
		for _, c := range criteria {
			var r int
			switch c.Key {
			case imap.SortKeyArrival, imap.SortKeyDate, imap.SortKeySize:
				r = cmp.Compare(ka.ints[ni], kb.ints[ni])
				ni++
			default:
				r = strings.Compare(ka.strs[ns], kb.strs[ns])
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

// addrMailbox is the addr-mailbox (local part) of an address, what RFC
// 5256 sorts FROM, TO and CC by.
func addrMailbox(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[:i]
	}
	return addr
}

// casemap is the i;ascii-casemap collation of RFC 4790, which SORT uses by
// default: ASCII letters compare without case, all else octet by octet.
func casemap(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'a' <= c && c <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'a' <= b[j] && b[j] <= 'z' {
					b[j] -= 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
