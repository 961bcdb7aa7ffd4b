package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync"
	"time"

	"frontdesk/authn"
	"frontdesk/certs"
	"frontdesk/config"
	"frontdesk/dkim"
	"frontdesk/dnscheck"
	"frontdesk/imapd"
	"frontdesk/mailauth"
	"frontdesk/queue"
	"frontdesk/search"
	"frontdesk/smtpd"
	"frontdesk/spam"
	"frontdesk/store"
	"frontdesk/telephony"
	"frontdesk/web"
)

// cpuProfile is serve's --cpuprofile.
var cpuProfile string

// shutdownGrace is how long SIGTERM lets SMTP transactions in flight finish.
const shutdownGrace = 30 * time.Second

func serveConfig(args []string, stderr io.Writer) (config.Config, error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgFile := fs.String("config", "", "TOML configuration file")
	data := fs.String("data", "", "data directory (default ./data)")
	smtpAddr := fs.String("smtp", "", "inbound SMTP (MX) address")
	subAddr := fs.String("submission", "", "submission address (STARTTLS)")
	imapAddr := fs.String("imap", "", "IMAP address")
	imapsAddr := fs.String("imaps", "", "IMAP address with implicit TLS")
	httpAddr := fs.String("http", "", "web console address")
	httpsAddr := fs.String("https", "", "web console address with TLS")
	sipAddr := fs.String("sip", "", "SIP address (UDP and TCP)")
	dns := fs.String("dns", "", "DNS server for every lookup, host:port")
	outPort := fs.Int("outbound-port", 0, "port of remote MX hosts (25 unless testing)")
	hostname := fs.String("hostname", "", "this server's host name")
	logLevel := fs.String("log-level", "", "least severe log level: debug, info (default), warn, error")
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile to FILE until shutdown (for measuring)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return config.Config{}, err
		}
		return config.Config{}, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return config.Config{}, fmt.Errorf("%w: serve takes no arguments, got %q", errUsage, fs.Arg(0))
	}
	cfg := config.Defaults()
	if *cfgFile != "" {
		var err error
		if cfg, err = config.Load(*cfgFile); err != nil {
			return cfg, err
		}
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&cfg.Data, *data)
	set(&cfg.Listen.SMTP, *smtpAddr)
	set(&cfg.Listen.Submission, *subAddr)
	set(&cfg.Listen.IMAP, *imapAddr)
	set(&cfg.Listen.IMAPS, *imapsAddr)
	set(&cfg.Listen.HTTP, *httpAddr)
	set(&cfg.Listen.HTTPS, *httpsAddr)
	set(&cfg.Listen.SIP, *sipAddr)
	set(&cfg.DNS, *dns)
	set(&cfg.Hostname, *hostname)
	set(&cfg.Log.Level, *logLevel)
	if *outPort != 0 {
		cfg.OutboundPort = *outPort
	}
	err := cfg.Validate() // fills defaults: before cfg is copied out
	return cfg, err
}

// serve runs every service until ctx ends (SIGTERM or SIGINT), then shuts
// down: no new connections, SMTP transactions in flight finish, the store
// closes cleanly.
func serve(ctx context.Context, args []string, stderr io.Writer) error {
	cfg, err := serveConfig(args, stderr)
	if err != nil {
		return err
	}
	level, _ := cfg.Log.SlogLevel() // checked by Validate
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}

	st, err := store.Open(cfg.Data) // migrates an older format, refuses a newer
	if err != nil {
		return err
	}
	defer st.Close()
	if from := st.UpgradedFrom(); from != 0 {
		log.Info("data directory upgraded", "data", cfg.Data, "from", from, "to", store.FormatVersion)
	}
	if err := rememberServer(ctx, st, cfg.Hostname, cfg.DNS); err != nil {
		return err
	}

	var tlsConf *tls.Config
	var acmeHTTP http.Handler // HTTP-01 challenges, when ACME is on
	switch {
	case len(cfg.ACME.Hosts) > 0:
		tlsConf, acmeHTTP, err = acmeTLS(cfg)
	case cfg.TLS.Cert != "":
		tlsConf, err = certs.Files(cfg.TLS.Cert, cfg.TLS.Key)
	default:
		tlsConf, err = certs.SelfSigned(filepath.Join(cfg.Data, "tls"), []string{cfg.Hostname, "localhost", "127.0.0.1"})
	}
	if err != nil {
		return err
	}

	resolver, err := dnscheck.NewResolver(cfg.DNS)
	if err != nil {
		return err
	}
	resolver = resolver.WithTimeout(cfg.DNSTimeout.Duration)
	checkFileLimit(&cfg, log)
	keys, err := dkim.OpenKeyring(filepath.Join(cfg.Data, "keys", "dkim"))
	if err != nil {
		return err
	}
	q, err := queue.Open(filepath.Join(cfg.Data, "queue"), st, resolver, queue.Config{
		Hostname: cfg.Hostname, OutboundPort: cfg.OutboundPort, Retry: config.Durations(cfg.Queue.Retry),
		MaxAge: cfg.Queue.MaxAge.Duration, Logger: log.With("service", "queue"),
	})
	if err != nil {
		return err
	}
	defer q.Close()
	filter, err := spam.OpenFilter(filepath.Join(cfg.Data, "spam"), spam.DefaultOptions())
	if err != nil {
		return err
	}
	defer filter.Close()
	desk, closeDesk, err := openDesk(cfg, deskParts{st: st, queue: q, keys: keys, log: log.With("service", "tickets")})
	if err != nil {
		return err
	}
	defer closeDesk()
	dctx, stopDesk := context.WithCancel(context.Background())
	defer stopDesk()
	go desk.Run(dctx, time.Minute)
	svc := &services{dataDir: cfg.Data, queue: q, keys: keys, spam: filter, dns: cfg.DNS, desk: desk}

	auth := authn.New(st)
	mxJudge := judge{auth: mailauth.New(resolver, cfg.Hostname).WithBudget(cfg.SMTP.DNSBudget.Duration), spam: filter,
		log: log.With("service", "smtp"), acceptTempError: cfg.SMTP.OnDNSTempError == config.DNSTempErrorAccept}
	mx := smtpd.New(st, auth, smtpd.Config{Mode: smtpd.MX, Hostname: cfg.Hostname, MaxSize: cfg.MaxMessageSize, TLS: tlsConf, Logger: log, Resolver: resolver,
		Judge: mxJudge,
		Desk:  deskHook{st: st, desk: desk}, XClientHosts: xclientHosts(&cfg), ReadTimeout: cfg.SMTP.CommandTimeout.Duration})
	sub := smtpd.New(st, auth, smtpd.Config{Mode: smtpd.Submission, Hostname: cfg.Hostname, MaxSize: cfg.MaxMessageSize, TLS: tlsConf, Logger: log, Resolver: resolver,
		Signer: signer{keys: keys}, Outbound: outbound{q: q}, Desk: deskHook{st: st, desk: desk}, ReadTimeout: cfg.SMTP.CommandTimeout.Duration})
	// The index catches up with the store in the background while mail
	// flows (derived data may lag, never lie); SEARCH checks every message
	// until it is ready.
	index := &lazyIndex{}
	ictx, stopIndex := context.WithCancel(context.Background())
	indexDone := make(chan struct{})
	go func() {
		defer close(indexDone)
		ix, err := search.Open(filepath.Join(cfg.Data, "index"), st, log.With("service", "search"))
		if err != nil {
			log.Error("search index unavailable: SEARCH checks every message", "err", err)
			return
		}
		defer ix.Close()
		index.ix.Store(ix)
		if err := ix.Run(ictx); err != nil {
			log.Error("search index stopped", "err", err)
		}
	}()
	defer func() {
		stopIndex()
		select {
		case <-indexDone:
		case <-time.After(shutdownGrace):
			log.Warn("search index still catching up at shutdown; it resumes on the next start")
		}
	}()

	imap := imapd.New(st, auth, imapd.Config{TLS: tlsConf, MaxAppendSize: cfg.MaxMessageSize, Logger: log.With("service", "imap"),
		Learner: learner{st: st, spam: filter, log: log.With("service", "spam")}, Index: index,
		LoginTimeout: cfg.IMAP.LoginTimeout.Duration, Autologout: cfg.IMAP.Autologout.Duration})
	// Web console, autoconfig, MTA-STS policy, /metrics (web.go).
	var hotline web.Hotline
	var phone web.Phone
	if cfg.Listen.SIP != "" {
		tc, err := telephonyConfig(cfg, st, log.With("service", "sip"))
		if err != nil {
			return err
		}
		tc.Contacts = deskContacts{desk: desk, fallback: tc.Contacts}
		tc.OnRecord = callOnTicket(desk, log.With("service", "tickets"))
		tel, err := telephony.New(tc)
		if err != nil {
			return err
		}
		defer tel.Close()
		if err := tel.Start(ctx); err != nil {
			return fmt.Errorf("sip: %w", err)
		}
		udp, tcp := tel.Addr()
		log.Info("listening", "service", "sip", "addr", udp, "tcp", tcp)
		svc.tel = tel
		hotline = hotlineView{tel: tel}
		phone = deskPhone{tel: tel, desk: desk}
	}

	console := newConsole(cfg, st, auth, resolver, keys, index, consoleDesk{hotline: hotline, desk: desk, phone: phone}, log)
	webs := &webServers{console: console, log: log.With("service", "web"), timeouts: httpTimeouts(&cfg)}
	httpServe := console.Serve
	if acmeHTTP != nil {
		// Port 80 answers the CA's challenges and sends people to HTTPS;
		// the console's background work runs on its own.
		httpServe = func(l net.Listener) error { return webs.serveACME(l, acmeHTTP) }
	}

	type service struct {
		name, addr string
		serve      func(net.Listener) error
	}
	services := []service{
		{"smtp", cfg.Listen.SMTP, mx.Serve},
		{"submission", cfg.Listen.Submission, sub.Serve},
		{"submissions", cfg.Listen.Submissions, sub.ServeTLS},
		{"imap", cfg.Listen.IMAP, imap.Serve},
		{"imaps", cfg.Listen.IMAPS, imap.ServeTLS},
		{"http", cfg.Listen.HTTP, httpServe},
		{"https", cfg.Listen.HTTPS, func(l net.Listener) error { return webs.serveTLS(l, tlsConf) }},
	}
	limits := newLimiters(&cfg)
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	errc := make(chan error, len(services))
	var wg sync.WaitGroup
	for _, s := range services {
		if s.addr == "" {
			continue
		}
		l, err := net.Listen("tcp", s.addr)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		l = proxyListener(&cfg, s.name, l, log)
		l = limits.listener(s.name, l, tlsConf, log)
		listeners = append(listeners, l)
		log.Info("listening", "service", s.name, "addr", l.Addr().String())
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.serve(l); err != nil && !isClosed(err) {
				errc <- fmt.Errorf("%s: %w", s.name, err)
			}
		}()
	}

	qctx, stopQueue := context.WithCancel(context.Background())
	queueDone := make(chan struct{})
	go func() {
		defer close(queueDone)
		if err := q.Run(qctx); err != nil {
			log.Error("queue stopped", "err", err)
		}
	}()
	defer func() { stopQueue(); <-queueDone }()

	ctl, err := listenControl(cfg.Data, st, svc, log.With("service", "control"))
	if err != nil {
		return err
	}
	defer ctl.Close()
	log.Info("frontdesk ready", "data", cfg.Data, "hostname", cfg.Hostname, "pid", os.Getpid())

	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err = <-errc:
		log.Error("service failed, shutting down", "err", err)
	}
	ctl.Close()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	var sdwg sync.WaitGroup
	for _, s := range []*smtpd.Server{mx, sub} {
		sdwg.Add(1)
		go func() {
			defer sdwg.Done()
			if err := s.Shutdown(sctx); err != nil {
				log.Warn("smtp shutdown", "err", err)
			}
		}()
	}
	sdwg.Add(1)
	go func() {
		defer sdwg.Done()
		webs.shutdown(sctx)
		if err := console.Shutdown(sctx); err != nil {
			log.Warn("web shutdown", "err", err)
		}
	}()
	sdwg.Wait()
	imap.Close()
	for _, l := range listeners {
		l.Close()
	}
	wg.Wait()
	log.Info("stopped")
	return err
}

func isClosed(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, smtpd.ErrServerClosed) || errors.Is(err, http.ErrServerClosed)
}
