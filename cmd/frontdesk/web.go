package main

import (
	"log/slog"
	"net"
	"strconv"

	"frontdesk/authn"
	"frontdesk/config"
	"frontdesk/dkim"
	"frontdesk/dnscheck"
	"frontdesk/store"
	"frontdesk/web"
)

// newConsole builds the web console and HTTP endpoints. The ports it
// gives mail clients (autoconfig, autodiscover, the settings page) are
// those the server listens on; a service that is off is not offered.
func newConsole(cfg config.Config, st *store.Store, auth *authn.Authenticator, res *dnscheck.Resolver, keys *dkim.Keyring, log *slog.Logger) *web.Server {
	return web.New(web.Config{
		Store: st, Auth: auth, Resolver: res, DKIM: keys, Hostname: cfg.Hostname,
		Ports: web.Ports{
			IMAPS:       listenPort(cfg.Listen.IMAPS),
			IMAP:        listenPort(cfg.Listen.IMAP),
			Submission:  listenPort(cfg.Listen.Submission),
			Submissions: listenPort(cfg.Listen.Submissions),
		},
		Logger: log.With("service", "web"),
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
