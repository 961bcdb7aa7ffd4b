package proxyproto

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// DefaultHeaderTimeout bounds the wait for a trusted peer's header.
const DefaultHeaderTimeout = 5 * time.Second

// ErrUntrustedHeader is returned by Read on a connection from a peer
// outside the trusted networks that began with a PROXY header; the
// connection is closed.
var ErrUntrustedHeader = errors.New("PROXY protocol header from an untrusted peer")

// Config configures a Listener.
type Config struct {
	// Trusted are the networks whose peers must send a header. Empty
	// means nobody may: every peer is a direct client.
	Trusted []netip.Prefix
	// HeaderTimeout bounds reading a trusted peer's header.
	// Default: DefaultHeaderTimeout.
	HeaderTimeout time.Duration
	// Logger gets one line per refused connection. Default: slog.Default().
	Logger *slog.Logger
}

// Listener accepts connections whose RemoteAddr and LocalAddr are the ones
// the PROXY header names.
type Listener struct {
	inner net.Listener
	cfg   Config

	ready     chan accepted
	done      chan struct{}
	closeOnce sync.Once
}

type accepted struct {
	c   net.Conn
	err error
}

// NewListener wraps l. Accept on the result is the only way to take
// connections from l afterwards.
func NewListener(l net.Listener, cfg Config) *Listener {
	if cfg.HeaderTimeout <= 0 {
		cfg.HeaderTimeout = DefaultHeaderTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	pl := &Listener{inner: l, cfg: cfg, ready: make(chan accepted), done: make(chan struct{})}
	go pl.acceptLoop()
	return pl
}

func (l *Listener) acceptLoop() {
	for {
		c, err := l.inner.Accept()
		if err != nil {
			select {
			case l.ready <- accepted{err: err}:
			case <-l.done:
				return
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// The server backs off on temporary errors; an error it
			// treats as final ends its Accept calls and this loop waits
			// on done.
			continue
		}
		go l.handshake(c)
	}
}

// handshake reads a trusted peer's header; a slow peer holds up only
// its own goroutine.
func (l *Listener) handshake(c net.Conn) {
	defer func() {
		if r := recover(); r != nil {
			l.cfg.Logger.Error("proxy protocol: panic", "peer", c.RemoteAddr().String(), "panic", r)
			c.Close()
		}
	}()
	pc := &Conn{Conn: c, r: bufio.NewReaderSize(c, 512), remote: c.RemoteAddr(), local: c.LocalAddr(), log: l.cfg.Logger}
	if !l.trusted(c.RemoteAddr()) {
		pc.check = true
		l.deliver(pc)
		return
	}
	c.SetReadDeadline(time.Now().Add(l.cfg.HeaderTimeout))
	h, err := ReadHeader(pc.r)
	c.SetReadDeadline(time.Time{})
	if err != nil {
		l.cfg.Logger.Warn("proxy protocol: connection refused", "peer", c.RemoteAddr().String(), "reason", err.Error())
		c.Close()
		return
	}
	if h.Command == Proxy {
		pc.remote = net.TCPAddrFromAddrPort(h.Source)
		pc.local = net.TCPAddrFromAddrPort(h.Destination)
	}
	l.deliver(pc)
}

func (l *Listener) deliver(c net.Conn) {
	select {
	case l.ready <- accepted{c: c}:
	case <-l.done:
		c.Close()
	}
}

func (l *Listener) trusted(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return false
	}
	ip := ta.AddrPort().Addr().Unmap()
	for _, p := range l.cfg.Trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Accept returns the next connection whose header has been read (or
// which needs none).
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case a := <-l.ready:
		return a.c, a.err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting; connections still reading their header are closed.
func (l *Listener) Close() error {
	err := net.ErrClosed
	l.closeOnce.Do(func() {
		close(l.done)
		err = l.inner.Close()
	})
	return err
}

// Addr is the address listened on.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

// Conn is a connection accepted through a Listener.
type Conn struct {
	net.Conn
	r             *bufio.Reader // holds what followed the header
	remote, local net.Addr
	log           *slog.Logger

	mu       sync.Mutex // guards check and checkErr; held across the first Read
	check    bool       // an untrusted peer: refuse a header on first Read
	checkErr error
}

// Read reads what follows the header.
func (c *Conn) Read(b []byte) (int, error) {
	c.mu.Lock()
	if c.check {
		c.check = false
		if looksLikeHeader(c.r) {
			c.log.Warn("proxy protocol: header from untrusted peer refused", "peer", c.Conn.RemoteAddr().String())
			c.Conn.Close()
			c.checkErr = fmt.Errorf("%w %s", ErrUntrustedHeader, c.Conn.RemoteAddr())
		}
	}
	err := c.checkErr
	c.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return c.r.Read(b)
}

// RemoteAddr is the client's address: the header's source when a
// trusted proxy sent one, else the peer's.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// LocalAddr is the address the client connected to.
func (c *Conn) LocalAddr() net.Addr { return c.local }

// PeerAddr is the address of the connection's other end (the proxy when
// there is one).
func (c *Conn) PeerAddr() net.Addr { return c.Conn.RemoteAddr() }
