package web

import (
	"context"
	"encoding/xml"
	"net/http"
	"strings"
	"testing"
)

const outlookRequest = `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>alice@acme.test</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>`

func autoEnv(t *testing.T) *env {
	e := newEnv(t, true)
	if err := e.srv.addDomain(context.Background(), "acme.test"); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestThunderbirdAutoconfig(t *testing.T) {
	e := autoEnv(t)
	c := e.client()
	type server struct {
		Type       string `xml:"type,attr"`
		Hostname   string `xml:"hostname"`
		Port       int    `xml:"port"`
		SocketType string `xml:"socketType"`
		Username   string `xml:"username"`
		Auth       string `xml:"authentication"`
	}
	type config struct {
		XMLName  xml.Name `xml:"clientConfig"`
		Version  string   `xml:"version,attr"`
		Provider struct {
			ID       string   `xml:"id,attr"`
			Domain   []string `xml:"domain"`
			Incoming []server `xml:"incomingServer"`
			Outgoing []server `xml:"outgoingServer"`
		} `xml:"emailProvider"`
	}
	check := func(path, host, user string) {
		t.Helper()
		req, _ := http.NewRequest("GET", e.ts.URL+path, nil)
		if host != "" {
			req.Host = host
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "xml") {
			t.Fatalf("GET %s: %s %s", path, resp.Status, resp.Header.Get("Content-Type"))
		}
		var cfg config
		if err := xml.NewDecoder(resp.Body).Decode(&cfg); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		if cfg.Version != "1.1" || cfg.Provider.ID != "acme.test" || len(cfg.Provider.Domain) != 1 || cfg.Provider.Domain[0] != "acme.test" {
			t.Errorf("provider: %+v", cfg)
		}
		got := func(ss []server) []string {
			var out []string
			for _, s := range ss {
				if s.Hostname != mailHost || s.Username != user || s.Auth != "password-cleartext" {
					t.Errorf("server %+v: want host %s, user %s", s, mailHost, user)
				}
				out = append(out, s.Type+" "+s.SocketType+" "+itoa(s.Port))
			}
			return out
		}
		if in := strings.Join(got(cfg.Provider.Incoming), ", "); in != "imap SSL 993, imap STARTTLS 143" {
			t.Errorf("incoming: %s", in)
		}
		if out := strings.Join(got(cfg.Provider.Outgoing), ", "); out != "smtp SSL 465, smtp STARTTLS 587" {
			t.Errorf("outgoing: %s", out)
		}
	}
	check("/mail/config-v1.1.xml?emailaddress=alice%40acme.test", "autoconfig.acme.test", "alice@acme.test")
	check("/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=alice@ACME.test", "acme.test", "alice@acme.test")
	check("/mail/config-v1.1.xml", "autoconfig.acme.test", "%EMAILADDRESS%")

	if resp, _ := c.get("/mail/config-v1.1.xml?emailaddress=bob@elsewhere.test"); resp.StatusCode != 404 {
		t.Errorf("unknown domain: %s", resp.Status)
	}
}

func itoa(n int) string {
	b := []byte{}
	for n > 0 || len(b) == 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

func TestOutlookAutodiscover(t *testing.T) {
	e := autoEnv(t)
	type protocol struct {
		Type, Server, LoginName, SSL, Encryption, AuthRequired string
		Port                                                   int
	}
	type response struct {
		XMLName  xml.Name `xml:"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006 Autodiscover"`
		Response struct {
			XMLName xml.Name `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a Response"`
			Account struct {
				AccountType string
				Action      string
				Protocol    []protocol
			}
		}
	}
	for _, path := range []string{"/autodiscover/autodiscover.xml", "/Autodiscover/Autodiscover.xml"} {
		resp, err := e.ts.Client().Post(e.ts.URL+path, "text/xml", strings.NewReader(outlookRequest))
		if err != nil {
			t.Fatal(err)
		}
		var r response
		err = xml.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if resp.StatusCode != 200 || err != nil {
			t.Fatalf("POST %s: %s %v", path, resp.Status, err)
		}
		a := r.Response.Account
		if a.AccountType != "email" || a.Action != "settings" || len(a.Protocol) != 2 {
			t.Fatalf("POST %s: account %+v", path, a)
		}
		want := []protocol{
			{Type: "IMAP", Server: mailHost, Port: 993, LoginName: "alice@acme.test", SSL: "on", Encryption: "SSL", AuthRequired: "on"},
			{Type: "SMTP", Server: mailHost, Port: 465, LoginName: "alice@acme.test", SSL: "on", Encryption: "SSL", AuthRequired: "on"},
		}
		for i, w := range want {
			if a.Protocol[i] != w {
				t.Errorf("POST %s: protocol %d = %+v, want %+v", path, i, a.Protocol[i], w)
			}
		}
	}
	for body, status := range map[string]int{
		"not xml": 400,
		strings.Replace(outlookRequest, "alice@acme.test", "alice@elsewhere.test", 1): 404,
	} {
		resp, err := e.ts.Client().Post(e.ts.URL+"/autodiscover/autodiscover.xml", "text/xml", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != status {
			t.Errorf("bad request: %s, want %d", resp.Status, status)
		}
	}
}

func TestClientSettingsPage(t *testing.T) {
	e := autoEnv(t)
	c := e.client()
	c.mustLogin(adminAddr, adminPW)
	_, page := c.get("/users/" + adminAddr)
	for _, s := range []string{mailHost, ">993<", ">143<", ">465<", ">587<", "STARTTLS", "SSL/TLS", adminAddr} {
		if !strings.Contains(page, s) {
			t.Errorf("settings page lacks %q", s)
		}
	}
}
