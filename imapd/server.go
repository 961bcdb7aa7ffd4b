// Package imapd serves IMAP4rev1 and IMAP4rev2 (RFC 3501, RFC 9051) over the
// store, on top of go-imap's imapserver.
//
// Plain-text authentication is allowed only on loopback (DESIGN.md); any
// other client must use STARTTLS or implicit TLS first. imapserver's
// InsecureAuth is server-wide, so a Server runs two imapserver instances
// and hands each accepted connection to one of them.
//
// Locking: Server.mu guards the listener set and closed flag, and is never
// held while accepting or handing over a connection. A session is used by
// one goroutine at a time (imapserver runs IDLE in a second goroutine but
// waits for it before reading the next command), so sessions hold no lock.
// The header cache has its own mutex, held only for map and list updates.
package imapd

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"frontdesk/authn"
	"frontdesk/store"
)

// Config configures a Server.
type Config struct {
	// TLS is used for STARTTLS and implicit TLS; nil disables both, and
	// then only loopback clients can log in.
	TLS *tls.Config
	// Logger receives connection and error logs; nil means slog.Default().
	Logger *slog.Logger
	// MaxAppendSize bounds one APPEND; 0 means 50 MiB.
	MaxAppendSize int64
	// Learner learns from messages users file into or out of Junk; nil
	// learns nothing.
	Learner Learner
	// Index narrows SEARCH TEXT and BODY; nil checks every message.
	Index TextIndex
	// LoginTimeout bounds each wait for a command before login; 0 means 1 minute.
	LoginTimeout time.Duration
	// Autologout is how long a logged-in client may be silent, between
	// commands and during IDLE, before * BYE; 0 means 30 minutes
	// (RFC 9051 §5.4's minimum; RFC 2177 clients re-IDLE every 29).
	Autologout time.Duration
}

// Defaults of Config's timeouts.
const (
	DefaultLoginTimeout = time.Minute
	DefaultAutologout   = 30 * time.Minute
)

const defaultMaxAppendSize = 50 << 20

// Server is an IMAP server over a store.
type Server struct {
	st      *store.Store
	auth    *authn.Authenticator
	cfg     Config
	log     *slog.Logger
	cache   *lru[*imap.Envelope] // parsed envelopes, by message file
	texts   *lru[*searchText]    // decoded, folded text for SEARCH TEXT/BODY
	headers *lru[[]byte]         // raw header sections, for FETCH of header fields
	nextID  atomic.Uint64

	// loopback allows plain-text LOGIN; strict requires TLS first.
	loopback, strict     *imapserver.Server
	loopbackCh, strictCh *chanListener
	backends             sync.WaitGroup // the two backend Serve loops

	mu        sync.Mutex
	listeners map[net.Listener]struct{} // guarded by mu
	started   bool                      // guarded by mu; backends running
	closed    bool                      // guarded by mu
}

// New returns a Server over st that checks passwords with auth.
func New(st *store.Store, auth *authn.Authenticator, cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxAppendSize <= 0 {
		cfg.MaxAppendSize = defaultMaxAppendSize
	}
	if cfg.LoginTimeout <= 0 {
		cfg.LoginTimeout = DefaultLoginTimeout
	}
	if cfg.Autologout <= 0 {
		cfg.Autologout = DefaultAutologout
	}
	if cfg.MaxAppendSize > 1<<32-1 {
		cfg.MaxAppendSize = 1<<32 - 1
	}
	s := &Server{
		st: st, auth: auth, cfg: cfg, log: cfg.Logger,
		cache:     newLRU(20000, func(*imap.Envelope) int { return 1 }),
		texts:     newLRU(textCacheBytes, func(t *searchText) int { return t.size() }),
		headers:   newLRU(32<<20, func(h []byte) int { return len(h) + 64 }),
		listeners: map[net.Listener]struct{}{},
	}
	s.loopbackCh = newChanListener()
	s.strictCh = newChanListener()
	s.loopback = imapserver.New(s.options(true))
	s.strict = imapserver.New(s.options(false))
	return s
}

// caps are the capabilities advertised once authenticated; imapserver adds
// SASL-IR, LITERAL-, STARTTLS, AUTH=PLAIN or LOGINDISABLED, UNSELECT,
// ENABLE, IDLE and APPENDLIMIT by itself.
func caps() imap.CapSet {
	return imap.CapSet{
		imap.CapIMAP4rev1:        {},
		imap.CapIMAP4rev2:        {},
		imap.CapNamespace:        {},
		imap.CapUIDPlus:          {},
		imap.CapMove:             {},
		imap.CapSpecialUse:       {},
		imap.CapListExtended:     {},
		imap.CapListStatus:       {},
		imap.CapESearch:          {},
		imap.CapSearchRes:        {},
		imap.CapLiteralPlus:      {},
		imap.CapStatusSize:       {},
		imap.CapBinary:           {},
		imap.CapChildren:         {},
		imap.CapCreateSpecialUse: {},
	}
}

func (s *Server) options(insecureAuth bool) *imapserver.Options {
	return &imapserver.Options{
		NewSession:   s.newSession,
		Caps:         caps(),
		Logger:       slogPrintf{s.log},
		TLSConfig:    s.cfg.TLS,
		InsecureAuth: insecureAuth,

		LoginTimeout:      s.cfg.LoginTimeout,
		AutologoutTimeout: s.cfg.Autologout,
	}
}

// slogPrintf adapts slog to imapserver.Logger.
type slogPrintf struct{ l *slog.Logger }

func (p slogPrintf) Printf(format string, args ...any) {
	p.l.Warn("imap: " + fmt.Sprintf(format, args...))
}

// Serve accepts plain connections on l (STARTTLS is offered when Config.TLS
// is set) until l fails or the server is closed.
func (s *Server) Serve(l net.Listener) error { return s.serve(l, false) }

// ServeTLS accepts implicit-TLS connections (IMAPS, port 993) on l.
func (s *Server) ServeTLS(l net.Listener) error {
	if s.cfg.TLS == nil {
		return errors.New("imapd: ServeTLS needs Config.TLS")
	}
	return s.serve(l, true)
}

func (s *Server) serve(l net.Listener, implicitTLS bool) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return net.ErrClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()
	s.startBackends()
	var delay time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			if s.isClosed() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("imapd: accept: %w", err)
		}
		delay = 0
		c = newCoalescingConn(c)
		if implicitTLS {
			c = tls.Server(c, s.cfg.TLS)
		}
		s.dispatch(c)
	}
}

func (s *Server) startBackends() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closed {
		return
	}
	s.started = true
	s.backends.Add(2)
	for _, b := range []struct {
		srv *imapserver.Server
		l   *chanListener
	}{{s.loopback, s.loopbackCh}, {s.strict, s.strictCh}} {
		go func() {
			defer s.backends.Done()
			if err := b.srv.Serve(b.l); err != nil {
				s.log.Error("imap backend stopped", "err", err)
			}
		}()
	}
}

// dispatch hands a connection to the backend its peer may use: plain-text
// LOGIN is allowed only from loopback. TLS connections can authenticate on
// either; they go to the strict one.
func (s *Server) dispatch(c net.Conn) {
	s.startBackends()
	_, isTLS := c.(*tls.Conn)
	target := s.strictCh
	if !isTLS && authn.IsLoopback(c.RemoteAddr()) {
		target = s.loopbackCh
	}
	if !target.push(c) {
		c.Close()
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close closes every listener and connection.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	var errs []error
	for l := range s.listeners {
		errs = append(errs, l.Close())
	}
	s.mu.Unlock()
	s.loopbackCh.Close()
	s.strictCh.Close()
	// imapserver.Server.Close must not race with its Serve starting up
	// (its WaitGroup would be reused), so wait for the loops to end first;
	// Close then only closes the connections.
	s.backends.Wait()
	errs = append(errs, s.loopback.Close(), s.strict.Close())
	for _, err := range errs {
		if err != nil && !errors.Is(err, net.ErrClosed) {
			return err
		}
	}
	return nil
}

// chanListener is a net.Listener fed by our own accept loops.
type chanListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newChanListener() *chanListener {
	return &chanListener{ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) push(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return chanAddr{} }

type chanAddr struct{}

func (chanAddr) Network() string { return "imapd" }
func (chanAddr) String() string  { return "imapd" }
