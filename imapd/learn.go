package imapd

import (
	"context"

	"frontdesk/store"
)

// Learner is told when a user files messages into another mailbox (COPY
// or MOVE), after the change committed, so the spam filter can learn:
// into Junk is spam, out of Junk is ham. The IMAP reply does not wait for
// a slow learner longer than the command's own deadline.
type Learner interface {
	Filed(ctx context.Context, account uint64, from, to *store.Mailbox, msgs []*store.Message)
}

// filed reports a committed copy or move to the configured Learner.
func (s *session) filed(ctx context.Context, srcID uint64, dest string, res *store.CopyResult) {
	l := s.srv.cfg.Learner
	if l == nil || res == nil || len(res.Dest) == 0 {
		return
	}
	mbs, err := s.srv.st.Mailboxes(ctx, s.acct.ID)
	if err != nil {
		return
	}
	var from, to *store.Mailbox
	destName, _ := store.NormalizeMailbox(dest)
	for i := range mbs {
		switch {
		case mbs[i].ID == srcID:
			from = &mbs[i]
		case mbs[i].Name == destName:
			to = &mbs[i]
		}
	}
	if from == nil || to == nil {
		return
	}
	msgs, err := s.srv.st.MessagesByUID(ctx, s.acct.ID, to.ID, res.Dest)
	if err != nil || len(msgs) == 0 {
		return
	}
	l.Filed(ctx, s.acct.ID, from, to, msgs)
}
