package imapd

import (
	"cmp"
	"slices"
	"strconv"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

var _ imapserver.SessionThread = (*session)(nil)

// ThreadAlgorithms are advertised as THREAD=REFERENCES and
// THREAD=ORDEREDSUBJECT.
func (s *session) ThreadAlgorithms() []imap.ThreadAlgorithm {
	return []imap.ThreadAlgorithm{imap.ThreadReferences, imap.ThreadOrderedSubject}
}

// Thread answers THREAD and UID THREAD (RFC 5256 section 4).
func (s *session) Thread(kind imapserver.NumKind, algorithm imap.ThreadAlgorithm, criteria *imap.SearchCriteria) ([]imap.ThreadData, error) {
	msgs, err := s.matching(criteria)
	if err != nil {
		return nil, err
	}
	switch algorithm {
	case imap.ThreadOrderedSubject:
		return threadOrderedSubject(msgs, kind), nil
	case imap.ThreadReferences:
		return threadReferences(msgs, kind), nil
	}
	return nil, &imap.Error{Type: imap.StatusResponseTypeBad, Text: "unknown threading algorithm"}
}

// threadMsg is a message as threading sees it.
type threadMsg struct {
	*sortMsg
	date  int64
	base  string // base subject under i;unicode-casemap
	reply bool   // the subject was a reply or forward
}

func newThreadMsgs(msgs []sortMsg) []threadMsg {
	out := make([]threadMsg, len(msgs))
	for i := range msgs {
		base, reply := baseSubject(msgs[i].summary().Subject)
		out[i] = threadMsg{sortMsg: &msgs[i], date: msgs[i].sentDate(), base: casemap(base), reply: reply}
	}
	return out
}

// byDate orders by sent date, then sequence number.
func byDate(a, b *threadMsg) int {
	if r := cmp.Compare(a.date, b.date); r != 0 {
		return r
	}
	return cmp.Compare(a.seq, b.seq)
}

// threadOrderedSubject is ORDEREDSUBJECT: messages grouped by base
// subject, each group a thread whose first message (by sent date) is the
// parent of the others; threads in order of their first message.
func threadOrderedSubject(msgs []sortMsg, kind imapserver.NumKind) []imap.ThreadData {
	tms := newThreadMsgs(msgs)
	slices.SortFunc(tms, func(a, b threadMsg) int {
		if r := cmp.Compare(a.base, b.base); r != 0 {
			return r
		}
		return byDate(&a, &b)
	})
	type group struct {
		first *threadMsg
		data  imap.ThreadData
	}
	var groups []group
	for i := 0; i < len(tms); {
		j := i + 1
		for j < len(tms) && tms[j].base == tms[i].base {
			j++
		}
		g := group{first: &tms[i], data: imap.ThreadData{Chain: []uint32{tms[i].num(kind)}}}
		for _, t := range tms[i+1 : j] {
			g.data.SubThreads = append(g.data.SubThreads, imap.ThreadData{Chain: []uint32{t.num(kind)}})
		}
		groups = append(groups, g)
		i = j
	}
	slices.SortFunc(groups, func(a, b group) int { return byDate(a.first, b.first) })
	out := make([]imap.ThreadData, len(groups))
	for i := range groups {
		out[i] = groups[i].data
	}
	return out
}

// container is a node of the REFERENCES algorithm: a message, or a dummy
// standing for one that is referred to but not here.
type container struct {
	msg      *threadMsg // nil for a dummy
	parent   *container
	children []*container
}

func (c *container) addChild(child *container) {
	child.parent = c
	c.children = append(c.children, child)
}

func (c *container) unlink() {
	if p := c.parent; p != nil {
		p.children = slices.DeleteFunc(p.children, func(x *container) bool { return x == c })
		c.parent = nil
	}
}

// reaches reports whether c is other or one of its ancestors, so that
// making other c's parent would close a loop.
func (c *container) reaches(other *container) bool {
	for p := other; p != nil; p = p.parent {
		if p == c {
			return true
		}
	}
	return false
}

// first is the message that stands for c when ordering or taking the
// subject: c's own, or for a dummy its first child's.
func (c *container) first() *threadMsg {
	for c.msg == nil && len(c.children) > 0 {
		c = c.children[0]
	}
	return c.msg
}

func sortByDate(cs []*container) {
	slices.SortStableFunc(cs, func(a, b *container) int {
		fa, fb := a.first(), b.first()
		if fa == nil || fb == nil {
			return 0
		}
		return byDate(fa, fb)
	})
}

// threadReferences is the REFERENCES algorithm of RFC 5256 section 4,
// step by step.
func threadReferences(msgs []sortMsg, kind imapserver.NumKind) []imap.ThreadData {
	tms := newThreadMsgs(msgs)
	ids := map[string]*container{}
	var all []*container // in order of creation, so the result is stable
	get := func(id string) *container {
		c := ids[id]
		if c == nil {
			c = &container{}
			ids[id] = c
			all = append(all, c)
		}
		return c
	}
	// (1) Link messages by Message-ID, References and In-Reply-To.
	for i := range tms {
		t := &tms[i]
		sum := t.summary()
		id := sum.MessageID
		if id == "" || ids[id] != nil && ids[id].msg != nil {
			// No Message-ID, or a duplicate of an earlier one: a unique one.
			id = "\x00" + strconv.FormatUint(uint64(t.uid), 10)
		}
		c := get(id)
		c.msg = t
		refs := sum.References
		if len(refs) == 0 && sum.InReplyTo != "" {
			refs = []string{sum.InReplyTo}
		}
		// (1A) Each reference is the parent of the next, unless linked
		// already or that would close a loop.
		var prev *container
		for _, ref := range refs {
			rc := get(ref)
			if prev != nil && rc.parent == nil && !rc.reaches(prev) {
				prev.addChild(rc)
			}
			prev = rc
		}
		// (1B) The last reference is this message's parent, whatever
		// linked it before; no reference, no parent.
		c.unlink()
		if prev != nil && !c.reaches(prev) {
			prev.addChild(c)
		}
	}
	// (2) The root set: containers without a parent.
	var roots []*container
	for _, c := range all {
		if c.parent == nil {
			roots = append(roots, c)
		}
	}
	// (4) Prune dummies.
	roots = prune(roots, nil)
	// (5) Order the roots by sent date; a dummy by its first child.
	for _, r := range roots {
		if r.msg == nil {
			sortByDate(r.children)
		}
	}
	sortByDate(roots)
	// (6) Merge threads that share a base subject.
	roots = mergeBySubject(roots)
	// (7) Order every set of siblings, the deepest first.
	sortTree(roots)
	sortByDate(roots)
	out := make([]imap.ThreadData, len(roots))
	for i, r := range roots {
		out[i] = threadData(r, kind)
	}
	return out
}

// prune removes dummies without children and lifts the children of the
// others into their place, except a dummy at the root with several
// children, which keeps them together (RFC 5256 section 4, step 4).
func prune(cs []*container, parent *container) []*container {
	var out []*container
	for _, c := range cs {
		c.children = prune(c.children, c)
		if c.msg != nil {
			out = append(out, c)
			continue
		}
		switch {
		case len(c.children) == 0:
		case parent != nil || len(c.children) == 1:
			for _, child := range c.children {
				child.parent = parent
				out = append(out, child)
			}
		default:
			out = append(out, c)
		}
	}
	return out
}

// mergeBySubject is step 6: roots whose base subjects are equal become
// one thread.
func mergeBySubject(roots []*container) []*container {
	subjects := map[string]*container{}
	for _, r := range roots {
		m := r.first()
		if m == nil || m.base == "" {
			continue
		}
		old := subjects[m.base]
		if old == nil || old.msg != nil && (r.msg == nil || old.msg.reply && !r.msg.reply) {
			subjects[m.base] = r
		}
	}
	var out []*container
	for _, r := range roots {
		m := r.first()
		if m == nil || m.base == "" {
			out = append(out, r)
			continue
		}
		t := subjects[m.base]
		switch {
		case t == r:
			out = append(out, r)
			continue
		case t.msg == nil && r.msg == nil:
			for _, child := range r.children {
				t.addChild(child)
			}
			r.children = nil
		case t.msg == nil:
			t.addChild(r)
		case r.msg.reply && !t.msg.reply:
			t.addChild(r)
		default:
			// Both stand alone: a new dummy holds the two, where the
			// thread in the table stood.
			d := &container{}
			d.children = []*container{t}
			t.parent = d
			d.addChild(r)
			subjects[m.base] = d
			for i, o := range out {
				if o == t {
					out[i] = d
				}
			}
		}
	}
	return out
}

func sortTree(cs []*container) {
	for _, c := range cs {
		sortTree(c.children)
		sortByDate(c.children)
	}
}

func threadData(c *container, kind imapserver.NumKind) imap.ThreadData {
	var d imap.ThreadData
	if c.msg != nil {
		d.Chain = []uint32{c.msg.num(kind)}
	}
	for _, child := range c.children {
		d.SubThreads = append(d.SubThreads, threadData(child, kind))
	}
	return d
}
