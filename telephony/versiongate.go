package telephony

import (
	"bytes"
	"log/slog"
	"net"

	"github.com/emiago/sipgo/sip"
)

// versionGate sits under sipgo's UDP transport and answers requests in a
// SIP version other than 2.0 itself: 505 Version Not Supported (RFC 3261
// §21.5.7, RFC 4475 §3.3.14), or nothing when the request is too broken to
// answer. sipgo would otherwise echo the request line's third field, which
// may hold anything (a bare LF, spaces), as the version of its response.
type versionGate struct {
	net.PacketConn
	log *slog.Logger
}

func (g *versionGate) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := g.PacketConn.ReadFrom(b)
		if err != nil || g.admit(b[:n], addr) {
			return n, addr, err
		}
	}
}

// admit reports whether sipgo may have the datagram; it answers the ones
// it keeps back.
func (g *versionGate) admit(msg []byte, addr net.Addr) bool {
	line, _, _ := bytes.Cut(msg, []byte("\r\n"))
	if len(bytes.TrimSpace(msg)) == 0 || bytes.HasPrefix(line, []byte("SIP/")) {
		return true // keep-alive, or a response
	}
	if parts := bytes.SplitN(line, []byte(" "), 3); len(parts) == 3 && string(parts[2]) == "SIP/2.0" {
		return true
	}
	m, err := sip.ParseMessage(msg)
	req, ok := m.(*sip.Request)
	if err != nil || !ok || req.IsAck() || req.Via() == nil || req.CSeq() == nil ||
		req.CallID() == nil || req.From() == nil || req.To() == nil {
		g.log.Debug("sip: dropped request with a bad request line", "from", addr.String())
		return false
	}
	res := sip.NewResponseFromRequest(req, 505, "Version Not Supported", nil)
	res.SipVersion = "SIP/2.0"
	if _, err := g.PacketConn.WriteTo([]byte(res.String()), addr); err != nil {
		g.log.Debug("sip: 505 not sent", "to", addr.String(), "err", err)
	}
	return false
}
