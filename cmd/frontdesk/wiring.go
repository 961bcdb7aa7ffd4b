package main

import (
	"context"

	"frontdesk/dkim"
	"frontdesk/mailauth"
	"frontdesk/queue"
	"frontdesk/smtpd"
)

// judge is the MX's Judge: SPF, DKIM and DMARC, acted on as DMARC says.
type judge struct {
	auth *mailauth.Checker
}

func (j judge) Judge(ctx context.Context, in smtpd.JudgeInput) smtpd.Judgement {
	r := j.auth.Check(ctx, mailauth.Input{IP: in.IP, Helo: in.Helo, MailFrom: in.MailFrom, Message: in.Message})
	out := smtpd.Judgement{Headers: r.Header, Summary: r.String()}
	switch r.Action {
	case mailauth.Reject:
		out.Reject = true
		out.Reason = "Message rejected by the DMARC policy of " + r.DMARC.FromDomain
	case mailauth.Junk:
		out.Mailbox = map[uint64]string{}
		for _, id := range in.Recipients {
			out.Mailbox[id] = "Junk"
		}
	}
	return out
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
