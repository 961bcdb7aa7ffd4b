package spf

import (
	"context"
	"errors"
	"net"
	"strings"
)

// CheckSMTP checks the identities of an SMTP transaction as RFC 7208 §2.3
// recommends: the HELO identity first, when the HELO name is a fully
// qualified domain name (not an address literal), and a fail there decides.
// Otherwise the MAIL FROM identity is checked as Check does; for the null
// sender, whose check is of the HELO identity anyway (§2.4), the HELO
// result is the result.
func (c *Checker) CheckSMTP(ctx context.Context, ip net.IP, helo, mailFrom string) Verdict {
	h := strings.TrimSuffix(strings.TrimSpace(helo), ".")
	from := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(mailFrom), "<"), ">")
	heloOnly := from == "" || !strings.Contains(from, "@")
	if !isFQDN(h) {
		if heloOnly && h != "" {
			return Verdict{Result: None, Domain: h, Identity: "helo", Sender: "postmaster@" + h,
				Err: errors.New("HELO name is not a fully qualified domain name")}
		}
		return c.Check(ctx, ip, helo, mailFrom)
	}
	hv := c.Check(ctx, ip, h, "")
	if hv.Result == Fail || heloOnly {
		return hv
	}
	return c.Check(ctx, ip, helo, mailFrom)
}

// isFQDN reports whether a HELO name is a domain name SPF can check: not
// an address literal ("[192.0.2.1]", or a bare address as some clients
// send), at least two labels, and a top label that is not all digits.
func isFQDN(h string) bool {
	if h == "" || strings.HasPrefix(h, "[") || net.ParseIP(h) != nil {
		return false
	}
	if checkDomainName(h) != nil {
		return false
	}
	return !allDigits.MatchString(h[strings.LastIndexByte(h, '.')+1:])
}
