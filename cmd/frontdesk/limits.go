package main

import (
	"crypto/tls"
	"log/slog"
	"net"
	"strconv"
	"syscall"

	"frontdesk/config"
	"frontdesk/connlimit"
	"frontdesk/web"
)

// limiters are the connection limits of the listeners: submission and
// submissions share one, as do imap and imaps, and http and https.
type limiters struct {
	smtp, submission, imap, http *connlimit.Limiter
}

func newLimiters(cfg *config.Config) *limiters {
	return &limiters{
		smtp:       connlimit.New(cfg.SMTP.MaxConnectionsPerIP, cfg.SMTP.MaxConnections),
		submission: connlimit.New(cfg.SMTP.MaxConnectionsPerIP, cfg.SMTP.MaxConnections),
		imap:       connlimit.New(cfg.IMAP.MaxConnectionsPerIP, cfg.IMAP.MaxConnections),
		http:       connlimit.New(cfg.HTTP.MaxConnectionsPerIP, cfg.HTTP.MaxConnections),
	}
}

// Goodbyes of a refused connection, per protocol.
func smtpGoodbye(r connlimit.Refusal) string {
	if r == connlimit.TooManyFromIP {
		return "421 4.7.0 Too many connections from your address, try again later\r\n"
	}
	return "421 4.7.0 Too many connections, try again later\r\n"
}

func imapGoodbye(r connlimit.Refusal) string {
	if r == connlimit.TooManyFromIP {
		return "* BYE Too many connections from your address\r\n"
	}
	return "* BYE Too many connections\r\n"
}

func httpGoodbye(connlimit.Refusal) string {
	const body = "Too many connections\n"
	return "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 10\r\nConnection: close\r\nContent-Type: text/plain\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// listener puts the limits of the listener named name in front of l
// (outside the PROXY protocol, so the client's own address counts).
func (ls *limiters) listener(name string, l net.Listener, tlsConf *tls.Config, log *slog.Logger) net.Listener {
	var lim *connlimit.Limiter
	var bye func(connlimit.Refusal) string
	var implicit bool
	switch name {
	case "smtp":
		lim, bye = ls.smtp, smtpGoodbye
	case "submission", "submissions":
		lim, bye, implicit = ls.submission, smtpGoodbye, name == "submissions"
	case "imap", "imaps":
		lim, bye, implicit = ls.imap, imapGoodbye, name == "imaps"
	case "http", "https":
		lim, bye, implicit = ls.http, httpGoodbye, name == "https"
	default:
		return l
	}
	c := connlimit.Config{Goodbye: bye, Logger: log.With("service", name)}
	if implicit {
		c.TLS = tlsConf
	}
	return connlimit.NewListener(l, lim, c)
}

// checkFileLimit warns when the connection limits together exceed what
// the process may open: past that, accept fails for everyone instead of
// the over-limit client getting its goodbye.
func checkFileLimit(cfg *config.Config, log *slog.Logger) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return
	}
	need := uint64(cfg.SMTP.MaxConnections*2 + cfg.IMAP.MaxConnections + cfg.HTTP.MaxConnections + 256)
	if rl.Cur < need {
		log.Warn("open-file limit below the connection limits; raise it (ulimit -n, LimitNOFILE=) or lower max_connections",
			"nofile", rl.Cur, "needed", need)
	}
}

func httpTimeouts(cfg *config.Config) web.Timeouts {
	return web.Timeouts{ReadHeader: cfg.HTTP.ReadHeaderTimeout.Duration, Read: cfg.HTTP.ReadTimeout.Duration,
		Write: cfg.HTTP.WriteTimeout.Duration, Idle: cfg.HTTP.IdleTimeout.Duration}
}
