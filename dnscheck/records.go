package dnscheck

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Record is one DNS record a domain should publish. Names and host names
// in values are written without a trailing dot, as admins type them into a
// registrar's form; Zone adds the dots. A TXT Value is the record's text
// as verifiers see it (the strings joined, unquoted).
//
// Which records are Required: the four that decide whether mail is
// delivered to us at all and whether big receivers accept what we send
// (MX, SPF, DKIM, DMARC; Gmail's and Yahoo's sender rules of 2024 demand
// the last three). Everything else (MTA-STS, TLS-RPT, autoconfig,
// autodiscover, SRV) is recommended: mail works without it, but it
// protects inbound TLS or spares users typing server names.
type Record struct {
	Type     string // "MX", "TXT", "CNAME", "SRV"
	Name     string // owner name, e.g. "_dmarc.example.com"
	Value    string // presentation form, e.g. "10 mail.example.com" or TXT text
	Required bool
	Purpose  string // one line for the admin
}

// Params describes the domain and the server the records point at.
type Params struct {
	Domain   string   // the mail domain, e.g. example.com
	MailHost string   // FQDN of this server, e.g. mail.example.com (config Hostname)
	IPs      []net.IP // the server's public addresses; optional

	// DKIM holds one TXT record per published selector (from the keyring:
	// Key.RecordName, Key.RecordValue). All are Required.
	DKIM []Record

	// ReportAddress receives DMARC aggregate (RFC 7489 §7.2) and TLS-RPT
	// (RFC 8460) reports. Default: dmarc-reports@DOMAIN.
	ReportAddress string
	// MTASTSMode is the MTA-STS policy mode (RFC 8461 §5): "testing"
	// (the default: failures are only reported) or "enforce".
	MTASTSMode string
	// MTASTSID is the MTA-STS policy id (RFC 8461 §3.1: 1 to 32 letters
	// and digits). Default: derived from the policy's text, so it changes
	// exactly when the policy does, which is when senders must refetch it.
	MTASTSID string

	// Ports for the SRV records (RFC 6186). Defaults: 587, 993, 143.
	Ports struct{ Submission, IMAPS, IMAP int }
}

// MTA-STS defaults (RFC 8461 §3.2). A week is the RFC's example; long
// enough to protect, short enough to back out of a mistake.
const (
	MTASTSTesting = "testing"
	MTASTSEnforce = "enforce"
	mtaSTSMaxAge  = 604800
)

// withDefaults normalizes names and fills the defaults documented on Params.
func (p Params) withDefaults() Params {
	p.Domain = normName(p.Domain)
	p.MailHost = normName(p.MailHost)
	if p.ReportAddress == "" {
		p.ReportAddress = "dmarc-reports@" + p.Domain
	}
	if p.MTASTSMode == "" {
		p.MTASTSMode = MTASTSTesting
	}
	if p.Ports.Submission == 0 {
		p.Ports.Submission = 587
	}
	if p.Ports.IMAPS == 0 {
		p.Ports.IMAPS = 993
	}
	if p.Ports.IMAP == 0 {
		p.Ports.IMAP = 143
	}
	if p.MTASTSID == "" {
		sum := sha256.Sum256([]byte(MTASTSPolicy(p)))
		p.MTASTSID = hex.EncodeToString(sum[:10])
	}
	return p
}

// normName lower-cases a DNS name and drops the trailing dot.
func normName(s string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(s), "."))
}

// Records returns every record the domain needs, required ones first, in
// the order an admin should publish them.
func Records(p Params) []Record {
	p = p.withDefaults()
	d, host := p.Domain, p.MailHost
	rs := []Record{
		// RFC 5321 §5.1: senders deliver to the MX hosts.
		{Type: "MX", Name: d, Value: "10 " + host, Required: true,
			Purpose: "receives mail: senders deliver the domain's mail to this server"},
		// RFC 7208 §3: one SPF record authorizes the hosts that send.
		{Type: "TXT", Name: d, Value: spfValue(p), Required: true,
			Purpose: "SPF: authorizes this server to send the domain's mail"},
	}
	for _, k := range p.DKIM {
		k.Type, k.Name, k.Required = "TXT", normName(k.Name), true
		if k.Purpose == "" {
			k.Purpose = "DKIM: public key receivers check this server's signatures with"
		}
		rs = append(rs, k)
	}
	rua := "mailto:" + p.ReportAddress
	rs = append(rs,
		// RFC 7489 §6.3. quarantine: failing mail goes to Junk rather than
		// being lost; pct=100 applies it to all of it.
		Record{Type: "TXT", Name: "_dmarc." + d, Value: "v=DMARC1; p=quarantine; pct=100; rua=" + rua, Required: true,
			Purpose: "DMARC: tells receivers to junk mail that fails SPF and DKIM, and where to report"},
		// RFC 8461 §3.1 and §3.3: the TXT announces the policy, the host
		// serves it over HTTPS.
		Record{Type: "TXT", Name: "_mta-sts." + d, Value: "v=STSv1; id=" + p.MTASTSID,
			Purpose: "MTA-STS: senders must use TLS to reach this server (policy id)"},
		Record{Type: "CNAME", Name: "mta-sts." + d, Value: host,
			Purpose: "MTA-STS: the web host that serves the policy file"},
		// RFC 8460 §3.
		Record{Type: "TXT", Name: "_smtp._tls." + d, Value: "v=TLSRPTv1; " + "rua=" + rua,
			Purpose: "TLS-RPT: where senders report TLS failures"},
		// Thunderbird autoconfig and Outlook autodiscover are served by our
		// web server under these names.
		Record{Type: "CNAME", Name: "autoconfig." + d, Value: host,
			Purpose: "lets Thunderbird and others set up accounts by themselves"},
		Record{Type: "CNAME", Name: "autodiscover." + d, Value: host,
			Purpose: "lets Outlook set up accounts by itself"},
		// RFC 6186 §3. Priorities compare across _imap and _imaps (RFC
		// 6186 §3.4), so implicit TLS wins, as RFC 8314 §5.1 prefers.
		Record{Type: "SRV", Name: "_submission._tcp." + d, Value: srvValue(0, p.Ports.Submission, host),
			Purpose: "tells mail clients where to send (submission)"},
		Record{Type: "SRV", Name: "_imaps._tcp." + d, Value: srvValue(0, p.Ports.IMAPS, host),
			Purpose: "tells mail clients where to read mail (IMAP over TLS)"},
		Record{Type: "SRV", Name: "_imap._tcp." + d, Value: srvValue(10, p.Ports.IMAP, host),
			Purpose: "tells mail clients where to read mail (IMAP with STARTTLS)"},
	)
	return rs
}

func srvValue(prio, port int, host string) string {
	return fmt.Sprintf("%d 1 %d %s", prio, port, host)
}

// spfValue authorizes the MX hosts, and the given addresses in case the
// server sends from an address its MX name does not have. "-all": nothing
// else may send as the domain (RFC 7208 §5.1); DMARC then decides what
// receivers do with failures.
func spfValue(p Params) string {
	terms := []string{"v=spf1", "mx"}
	for _, ip := range p.IPs {
		if ip4 := ip.To4(); ip4 != nil {
			terms = append(terms, "ip4:"+ip4.String())
		} else if ip.To16() != nil {
			terms = append(terms, "ip6:"+ip.String())
		}
	}
	return strings.Join(append(terms, "-all"), " ")
}

// MTASTSPolicy returns the policy file served at
// https://mta-sts.DOMAIN/.well-known/mta-sts.txt (RFC 8461 §3.2).
func MTASTSPolicy(p Params) string {
	mode := p.MTASTSMode
	if mode == "" {
		mode = MTASTSTesting
	}
	return "version: STSv1\n" +
		"mode: " + mode + "\n" +
		"mx: " + normName(p.MailHost) + "\n" +
		"max_age: " + strconv.Itoa(mtaSTSMaxAge) + "\n"
}

// MTASTSID returns the policy id of p: MTASTSID, or the default derived
// from the policy text.
func MTASTSID(p Params) string { return p.withDefaults().MTASTSID }

// zoneTTL is the TTL of the zone snippet: an hour, so mistakes heal fast.
const zoneTTL = 3600

// Zone returns rs as a BIND zone-file snippet for p.Domain: $ORIGIN and
// $TTL, a comment per record, names relative to the origin, host names
// absolute, and TXT text split into quoted strings of at most 255 bytes
// (RFC 1035 §3.3.14; verifiers join them, RFC 7208 §3.3, RFC 6376 §3.6.2.2).
func Zone(p Params, rs []Record) string {
	origin := normName(p.Domain)
	var b strings.Builder
	fmt.Fprintf(&b, "$ORIGIN %s.\n$TTL %d\n", origin, zoneTTL)
	for _, r := range rs {
		need := "recommended"
		if r.Required {
			need = "required"
		}
		fmt.Fprintf(&b, "; %s: %s\n", need, r.Purpose)
		fmt.Fprintf(&b, "%s\tIN\t%s\t%s\n", relName(r.Name, origin), r.Type, zoneValue(r))
	}
	return b.String()
}

func relName(name, origin string) string {
	name = normName(name)
	switch {
	case name == origin:
		return "@"
	case strings.HasSuffix(name, "."+origin):
		return strings.TrimSuffix(name, "."+origin)
	}
	return name + "."
}

// zoneValue is the RDATA in zone-file form: TXT quoted and split, the host
// name that ends MX, CNAME and SRV data made absolute.
func zoneValue(r Record) string {
	switch r.Type {
	case "TXT":
		return quoteTXT(r.Value)
	case "MX", "CNAME", "SRV", "NS", "PTR":
		f := strings.Fields(r.Value)
		if n := len(f); n > 0 && !strings.HasSuffix(f[n-1], ".") {
			f[n-1] += "."
		}
		return strings.Join(f, " ")
	}
	return r.Value
}

// quoteTXT splits s into character-strings of at most 255 bytes and
// quotes each, escaping what the zone-file syntax needs (RFC 1035 §5.1).
func quoteTXT(s string) string {
	var parts []string
	for len(s) > 0 || len(parts) == 0 {
		n := min(len(s), 255)
		var b strings.Builder
		b.WriteByte('"')
		for i := 0; i < n; i++ {
			switch c := s[i]; {
			case c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c < 0x20 || c >= 0x7f:
				fmt.Fprintf(&b, "\\%03d", c)
			default:
				b.WriteByte(c)
			}
		}
		b.WriteByte('"')
		parts = append(parts, b.String())
		s = s[n:]
	}
	return strings.Join(parts, " ")
}
