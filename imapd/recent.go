package imapd

import (
	"context"
	"sort"

	"strings"

	"github.com/emersion/go-imap/v2"
)

// flagRecent is the session flag of RFC 3501 §2.3.2; RFC 9051 removed it.
const flagRecent = imap.Flag(`\Recent`)

// recentView is what a session holds as \Recent. A session that SELECTs a
// mailbox claims the messages no session was told of before (in the
// store, so it holds across sessions); EXAMINE shows them without
// claiming (RFC 3501 §6.3.2). IMAP4rev2 sessions neither see nor claim.
type recentView struct {
	on    bool        // an IMAP4rev1 session: \Recent is shown
	uids  imap.UIDSet // recent to this session
	claim func(upTo uint32) (uint32, error)
}

// initRecent sets up \Recent for a newly selected mailbox whose highest
// UID so far is upTo, and returns how many messages are recent.
func (s *session) initRecent(v *selected, upTo uint32) uint32 {
	if s.conn.EnabledCaps().Has(imap.CapIMAP4rev2) {
		return 0
	}
	acct, id := s.acct.ID, v.id
	v.recent.on = true
	v.recent.claim = func(upTo uint32) (uint32, error) {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		if v.readOnly {
			return s.srv.st.RecentClaimed(ctx, acct, id)
		}
		return s.srv.st.ClaimRecent(ctx, acct, id, upTo)
	}
	if err := v.recent.learn(upTo); err != nil {
		s.log.Warn("imap recent", "mailbox", v.name, "err", err)
	}
	return v.numRecent()
}

// learn takes the messages up to upTo that no session holds as recent.
func (r *recentView) learn(upTo uint32) error {
	if !r.on || upTo == 0 {
		return nil
	}
	prev, err := r.claim(upTo)
	if err != nil {
		return err
	}
	if prev < upTo {
		r.uids.AddRange(imap.UID(prev+1), imap.UID(upTo))
	}
	return nil
}

func (v *selected) isRecent(uid uint32) bool {
	return v.recent.on && v.recent.uids.Contains(imap.UID(uid))
}

// numRecent counts the messages in the view that are recent.
func (v *selected) numRecent() uint32 {
	var n int
	for _, r := range v.recent.uids {
		lo := sort.Search(len(v.msgs), func(i int) bool { return v.msgs[i].uid >= uint32(r.Start) })
		hi := sort.Search(len(v.msgs), func(i int) bool { return v.msgs[i].uid > uint32(r.Stop) })
		n += hi - lo
	}
	return uint32(n)
}

// flagsOut is how a message's flags go to the client: with \Recent for
// the messages recent to this session.
func (v *selected) flagsOut(uid uint32, flags []string) []imap.Flag {
	out := imapFlags(flags)
	if v.isRecent(uid) {
		out = append(out, flagRecent)
	}
	return out
}

// hasFlag matches a SEARCH flag key; \Recent (RECENT, NEW, OLD) is the
// session's, not the store's.
func (c *candidate) hasFlag(f imap.Flag) bool {
	if strings.EqualFold(string(f), string(flagRecent)) {
		return c.recent
	}
	return c.m.HasFlag(string(f))
}
