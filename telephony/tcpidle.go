package telephony

import (
	"net"
	"time"
)

// idleListener gives every SIP-over-TCP connection a read deadline that
// each read pushes back: a peer silent for the timeout is disconnected
// (sipgo closes a connection whose read fails), so idle sockets cannot
// pile up. A registered softphone re-REGISTERs within RegisterMaxExpiry,
// and the default timeout is longer than that.
type idleListener struct {
	net.Listener
	timeout time.Duration
}

func (l idleListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &idleConn{Conn: c, timeout: l.timeout}, nil
}

type idleConn struct {
	net.Conn
	timeout time.Duration
}

func (c *idleConn) Read(b []byte) (int, error) {
	c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
	return c.Conn.Read(b)
}
