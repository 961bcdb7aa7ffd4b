package web

import (
	"context"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"frontdesk/search"
	"frontdesk/store"
)

const (
	aliceAddr = "alice@corp.test"
	alicePW   = "alice-password-1"
	bobAddr   = "bob@corp.test"
	bobPW     = "bob-password-1"
)

// searchEnv is a web server with a search index over a store holding
// two users, alice and bob.
type searchEnv struct {
	*env
	ix         *search.Index
	alice, bob *store.Account
}

func newSearchEnv(t *testing.T) *searchEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.AddDomain(ctx, "corp.test"); err != nil {
		t.Fatal(err)
	}
	alice, err := st.AddAccount(ctx, aliceAddr, alicePW, store.RoleUser)
	if err != nil {
		t.Fatal(err)
	}
	bob, err := st.AddAccount(ctx, bobAddr, bobPW, store.RoleUser)
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	ix, err := search.Open(filepath.Join(dir, "index"), st, quiet)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() { ix.Run(runCtx); close(ran) }()
	t.Cleanup(func() { stop(); <-ran; ix.Close() })
	srv := New(Config{Store: st, Search: ix, Hostname: mailHost, Logger: quiet})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &searchEnv{env: &env{t: t, st: st, srv: srv, ts: ts}, ix: ix, alice: alice, bob: bob}
}

// deliver stores a message for acct and returns its UID.
func (e *searchEnv) deliver(acct *store.Account, mailbox, from, subject, body string) uint32 {
	e.t.Helper()
	msg := fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: Mon, 11 Mar 2024 09:30:00 +0000\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n", from, acct.Address, subject, body)
	d, err := e.st.Deliver(context.Background(), []byte(msg), time.Time{}, store.Delivery{Account: acct.ID, Mailbox: mailbox})
	if err != nil {
		e.t.Fatal(err)
	}
	return d[0].UID
}

func (e *searchEnv) sync() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.ix.Sync(ctx); err != nil {
		e.t.Fatal(err)
	}
}

var (
	hitRE   = regexp.MustCompile(`<li class="hit card" data-mailbox="([^"]*)" data-uid="(\d+)">`)
	totalRE = regexp.MustCompile(`data-total="(\d+)"`)
)

// results returns the total and the "mailbox/uid" of each hit on a page.
func results(t *testing.T, page string) (int, []string) {
	t.Helper()
	m := totalRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no total on the page:\n%s", page)
	}
	total, _ := strconv.Atoi(m[1])
	var hits []string
	for _, h := range hitRE.FindAllStringSubmatch(page, -1) {
		hits = append(hits, h[1]+"/"+h[2])
	}
	return total, hits
}

func TestSearchPage(t *testing.T) {
	e := newSearchEnv(t)
	for i := range 45 {
		e.deliver(e.alice, "INBOX", "Billing <billing@vendor.example>", fmt.Sprintf("Invoice %d for March", i),
			fmt.Sprintf("Please find attached invoice number %d. The payment is due in thirty days.", i))
	}
	e.deliver(e.alice, "Archive", "张伟 <zhang@example.cn>", "会议通知",
		"我们明天开会讨论全文检索系统的性能问题。请准时参加。")
	e.deliver(e.alice, "INBOX", "Carol <carol@example.org>", "Lunch", "Shall we meet for lunch on Friday?")
	e.deliver(e.bob, "INBOX", "Mallory <m@example.org>", "Bob's private invoice", "bobsecret invoice for Bob only")
	e.sync()

	c := e.client()
	c.mustLogin(aliceAddr, alicePW)

	// The nav link, and the empty form.
	resp, body := c.get("/search")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `href="/search" aria-current="page">Search</a>`) ||
		!strings.Contains(body, `name="q"`) {
		t.Fatalf("GET /search: %s\n%s", resp.Status, body)
	}

	// Three pages of 20, 20 and 5, every hit alice's and in INBOX.
	seen := map[string]bool{}
	for p, want := range []int{20, 20, 5} {
		resp, body := c.get("/search?q=INVOICE&page=" + strconv.Itoa(p+1))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("page %d: %s", p+1, resp.Status)
		}
		total, hits := results(t, body)
		if total != 45 || len(hits) != want {
			t.Fatalf("page %d: total %d, %d hits; want 45, %d", p+1, total, len(hits), want)
		}
		for _, h := range hits {
			if seen[h] || !strings.HasPrefix(h, "INBOX/") {
				t.Errorf("page %d: hit %s repeated or not in INBOX", p+1, h)
			}
			seen[h] = true
		}
		if !strings.Contains(body, "<mark>invoice</mark>") || !strings.Contains(body, "<mark>Invoice</mark>") {
			t.Errorf("page %d: no highlighted invoice", p+1)
		}
		if strings.Contains(body, "bobsecret") || strings.Contains(body, "Bob&#39;s private") {
			t.Errorf("page %d shows bob's mail", p+1)
		}
		hasPrev, hasNext := strings.Contains(body, `rel="prev"`), strings.Contains(body, `rel="next"`)
		if hasPrev != (p > 0) || hasNext != (p < 2) {
			t.Errorf("page %d: prev link %v, next link %v", p+1, hasPrev, hasNext)
		}
		if p == 0 && !strings.Contains(body, `href="/search?page=2&amp;q=INVOICE"`) {
			t.Errorf("page 1: no link to page 2")
		}
	}

	// Chinese, in another mailbox, with the phrase marked.
	_, body = c.get("/search?q=" + urlQueryEscape("全文检索"))
	if total, hits := results(t, body); total != 1 || len(hits) != 1 || hits[0] != "Archive/1" {
		t.Errorf("全文检索: total %d, hits %v", total, hits)
	}
	if !strings.Contains(body, "<mark>全文检索</mark>") || !strings.Contains(body, "会议通知") || !strings.Contains(body, "张伟") {
		t.Errorf("全文检索: not highlighted or no subject and sender:\n%s", body)
	}

	// Another user's mail never appears, whatever the words.
	_, body = c.get("/search?q=bobsecret")
	if total, hits := results(t, body); total != 0 || len(hits) != 0 || !strings.Contains(body, "No message matches") {
		t.Errorf("alice searching bob's word: total %d, hits %v", total, hits)
	}
	bc := e.client()
	bc.mustLogin(bobAddr, bobPW)
	_, body = bc.get("/search?q=invoice")
	if total, hits := results(t, body); total != 1 || len(hits) != 1 || !strings.Contains(body, "Bob&#39;s private <mark>invoice</mark>") {
		t.Errorf("bob: total %d, hits %v", total, hits)
	}
	if strings.Contains(body, "Billing") {
		t.Errorf("bob sees alice's mail")
	}

	// A page past the end is empty but still links back.
	_, body = c.get("/search?q=invoice&page=9")
	if total, hits := results(t, body); total != 45 || len(hits) != 0 || !strings.Contains(body, `rel="prev"`) {
		t.Errorf("page 9: total %d, hits %v", total, hits)
	}
	// Queries too long are refused.
	if resp, _ := c.get("/search?q=" + strings.Repeat("a", 600)); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("long query: %s, want 400", resp.Status)
	}
}

// TestSearchNoInjection: markup in a message is shown as text in
// subjects and fragments; only the index's own <mark> is markup.
func TestSearchNoInjection(t *testing.T) {
	e := newSearchEnv(t)
	e.deliver(e.alice, "INBOX", `"<b>Eve</b>" <eve@example.org>`, `<script>alert(1)</script> exploitword`,
		`Hi <script>alert("x")</script> exploitword <img src=x onerror=alert(2)> & <mark>fake</mark> "quoted" 'single'`)
	e.sync()
	c := e.client()
	c.mustLogin(aliceAddr, alicePW)
	_, body := c.get("/search?q=exploitword")
	if _, hits := results(t, body); len(hits) != 1 {
		t.Fatalf("hits %v", hits)
	}
	for _, bad := range []string{"<script>alert", "<img", "<b>Eve", "<mark>fake"} {
		if strings.Contains(body, bad) {
			t.Errorf("page holds %q:\n%s", bad, body)
		}
	}
	for _, good := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;img src=x onerror=alert(2)&gt;",
		"&lt;mark&gt;fake&lt;/mark&gt;", "<mark>exploitword</mark>"} {
		if !strings.Contains(body, good) {
			t.Errorf("page lacks %q:\n%s", good, body)
		}
	}
}

func TestMarkedHTML(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want template.HTML
	}{
		{"plain text", "plain text"},
		{"…the <mark>invoice</mark> is &lt;due&gt; &amp; &#39;paid&#39; &#34;now&#34;…", "…the <mark>invoice</mark> is &lt;due&gt; &amp; &#39;paid&#39; &#34;now&#34;…"},
		{"<mark>全文</mark>和<mark>检索</mark>", "<mark>全文</mark>和<mark>检索</mark>"},
		{"<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"},
		{`<mark onclick="x">a</mark>`, `&lt;mark onclick=&#34;x&#34;&gt;a&lt;/mark&gt;`},
		{"<mark>open", "&lt;mark&gt;open"},
		{"<mark><mark>a</mark></mark>", "&lt;mark&gt;&lt;mark&gt;a&lt;/mark&gt;&lt;/mark&gt;"},
		{"</mark>", "&lt;/mark&gt;"},
		{"a & b", "a &amp; b"},
		{"&#x3C;script&#x3E;", "&amp;#x3C;script&amp;#x3E;"},
		{"a > b", "a &gt; b"},
		{`say "hi"`, "say &#34;hi&#34;"},
	} {
		if got := markedHTML(tc.in); got != tc.want {
			t.Errorf("markedHTML(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSearchAccess(t *testing.T) {
	e := newSearchEnv(t)
	resp, _ := e.client().get("/search?q=invoice")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next="+urlQueryEscape("/search?q=invoice") {
		t.Errorf("anonymous: %s %s, want a redirect to login", resp.Status, resp.Header.Get("Location"))
	}
	// Every role may search its own mail.
	for _, r := range []store.Role{store.RoleAgent, store.RoleSupervisor, store.RoleAdmin} {
		addr := string(r) + "@corp.test"
		if _, err := e.st.AddAccount(context.Background(), addr, "password-"+string(r), r); err != nil {
			t.Fatal(err)
		}
		c := e.client()
		c.mustLogin(addr, "password-"+string(r))
		if resp, body := c.get("/search?q=invoice"); resp.StatusCode != http.StatusOK || !strings.Contains(body, `data-total="0"`) {
			t.Errorf("%s: %s", r, resp.Status)
		}
	}
}

// TestSearchUnavailable: without an index the page says so.
func TestSearchUnavailable(t *testing.T) {
	e := newEnv(t, true)
	c := e.client()
	c.mustLogin(adminAddr, adminPW)
	resp, body := c.get("/search?q=invoice")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "Search is unavailable") || strings.Contains(body, `name="q"`) {
		t.Errorf("no index: %s\n%s", resp.Status, body)
	}
	if !strings.Contains(body, `href="/search"`) {
		t.Errorf("no Search link in the nav")
	}
}
