package certs

import "crypto/tls"

// CipherSuites are the TLS 1.2 suites every listener accepts: ECDHE key
// exchange (forward secrecy) with an AEAD cipher, as RFC 9325 §4.2
// recommends. CBC suites and RSA key exchange are refused. TLS 1.3 suites
// are not configurable in Go and are all AEAD.
var CipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// Curves are the key-exchange groups offered: the X25519 + ML-KEM hybrid
// for TLS 1.3 clients that know it, then X25519 and P-256 (RFC 9325 §4.2.1).
var Curves = []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256}

// Server returns the one TLS policy of every Frontdesk listener (SMTP
// STARTTLS, submission, implicit-TLS submission, IMAP STARTTLS, IMAPS,
// HTTPS) around the given certificate source: TLS 1.2 and 1.3 only, the
// suites and curves above. Old clients that speak only TLS 1.0/1.1 or CBC
// suites are refused at the handshake rather than served weak crypto.
func Server(certificates []tls.Certificate, get func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	return &tls.Config{
		Certificates:     certificates,
		GetCertificate:   get,
		MinVersion:       tls.VersionTLS12,
		CipherSuites:     CipherSuites,
		CurvePreferences: Curves,
	}
}
