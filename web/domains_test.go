package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"frontdesk/store"
)

// addDomain adds acme.test through the console and returns its page.
func (c *client) addDomain(name string) string {
	c.e.t.Helper()
	resp, body := c.post("/domains", url.Values{"domain": {name}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/domains/"+name {
		c.e.t.Fatalf("add domain: %s %s\n%s", resp.Status, resp.Header.Get("Location"), body)
	}
	_, page := c.get("/domains/" + name)
	return page
}

func zoneOf(t *testing.T, c *client, domain string) string {
	t.Helper()
	resp, zone := c.get("/domains/" + domain + "/zone")
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Disposition"), domain+".zone") {
		t.Fatalf("zone download: %s %v", resp.Status, resp.Header)
	}
	return zone
}

func TestWizardOverHTTP(t *testing.T) {
	e := newEnv(t, true)
	c := e.client()
	c.mustLogin(adminAddr, adminPW)
	page := c.addDomain("acme.test")
	rows := recordRows(page)
	if len(rows) < 8 {
		t.Fatalf("want every record listed, got %d:\n%s", len(rows), page)
	}
	for _, r := range rows {
		if !strings.HasSuffix(r, " missing") {
			t.Errorf("empty DNS: want missing, got %s", r)
		}
	}
	if !strings.Contains(page, `data-state="pending"`) {
		t.Error("a new domain should be pending")
	}
	e.publishZone(zoneOf(t, c, "acme.test"))
	e.publishServer()
	resp, _ := c.post("/domains/acme.test/check", nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("check now: %s", resp.Status)
	}
	_, page = c.get("/domains/acme.test")
	for _, r := range recordRows(page) {
		if !strings.HasSuffix(r, " ok") {
			t.Errorf("after publishing: want ok, got %s", r)
		}
	}
	di, err := e.st.DomainInfo(context.Background(), "acme.test")
	if err != nil || di.State != store.DomainActive {
		t.Fatalf("domain state %+v, %v; want active", di, err)
	}
	if !strings.Contains(page, `id="domain-state" data-state="active"`) {
		t.Error("page does not show the domain active")
	}
	// The JSON API agrees.
	_, body := c.get("/api/domains")
	var ds []apiDomain
	if err := json.Unmarshal([]byte(body), &ds); err != nil || len(ds) != 2 || ds[0].Name != "acme.test" || ds[0].State != "active" {
		t.Errorf("api/domains: %v %s", err, body)
	}
}

// TestWrongRecordsNamed: a truncated DKIM key, two SPF records and an MX
// pointing elsewhere are each named, with what was found.
func TestWrongRecordsNamed(t *testing.T) {
	e := newEnv(t, true)
	c := e.client()
	c.mustLogin(adminAddr, adminPW)
	c.addDomain("acme.test")
	zone := zoneOf(t, c, "acme.test")
	e.publishZone(zone)
	e.publishServer()

	// Damage the published zone.
	e.dns.Remove("acme.test", dns.TypeMX)
	e.dns.MustAdd(t, "acme.test. 300 IN MX 10 mx.elsewhere.test.")
	e.dns.MustAdd(t, `acme.test. 300 IN TXT "v=spf1 include:other.test -all"`)
	kr, _ := e.srv.keyring()
	var rsaName, rsaValue string
	for _, k := range kr.All("acme.test") {
		if k.Algorithm == "rsa-sha256" {
			rsaName, rsaValue = k.RecordName(), k.RecordValue()
		}
	}
	if rsaName == "" {
		t.Fatal("no RSA key made for acme.test")
	}
	truncated := rsaValue[:len(rsaValue)/2]
	e.dns.Remove(rsaName, dns.TypeTXT)
	e.dns.MustAdd(t, rsaName+`. 300 IN TXT "`+truncated+`"`)

	resp, _ := c.post("/domains/acme.test/check", nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("check now: %s", resp.Status)
	}
	_, page := c.get("/domains/acme.test")

	want := []struct {
		typ, name string
		states    []string
		found     string
	}{
		{"MX", "acme.test", []string{"wrong"}, "mx.elsewhere.test"},
		{"TXT", "acme.test", []string{"conflicting"}, "v=spf1 include:other.test -all"},
		{"TXT", rsaName, []string{"wrong"}, truncated[len(truncated)-20:]},
	}
	for _, w := range want {
		rows := rowHTML(page, w.typ, w.name)
		if len(rows) == 0 {
			t.Errorf("%s %s: no row", w.typ, w.name)
			continue
		}
		row := rows[0]
		state := row[strings.Index(row, `data-state="`)+12:]
		state = state[:strings.IndexByte(state, '"')]
		if state != w.states[0] {
			t.Errorf("%s %s: state %s, want %s", w.typ, w.name, state, w.states[0])
		}
		found := row[strings.Index(row, `class="found"`):]
		if !strings.Contains(found, w.found) {
			t.Errorf("%s %s: found column does not show %q:\n%s", w.typ, w.name, w.found, row)
		}
		if !strings.Contains(row, `class="expected"`) {
			t.Errorf("%s %s: no expected value shown", w.typ, w.name)
		}
		if !strings.Contains(row, ">"+stateLabel(state)+"<") {
			t.Errorf("%s %s: state not named in text", w.typ, w.name)
		}
	}
	if di, _ := e.st.DomainInfo(context.Background(), "acme.test"); di.State != store.DomainPending {
		t.Errorf("domain with wrong records is %s, want pending", di.State)
	}
}

// TestBackgroundChecks: Run re-checks pending domains until they are
// active, with no one pressing Check now.
func TestBackgroundChecks(t *testing.T) {
	e := newEnv(t, true)
	c := e.client()
	c.mustLogin(adminAddr, adminPW)
	c.addDomain("acme.test")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { e.srv.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	e.publishZone(zoneOf(t, c, "acme.test"))
	e.publishServer()
	deadline := time.Now().Add(10 * time.Second)
	for {
		di, err := e.st.DomainInfo(ctx, "acme.test")
		if err != nil {
			t.Fatal(err)
		}
		if di.State == store.DomainActive {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("background checks never made the domain active")
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, body := c.get("/metrics")
	if !strings.Contains(body, `frontdesk_domains{state="active"} 1`) {
		t.Errorf("metrics:\n%s", body)
	}
}

func TestMTASTSPolicy(t *testing.T) {
	e := newEnv(t, true)
	c := e.client()
	c.mustLogin(adminAddr, adminPW)
	c.addDomain("acme.test")
	req, _ := http.NewRequest("GET", e.ts.URL+"/.well-known/mta-sts.txt", nil)
	req.Host = "mta-sts.acme.test"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 1024)
	n, _ := resp.Body.Read(buf)
	b.Write(buf[:n])
	if resp.StatusCode != 200 || !strings.Contains(b.String(), "version: STSv1") || !strings.Contains(b.String(), "mx: "+mailHost) {
		t.Errorf("policy: %s\n%s", resp.Status, b.String())
	}
	req.Host = "mta-sts.unknown.test"
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("policy of an unknown domain: %s", resp.Status)
	}
}

// TestMetricsRuntimeGauges: /metrics carries the process gauges a soak
// run watches for leaks.
func TestMetricsRuntimeGauges(t *testing.T) {
	e := newEnv(t, false)
	_, body := e.client().get("/metrics")
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "go_gc_heap_live_bytes",
		"process_resident_memory_bytes", "process_resident_memory_anon_bytes", "process_open_fds"} {
		if !strings.Contains(body, "\n"+name+" ") {
			t.Errorf("metrics lack %s:\n%s", name, body)
		}
	}
}
