package imapd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"frontdesk/authn"
	"frontdesk/store"
)

// opTimeout bounds one store operation of a command.
const opTimeout = 2 * time.Minute

// session is the state of one IMAP connection. It is used by one goroutine
// at a time (see the package comment), so it needs no lock.
type session struct {
	srv  *Server
	conn *imapserver.Conn
	log  *slog.Logger

	acct *store.Account // nil before login
	sel  *selected      // nil unless a mailbox is selected
}

var _ imapserver.SessionIMAP4rev2 = (*session)(nil)
var _ imapserver.SessionAppendLimit = (*session)(nil)

func (s *Server) newSession(c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
	id := s.nextID.Add(1)
	log := s.log.With("proto", "imap", "conn", id, "remote", c.NetConn().RemoteAddr().String())
	log.Debug("imap connection")
	return &session{srv: s, conn: c, log: log}, nil, nil
}

func (s *session) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), opTimeout)
}

// Close ends the session.
func (s *session) Close() error {
	if s.sel != nil {
		s.sel.close()
		s.sel = nil
	}
	return nil
}

// Login checks the password; imapserver also routes SASL PLAIN here.
func (s *session) Login(username, password string) error {
	ctx, cancel := s.ctx()
	defer cancel()
	acct, err := s.srv.auth.Check(ctx, s.conn.NetConn().RemoteAddr(), username, password)
	switch {
	case err == nil:
	case errors.Is(err, authn.ErrRateLimited):
		s.refused(username, authn.ReasonRateLimited)
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAuthenticationFailed,
			Text: "too many failed logins, try again later"}
	case errors.Is(err, store.ErrAuthFailed):
		s.refused(username, authn.ReasonPassword)
		return imapserver.ErrAuthFailed
	default:
		s.log.Error("imap login", "user", username, "err", err)
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnavailable,
			Text: "authentication is unavailable, try again later"}
	}
	s.acct = acct
	s.log = s.log.With("user", acct.Address)
	s.log.Info("imap login")
	return nil
}

// refused logs the refused login in the form shared with SMTP, the web
// and SIP (authn.Refused). The server's logger, not the session's: the
// session's already says proto=.
func (s *session) refused(user, reason string) {
	authn.Refused(s.srv.log, "imap", s.conn.NetConn().RemoteAddr().String(), user, reason)
}

// AppendLimit is advertised as APPENDLIMIT and enforced by imapserver.
func (s *session) AppendLimit() uint32 { return uint32(s.srv.cfg.MaxAppendSize) }

// Namespace answers NAMESPACE (RFC 2342): one personal namespace.
func (s *session) Namespace() (*imap.NamespaceData, error) {
	return &imap.NamespaceData{Personal: []imap.NamespaceDescriptor{{Prefix: "", Delim: store.Delimiter}}}, nil
}

// mapErr turns a store error into the IMAP response it deserves (RFC 5530
// response codes). tryCreate is for APPEND, COPY and MOVE targets.
func (s *session) mapErr(err error, tryCreate bool) error {
	var ie *imap.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ie):
		return err
	case errors.Is(err, store.ErrNotFound) && tryCreate:
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTryCreate, Text: "no such mailbox"}
	case errors.Is(err, store.ErrNotFound):
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNonExistent, Text: "no such mailbox"}
	case errors.Is(err, store.ErrExists):
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAlreadyExists, Text: "mailbox already exists"}
	case errors.Is(err, store.ErrInvalid):
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: err.Error()}
	case store.IsNoSpace(err):
		// RFC 5530 has no code for a full server disk; OVERQUOTA is what
		// clients show the user (as Dovecot does), and the text says it
		// is temporary.
		s.log.Error("imap command failed: disk full", "err", err)
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeOverQuota, Text: "not enough disk space on the server, try again later"}
	case errors.Is(err, store.ErrClosed), errors.Is(err, context.DeadlineExceeded):
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnavailable, Text: "server unavailable, try again later"}
	}
	s.log.Error("imap command failed", "err", err)
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeServerBug, Text: "internal server error"}
}

// Create makes a mailbox and any missing parents (RFC 9051 §6.3.4).
func (s *session) Create(name string, options *imap.CreateOptions) error {
	ctx, cancel := s.ctx()
	defer cancel()
	name = strings.TrimRight(name, string(store.Delimiter))
	use := ""
	if options != nil && len(options.SpecialUse) > 0 {
		use = string(options.SpecialUse[0])
		if !isSpecialUse(use) {
			// RFC 6154 §3 names the USEATTR response code for this.
			return &imap.Error{Type: imap.StatusResponseTypeNo, Code: "USEATTR", Text: "unsupported special-use attribute"}
		}
	}
	if _, err := store.NormalizeMailbox(name); err != nil {
		return s.mapErr(err, false)
	}
	parts := strings.Split(name, string(store.Delimiter))
	for i := 1; i < len(parts); i++ {
		_, err := s.srv.st.CreateMailbox(ctx, s.acct.ID, strings.Join(parts[:i], string(store.Delimiter)), "")
		if err != nil && !errors.Is(err, store.ErrExists) {
			return s.mapErr(err, false)
		}
	}
	_, err := s.srv.st.CreateMailbox(ctx, s.acct.ID, name, use)
	return s.mapErr(err, false)
}

func isSpecialUse(a string) bool {
	switch imap.MailboxAttr(a) {
	case imap.MailboxAttrSent, imap.MailboxAttrDrafts, imap.MailboxAttrJunk, imap.MailboxAttrTrash,
		imap.MailboxAttrArchive, imap.MailboxAttrAll, imap.MailboxAttrFlagged, imap.MailboxAttrImportant:
		return true
	}
	return false
}

// Delete removes a mailbox.
func (s *session) Delete(name string) error {
	ctx, cancel := s.ctx()
	defer cancel()
	return s.mapErr(s.srv.st.DeleteMailbox(ctx, s.acct.ID, name), false)
}

// Rename renames a mailbox; renaming INBOX moves its messages (store).
func (s *session) Rename(name, newName string, _ *imap.RenameOptions) error {
	ctx, cancel := s.ctx()
	defer cancel()
	newName = strings.TrimRight(newName, string(store.Delimiter))
	return s.mapErr(s.srv.st.RenameMailbox(ctx, s.acct.ID, name, newName), false)
}

// Subscribe adds a name to the subscriptions; the mailbox need not exist
// (RFC 9051 §6.3.7).
func (s *session) Subscribe(name string) error {
	ctx, cancel := s.ctx()
	defer cancel()
	return s.mapErr(s.srv.st.SetSubscribed(ctx, s.acct.ID, name, true), false)
}

// Unsubscribe removes a name from the subscriptions.
func (s *session) Unsubscribe(name string) error {
	ctx, cancel := s.ctx()
	defer cancel()
	err := s.srv.st.SetSubscribed(ctx, s.acct.ID, name, false)
	if errors.Is(err, store.ErrNotFound) {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNonExistent, Text: "not subscribed"}
	}
	return s.mapErr(err, false)
}

func nextDelim(s string, i int) int {
	j := strings.IndexByte(s[i+1:], store.Delimiter)
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

func sortNames(names []string) {
	for i := 1; i < len(names); i++ {
		for j := i; j > 0 && lessName(names[j], names[j-1]); j-- {
			names[j], names[j-1] = names[j-1], names[j]
		}
	}
}

func lessName(a, b string) bool {
	if a == "INBOX" || b == "INBOX" {
		return a == "INBOX" && b != "INBOX"
	}
	return a < b
}

// matchAny matches a name against LIST patterns; INBOX matches in any case
// (RFC 9051 §6.3.9).
func matchAny(name, ref string, patterns []string) bool {
	for _, p := range patterns {
		if imapserver.MatchList(name, store.Delimiter, ref, p) {
			return true
		}
		if name == "INBOX" || strings.HasPrefix(name, "INBOX/") {
			full := ref + p
			if len(full) >= 5 && strings.EqualFold(full[:5], "INBOX") &&
				imapserver.MatchList(name, store.Delimiter, "", "INBOX"+full[5:]) {
				return true
			}
		}
	}
	return false
}

// Status answers STATUS.
func (s *session) Status(name string, options *imap.StatusOptions) (*imap.StatusData, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	st, err := s.srv.st.Status(ctx, s.acct.ID, name)
	if err != nil {
		return nil, s.mapErr(err, false)
	}
	data := &imap.StatusData{Mailbox: st.Name}
	u32 := func(n int) *uint32 { v := uint32(n); return &v }
	if options.NumMessages {
		data.NumMessages = u32(st.Messages)
	}
	if options.NumRecent {
		data.NumRecent = u32(st.Recent)
	}
	if options.UIDNext {
		data.UIDNext = imap.UID(st.UIDNext)
	}
	if options.UIDValidity {
		data.UIDValidity = st.UIDValidity
	}
	if options.NumUnseen {
		data.NumUnseen = u32(st.Unseen)
	}
	if options.NumDeleted {
		data.NumDeleted = u32(st.Deleted)
	}
	if options.Size {
		size := st.Size
		data.Size = &size
	}
	if options.AppendLimit {
		data.AppendLimit = u32(int(s.srv.cfg.MaxAppendSize))
	}
	if options.HighestModSeq {
		data.HighestModSeq = st.HighestModSeq
	}
	return data, nil
}

// Append stores a message in any mailbox (RFC 9051 §6.3.12); the OK, with
// APPENDUID (RFC 4315), goes out only once the message is durable.
func (s *session) Append(name string, r imap.LiteralReader, options *imap.AppendOptions) (*imap.AppendData, error) {
	if r.Size() > s.srv.cfg.MaxAppendSize {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTooBig, Text: "message too big"}
	}
	norm, err := store.NormalizeMailbox(name)
	if err != nil {
		return nil, s.mapErr(err, true)
	}
	data := make([]byte, r.Size())
	if _, err := io.ReadFull(r, data); err != nil {
		return nil, fmt.Errorf("imapd: read APPEND literal: %w", err)
	}
	ctx, cancel := s.ctx()
	defer cancel()
	if _, err := s.srv.st.MailboxByName(ctx, s.acct.ID, norm); err != nil {
		return nil, s.mapErr(err, true)
	}
	d, err := s.srv.st.Deliver(ctx, data, options.Time, store.Delivery{
		Account: s.acct.ID, Mailbox: norm, Flags: storeFlags(options.Flags)})
	if err != nil {
		return nil, s.mapErr(err, true)
	}
	if len(d) != 1 {
		return nil, s.mapErr(errors.New("imapd: APPEND delivered nowhere"), true)
	}
	s.log.Info("imap append", "mailbox", norm, "uid", d[0].UID, "size", len(data))
	return &imap.AppendData{UIDValidity: d[0].UIDValidity, UID: imap.UID(d[0].UID)}, nil
}

// storeFlags converts IMAP flags for the store, dropping \Recent, which
// clients may not set (RFC 3501 §2.3.2).
func storeFlags(flags []imap.Flag) []string {
	out := make([]string, 0, len(flags))
	for _, f := range flags {
		if strings.EqualFold(string(f), `\Recent`) {
			continue
		}
		out = append(out, string(f))
	}
	return out
}

func imapFlags(flags []string) []imap.Flag {
	out := make([]imap.Flag, len(flags))
	for i, f := range flags {
		out[i] = imap.Flag(f)
	}
	return out
}
