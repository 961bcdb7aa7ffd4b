package main

import (
	"log/slog"
	"net"
	"net/netip"

	"frontdesk/config"
	"frontdesk/proxyproto"
)

// proxyListener puts the PROXY protocol in front of the listener named
// name when the config asks for it there; Validate has checked the lists.
func proxyListener(cfg *config.Config, name string, l net.Listener, log *slog.Logger) net.Listener {
	if !cfg.Proxy.Uses(name) {
		return l
	}
	trusted, _ := config.ParsePrefixes("proxy.trusted_proxies", cfg.Proxy.TrustedProxies)
	log.Info("proxy protocol on", "service", name, "trusted", cfg.Proxy.TrustedProxies)
	return proxyproto.NewListener(l, proxyproto.Config{Trusted: trusted, HeaderTimeout: cfg.Proxy.HeaderTimeout.Duration,
		Logger: log.With("service", name)})
}

// xclientHosts is the parsed proxy.xclient_hosts.
func xclientHosts(cfg *config.Config) []netip.Prefix {
	ps, _ := config.ParsePrefixes("proxy.xclient_hosts", cfg.Proxy.XClientHosts)
	return ps
}
