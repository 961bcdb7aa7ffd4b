package web

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// deskWho are the callers of the access table, in the order of want.
var deskWho = []string{"anonymous", "user", "agent-in-group", "agent-other-group", "supervisor", "admin", "token"}

type want [7]int

// deskRoute is one row of the access table. path and body may use {n}
// (a fresh support ticket), {m} (a second one), {contact}, {call},
// {secret} and {token} (a fresh token id).
type deskRoute struct {
	method, path string
	form         []string // form fields (pages)
	json         any      // JSON body (API)
	want         want
}

// TestDeskAccess runs every desk route as every kind of caller and checks
// the status: the route's least role, CSRF, and the per-ticket rules
// (a ticket outside the caller's groups is 404).
func TestDeskAccess(t *testing.T) {
	e := newDeskEnv(t)
	clients := map[string]*client{}
	for who, addr := range map[string]string{"user": plainUser, "agent-in-group": agentIn, "agent-other-group": agentOut,
		"supervisor": supervisor} {
		c := e.client()
		c.mustLogin(addr, deskPW)
		clients[who] = c
	}
	clients["admin"] = e.client()
	clients["admin"].mustLogin(adminAddr, adminPW)
	clients["anonymous"] = e.client()
	clients["token"] = e.client()
	bearer := e.token("agent")

	const (
		redir = http.StatusSeeOther
		anon  = http.StatusUnauthorized
		no    = http.StatusForbidden
		nf    = http.StatusNotFound
		ok    = http.StatusOK
		made  = http.StatusCreated
	)
	routes := []deskRoute{
		// Pages.
		{"GET", "/tickets", nil, nil, want{redir, no, ok, ok, ok, ok, redir}},
		{"GET", "/tickets?tab=unassigned&status=any&q=printer", nil, nil, want{redir, no, ok, ok, ok, ok, redir}},
		{"GET", "/tickets?partial=1", nil, nil, want{redir, no, ok, ok, ok, ok, redir}},
		{"POST", "/tickets", []string{"subject", "Phone call", "phone", "+15559990000"}, nil, want{anon, no, redir, redir, redir, redir, anon}},
		{"GET", "/tickets/{n}", nil, nil, want{redir, no, ok, nf, ok, ok, redir}},
		{"GET", "/tickets/{n}?partial=1", nil, nil, want{redir, no, ok, nf, ok, ok, redir}},
		{"POST", "/tickets/{n}/reply", []string{"text", "We are on it.", "status", "pending"}, nil, want{anon, no, redir, nf, redir, redir, anon}},
		{"POST", "/tickets/{n}/note", []string{"text", "Called the vendor."}, nil, want{anon, no, redir, nf, redir, redir, anon}},
		{"POST", "/tickets/{n}/assign", []string{"to", "me"}, nil, want{anon, no, redir, nf, redir, redir, anon}},
		{"POST", "/tickets/{n}/update", []string{"status", "pending", "priority", "high", "group", "support", "tags", "fire, printer"}, nil, want{anon, no, redir, nf, redir, redir, anon}},
		{"POST", "/tickets/{n}/merge", []string{"into", "{m}"}, nil, want{anon, no, redir, nf, redir, redir, anon}},
		{"POST", "/tickets/{n}/callback", nil, nil, want{anon, no, redir, nf, redir, redir, anon}},
		{"GET", "/tickets/{n}/recordings/{call}", nil, nil, want{redir, no, ok, nf, ok, ok, redir}},
		{"GET", "/tickets/{n}/recordings/no-such-call", nil, nil, want{redir, no, nf, nf, nf, nf, redir}},
		{"POST", "/contacts/{contact}", []string{"level", "vip", "ticket", "{n}"}, nil, want{anon, no, redir, redir, redir, redir, anon}},
		{"GET", "/rate/{n}/{secret}/good", nil, nil, want{ok, ok, ok, ok, ok, ok, ok}},
		{"GET", "/rate/{n}/wrong-secret/bad", nil, nil, want{nf, nf, nf, nf, nf, nf, nf}},
		{"GET", "/wallboard", nil, nil, want{redir, no, no, no, ok, ok, redir}},
		{"GET", "/wallboard?partial=1", nil, nil, want{redir, no, no, no, ok, ok, redir}},
		{"GET", "/tokens", nil, nil, want{redir, no, no, no, no, ok, redir}},
		{"POST", "/tokens", []string{"name", "crm", "role", "agent"}, nil, want{anon, no, no, no, no, ok, anon}},
		{"POST", "/tokens/{token}/delete", nil, nil, want{anon, no, no, no, no, redir, anon}},

		// Live events and the JSON API.
		{"GET", "/api/tickets/events", nil, nil, want{anon, no, ok, ok, ok, ok, ok}},
		{"GET", "/api/wallboard", nil, nil, want{anon, no, no, no, ok, ok, no}},
		{"GET", "/api/tickets", nil, nil, want{anon, no, ok, ok, ok, ok, ok}},
		{"GET", "/api/tickets?tab=overdue", nil, nil, want{anon, no, ok, ok, ok, ok, ok}},
		{"POST", "/api/tickets", nil, map[string]any{"subject": "From the CRM", "email": "dave@example.org", "text": "Wants a quote."}, want{anon, no, made, made, made, made, made}},
		{"GET", "/api/tickets/{n}", nil, nil, want{anon, no, ok, nf, ok, ok, ok}},
		{"PATCH", "/api/tickets/{n}", nil, map[string]any{"priority": "high", "tags": []string{"crm"}}, want{anon, no, ok, nf, ok, ok, ok}},
		{"POST", "/api/tickets/{n}", nil, map[string]any{"status": "pending"}, want{anon, no, ok, nf, ok, ok, ok}},
		{"POST", "/api/tickets/{n}/reply", nil, map[string]any{"text": "Thanks, fixed."}, want{anon, no, made, nf, made, made, made}},
		{"POST", "/api/tickets/{n}/note", nil, map[string]any{"text": "CRM note"}, want{anon, no, made, nf, made, made, made}},
		{"GET", "/api/contacts", nil, nil, want{anon, no, ok, ok, ok, ok, ok}},
		{"POST", "/api/contacts", nil, map[string]any{"name": "Erin", "emails": []string{"erin-{n}@example.org"}}, want{anon, no, made, made, made, made, made}},
		{"GET", "/api/contacts/{contact}", nil, nil, want{anon, no, ok, ok, ok, ok, ok}},
		{"POST", "/api/contacts/{contact}", nil, map[string]any{"level": "vip"}, want{anon, no, ok, ok, ok, ok, ok}},
	}
	// Every desk route of the server is in the table.
	shape := regexp.MustCompile(`\{[^}]*\}`)
	tested := map[string]bool{}
	for _, rt := range routes {
		p, _, _ := strings.Cut(rt.path, "?")
		tested[rt.method+" "+shape.ReplaceAllString(strings.NewReplacer("no-such-call", "{call}", "/good", "/{verdict}").Replace(p), "{}")] = true
	}
	for _, rt := range e.srv.table {
		method, path, _ := strings.Cut(rt.pattern, " ")
		desk := false
		for _, prefix := range []string{"/tickets", "/api/tickets", "/api/contacts", "/api/wallboard", "/wallboard", "/tokens", "/contacts", "/rate"} {
			desk = desk || strings.HasPrefix(path, prefix)
		}
		if desk && !tested[method+" "+shape.ReplaceAllString(path, "{}")] {
			t.Errorf("route %s is not in the access table", rt.pattern)
		}
	}
	for _, rt := range routes {
		for i, who := range deskWho {
			c := clients[who]
			f, m := e.fixture(), e.fixture()
			_, tok, err := e.desk.CreateToken(context.Background(), "victim", "agent")
			if err != nil {
				t.Fatal(err)
			}
			fill := strings.NewReplacer("{n}", fmt.Sprint(f.n), "{m}", fmt.Sprint(m.n), "{contact}", fmt.Sprint(f.contact),
				"{call}", f.callID, "{secret}", f.secret, "{token}", tok.ID).Replace
			path := fill(rt.path)
			auth := ""
			if who == "token" {
				auth = bearer
			}
			var resp *http.Response
			var body string
			switch {
			case path == "/api/tickets/events":
				resp = c.headers(path, auth)
			case strings.HasPrefix(path, "/api/"):
				var b any
				if rt.json != nil {
					b = fillJSON(rt.json, fill)
				}
				resp, body = c.api(rt.method, path, b, auth)
			default:
				form := formOf(rt.form...)
				for k := range form {
					form.Set(k, fill(form.Get(k)))
				}
				if rt.method == "GET" {
					resp, body = c.get(path)
				} else {
					resp, body = c.post(path, form)
				}
			}
			if resp.StatusCode != rt.want[i] {
				t.Errorf("%s %s as %s: %d, want %d\n%.300s", rt.method, path, who, resp.StatusCode, rt.want[i], body)
			}
		}
	}
}

// fillJSON replaces the placeholders in a JSON body's strings.
func fillJSON(v any, fill func(string) string) any {
	switch x := v.(type) {
	case string:
		return fill(x)
	case []string:
		out := make([]string, len(x))
		for i, s := range x {
			out[i] = fill(s)
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, s := range x {
			out[k] = fillJSON(s, fill)
		}
		return out
	}
	return v
}
