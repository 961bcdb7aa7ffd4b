package web

import (
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"strings"

	"frontdesk/store"
)

// clientServer is one server a mail client connects to.
type clientServer struct {
	Kind     string // "imap" or "smtp"
	Host     string
	Port     int
	Security string // "SSL" (implicit TLS) or "STARTTLS", Thunderbird's socketType names
	Label    string // for people: "SSL/TLS" or "STARTTLS"
}

// clientConfig is the settings of one address, for every form: the
// autoconfig and autodiscover answers and the page to type by hand.
type clientConfig struct {
	Address  string // empty when the client did not say
	Domain   string
	Incoming []clientServer // preferred first
	Outgoing []clientServer
}

// clientSettings lists the servers in the order clients should try them:
// implicit TLS first (RFC 8314 §3), STARTTLS next. A negative port in
// Config.Ports leaves that server out.
func (s *Server) clientSettings(address string) clientConfig {
	c := clientConfig{Address: address, Domain: store.DomainOf(address)}
	h, p := s.cfg.Hostname, s.cfg.Ports
	add := func(list *[]clientServer, kind string, port int, sec string) {
		if port <= 0 {
			return
		}
		label := "SSL/TLS"
		if sec == "STARTTLS" {
			label = "STARTTLS"
		}
		*list = append(*list, clientServer{Kind: kind, Host: h, Port: port, Security: sec, Label: label})
	}
	add(&c.Incoming, "imap", p.IMAPS, "SSL")
	add(&c.Incoming, "imap", p.IMAP, "STARTTLS")
	add(&c.Outgoing, "smtp", p.Submissions, "SSL")
	add(&c.Outgoing, "smtp", p.Submission, "STARTTLS")
	return c
}

// Thunderbird autoconfig (the "config-v1.1.xml" format of Mozilla's ISPDB).
type tbConfig struct {
	XMLName  xml.Name   `xml:"clientConfig"`
	Version  string     `xml:"version,attr"`
	Provider tbProvider `xml:"emailProvider"`
}

type tbProvider struct {
	ID        string     `xml:"id,attr"`
	Domain    string     `xml:"domain"`
	Display   string     `xml:"displayName"`
	ShortName string     `xml:"displayShortName"`
	Incoming  []tbServer `xml:"incomingServer"`
	Outgoing  []tbServer `xml:"outgoingServer"`
}

type tbServer struct {
	Type       string `xml:"type,attr"`
	Hostname   string `xml:"hostname"`
	Port       int    `xml:"port"`
	SocketType string `xml:"socketType"`
	Username   string `xml:"username"`
	Auth       string `xml:"authentication"`
}

// autoconfigDomain finds the domain a Thunderbird request is about: the
// emailaddress parameter, else the autoconfig.DOMAIN host it was sent to.
func autoconfigDomain(r *http.Request) (addr, domain string) {
	if e := r.URL.Query().Get("emailaddress"); e != "" {
		if a, err := store.NormalizeAddress(e); err == nil {
			return a, store.DomainOf(a)
		}
		return "", ""
	}
	host := strings.ToLower(r.Host)
	if h, _, err := splitHostPort(host); err == nil {
		host = h
	}
	d, _ := strings.CutPrefix(host, "autoconfig.")
	return "", d
}

func splitHostPort(hp string) (string, string, error) { return net.SplitHostPort(hp) }

// autoconfig answers Thunderbird (and K-9, Evolution, others) at
// /mail/config-v1.1.xml and /.well-known/autoconfig/mail/config-v1.1.xml.
func (s *Server) autoconfig(w http.ResponseWriter, r *http.Request) {
	addr, domain := autoconfigDomain(r)
	if ok, err := s.st.IsLocalDomain(r.Context(), domain); err != nil || !ok || domain == "" {
		http.Error(w, "no such mail domain here", http.StatusNotFound)
		return
	}
	c := s.clientSettings(addr)
	c.Domain = domain
	user := "%EMAILADDRESS%"
	if addr != "" {
		user = addr
	}
	conf := tbConfig{Version: "1.1", Provider: tbProvider{ID: domain, Domain: domain,
		Display: domain + " mail", ShortName: domain}}
	for _, in := range c.Incoming {
		conf.Provider.Incoming = append(conf.Provider.Incoming, tbServer{Type: "imap", Hostname: in.Host, Port: in.Port,
			SocketType: in.Security, Username: user, Auth: "password-cleartext"})
	}
	for _, out := range c.Outgoing {
		conf.Provider.Outgoing = append(conf.Provider.Outgoing, tbServer{Type: "smtp", Hostname: out.Host, Port: out.Port,
			SocketType: out.Security, Username: user, Auth: "password-cleartext"})
	}
	writeXML(w, conf)
}

// Outlook autodiscover, the "POX" form: the request and response schemas
// of [MS-OXDSCLI] for POP/IMAP/SMTP accounts.
const (
	adRequestNS   = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
	adResponseNS  = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
	adOutlookNS   = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
	maxAutodisReq = 64 << 10
)

type adRequest struct {
	XMLName xml.Name `xml:"Autodiscover"`
	Request struct {
		EMailAddress             string `xml:"EMailAddress"`
		AcceptableResponseSchema string `xml:"AcceptableResponseSchema"`
	} `xml:"Request"`
}

type adResponse struct {
	XMLName  xml.Name `xml:"Autodiscover"`
	NS       string   `xml:"xmlns,attr"`
	Response struct {
		NS      string `xml:"xmlns,attr"`
		Account struct {
			AccountType string       `xml:"AccountType"`
			Action      string       `xml:"Action"`
			Protocols   []adProtocol `xml:"Protocol"`
		} `xml:"Account"`
	} `xml:"Response"`
}

type adProtocol struct {
	Type           string `xml:"Type"`
	Server         string `xml:"Server"`
	Port           int    `xml:"Port"`
	DomainRequired string `xml:"DomainRequired"`
	LoginName      string `xml:"LoginName"`
	SPA            string `xml:"SPA"`
	SSL            string `xml:"SSL"`
	Encryption     string `xml:"Encryption"` // "SSL" (implicit) or "TLS" (STARTTLS); wins over SSL
	AuthRequired   string `xml:"AuthRequired"`
}

// autodiscover answers Outlook's POST of its request XML with the IMAP
// and SMTP settings of the address: the first (preferred) server of each.
func (s *Server) autodiscover(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxAutodisReq))
	if err != nil {
		http.Error(w, "cannot read request", http.StatusBadRequest)
		return
	}
	var req adRequest
	if err := xml.Unmarshal(body, &req); err != nil {
		http.Error(w, "want an autodiscover request", http.StatusBadRequest)
		return
	}
	addr, err := store.NormalizeAddress(req.Request.EMailAddress)
	if err != nil {
		http.Error(w, "want an e-mail address", http.StatusBadRequest)
		return
	}
	if ok, err := s.st.IsLocalDomain(r.Context(), store.DomainOf(addr)); err != nil || !ok {
		http.Error(w, "no such mail domain here", http.StatusNotFound)
		return
	}
	c := s.clientSettings(addr)
	var resp adResponse
	resp.NS, resp.Response.NS = adResponseNS, adOutlookNS
	resp.Response.Account.AccountType, resp.Response.Account.Action = "email", "settings"
	proto := func(typ string, cs clientServer) adProtocol {
		enc := "TLS"
		if cs.Security == "SSL" {
			enc = "SSL"
		}
		return adProtocol{Type: typ, Server: cs.Host, Port: cs.Port, DomainRequired: "off", LoginName: addr,
			SPA: "off", SSL: "on", Encryption: enc, AuthRequired: "on"}
	}
	if len(c.Incoming) > 0 {
		resp.Response.Account.Protocols = append(resp.Response.Account.Protocols, proto("IMAP", c.Incoming[0]))
	}
	if len(c.Outgoing) > 0 {
		resp.Response.Account.Protocols = append(resp.Response.Account.Protocols, proto("SMTP", c.Outgoing[0]))
	}
	writeXML(w, resp)
}

func writeXML(w http.ResponseWriter, v any) {
	out, err := xml.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	io.WriteString(w, xml.Header)
	w.Write(out)
	io.WriteString(w, "\n")
}
