package smtpd

import "github.com/emersion/go-smtp"

// The replies this package gives, in one place. Enhanced codes follow
// RFC 3463 (and RFC 2034: every 2xx/4xx/5xx reply carries one). The texts
// are for the client; causes go to the log.
var (
	errShuttingDown = reply(421, 4, 3, 2, "Server shutting down, try again later")

	// RFC 4954 §6 and RFC 3207 §4.
	errAuthRequired       = reply(530, 5, 7, 0, "Authentication required")
	errEncryptionRequired = reply(538, 5, 7, 11, "Encryption required for requested authentication mechanism")
	errAuthFailed         = reply(535, 5, 7, 8, "Authentication credentials invalid")
	errAuthRateLimited    = reply(454, 4, 7, 0, "Too many failed logins, try again later")
	errAuthTemporary      = reply(454, 4, 7, 0, "Temporary authentication failure")
	errAuthNotOffered     = reply(502, 5, 5, 1, "Authentication is not offered on this port; use submission")

	errSenderNotOwned = reply(553, 5, 7, 1, "Sender address not owned by user")
	errFromNotOwned   = reply(550, 5, 7, 1, "Header From address not owned by user")
	errFromMissing    = reply(550, 5, 7, 1, "Message has no valid header From address")

	errBadRecipient = reply(501, 5, 1, 3, "Bad recipient address syntax")
	errNoSuchUser   = reply(550, 5, 1, 1, "No such user here")
	errRelayDenied  = reply(550, 5, 7, 1, "Relaying denied")
	errNoOutbound   = reply(550, 5, 7, 1, "Outbound delivery is not configured on this server")

	errTooBig      = reply(552, 5, 3, 4, "Message too big")
	errNUL         = reply(554, 5, 6, 0, "Message contains NUL characters, which SMTP does not allow")
	errLineTooLong = reply(500, 5, 5, 2, "Line too long")
	errTemporary   = reply(451, 4, 3, 0, "Temporary local problem, try again later")
	errDataAborted = reply(451, 4, 3, 0, "Message transfer aborted")
)

func reply(code, class, subject, detail int, msg string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{class, subject, detail}, Message: msg}
}
