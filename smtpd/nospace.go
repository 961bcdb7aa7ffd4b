package smtpd

import (
	"github.com/emersion/go-smtp"

	"frontdesk/store"
)

// RFC 3463 4.3.1 "mail system full", with 452 as RFC 5321 §4.2.2 and
// RFC 1870 §6.1 give it: the client keeps the message and tries later.
var errNoSpace = reply(452, 4, 3, 1, "Insufficient system storage, try again later")

// tempFailure is the reply for a write that failed on our side: a full
// disk gets 452 4.3.1, anything else 451 4.3.0. Every store, queue and
// desk write of a transaction answers through it.
func tempFailure(err error) *smtp.SMTPError {
	if store.IsNoSpace(err) {
		return errNoSpace
	}
	return errTemporary
}

// roomFor reports whether the data directory can take a message of size
// bytes (the SIZE parameter, RFC 1870; 0 when not given). Without SIZE
// only a file system with no block left is refused here: anything else
// is found out, and answered, at DATA.
func (s *session) roomFor(size int64) bool {
	free, ok := s.srv.st.FreeSpace()
	if !ok {
		return true
	}
	return free > size
}
