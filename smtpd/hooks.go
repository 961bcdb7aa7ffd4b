package smtpd

import (
	"context"
	"net"
)

// Judge decides what happens to a message arriving at the MX: the
// authentication checks (SPF, DKIM, DMARC) and the spam score. smtpd owns
// this interface; the judging lives in domain packages.
type Judge interface {
	Judge(ctx context.Context, in JudgeInput) Judgement
}

// JudgeInput is one inbound transaction.
type JudgeInput struct {
	IP         net.IP
	Helo       string
	MailFrom   string   // "" for the null sender
	Recipients []uint64 // local accounts the message goes to
	Message    []byte   // as received, without our trace header
}

// Judgement is a Judge's answer.
type Judgement struct {
	// Headers go above the message (Authentication-Results, X-Spam-*),
	// each CRLF-terminated.
	Headers string
	// Reject refuses the message with 550 5.7.1 and Reason.
	Reject bool
	// Defer refuses it for now with 451 4.7.0 and Reason: the checks
	// could not be made (DNS failed) and the sender should retry.
	Defer  bool
	Reason string
	// Mailbox names where each account's copy goes; absent means INBOX.
	Mailbox map[uint64]string
	// AccountHeaders go below Headers in one account's copy only (the
	// spam score, which depends on what that account taught the filter).
	AccountHeaders map[uint64]string
	// Message, when set, replaces the message as received (with header
	// fields a sender must not set removed).
	Message []byte
	// Summary goes into the delivery log line.
	Summary string
}

// Signer DKIM-signs submitted mail with the keys of the sender's domain.
// A domain without keys gets its message back unchanged.
type Signer interface {
	Sign(ctx context.Context, msg []byte) ([]byte, error)
}

// Desk puts mail to support addresses on tickets. SupportMail returns
// only once the ticket is committed, so the 250 after it means "on a
// ticket"; an error answers 451 and the client's retry lands once (the
// desk recognises the Message-ID).
type Desk interface {
	SupportMail(ctx context.Context, in SupportInput) error
}

// SupportInput is one stored transaction with local recipients.
type SupportInput struct {
	MailFrom   string   // "" for the null sender
	Recipients []string // local recipients as given in RCPT, normalized
	// Junk marks the accounts whose copy was filed as spam: the desk
	// opens no ticket for those.
	Junk    map[uint64]bool
	Message []byte // as stored, with our trace header
}
