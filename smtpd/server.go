// Package smtpd serves SMTP: inbound MX (port 25) and authenticated
// submission (ports 587 and 465), on top of github.com/emersion/go-smtp.
//
// go-smtp parses commands and drives the state machine; this package
// decides who may send what to whom, stores local mail through the store
// and hands remote mail to an Outbound queue. DESIGN.md rules that apply:
// "250 means stored" (a 250 after DATA is written only once store.Deliver
// has committed), "no open relay" (unauthenticated sessions reach only
// local recipients; submission needs AUTH over TLS, plain text on loopback
// only) and "bad input gets a clear answer".
//
// Locking: Server.mu guards the connection set, listeners and the
// transaction count; conn.mu guards one connection's transaction state.
// Neither is held while doing I/O or calling into go-smtp, the store or
// Outbound. Lock order: conn.mu before Server.mu, never the reverse.
package smtpd

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"frontdesk/authn"
	"frontdesk/store"
)

// Mode says which service a Server provides.
type Mode int

const (
	// MX accepts mail from anyone for local recipients only (RFC 5321).
	MX Mode = iota
	// Submission accepts mail from authenticated users for any recipient
	// (RFC 6409).
	Submission
)

func (m Mode) String() string {
	if m == Submission {
		return "submission"
	}
	return "mx"
}

// Defaults of Config fields left zero.
const (
	DefaultMaxSize      = 50 << 20
	DefaultReadTimeout  = 5 * time.Minute // RFC 5321 §4.5.3.2.7 (server timeout)
	DefaultWriteTimeout = time.Minute
	// MaxRecipients bounds RCPT per transaction; RFC 5321 §4.5.3.1.8 asks
	// for at least 100.
	MaxRecipients = 100
	// MaxLineLength is the longest command line, twice RFC 5321
	// §4.5.3.1.4's 512 octets with room for ESMTP parameters; go-smtp
	// applies it to DATA lines too (RFC 5321 §4.5.3.1.6 allows 1000).
	MaxLineLength = 2000
)

// ErrServerClosed is returned by Serve and ServeTLS once Shutdown has been called.
var ErrServerClosed = errors.New("smtpd: server closed")

// Outbound takes submitted mail for remote recipients. Enqueue returns only
// once the message is durably queued: the client gets 250 right after.
type Outbound interface {
	Enqueue(ctx context.Context, from string, to []string, data []byte) error
}

// Resolver looks up reverse DNS for the Received header. *net.Resolver
// implements it; the shared dnscheck resolver should be passed in.
type Resolver interface {
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// Config configures a Server. Zero fields take the defaults noted.
type Config struct {
	// Mode is MX (default) or Submission.
	Mode Mode
	// Hostname names this server in the greeting and the Received header.
	// Default: os.Hostname().
	Hostname string
	// MaxSize is the largest message accepted, advertised with SIZE
	// (RFC 1870). Default: DefaultMaxSize (50 MiB).
	MaxSize int64
	// TLS enables STARTTLS (RFC 3207) when set, and is required by ServeTLS.
	TLS *tls.Config
	// Logger receives one line per connection event, delivery and
	// rejection. Default: slog.Default().
	Logger *slog.Logger
	// ReadTimeout bounds each wait for client data, including each read
	// during DATA (RFC 5321 §4.5.3.2). Default: DefaultReadTimeout.
	ReadTimeout time.Duration
	// WriteTimeout bounds each write to the client. Default: DefaultWriteTimeout.
	WriteTimeout time.Duration
	// Outbound accepts submitted mail for remote recipients; nil means
	// outbound delivery is not configured (the next milestone adds a queue).
	Outbound Outbound
	// Resolver is used for the client's reverse DNS name in Received.
	// Default: net.DefaultResolver.
	Resolver Resolver
	// Judge checks mail arriving at the MX; nil delivers it unjudged.
	Judge Judge
	// Signer DKIM-signs submitted mail; nil sends it unsigned.
	Signer Signer
	// Desk puts mail to support addresses on tickets; nil keeps it mail.
	Desk Desk
	// XClientHosts may use XCLIENT on the MX (see xclient.go). Default:
	// none, and XCLIENT is an unknown command.
	XClientHosts []netip.Prefix
}

// Server is an SMTP server in one Mode. It may serve several listeners.
type Server struct {
	st   *store.Store
	auth *authn.Authenticator
	cfg  Config
	log  *slog.Logger
	smtp *smtp.Server

	mu        sync.Mutex
	closing   bool               // guarded by mu
	conns     map[*conn]struct{} // guarded by mu
	listeners []net.Listener     // guarded by mu
	inflight  int                // guarded by mu: transactions between DATA and its reply
	drained   chan struct{}      // guarded by mu: closed when inflight drops to 0 during Shutdown
	nextConn  uint64             // guarded by mu
}

// New returns a Server over st. auth may be nil in MX mode.
func New(st *store.Store, auth *authn.Authenticator, cfg Config) *Server {
	if cfg.Hostname == "" {
		cfg.Hostname, _ = os.Hostname()
		if cfg.Hostname == "" {
			cfg.Hostname = "localhost"
		}
	}
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = DefaultMaxSize
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	s := &Server{
		st:    st,
		auth:  auth,
		cfg:   cfg,
		log:   cfg.Logger.With("service", cfg.Mode.String()),
		conns: map[*conn]struct{}{},
	}
	ss := smtp.NewServer(backend{s})
	ss.Domain = cfg.Hostname
	ss.MaxMessageBytes = cfg.MaxSize
	ss.MaxRecipients = MaxRecipients
	ss.MaxLineLength = MaxLineLength
	ss.TLSConfig = cfg.TLS
	ss.EnableSMTPUTF8 = true // RFC 6531: we store bytes as given and never downgrade
	// go-smtp's switch is server-wide; the session decides per connection
	// (TLS or loopback), see session.AuthMechanisms and session.Auth.
	ss.AllowInsecureAuth = true
	// Deadlines are set per read and per write by conn, so a slow but
	// live client is not cut off mid-DATA (RFC 5321 §4.5.3.2.5).
	ss.ReadTimeout, ss.WriteTimeout = 0, 0
	ss.ErrorLog = errorLog{s.log}
	s.smtp = ss
	return s
}

// Serve accepts plain connections on l (STARTTLS is offered when
// Config.TLS is set). It returns ErrServerClosed after Shutdown.
func (s *Server) Serve(l net.Listener) error {
	return s.serve(l, nil)
}

// ServeTLS accepts implicitly TLS-wrapped connections on l (RFC 8314,
// submissions on port 465). It returns ErrServerClosed after Shutdown.
func (s *Server) ServeTLS(l net.Listener) error {
	if s.cfg.TLS == nil {
		return errors.New("smtpd: ServeTLS needs Config.TLS")
	}
	return s.serve(l, s.cfg.TLS)
}

func (s *Server) serve(l net.Listener, tlsConfig *tls.Config) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners = append(s.listeners, l)
	s.mu.Unlock()
	err := s.smtp.Serve(&listener{Listener: l, srv: s, tls: tlsConfig})
	if s.isClosing() {
		return ErrServerClosed
	}
	return err
}

// Shutdown stops accepting, lets SMTP transactions already in DATA finish
// (until ctx ends), then closes every connection. Idle sessions are not
// waited for: a client between transactions loses nothing. It returns
// ctx.Err() if transactions were still running when ctx ended.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.closing = true
	ls := s.listeners
	var wait chan struct{}
	if s.inflight > 0 {
		s.drained = make(chan struct{})
		wait = s.drained
	}
	s.mu.Unlock()

	for _, l := range ls {
		l.Close()
	}
	var err error
	if wait != nil {
		select {
		case <-wait:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	// Every connection is closed at the socket, from our own set (which
	// also holds those go-smtp has not registered yet): each session's
	// goroutine then fails its next read and ends the session itself.
	// go-smtp's Close would end the sessions from this goroutine instead,
	// racing with commands still being handled (a nil session, a panic).
	s.mu.Lock()
	cs := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	for _, c := range cs {
		c.Close()
	}
	// go-smtp's Shutdown marks its accept loops done and waits for those
	// goroutines, which now end at once.
	wctx, cancel := context.WithTimeout(context.Background(), sessionsEndWait)
	defer cancel()
	if werr := s.smtp.Shutdown(wctx); werr != nil && !errors.Is(werr, net.ErrClosed) && !errors.Is(werr, smtp.ErrServerClosed) {
		s.log.Warn("sessions still ending after shutdown", "err", werr)
	}
	s.log.Info("shutdown", "err", err)
	return err
}

// sessionsEndWait bounds how long Shutdown waits for sessions whose
// sockets it closed to notice.
const sessionsEndWait = 5 * time.Second

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// beginTx counts a transaction entering DATA; it fails once Shutdown has begun.
func (s *Server) beginTx() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.inflight++
	return true
}

func (s *Server) endTx() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inflight--
	if s.inflight == 0 && s.drained != nil {
		close(s.drained)
		s.drained = nil
	}
}

// listener wraps accepted connections in conn (deadlines, tracking) and,
// for implicit TLS, in tls.Server above it, so go-smtp sees a *tls.Conn.
type listener struct {
	net.Listener
	srv *Server
	tls *tls.Config
}

func (l *listener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c := l.srv.newConn(nc)
	if l.tls != nil {
		return tls.Server(c, l.tls), nil
	}
	return c, nil
}

// Transaction states of a conn, for Shutdown.
const (
	txIdle    = iota
	txData    // Session.Data is running
	txReplied // Data returned; the reply is the next write
)

// conn is the transport under go-smtp (and under TLS when there is TLS).
// It applies an idle deadline to every read and write, and tells the
// Server when a transaction's reply has been written, which go-smtp does
// after Session.Data returns.
type conn struct {
	net.Conn
	srv          *Server
	id           string
	log          *slog.Logger
	readTimeout  time.Duration
	writeTimeout time.Duration

	rdnsState

	// xc filters commands for XCLIENT; nil unless Config.XClientHosts is set.
	xc *xclient
	xo xclientOverride // guarded by mu
	// inMail is set between MAIL and the end of its transaction.
	inMail atomic.Bool

	// readFailed is set once a read has failed (EOF included): the client
	// is gone, so a message that "ended" since may be cut short.
	readFailed atomic.Bool
	// timedOut is set once a read has timed out: every later read fails
	// at once, so go-smtp answers 421 4.4.2 and closes instead of waiting
	// a whole timeout again after an aborted DATA.
	timedOut atomic.Bool

	mu     sync.Mutex
	tx     int  // guarded by mu
	closed bool // guarded by mu
}

func (s *Server) newConn(nc net.Conn) *conn {
	s.mu.Lock()
	s.nextConn++
	id := fmt.Sprintf("%x-%d", time.Now().Unix()&0xffffff, s.nextConn)
	c := &conn{
		Conn:         nc,
		srv:          s,
		id:           id,
		log:          s.log.With("conn", id, "remote", nc.RemoteAddr().String()),
		readTimeout:  s.cfg.ReadTimeout,
		writeTimeout: s.cfg.WriteTimeout,
	}
	if s.cfg.Mode == MX && len(s.cfg.XClientHosts) > 0 {
		c.xc = &xclient{allowed: inPrefixes(nc.RemoteAddr(), s.cfg.XClientHosts), r: bufio.NewReader(nc)}
	}
	closing := s.closing
	if !closing {
		s.conns[c] = struct{}{}
	}
	s.mu.Unlock()
	if closing {
		nc.Close()
	}
	c.log.Debug("connected")
	return c
}

func (c *conn) Read(b []byte) (int, error) {
	if c.timedOut.Load() {
		return 0, os.ErrDeadlineExceeded
	}
	c.Conn.SetReadDeadline(time.Now().Add(c.readTimeout))
	var n int
	var err error
	if c.xc != nil {
		n, err = c.xc.read(c, b)
	} else {
		n, err = c.Conn.Read(b)
	}
	if err != nil {
		c.readFailed.Store(true)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			c.timedOut.Store(true)
		}
	}
	return n, err
}

func (c *conn) Write(b []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(c.writeTimeout))
	var n int
	var err error
	if c.xc != nil {
		if out := c.xc.write(b); len(out) != len(b) {
			if _, err = c.Conn.Write(out); err == nil {
				n = len(b)
			}
		} else {
			n, err = c.Conn.Write(b)
		}
	} else {
		n, err = c.Conn.Write(b)
	}
	c.mu.Lock()
	done := c.tx == txReplied
	if done {
		c.tx = txIdle
	}
	c.mu.Unlock()
	if done {
		c.srv.endTx()
	}
	return n, err
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.mu.Lock()
	first := !c.closed
	c.closed = true
	done := c.tx != txIdle
	c.tx = txIdle
	c.mu.Unlock()
	if done {
		c.srv.endTx()
	}
	if first {
		c.srv.mu.Lock()
		delete(c.srv.conns, c)
		c.srv.mu.Unlock()
		c.log.Debug("closed")
	}
	return err
}

// beginTx marks a transaction in flight on this connection, from its
// first accepted recipient until the reply to DATA (or RSET): Shutdown
// waits for it. It is idempotent; false means the server is shutting down
// and no new transaction may start.
func (c *conn) beginTx() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tx == txData {
		return true
	}
	if c.closed || c.tx != txIdle || !c.srv.beginTx() {
		return false
	}
	c.tx = txData
	return true
}

// abortTx ends a transaction that never reached its DATA reply (RSET, a
// new MAIL).
func (c *conn) abortTx() {
	c.mu.Lock()
	done := c.tx == txData
	if done {
		c.tx = txIdle
	}
	c.mu.Unlock()
	if done {
		c.srv.endTx()
	}
}

// dataDone marks Data as returned: the transaction ends with the next write.
func (c *conn) dataDone() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tx == txData {
		c.tx = txReplied
	}
}

// reverseName returns the client's reverse DNS name, or "" when it has
// none; looked up once per connection, at most a few seconds.
func (c *conn) reverseName() string {
	c.mu.Lock()
	name, set := c.xo.name, c.xo.nameSet
	c.mu.Unlock()
	if set {
		return name
	}
	c.rdnsMu.Lock()
	defer c.rdnsMu.Unlock()
	if c.rdnsDone {
		return c.rdns
	}
	c.rdnsDone = true
	ip := remoteIP(c.RemoteAddr())
	if ip == nil {
		return ""
	}
	// Loopback needs no DNS, and must never send a query off the box.
	if ip.IsLoopback() {
		c.rdns = "localhost"
		return c.rdns
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	names, err := c.srv.cfg.Resolver.LookupAddr(ctx, ip.String())
	if err == nil && len(names) > 0 {
		c.rdns = strings.TrimSuffix(names[0], ".")
	}
	return c.rdns
}

// RemoteAddr is the client's address: the connection's (the PROXY
// header's when there was one), or what XCLIENT said.
func (c *conn) RemoteAddr() net.Addr {
	c.mu.Lock()
	a := c.xo.addr
	c.mu.Unlock()
	if a != nil {
		return a
	}
	return c.Conn.RemoteAddr()
}

// connOf finds our conn under a go-smtp connection, through TLS if any.
func connOf(nc net.Conn) *conn {
	if t, ok := nc.(*tls.Conn); ok {
		nc = t.NetConn()
	}
	c, _ := nc.(*conn)
	return c
}

func remoteIP(a net.Addr) net.IP {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.IP
	case nil:
		return nil
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		host = a.String()
	}
	return net.ParseIP(host)
}

// errorLog routes go-smtp's internal errors (including recovered panics)
// to slog.
type errorLog struct{ l *slog.Logger }

func (e errorLog) Printf(format string, v ...any) { e.print(fmt.Sprintf(format, v...)) }
func (e errorLog) Println(v ...any)               { e.print(strings.TrimSuffix(fmt.Sprintln(v...), "\n")) }

func (e errorLog) print(msg string) {
	if strings.HasPrefix(msg, "panic") {
		e.l.Error("smtp panic", "detail", msg)
		return
	}
	e.l.Warn("smtp error", "detail", msg)
}
