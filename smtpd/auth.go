package smtpd

import (
	"errors"
	"strings"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"frontdesk/authn"
	"frontdesk/store"
)

// AuthMechanisms lists what EHLO advertises (RFC 4954 §3). MX does not
// offer AUTH, and submission offers it only where it may be used, so a
// client on a plain non-loopback connection sees STARTTLS first.
func (s *session) AuthMechanisms() []string {
	if !s.submission() || !s.authAllowed() {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

// Auth starts a SASL exchange. Nothing of the exchange is logged but the
// outcome (and the user name on success).
func (s *session) Auth(mech string) (sasl.Server, error) {
	if !s.submission() {
		return nil, errAuthNotOffered
	}
	if !s.authAllowed() {
		// RFC 4954 §6: 538 when the mechanism needs an encrypted channel.
		s.reject("auth", errEncryptionRequired, "mech", mech)
		return nil, errEncryptionRequired
	}
	switch strings.ToUpper(mech) {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, pass string) error {
			// RFC 4616 §2: we do not let one user act as another.
			if identity != "" && identity != user {
				s.refused(mech, user, authn.ReasonIdentity)
				return errAuthFailed
			}
			return s.authenticate(mech, user, pass)
		}), nil
	case sasl.Login:
		return &loginServer{check: func(user, pass string) error { return s.authenticate(mech, user, pass) }}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *session) authenticate(mech, user, pass string) error {
	acct, err := s.srv.auth.Check(s.ctx, s.conn.RemoteAddr(), user, pass)
	switch {
	case err == nil:
		s.acct = acct
		s.log.Info("authenticated", "mech", mech, "user", acct.Address, "tls", s.isTLS())
		return nil
	case errors.Is(err, authn.ErrRateLimited):
		s.refused(mech, user, authn.ReasonRateLimited)
		return errAuthRateLimited
	case errors.Is(err, store.ErrAuthFailed):
		s.refused(mech, user, authn.ReasonPassword)
		return errAuthFailed
	}
	s.log.Error("auth: check failed", "mech", mech, "err", err)
	return errAuthTemporary
}

// refused logs the refused login in the form shared with IMAP, the web
// and SIP (authn.Refused), for fail2ban.
func (s *session) refused(mech, user, reason string) {
	authn.Refused(s.log, "smtp", s.conn.RemoteAddr().String(), user, reason, "mech", mech)
}

// loginServer is the LOGIN mechanism (draft-murchison-sasl-login), which
// go-sasl no longer provides but Outlook and older clients still use.
type loginServer struct {
	step  int
	user  string
	check func(user, pass string) error
}

func (l *loginServer) Next(resp []byte) (challenge []byte, done bool, err error) {
	switch l.step {
	case 0:
		if resp == nil {
			l.step = 1
			return []byte("Username:"), false, nil
		}
		// Initial response carries the user name (RFC 4954 §4).
		l.user, l.step = string(resp), 2
		return []byte("Password:"), false, nil
	case 1:
		l.user, l.step = string(resp), 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		return nil, true, l.check(l.user, string(resp))
	}
	return nil, false, sasl.ErrUnexpectedClientResponse
}
