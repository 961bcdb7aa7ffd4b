package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"frontdesk/store"
	"frontdesk/tickets"
)

func TestDeskNotRunning(t *testing.T) {
	e := newEnv(t, true)
	if _, err := e.st.AddAccount(context.Background(), agentIn, deskPW, store.RoleAgent); err != nil {
		t.Fatal(err)
	}
	c := e.client()
	c.mustLogin(agentIn, deskPW)
	for _, p := range []string{"/tickets", "/tickets/1", "/api/tickets", "/api/tickets/events"} {
		resp, body := c.get(p)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "the ticket desk is not running") {
			t.Errorf("GET %s without a desk: %s %.200s", p, resp.Status, body)
		}
	}
	if resp, _ := e.client().get("/rate/1/x/good"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("rating without a desk: %s", resp.Status)
	}
}

// TestDeskReplyNoteSolve works a ticket over HTTP as the console does:
// reply (mailed), note (not mailed), solve (solved notice), then the
// rating link, clicked twice.
func TestDeskReplyNoteSolve(t *testing.T) {
	e := newDeskEnv(t)
	ctx := context.Background()
	n := e.mail("carol@example.org", "Invoice missing", "Where is my invoice?")
	c := e.client()
	c.mustLogin(agentIn, deskPW)
	path := fmt.Sprintf("/tickets/%d", n)
	if resp, body := c.post(path+"/reply", formOf("text", "Here it is: attached.", "status", "pending")); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("reply: %s %s", resp.Status, body)
	}
	sent := e.box.all()
	last := sent[len(sent)-1]
	if !contains(last, "Here it is: attached.", "To: carol@example.org", fmt.Sprintf("[#%d]", n)) {
		t.Errorf("reply mail:\n%s", last)
	}
	if resp, _ := c.post(path+"/note", formOf("text", "Customer is grumpy")); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("note: %s", resp.Status)
	}
	if len(e.box.all()) != len(sent) {
		t.Error("a note was mailed")
	}
	if resp, _ := c.post(path+"/update", formOf("status", "solved", "priority", "high", "group", "support", "tags", "billing, invoice")); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("solve: %s", resp.Status)
	}
	tk, _ := e.desk.Ticket(ctx, n)
	if tk.Status != tickets.StatusSolved || tk.Priority != tickets.PriorityHigh || strings.Join(tk.Tags, ",") != "billing,invoice" {
		t.Errorf("after update: %+v", tk)
	}
	_, page := c.get(path)
	for _, want := range []string{"Here it is: attached.", `class="entry note"`, "Customer is grumpy", "pending → solved", `class="entry mail-out"`} {
		if !strings.Contains(page, want) {
			t.Errorf("ticket page lacks %q", want)
		}
	}
	anon := e.client()
	for range 2 {
		if resp, body := anon.get(fmt.Sprintf("/rate/%d/%s/good", n, tk.Secret)); resp.StatusCode != 200 || !strings.Contains(body, "Thank you") {
			t.Fatalf("rating: %s", resp.Status)
		}
	}
	tl, _ := e.desk.Timeline(ctx, n)
	ratings := 0
	for _, en := range tl {
		if en.Kind == tickets.KindRating {
			ratings++
		}
	}
	if tk, _ := e.desk.Ticket(ctx, n); tk.CSAT != 5 || ratings != 1 {
		t.Errorf("after two good clicks: CSAT %d, %d rating entries", tk.CSAT, ratings)
	}
	// Bad input answers 400; a second merge 409.
	if resp, _ := c.post(path+"/update", formOf("status", "bogus")); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad status: %s", resp.Status)
	}
	if resp, _ := c.post(path+"/assign", formOf("to", "nobody@nowhere.test")); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("assign to a stranger: %s", resp.Status)
	}
	m := e.mail("carol@example.org", "Invoice again", "Still nothing")
	if resp, _ := c.post(fmt.Sprintf("/tickets/%d/merge", m), formOf("into", fmt.Sprint(n))); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("merge: %s", resp.Status)
	}
	if resp, _ := c.post(fmt.Sprintf("/tickets/%d/merge", m), formOf("into", fmt.Sprint(n))); resp.StatusCode != http.StatusConflict {
		t.Errorf("second merge: %s, want 409", resp.Status)
	}
}

func TestDeskRecordingAndCallback(t *testing.T) {
	e := newDeskEnv(t)
	f := e.fixture()
	in, sup := e.client(), e.client()
	in.mustLogin(agentIn, deskPW)
	sup.mustLogin(supervisor, deskPW)
	rec := fmt.Sprintf("/tickets/%d/recordings/%s", f.n, f.callID)
	resp, body := sup.get(rec)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/wav" || body != string(wav()) {
		t.Fatalf("recording: %s %s, %d bytes", resp.Status, resp.Header.Get("Content-Type"), len(body))
	}
	_, page := in.get(fmt.Sprintf("/tickets/%d", f.n))
	if !strings.Contains(page, `<audio controls preload="none" src="`+rec+`">`) {
		t.Error("the agent who took the call gets no player")
	}
	// A call the supervisor took: the agent sees the ticket, not the audio.
	ctx := context.Background()
	start := time.Now().UTC()
	call := tickets.Call{ID: "sup-call", Direction: "inbound", Number: "+15550199", Queue: "support", Agent: supervisor,
		Start: start, End: start.Add(time.Minute), Outcome: "answered", Recording: "rec-sup"}
	if _, _, err := e.desk.AddCall(ctx, call, f.n); err != nil {
		t.Fatal(err)
	}
	e.phone.recordings["rec-sup"] = wav()
	if resp, _ := in.get(fmt.Sprintf("/tickets/%d/recordings/sup-call", f.n)); resp.StatusCode != http.StatusNotFound {
		t.Errorf("agent plays another agent's call: %s", resp.Status)
	}
	if resp, _ := sup.get(fmt.Sprintf("/tickets/%d/recordings/sup-call", f.n)); resp.StatusCode != 200 {
		t.Errorf("supervisor plays their group's call: %s", resp.Status)
	}
	// A voicemail on the ticket: the agent who works it hears it.
	vm := tickets.Call{ID: "vm-call", Direction: "inbound", Number: "+15550199", Queue: "support",
		Start: start, End: start.Add(time.Minute), Outcome: "voicemail", Recording: "rec-vm"}
	if _, _, err := e.desk.AddCall(ctx, vm, f.n); err != nil {
		t.Fatal(err)
	}
	e.phone.recordings["rec-vm"] = wav()
	if resp, body := in.get(fmt.Sprintf("/tickets/%d/recordings/vm-call", f.n)); resp.StatusCode != 200 || body != string(wav()) {
		t.Errorf("agent plays the voicemail on their ticket: %s", resp.Status)
	}
	// Call back: the hotline gets the viewer and the contact's number.
	resp, _ = in.post(fmt.Sprintf("/tickets/%d/callback", f.n), nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("callback: %s", resp.Status)
	}
	_, page = in.get(fmt.Sprintf("/tickets/%d", f.n))
	want := fmt.Sprintf("%s +1555%07d %d", agentIn, f.n, f.n)
	if len(e.phone.callbacks) != 1 || e.phone.callbacks[0] != want || !strings.Contains(page, "Ringing your softphone") {
		t.Errorf("callbacks %q, want %q; flash shown: %v", e.phone.callbacks, want, strings.Contains(page, "Ringing"))
	}
}

func TestDeskAPI(t *testing.T) {
	e := newDeskEnv(t)
	bearer := e.token("agent")
	c := e.client()
	resp, body := c.api("POST", "/api/tickets", map[string]any{"subject": "Quote", "email": "Dave@Example.org", "name": "Dave",
		"priority": "high", "group": "sales", "support": supportBox}, bearer)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %s %s", resp.Status, body)
	}
	var tk map[string]any
	json.Unmarshal([]byte(body), &tk)
	if tk["secret"] != nil || tk["group"] != "sales" || tk["priority"] != "high" || tk["customer"].(map[string]any)["name"] != "Dave" {
		t.Errorf("created ticket: %s", body)
	}
	n := int(tk["number"].(float64))
	if resp, body := c.api("POST", fmt.Sprintf("/api/tickets/%d/reply", n), map[string]any{"text": "Price is 10."}, bearer); resp.StatusCode != 201 {
		t.Fatalf("reply: %s %s", resp.Status, body)
	}
	if resp, body := c.api("PATCH", fmt.Sprintf("/api/tickets/%d", n), map[string]any{"assignee": agentIn, "tags": []string{"quote"}}, bearer); resp.StatusCode != 200 || !contains(body, `"assignee": "`+agentIn, `"quote"`) {
		t.Errorf("patch: %s %s", resp.Status, body)
	}
	resp, body = c.api("GET", fmt.Sprintf("/api/tickets/%d", n), nil, bearer)
	if resp.StatusCode != 200 || !contains(body, `"timeline"`, "Price is 10.", `"kind": "mail-out"`) || strings.Contains(body, `"secret"`) {
		t.Errorf("get: %s %s", resp.Status, body)
	}
	if resp, body := c.api("GET", "/api/tickets?q=Quote&status=any", nil, bearer); resp.StatusCode != 200 || !strings.Contains(body, `"total": 1`) {
		t.Errorf("search: %s %s", resp.Status, body)
	}
	// Errors, as JSON with their codes.
	for _, x := range []struct {
		method, path string
		body         any
		bearer       string
		want         int
	}{
		{"POST", "/api/tickets", map[string]any{"subject": ""}, bearer, 400},
		{"POST", "/api/tickets", map[string]any{"subjekt": "typo"}, bearer, 400},
		{"PATCH", fmt.Sprintf("/api/tickets/%d", n), map[string]any{"status": "done"}, bearer, 400},
		{"GET", "/api/tickets/999", nil, bearer, 404},
		{"GET", "/api/tickets", nil, "fdt_wrong", 401},
		{"GET", "/api/tickets", nil, "not-even-a-token", 401},
		{"POST", "/api/contacts", map[string]any{"emails": []string{"dave@example.org"}}, bearer, 409},
		{"GET", "/api/contacts/77", nil, bearer, 404},
		{"GET", "/api/wallboard", nil, bearer, 403},
	} {
		resp, body := c.api(x.method, x.path, x.body, x.bearer)
		if resp.StatusCode != x.want || !strings.Contains(body, `"error"`) {
			t.Errorf("%s %s: %s %s, want %d", x.method, x.path, resp.Status, body, x.want)
		}
	}
	// A cookie session needs its CSRF token on the API too.
	admin := e.client()
	admin.mustLogin(adminAddr, adminPW)
	csrf := admin.csrf
	admin.csrf = ""
	if resp, _ := admin.api("POST", fmt.Sprintf("/api/tickets/%d/note", n), map[string]any{"text": "x"}, ""); resp.StatusCode != 403 {
		t.Errorf("API note without CSRF: %s", resp.Status)
	}
	admin.csrf = csrf
	// A revoked token is dead.
	toks, _ := e.desk.Tokens(context.Background())
	for _, tk := range toks {
		if resp, _ := admin.post("/tokens/"+tk.ID+"/delete", nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("revoke: %s", resp.Status)
		}
	}
	if resp, _ := c.api("GET", "/api/tickets", nil, bearer); resp.StatusCode != 401 {
		t.Errorf("revoked token: %s", resp.Status)
	}
	// The token page shows a new secret once.
	resp, page := admin.post("/tokens", formOf("name", "crm2", "role", "supervisor"))
	_, rest, ok := strings.Cut(page, `id="token-secret">`)
	secret, _, _ := strings.Cut(rest, "<")
	if resp.StatusCode != 200 || !ok || !strings.HasPrefix(secret, "fdt_") || len(secret) < 20 {
		t.Fatalf("token create: %s %q", resp.Status, secret)
	}
	if _, page := admin.get("/tokens"); strings.Contains(page, secret) || strings.Contains(page, `id="token-secret"`) {
		t.Error("the token list shows a secret")
	}
}

// readEvent reads the next "ticket" event of an event stream.
func readEvent(t *testing.T, r *bufio.Reader) map[string]any {
	t.Helper()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("event stream: %v", err)
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			var ev map[string]any
			if err := json.Unmarshal([]byte(data), &ev); err != nil {
				t.Fatal(err)
			}
			return ev
		}
	}
}

func openStream(t *testing.T, base, bearer string, cookies ...*http.Cookie) *bufio.Reader {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/tickets/events", nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	return bufio.NewReader(resp.Body)
}

// TestDeskEventsFiltered: each stream carries only the tickets its viewer
// may see.
func TestDeskEventsFiltered(t *testing.T) {
	e := newDeskEnv(t)
	streams := map[string]*bufio.Reader{}
	for _, addr := range []string{agentIn, agentOut} {
		c := e.client()
		c.mustLogin(addr, deskPW)
		u, _ := http.NewRequest("GET", e.ts.URL, nil)
		streams[addr] = openStream(t, e.ts.URL, "", c.hc.Jar.Cookies(u.URL)...)
	}
	support := e.mail("carol@example.org", "Printer", "broken")
	billing, err := e.desk.Create(context.Background(), tickets.NewTicket{Subject: "Refund", Email: "frank@example.org", Group: "billing", Author: adminAddr})
	if err != nil {
		t.Fatal(err)
	}
	if ev := readEvent(t, streams[agentIn]); ev["ticket"] != float64(support) {
		t.Errorf("support agent's first event: %v, want ticket %d", ev, support)
	}
	if ev := readEvent(t, streams[agentOut]); ev["ticket"] != float64(billing.Number) {
		t.Errorf("billing agent's first event: %v, want only ticket %d", ev, billing.Number)
	}
}

// TestDeskShutdownWithOpenStream: Shutdown returns promptly while an event
// stream is open, and the stream ends.
func TestDeskShutdownWithOpenStream(t *testing.T) {
	e := newDeskEnv(t)
	srv := New(Config{Store: e.st, Hostname: mailHost, Logger: slog.New(slog.DiscardHandler), Desk: e.desk})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	r := openStream(t, "http://"+l.Addr().String(), e.token("agent"))
	if line, _ := r.ReadString('\n'); !strings.HasPrefix(line, "retry:") {
		t.Fatalf("stream starts with %q", line)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v after %s", err, time.Since(start))
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := io.ReadAll(r); err != nil {
		t.Logf("stream ended with %v", err)
	}
}

func TestDeskInboxTabs(t *testing.T) {
	e := newDeskEnv(t)
	ctx := context.Background()
	a := e.mail("carol@example.org", "Alpha problem", "a")
	b := e.mail("dan@example.org", "Beta problem", "b")
	other, _ := e.desk.Create(ctx, tickets.NewTicket{Subject: "Gamma billing", Email: "gus@example.org", Group: "billing", Author: adminAddr})
	e.desk.Assign(ctx, b, adminAddr, agentIn)
	c := e.client()
	c.mustLogin(agentIn, deskPW)
	rows := func(path string) string {
		t.Helper()
		resp, body := c.get(path)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
		var out []string
		for _, part := range strings.Split(body, `data-number="`)[1:] {
			out = append(out, part[:strings.IndexByte(part, '"')])
		}
		return strings.Join(out, ",")
	}
	for path, want := range map[string]string{
		"/tickets":                       fmt.Sprintf("%d,%d", b, a),
		"/tickets?tab=mine":              fmt.Sprint(b),
		"/tickets?tab=unassigned":        fmt.Sprint(a),
		"/tickets?tab=groups&q=Alpha":    fmt.Sprint(a),
		"/tickets?tab=groups&q=Gamma":    "",
		"/tickets?tab=groups&status=new": fmt.Sprint(a),
		"/tickets?partial=1":             fmt.Sprintf("%d,%d", b, a),
	} {
		if got := rows(path); got != want {
			t.Errorf("%s: rows %s, want %s", path, got, want)
		}
	}
	if _, body := c.get("/tickets?partial=1"); strings.Contains(body, "<html") {
		t.Error("the partial list has the layout")
	}
	if resp, _ := c.get("/tickets?tab=all"); resp.StatusCode != 400 {
		t.Errorf("agent's all tab: %s, want 400", resp.Status)
	}
	sup := e.client()
	sup.mustLogin(adminAddr, adminPW)
	c = sup
	if got := rows("/tickets?tab=all"); got != fmt.Sprintf("%d,%d,%d", b, other.Number, a) && got != fmt.Sprintf("%d,%d,%d", other.Number, b, a) {
		t.Errorf("admin's all: %s", got)
	}
}
