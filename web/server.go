// Package web is Frontdesk's web console and HTTP endpoints: the admin
// console (domain wizard, users, aliases, catch-alls, support addresses),
// a small JSON API, mail client autoconfiguration (Thunderbird autoconfig,
// Outlook autodiscover), the MTA-STS policy and Prometheus /metrics.
//
// Pages are server-rendered html/template with a little plain JavaScript,
// all embedded with go:embed. Every route names the least role that may
// use it (routes.go); sessions live in the store, and every unsafe request
// carries the session's CSRF token.
//
// Locking: Server.mu guards the last DNS report of each domain and the
// lazily opened DKIM keyring; it is never held during a DNS check or a
// store call.
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"frontdesk/authn"
	"frontdesk/dkim"
	"frontdesk/dnscheck"
	"frontdesk/store"
	"frontdesk/tickets"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Ports are the public ports mail clients connect to, as published in
// autoconfig and DNS SRV-style hints. Zero fields take the defaults.
type Ports struct {
	IMAPS       int // implicit-TLS IMAP. Default 993.
	IMAP        int // IMAP with STARTTLS. Default 143.
	Submission  int // submission with STARTTLS. Default 587.
	Submissions int // implicit-TLS submission. Default 465.
}

// Config is what the web server needs. Store is required.
type Config struct {
	Store *store.Store
	// Auth checks passwords with the throttle shared with SMTP and IMAP.
	// Default: authn.New(Store) (a throttle of its own).
	Auth *authn.Authenticator
	// Resolver is the one resolver of the server (--dns). Default: the
	// system's resolvers.
	Resolver *dnscheck.Resolver
	// DKIM holds the domains' signing keys. Default: the keyring in
	// DATA/keys/dkim.
	DKIM *dkim.Keyring
	// Hostname is the mail server's public host name: MX target, IMAP and
	// SMTP host in client settings. Default: "localhost".
	Hostname string
	// IPs are the server's public addresses, published as A/AAAA records
	// of Hostname and checked for reverse DNS. Default: none.
	IPs []net.IP
	// Ports are the public client ports. Default: 993, 143, 587, 465.
	Ports Ports
	// CheckInterval is how often Run re-checks the DNS of domains that are
	// not all green. Default: 10 minutes.
	CheckInterval time.Duration
	// CheckTimeout bounds one DNS check of one domain. Default: 20 seconds.
	CheckTimeout time.Duration
	// HTTP bounds each connection of Serve (see Timeouts).
	HTTP Timeouts
	// SessionTTL is how long a login lasts. Default: 12 hours.
	SessionTTL time.Duration
	// SecureCookies marks cookies Secure even on plain HTTP requests (for a
	// TLS-terminating proxy in front). Cookies of TLS requests are always
	// Secure. Default: false.
	SecureCookies bool
	// BaseURL is the console's public URL, used in the setup link that
	// Serve logs. Default: http:// and the listener's address.
	BaseURL string
	// Logger receives the server's log. Default: slog.Default().
	Logger *slog.Logger
	// Search is the full-text index behind the search page (search.go),
	// normally the server's *search.Index. Default: none, and the page
	// says search is unavailable.
	Search Searcher
	// Hotline shows the live queues and call records on /calls; nil when
	// the hotline does not run.
	Hotline Hotline
	// Desk is the ticket desk behind /tickets, /wallboard and the ticket
	// API; nil when it does not run, and those pages answer 503.
	Desk *tickets.Desk
	// Phone calls customers back, plays recordings and knows agents'
	// groups (desk.go); nil hides call-back buttons and players, and
	// agents then see only the tickets assigned to them.
	Phone Phone
}

// Server is the web console and HTTP endpoints. It is an http.Handler.
type Server struct {
	cfg   Config
	st    *store.Store
	auth  *authn.Authenticator
	keys  *dkim.Keyring // guarded by mu
	log   *slog.Logger
	mux   *http.ServeMux
	table []route // what routes() registered, for the access tests
	pages map[string]*template.Template

	metrics metrics

	mu      sync.Mutex
	reports map[string]*dnscheck.Report // guarded by mu; last check per domain

	httpSrv  *http.Server  // guarded by mu
	quit     chan struct{} // closed by Shutdown
	quitOnce sync.Once
}

// New builds a Server. It does not listen: serve it with Serve, or mount
// it as an http.Handler and call Run for the background checks.
func New(cfg Config) *Server {
	if cfg.Hostname == "" {
		cfg.Hostname = "localhost"
	}
	p := &cfg.Ports
	p.IMAPS = orDefault(p.IMAPS, 993)
	p.IMAP = orDefault(p.IMAP, 143)
	p.Submission = orDefault(p.Submission, 587)
	p.Submissions = orDefault(p.Submissions, 465)
	if cfg.CheckInterval <= 0 {
		cfg.CheckInterval = 10 * time.Minute
	}
	if cfg.CheckTimeout <= 0 {
		cfg.CheckTimeout = 20 * time.Second
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{
		cfg: cfg, st: cfg.Store, auth: cfg.Auth, keys: cfg.DKIM, log: cfg.Logger,
		reports: map[string]*dnscheck.Report{},
		quit:    make(chan struct{}),
	}
	if s.auth == nil {
		s.auth = authn.New(cfg.Store)
	}
	s.pages = parsePages()
	s.mux = http.NewServeMux()
	s.routes()
	return s
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// keyring returns the DKIM keyring, opening DATA/keys/dkim on first use.
func (s *Server) keyring() (*dkim.Keyring, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil {
		k, err := dkim.OpenKeyring(s.st.Dir() + "/keys/dkim")
		if err != nil {
			return nil, err
		}
		s.keys = k
	}
	return s.keys, nil
}

// resolver returns the configured resolver, or the system's.
func (s *Server) resolver() (*dnscheck.Resolver, error) {
	if s.cfg.Resolver != nil {
		return s.cfg.Resolver, nil
	}
	return dnscheck.NewResolver("")
}

// ServeHTTP answers every request, with a recover so one bad request
// never takes the server down.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("web: panic", "path", r.URL.Path, "panic", v)
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
	}()
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
	s.mux.ServeHTTP(w, r)
}

// Serve serves HTTP on l and runs the background checks until Shutdown.
// When no admin exists it logs a one-time setup link.
func (s *Server) Serve(l net.Listener) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	if link, err := s.SetupLink(ctx, s.baseURL(l.Addr())); err != nil {
		s.log.Error("web: setup link", "err", err)
	} else if link != "" {
		s.log.Warn("no admin account yet: create the first one at this one-time link", "url", link)
	}
	hs := s.cfg.HTTP.HTTPServer(s, s.log)
	s.mu.Lock()
	s.httpSrv = hs
	s.mu.Unlock()
	select {
	case <-s.quit: // Shutdown came first
		return nil
	default:
	}
	go s.Run(ctx)
	err := hs.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// baseURL is where the console is reached, for the setup link.
func (s *Server) baseURL(addr net.Addr) string {
	if s.cfg.BaseURL != "" {
		return s.cfg.BaseURL
	}
	if ta, ok := addr.(*net.TCPAddr); ok && ta.IP.IsUnspecified() {
		return "http://" + net.JoinHostPort(s.cfg.Hostname, strconv.Itoa(ta.Port))
	}
	return "http://" + addr.String()
}

// Shutdown stops Serve and Run: no new requests, those in flight finish
// until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.quitOnce.Do(func() { close(s.quit) })
	s.mu.Lock()
	hs := s.httpSrv
	s.mu.Unlock()
	if hs != nil {
		return hs.Shutdown(ctx)
	}
	return nil
}

// Run does the background work until ctx ends: it re-checks the DNS of
// domains that are not active every CheckInterval, expires old sessions,
// and counts deliveries for /metrics.
func (s *Server) Run(ctx context.Context) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("web: background panic", "panic", v)
		}
	}()
	sub := s.st.SubscribeAll()
	defer sub.Close()
	tick := time.NewTicker(s.cfg.CheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.C():
			for _, c := range sub.Drain() {
				if c.Kind == store.ChangeNew {
					s.metrics.messages.Add(1)
				}
			}
		case <-tick.C:
			s.checkPending(ctx)
			if _, err := s.st.ExpireWebSessions(ctx, time.Now()); err != nil {
				s.log.Warn("web: expire sessions", "err", err)
			}
		}
	}
}

// checkPending checks every domain that is not active yet.
func (s *Server) checkPending(ctx context.Context) {
	ds, err := s.st.Domains(ctx)
	if err != nil {
		s.log.Warn("web: list domains", "err", err)
		return
	}
	for _, d := range ds {
		di, err := s.st.DomainInfo(ctx, d.Name)
		if err != nil || di.State == store.DomainActive {
			continue
		}
		s.checkDomain(ctx, d.Name)
		if ctx.Err() != nil {
			return
		}
	}
}

func parsePages() map[string]*template.Template {
	funcs := template.FuncMap{
		"stateLabel": stateLabel,
		"join":       joinStrings,
		"ago":        ago,
		"dur":        func(d time.Duration) string { return d.Round(time.Second).String() },
	}
	// layout.html and the partials (_*.html) are shared by every page.
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/_*.html"))
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := n[len("templates/"):]
		if name == "layout.html" || name[0] == '_' {
			continue
		}
		t := template.Must(base.Clone())
		pages[name] = template.Must(t.ParseFS(templateFS, n))
	}
	return pages
}

// page is what every template gets.
type page struct {
	Title string
	User  *store.Account
	CSRF  string
	Flash string
	Error string
	Nav   string
	Data  any
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	if v := viewerOf(r); v != nil {
		p.User, p.CSRF = v.acct, v.sess.CSRF
	}
	if p.Flash == "" {
		p.Flash = s.takeFlash(w, r)
	}
	t := s.pages[name]
	if t == nil {
		panic(fmt.Sprintf("web: no template %s", name))
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := t.ExecuteTemplate(w, "layout.html", p); err != nil {
		s.log.Error("web: render", "template", name, "err", err)
	}
}

// fail answers an error in the form the caller understands.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if isAPI(r) {
		writeJSON(w, status, map[string]string{"error": msg})
		return
	}
	s.render(w, r, status, "error.html", page{Title: http.StatusText(status), Error: msg})
}
