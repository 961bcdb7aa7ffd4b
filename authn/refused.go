package authn

import (
	"errors"
	"log/slog"
	"net"
)

// RefusedMsg is the message of the one log line every refused login
// leaves, in every protocol; deploy/fail2ban/frontdesk.conf matches it.
const RefusedMsg = "auth failed"

// Reasons a login is refused, the reason= of the log line.
const (
	ReasonPassword    = "bad-password"   // wrong password, or no such account (the log does not tell which)
	ReasonRateLimited = "rate-limited"   // too many failures; not even checked
	ReasonIdentity    = "authz-mismatch" // SASL PLAIN asked to act as another user
	ReasonMalformed   = "malformed"      // credentials that do not parse
	ReasonToken       = "bad-token"      // an API token that matches nothing
)

// Refused writes the line of a refused login:
//
//	level=WARN msg="auth failed" proto=imap ip=203.0.113.9 user=alice@example.com reason=bad-password
//
// after whatever attributes log carries (service=, conn=: all set by the
// server, none by the client, so a filter that takes the first ip= after
// proto= cannot be fooled by a crafted user name). proto is smtp, imap,
// web or sip; remote is the client's address as the connection reports it,
// which is the real client's behind a trusted PROXY-protocol balancer;
// user is the name the client gave, quoted by slog if it needs quoting.
// Passwords and SASL data never reach this line.
func Refused(log *slog.Logger, proto, remote, user, reason string, attrs ...any) {
	log.Warn(RefusedMsg, append([]any{"proto", proto, "ip", HostOf(remote), "user", user, "reason", reason}, attrs...)...)
}

// ReasonOf is the reason of a refusal Check returned.
func ReasonOf(err error) string {
	if errors.Is(err, ErrRateLimited) {
		return ReasonRateLimited
	}
	return ReasonPassword
}

// HostOf is the IP address of "ip:port", or s itself if it has no port.
func HostOf(s string) string {
	host, _, err := net.SplitHostPort(s)
	if err != nil {
		return s
	}
	return host
}
