package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"frontdesk/authn"
	"frontdesk/certs"
	"frontdesk/config"
	"frontdesk/dkim"
	"frontdesk/dnscheck"
	"frontdesk/store"
	"frontdesk/tickets"
	"frontdesk/web"
)

// newConsole builds the web console and HTTP endpoints. The ports it
// gives mail clients (autoconfig, autodiscover, the settings page) are
// those the server listens on; a service that is off is not offered.
// consoleDesk is the web console's view of the hotline and the ticket desk.
type consoleDesk struct {
	hotline web.Hotline
	desk    *tickets.Desk
	phone   web.Phone
}

func newConsole(cfg config.Config, st *store.Store, auth *authn.Authenticator, res *dnscheck.Resolver, keys *dkim.Keyring, index web.Searcher, d consoleDesk, log *slog.Logger) *web.Server {
	return web.New(web.Config{
		Store: st, Auth: auth, Resolver: res, DKIM: keys, Hostname: cfg.Hostname, Search: index, Hotline: d.hotline,
		Desk: d.desk, Phone: d.phone,
		Ports: web.Ports{
			IMAPS:       listenPort(cfg.Listen.IMAPS),
			IMAP:        listenPort(cfg.Listen.IMAP),
			Submission:  listenPort(cfg.Listen.Submission),
			Submissions: listenPort(cfg.Listen.Submissions),
		},
		Logger: log.With("service", "web"),
		HTTP:   httpTimeouts(&cfg),
	})
}

// listenPort is the port of a listen address, or -1 when the service is off.
func listenPort(addr string) int {
	if addr == "" {
		return -1
	}
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return -1
	}
	n, err := strconv.Atoi(p)
	if err != nil || n <= 0 {
		return -1
	}
	return n
}

// webServers runs the console on HTTPS, and on port 80 behind the ACME
// challenge handler, beside console.Serve for plain HTTP.
type webServers struct {
	console  *web.Server
	log      *slog.Logger
	timeouts web.Timeouts

	mu      sync.Mutex
	servers []*http.Server // guarded by mu
	cancel  context.CancelFunc
}

func (w *webServers) start(h http.Handler) *http.Server {
	hs := w.timeouts.HTTPServer(h, w.log)
	w.mu.Lock()
	w.servers = append(w.servers, hs)
	w.mu.Unlock()
	return hs
}

// serveTLS serves the console over HTTPS with the mail services' certificates.
func (w *webServers) serveTLS(l net.Listener, conf *tls.Config) error {
	conf = conf.Clone()
	conf.NextProtos = append([]string{"h2", "http/1.1"}, conf.NextProtos...)
	err := w.start(w.console).Serve(tls.NewListener(l, conf))
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// serveACME answers ACME HTTP-01 challenges on l; everything else is
// redirected to HTTPS by the handler. The console's background work
// (DNS re-checks, session expiry) runs here, since console.Serve does not.
func (w *webServers) serveACME(l net.Listener, h http.Handler) error {
	ctx, cancel := context.WithCancel(context.Background())
	w.mu.Lock()
	w.cancel = cancel
	w.mu.Unlock()
	go w.console.Run(ctx)
	err := w.start(h).Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func (w *webServers) shutdown(ctx context.Context) {
	w.mu.Lock()
	servers, cancel := w.servers, w.cancel
	w.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	for _, hs := range servers {
		hs.Shutdown(ctx)
	}
}

// acmeTLS gets certificates from the configured CA.
func acmeTLS(cfg config.Config) (*tls.Config, http.Handler, error) {
	ac := certs.ACMEConfig{DirectoryURL: cfg.ACME.Directory, Email: cfg.ACME.Email, Hosts: cfg.ACME.Hosts,
		CacheDir: filepath.Join(cfg.Data, "tls", "acme")}
	if cfg.ACME.CA != "" {
		pem, err := os.ReadFile(cfg.ACME.CA)
		if err != nil {
			return nil, nil, fmt.Errorf("acme.ca: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("acme.ca: no certificate in %s", cfg.ACME.CA)
		}
		ac.HTTPClient = &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	}
	return certs.ACME(ac)
}
