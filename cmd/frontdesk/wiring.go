package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"frontdesk/dkim"
	"frontdesk/mailauth"
	"frontdesk/queue"
	"frontdesk/search"
	"frontdesk/smtpd"
	"frontdesk/spam"
	"frontdesk/store"
)

// judge is the MX's Judge: SPF, DKIM and DMARC, acted on as DMARC says,
// then the spam score of each recipient's copy.
type judge struct {
	auth *mailauth.Checker
	spam *spam.Filter
	log  *slog.Logger
	// acceptTempError delivers mail whose checks met a DNS failure
	// (smtp.on_dns_temperror = "accept") instead of deferring it.
	acceptTempError bool
}

func (j judge) Judge(ctx context.Context, in smtpd.JudgeInput) smtpd.Judgement {
	r := j.auth.Check(ctx, mailauth.Input{IP: in.IP, Helo: in.Helo, MailFrom: in.MailFrom, Message: in.Message})
	out := smtpd.Judgement{Headers: r.Header, Summary: r.String(), Mailbox: map[uint64]string{}, AccountHeaders: map[uint64]string{}}
	if r.TempError() {
		if !j.acceptTempError {
			out.Defer = true
			out.Reason = "Temporary authentication failure (DNS), try again later"
			return out
		}
		// The failing lookup might have passed it: quarantine, never refuse.
		if r.Action == mailauth.Reject {
			r.Action = mailauth.Junk
		}
	}
	switch r.Action {
	case mailauth.Reject:
		out.Reject = true
		out.Reason = "Message rejected by the DMARC policy of " + r.DMARC.FromDomain
		return out
	case mailauth.Junk:
		for _, id := range in.Recipients {
			out.Mailbox[id] = "Junk"
		}
	}
	if j.spam == nil {
		return out
	}
	out.Message = spam.StripHeaders(in.Message)
	tokens := j.spam.Tokens(out.Message) // once for every recipient
	for _, id := range in.Recipients {
		s, err := j.spam.ClassifyTokens(id, tokens)
		if err != nil {
			// Derived data may lag: a broken token database must not
			// stop mail, so the copy is delivered unscored.
			j.log.Error("spam score failed", "account", id, "err", err)
			continue
		}
		out.AccountHeaders[id] = spam.Headers(s)
		if s.Verdict == spam.VerdictSpam {
			out.Mailbox[id] = "Junk"
		}
		out.Summary += fmt.Sprintf(" spam=%s/%.3f", s.Verdict, s.Score)
	}
	return out
}

// learner teaches the spam filter from what users file into or out of
// Junk over IMAP.
type learner struct {
	st   *store.Store
	spam *spam.Filter
	log  *slog.Logger
}

func (l learner) Filed(ctx context.Context, account uint64, from, to *store.Mailbox, msgs []*store.Message) {
	for _, m := range msgs {
		data, err := l.st.ReadMessage(account, m)
		if err != nil {
			l.log.Error("spam learning: read message", "account", account, "err", err)
			continue
		}
		learned, err := l.spam.LearnFiled(account, from.SpecialUse, to.SpecialUse, spam.StripHeaders(data))
		if err != nil {
			l.log.Error("spam learning failed", "account", account, "err", err)
			continue
		}
		if learned {
			l.log.Info("spam learned", "account", account, "from", from.Name, "to", to.Name, "uid", m.UID)
		}
	}
}

// signer signs submitted mail with the active keys of its From domain.
type signer struct {
	keys *dkim.Keyring
}

func (s signer) Sign(ctx context.Context, msg []byte) ([]byte, error) {
	keys := s.keys.Active(mailauth.FromDomain(msg))
	if len(keys) == 0 {
		return msg, nil
	}
	return dkim.Sign(msg, keys)
}

// outbound hands submitted mail for other domains to the queue.
type outbound struct {
	q *queue.Queue
}

func (o outbound) Enqueue(ctx context.Context, from string, to []string, data []byte) error {
	_, err := o.q.Enqueue(ctx, from, to, data)
	return err
}

// errIndexBuilding answers searches while the index is still being built.
var errIndexBuilding = errors.New("the search index is still being built; try again in a minute")

// lazyIndex lets the server take mail while the search index catches up
// (a rebuild takes about 80 s per 100,000 messages): until it is ready,
// IMAP SEARCH checks every message and the web search says to wait.
type lazyIndex struct {
	ix atomic.Pointer[search.Index]
}

func (l *lazyIndex) Sync(ctx context.Context) error {
	ix := l.ix.Load()
	if ix == nil {
		return errIndexBuilding
	}
	return ix.Sync(ctx)
}

func (l *lazyIndex) Candidates(ctx context.Context, account, mailbox uint64, field search.Field, text string) ([]uint32, bool, error) {
	ix := l.ix.Load()
	if ix == nil {
		return nil, false, nil
	}
	return ix.Candidates(ctx, account, mailbox, field, text)
}

func (l *lazyIndex) Query(ctx context.Context, account uint64, q string, from, size int) (*search.Results, error) {
	ix := l.ix.Load()
	if ix == nil {
		return nil, errIndexBuilding
	}
	return ix.Query(ctx, account, q, from, size)
}
