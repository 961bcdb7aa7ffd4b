// Package connlimit bounds how many connections a listener holds from one
// client address and in total. A connection over a limit gets the
// protocol's goodbye line (SMTP's 421, IMAP's BYE) and is closed at once,
// without reaching the server behind the listener; it never waits for a
// slot, so a flood cannot queue up in the kernel's backlog either.
package connlimit

import (
	"crypto/tls"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Limiter counts connections; one Limiter may serve several listeners
// (submission on 587 and 465 share one). Safe for concurrent use.
type Limiter struct {
	perIP, total int

	mu    sync.Mutex
	byIP  map[netip.Addr]int // guarded by mu
	count int                // guarded by mu
}

// New returns a Limiter of perIP connections per client address and
// total in all; a value <= 0 means no limit of that kind.
func New(perIP, total int) *Limiter {
	return &Limiter{perIP: perIP, total: total, byIP: map[netip.Addr]int{}}
}

// Refusal is why a connection was turned away.
type Refusal int

// The refusals.
const (
	Admitted Refusal = iota
	TooManyFromIP
	TooManyInTotal
)

// acquire takes a slot for addr, or says which limit is full.
func (l *Limiter) acquire(addr netip.Addr) Refusal {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total > 0 && l.count >= l.total {
		return TooManyInTotal
	}
	if l.perIP > 0 && l.byIP[addr] >= l.perIP {
		return TooManyFromIP
	}
	l.count++
	l.byIP[addr]++
	return Admitted
}

func (l *Limiter) release(addr netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.count--
	if l.byIP[addr]--; l.byIP[addr] <= 0 {
		delete(l.byIP, addr)
	}
}

// Open returns how many connections are held now.
func (l *Limiter) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.count
}

// Config says how a Listener turns clients away.
type Config struct {
	// Goodbye returns the line (CRLF-terminated) a refused client reads
	// before the close.
	Goodbye func(Refusal) string
	// TLS, when set, speaks TLS before the goodbye (implicit-TLS ports).
	TLS *tls.Config
	// Logger gets one line per refusal. Default: slog.Default().
	Logger *slog.Logger
}

// goodbyeTimeout bounds writing the goodbye to a client that does not read.
const goodbyeTimeout = 5 * time.Second

// Listener wraps a net.Listener with a Limiter.
type Listener struct {
	net.Listener
	lim *Limiter
	cfg Config
}

// NewListener wraps inner; put it outside any PROXY protocol listener, so
// the address counted is the client's.
func NewListener(inner net.Listener, lim *Limiter, cfg Config) *Listener {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Listener{Listener: inner, lim: lim, cfg: cfg}
}

// Accept returns the next connection within the limits.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := addrOf(c.RemoteAddr())
		r := l.lim.acquire(addr)
		if r == Admitted {
			return &conn{Conn: c, release: sync.OnceFunc(func() { l.lim.release(addr) })}, nil
		}
		l.cfg.Logger.Warn("connection refused: limit reached", "remote", c.RemoteAddr().String(),
			"limit", map[Refusal]string{TooManyFromIP: "per_ip", TooManyInTotal: "total"}[r])
		go l.refuse(c, r)
	}
}

// refuse says goodbye off the accept loop: a client that does not read
// holds only its own goroutine, for goodbyeTimeout.
func (l *Listener) refuse(c net.Conn, r Refusal) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(goodbyeTimeout))
	if l.cfg.Goodbye == nil {
		return
	}
	if l.cfg.TLS != nil {
		tc := tls.Server(c, l.cfg.TLS)
		if tc.Handshake() != nil {
			return
		}
		c = tc
	}
	c.Write([]byte(l.cfg.Goodbye(r)))
	if tc, ok := c.(*tls.Conn); ok {
		tc.CloseWrite()
	}
}

// conn gives its slot back once, on the first Close.
type conn struct {
	net.Conn
	release func()
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}

// NetConn returns the connection underneath.
func (c *conn) NetConn() net.Conn { return c.Conn }

func addrOf(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(ta.IP)
		return ip.Unmap()
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
