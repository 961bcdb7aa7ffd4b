package certs

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// LetsEncrypt is the default ACME directory (RFC 8555 §7.1.1).
const LetsEncrypt = acme.LetsEncryptURL

// ACMEConfig configures certificates from an ACME CA (RFC 8555).
type ACMEConfig struct {
	// DirectoryURL is the CA's directory. Default: LetsEncrypt.
	DirectoryURL string
	// Email is the account's contact, where the CA writes about expiring
	// certificates and incidents. Optional but recommended.
	Email string
	// Hosts are the names to get certificates for: the mail host (first:
	// see below), the web host, mta-sts.DOMAIN for each domain (RFC 8461
	// §3.3 needs a valid certificate there). Required. Certificates are
	// requested for these names only, so a client cannot make us ask the
	// CA for arbitrary names.
	//
	// Hosts[0] answers handshakes without SNI or with a name not in Hosts:
	// SMTP senders often send no SNI on STARTTLS, and opportunistic TLS
	// (RFC 3207) is better served a certificate for another name than
	// refused.
	Hosts []string
	// CacheDir keeps the account key and certificates (0700); use
	// DATA/tls/acme. Required: without it every start would ask the CA
	// again and soon hit its rate limits.
	CacheDir string
	// HTTPClient talks to the CA. Default: http.DefaultClient. Tests give
	// one that trusts the test CA.
	HTTPClient *http.Client
	// Fallback serves the plain-HTTP requests that are not ACME HTTP-01
	// challenges (RFC 8555 §8.3). Default: a redirect to HTTPS.
	Fallback http.Handler
	// RenewBefore is how long before expiry certificates are renewed.
	// Default: 30 days (autocert's).
	RenewBefore time.Duration
}

// mailProtos are ALPN ids of the mail protocols (RFC 9051 §1.1 "imap",
// RFC 8314 and the IANA registry's "smtp" and "pop3"). A Go TLS server
// with NextProtos refuses a client whose offer shares none of them, so
// mail clients that send ALPN must find theirs here.
var mailProtos = []string{"imap", "smtp", "pop3"}

// ACME returns a TLS configuration whose certificates come from an ACME
// CA, obtained on the first handshake for each host and renewed in the
// background, and the plain-HTTP handler to run on port 80 for HTTP-01
// challenges. TLS-ALPN-01 challenges (RFC 8737) are answered by the TLS
// configuration itself, on whichever listener the CA reaches on port 443.
//
// The one *tls.Config serves SMTP STARTTLS, submission, IMAPS and HTTPS.
func ACME(cfg ACMEConfig) (*tls.Config, http.Handler, error) {
	if cfg.CacheDir == "" {
		return nil, nil, errors.New("certs: acme: no cache directory")
	}
	var hosts []string
	for _, h := range cfg.Hosts {
		h = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(h), "."))
		if h == "" || !strings.Contains(h, ".") {
			return nil, nil, fmt.Errorf("certs: acme: %q is not a full DNS name", h)
		}
		if !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	if len(hosts) == 0 {
		return nil, nil, errors.New("certs: acme: no host names")
	}
	dir := cfg.DirectoryURL
	if dir == "" {
		dir = LetsEncrypt
	}
	m := &autocert.Manager{
		Prompt:      autocert.AcceptTOS,
		Cache:       autocert.DirCache(cfg.CacheDir),
		HostPolicy:  autocert.HostWhitelist(hosts...),
		Email:       cfg.Email,
		RenewBefore: cfg.RenewBefore,
		Client:      &acme.Client{DirectoryURL: dir, HTTPClient: cfg.HTTPClient, UserAgent: "frontdesk"},
	}
	defaultHost := hosts[0]
	conf := Server(nil, func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if !slices.Contains(hosts, strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))) {
			h := *hello
			h.ServerName = defaultHost
			hello = &h
		}
		return m.GetCertificate(hello)
	})
	conf.NextProtos = append([]string{"h2", "http/1.1"}, append(mailProtos, acme.ALPNProto)...)
	return conf, m.HTTPHandler(cfg.Fallback), nil
}
