package smtpd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"frontdesk/authn"
	"frontdesk/store"
)

// backend makes a session per EHLO/HELO; go-smtp makes a new one after
// STARTTLS, so a session never outlives the TLS state it saw.
type backend struct{ s *Server }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	cn := connOf(c.Conn())
	if cn == nil {
		return nil, errors.New("smtpd: connection not accepted through Serve")
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &session{srv: b.s, c: c, conn: cn, log: cn.log, ctx: ctx, cancel: cancel}, nil
}

// session is one client's conversation; go-smtp calls it from one
// goroutine at a time (Logout may come from Shutdown's goroutine, and
// touches only cancel).
type session struct {
	srv    *Server
	c      *smtp.Conn
	conn   *conn
	log    *slog.Logger
	ctx    context.Context // cancelled by Logout
	cancel context.CancelFunc

	acct *store.Account // authenticated user, nil before AUTH

	// The current transaction, cleared by Reset.
	id     string
	from   string
	utf8   bool
	rcpts  []string        // every accepted recipient, as normalized
	local  []uint64        // accounts to deliver to, once each
	seen   map[uint64]bool // accounts already in local
	remote []string        // recipients for Outbound, as the client wrote them
	locals []string        // local recipients, as normalized, for the Desk
}

var (
	_ smtp.Session     = (*session)(nil)
	_ smtp.AuthSession = (*session)(nil)
)

func (s *session) submission() bool { return s.srv.cfg.Mode == Submission }

func (s *session) isTLS() bool {
	_, ok := s.c.TLSConnectionState()
	return ok
}

// Reset discards the transaction (RSET, EHLO again, after DATA).
func (s *session) Reset() {
	s.conn.abortTx()
	s.conn.inMail.Store(false)
	s.id, s.from, s.utf8 = "", "", false
	s.rcpts, s.local, s.seen, s.remote, s.locals = nil, nil, nil, nil, nil
}

// Logout ends the session. It may run concurrently with Data when
// Shutdown closes the connection, so it only cancels the context.
func (s *session) Logout() error {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic in logout", "panic", r)
		}
	}()
	s.cancel()
	return nil
}

// Mail starts a transaction (RFC 5321 §3.3).
func (s *session) Mail(from string, opts *smtp.MailOptions) error {
	if s.srv.isClosing() {
		return errShuttingDown
	}
	s.Reset()
	if s.submission() {
		// RFC 4954 §6: 530 when the server requires AUTH first.
		if s.acct == nil {
			s.reject("mail", errAuthRequired, "from", from)
			return errAuthRequired
		}
		// DESIGN.md: the authenticated user must own the sender address.
		if !s.owns(from) {
			s.reject("mail", errSenderNotOwned, "from", from, "user", s.acct.Address)
			return errSenderNotOwned
		}
	}
	var size int64
	if opts != nil {
		size = opts.Size
	}
	if !s.roomFor(size) {
		s.reject("mail", errNoSpace, "from", from, "size", size)
		return errNoSpace
	}
	s.id = newID()
	s.from = from
	s.conn.inMail.Store(true)
	s.utf8 = opts != nil && opts.UTF8
	return nil
}

// owns reports whether addr is the authenticated user's own address,
// compared case-insensitively as the store normalizes it.
func (s *session) owns(addr string) bool {
	if s.acct == nil {
		return false
	}
	owned, err := s.srv.st.Owns(s.ctx, s.acct, addr)
	if err != nil {
		s.log.Error("sender ownership lookup", "addr", addr, "err", err)
	}
	return owned
}

// Rcpt adds a recipient: local ones must exist; remote ones are relayed
// only for authenticated submission with an Outbound queue (no open
// relay, DESIGN.md).
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	addr, err := store.NormalizeAddress(to)
	if err != nil {
		s.reject("rcpt", errBadRecipient, "to", to)
		return errBadRecipient
	}
	local, err := s.srv.st.IsLocalDomain(s.ctx, store.DomainOf(addr))
	if err != nil {
		s.log.Error("rcpt: domain lookup", "to", addr, "err", err)
		return errTemporary
	}
	if !local {
		switch {
		case !s.submission():
			s.reject("rcpt", errRelayDenied, "from", s.from, "to", addr)
			return errRelayDenied
		case s.srv.cfg.Outbound == nil:
			s.reject("rcpt", errNoOutbound, "from", s.from, "to", addr)
			return errNoOutbound
		}
		if !s.conn.beginTx() {
			return errShuttingDown
		}
		s.remote = append(s.remote, to)
		s.rcpts = append(s.rcpts, addr)
		return nil
	}
	// Accounts, then aliases, then the domain's catch-all.
	acct, err := s.srv.st.ResolveRecipient(s.ctx, addr)
	if errors.Is(err, store.ErrNotFound) {
		s.reject("rcpt", errNoSuchUser, "from", s.from, "to", addr)
		return errNoSuchUser
	}
	if err != nil {
		s.log.Error("rcpt: account lookup", "to", addr, "err", err)
		return errTemporary
	}
	if !s.conn.beginTx() {
		return errShuttingDown
	}
	if s.seen == nil {
		s.seen = map[uint64]bool{}
	}
	if !s.seen[acct.ID] {
		s.seen[acct.ID] = true
		s.local = append(s.local, acct.ID)
	}
	s.rcpts = append(s.rcpts, addr)
	s.locals = append(s.locals, addr)
	return nil
}

// Data receives the message and answers only once it is stored (local)
// and queued (remote): DESIGN.md "250 means stored".
func (s *session) Data(r io.Reader) error {
	if !s.conn.beginTx() {
		return errShuttingDown
	}
	defer s.conn.dataDone()

	// Read one byte past the limit to tell "exactly MaxSize" from "more".
	max := s.srv.cfg.MaxSize
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	switch {
	case err == smtp.ErrDataTooLarge || err == nil && int64(len(data)) > max:
		s.reject("data", errTooBig, "id", s.id, "from", s.from, "size_over", max)
		return errTooBig
	case errors.Is(err, smtp.ErrTooLongLine):
		s.reject("data", errLineTooLong, "id", s.id, "from", s.from)
		return errLineTooLong
	case err == nil && s.conn.readFailed.Load():
		// go-smtp ends a BDAT chunk cut short by EOF as if it were whole
		// (io.Copy hides the EOF); the connection saw the EOF, so the
		// message may be truncated and must not be stored.
		err = io.ErrUnexpectedEOF
		fallthrough
	case err != nil:
		// The client went away or timed out mid-message: nothing is stored.
		s.log.Info("aborted", "id", s.id, "from", s.from, "err", err)
		return errDataAborted
	}
	// RFC 5321 §4.1.1.4 / RFC 5322 §2.3: NUL is not allowed in SMTP text,
	// and stores and clients downstream treat it badly.
	if bytes.IndexByte(data, 0) >= 0 {
		s.reject("data", errNUL, "id", s.id, "from", s.from)
		return errNUL
	}
	if s.submission() {
		if rerr := s.checkHeaderFrom(data); rerr != nil {
			s.reject("data", rerr, "id", s.id, "from", s.from, "user", s.acct.Address)
			return rerr
		}
	}

	var judged Judgement
	switch {
	case !s.submission() && s.srv.cfg.Judge != nil:
		judged = s.srv.cfg.Judge.Judge(s.ctx, JudgeInput{IP: remoteIP(s.conn.RemoteAddr()), Helo: s.heloName(),
			MailFrom: s.from, Recipients: s.local, Message: data})
		if judged.Defer {
			rerr := reply(451, 4, 7, 0, judged.Reason)
			s.reject("data", rerr, "id", s.id, "from", s.from, "auth", judged.Summary)
			return rerr
		}
		if judged.Reject {
			rerr := reply(550, 5, 7, 1, judged.Reason)
			s.reject("data", rerr, "id", s.id, "from", s.from, "auth", judged.Summary)
			return rerr
		}
		if judged.Message != nil {
			data = judged.Message
		}
	case s.submission() && s.srv.cfg.Signer != nil:
		signed, err := s.srv.cfg.Signer.Sign(s.ctx, data)
		if err != nil {
			s.log.Error("dkim sign failed", "id", s.id, "from", s.from, "err", err)
			return errTemporary
		}
		data = signed
	}

	now := time.Now()
	tr := trace{
		helo:     s.heloName(),
		rdns:     s.conn.reverseName(),
		ip:       remoteIP(s.conn.RemoteAddr()),
		hostname: s.srv.cfg.Hostname,
		tls:      s.isTLS(),
		auth:     s.acct != nil,
		utf8:     s.utf8,
		id:       s.id,
		date:     now,
	}
	if len(s.rcpts) == 1 {
		tr.rcpt = s.rcpts[0]
	}
	hdr := tr.header()
	msg := make([]byte, 0, len(judged.Headers)+len(hdr)+len(data))
	msg = append(append(append(msg, judged.Headers...), hdr...), data...)

	if len(s.local) > 0 {
		// One stored file per distinct copy: accounts whose copies differ
		// only by mailbox share it.
		copies := map[string][]store.Delivery{}
		var order []string
		for _, id := range s.local {
			mailbox := judged.Mailbox[id]
			if mailbox == "" {
				mailbox = "INBOX"
			}
			extra := judged.AccountHeaders[id]
			if _, ok := copies[extra]; !ok {
				order = append(order, extra)
			}
			copies[extra] = append(copies[extra], store.Delivery{Account: id, Mailbox: mailbox})
		}
		for _, extra := range order {
			m := msg
			if extra != "" {
				m = make([]byte, 0, len(extra)+len(msg))
				m = append(append(m, extra...), msg...)
			}
			if _, err := s.srv.st.Deliver(s.ctx, m, now, copies[extra]...); err != nil {
				s.log.Error("deliver failed", "id", s.id, "from", s.from, "err", err)
				return tempFailure(err)
			}
		}
	}
	if len(s.local) > 0 && s.srv.cfg.Desk != nil {
		junk := map[uint64]bool{}
		for id, mb := range judged.Mailbox {
			junk[id] = mb == "Junk"
		}
		if err := s.srv.cfg.Desk.SupportMail(s.ctx, SupportInput{MailFrom: s.from, Recipients: s.locals, Junk: junk, Message: msg}); err != nil {
			s.log.Error("ticket desk failed", "id", s.id, "from", s.from, "err", err)
			return tempFailure(err)
		}
	}
	if len(s.remote) > 0 {
		if err := s.srv.cfg.Outbound.Enqueue(s.ctx, s.from, s.remote, msg); err != nil {
			// Local copies are already stored; the client's retry will
			// duplicate them, which beats losing the remote ones.
			s.log.Error("enqueue failed", "id", s.id, "from", s.from, "to", strings.Join(s.remote, ","), "err", err)
			return tempFailure(err)
		}
	}
	attrs := []any{"id", s.id, "from", s.from, "to", strings.Join(s.rcpts, ","), "size", len(data),
		"tls", tr.tls}
	if s.acct != nil {
		attrs = append(attrs, "user", s.acct.Address)
	}
	if judged.Summary != "" {
		attrs = append(attrs, "auth", judged.Summary)
	}
	s.log.Info("delivered", attrs...)
	return nil
}

// addrParser reads header addresses whatever the charset of encoded
// display names: only the addresses matter here.
var addrParser = mail.AddressParser{WordDecoder: &mime.WordDecoder{
	CharsetReader: func(_ string, input io.Reader) (io.Reader, error) { return input, nil },
}}

// checkHeaderFrom requires every address of every From field (RFC 5322
// §3.6.2) to be the user's own (DESIGN.md: the user must own From).
func (s *session) checkHeaderFrom(data []byte) *smtp.SMTPError {
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return errFromMissing
	}
	fields := m.Header["From"]
	if len(fields) == 0 {
		return errFromMissing
	}
	for _, f := range fields {
		list, err := addrParser.ParseList(f)
		if err != nil || len(list) == 0 {
			return errFromMissing
		}
		for _, a := range list {
			if !s.owns(a.Address) {
				return errFromNotOwned
			}
		}
	}
	return nil
}

// reject logs a refusal with its reply code, for postmasters.
func (s *session) reject(stage string, e *smtp.SMTPError, attrs ...any) {
	attrs = append([]any{"stage", stage, "code", fmt.Sprintf("%d %d.%d.%d", e.Code,
		e.EnhancedCode[0], e.EnhancedCode[1], e.EnhancedCode[2]), "reason", e.Message}, attrs...)
	s.log.Info("rejected", attrs...)
}

// authAllowed applies DESIGN.md's rule per connection: AUTH needs TLS,
// except from loopback where plain text is allowed.
func (s *session) authAllowed() bool {
	return s.isTLS() || authn.IsLoopback(s.conn.RemoteAddr())
}
