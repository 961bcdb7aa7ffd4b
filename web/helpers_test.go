package web

import (
	"context"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"frontdesk/dkim"
	"frontdesk/dnscheck"
	"frontdesk/dnscheck/dnstest"
	"frontdesk/store"
)

const (
	adminAddr = "admin@corp.test"
	adminPW   = "admin-password-1"
	mailHost  = "mail.acme.test"
	testIP    = "192.0.2.10"
)

// env is a web server over a fresh store, resolving through an
// in-process DNS server that starts empty.
type env struct {
	t   *testing.T
	st  *store.Store
	dns *dnstest.Server
	srv *Server
	ts  *httptest.Server
}

func newEnv(t *testing.T, withAdmin bool) *env {
	t.Helper()
	return newEnvTLS(t, withAdmin, false)
}

func newEnvTLS(t *testing.T, withAdmin, useTLS bool) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ds := dnstest.New(t)
	res, err := dnscheck.NewResolver(ds.Addr)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := dkim.OpenKeyring(dir + "/keys/dkim")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if withAdmin {
		if _, err := st.AddDomain(ctx, "corp.test"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.AddAccount(ctx, adminAddr, adminPW, store.RoleAdmin); err != nil {
			t.Fatal(err)
		}
	}
	srv := New(Config{Store: st, Resolver: res.WithTimeout(time.Second), DKIM: kr, Hostname: mailHost,
		IPs: []net.IP{net.ParseIP(testIP)}, CheckInterval: 200 * time.Millisecond, CheckTimeout: 5 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	var ts *httptest.Server
	if useTLS {
		ts = httptest.NewTLSServer(srv)
	} else {
		ts = httptest.NewServer(srv)
	}
	t.Cleanup(ts.Close)
	return &env{t: t, st: st, dns: ds, srv: srv, ts: ts}
}

// client is a browser-like HTTP client with a cookie jar that does not
// follow redirects, so tests see them.
type client struct {
	e    *env
	hc   *http.Client
	csrf string
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Transport: e.ts.Client().Transport, Jar: jar, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &client{e: e, hc: hc}
}

func (c *client) do(method, path string, form url.Values, hdr map[string]string) (*http.Response, string) {
	c.e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.e.ts.URL+path, body)
	if err != nil {
		c.e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (c *client) get(path string) (*http.Response, string) { return c.do("GET", path, nil, nil) }

// post sends a form with the session's CSRF token (unless form has one).
func (c *client) post(path string, form url.Values) (*http.Response, string) {
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", c.csrf)
	}
	return c.do("POST", path, form, nil)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func findCSRF(page string) string {
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return m[1]
}

// login logs in and returns the answer to the login POST.
func (c *client) login(addr, pw string) (*http.Response, string) {
	c.e.t.Helper()
	_, page := c.get("/login")
	tok := findCSRF(page)
	if tok == "" {
		c.e.t.Fatalf("no CSRF token on the login page:\n%s", page)
	}
	resp, body := c.do("POST", "/login", url.Values{"csrf": {tok}, "address": {addr}, "password": {pw}}, nil)
	if resp.StatusCode == http.StatusSeeOther {
		_, page := c.get("/me/client")
		c.csrf = findCSRF(page)
	}
	return resp, body
}

func (c *client) mustLogin(addr, pw string) {
	c.e.t.Helper()
	if resp, body := c.login(addr, pw); resp.StatusCode != http.StatusSeeOther {
		c.e.t.Fatalf("login %s: %s\n%s", addr, resp.Status, body)
	}
}

// publishZone adds every record of a BIND zone snippet to the DNS server,
// as an admin pasting it into a provider would.
func (e *env) publishZone(zone string) int {
	e.t.Helper()
	zp := dns.NewZoneParser(strings.NewReader(zone), "", "")
	n := 0
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if err := e.dns.Add(rr.String()); err != nil {
			e.t.Fatal(err)
		}
		n++
	}
	if err := zp.Err(); err != nil {
		e.t.Fatalf("zone snippet does not parse: %v\n%s", err, zone)
	}
	return n
}

// publishServer adds the server's own forward and reverse records.
func (e *env) publishServer() {
	rev, _ := dns.ReverseAddr(testIP)
	e.dns.MustAdd(e.t, mailHost+". 300 IN A "+testIP, rev+" 300 IN PTR "+mailHost+".")
}

// recordRows returns "TYPE NAME STATE" for every row of the records table
// of a domain page (not the server's own checks).
var rowRE = regexp.MustCompile(`<tr class="rec" data-state="([a-z]+)" data-type="([^"]+)" data-name="([^"]+)">`)

func recordRows(page string) []string {
	page, _, _ = strings.Cut(page, "<h2>This server</h2>")
	var out []string
	for _, m := range rowRE.FindAllStringSubmatch(page, -1) {
		out = append(out, m[2]+" "+m[3]+" "+m[1])
	}
	return out
}

// rowHTML returns the HTML of the records-table rows of type and name.
func rowHTML(page, typ, name string) []string {
	var out []string
	parts := strings.Split(page, `<tr class="rec"`)
	for _, p := range parts[1:] {
		if strings.Contains(p, `data-type="`+typ+`" data-name="`+name+`"`) {
			out = append(out, html.UnescapeString(p[:strings.Index(p, "</tr>")]))
		}
	}
	return out
}
