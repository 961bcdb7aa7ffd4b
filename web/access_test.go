package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"frontdesk/store"
)

func TestAnonymous(t *testing.T) {
	e := newEnv(t, true)
	c := e.client()
	for _, p := range []string{"/", "/domains", "/domains/corp.test", "/users", "/me/client"} {
		resp, _ := c.get(p)
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=") {
			t.Errorf("anonymous GET %s: %s %s, want a redirect to login", p, resp.Status, resp.Header.Get("Location"))
		}
	}
	for _, p := range []string{"/api/domains", "/api/domains/corp.test", "/api/domains/corp.test/check", "/api/users", "/api/me"} {
		resp, body := c.get(p)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("Content-Type"), "json") {
			t.Errorf("anonymous GET %s: %s %s, want 401 JSON", p, resp.Status, body)
		}
	}
	resp, _ := c.do("POST", "/domains", url.Values{"domain": {"evil.test"}}, nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous POST /domains: %s, want 401", resp.Status)
	}
}

func TestRoles(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	for _, r := range []store.Role{store.RoleAgent, store.RoleSupervisor, store.RoleUser} {
		if _, err := e.st.AddAccount(ctx, string(r)+"@corp.test", "password-"+string(r), r); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []store.Role{store.RoleAgent, store.RoleSupervisor, store.RoleUser} {
		c := e.client()
		c.mustLogin(string(r)+"@corp.test", "password-"+string(r))
		for _, p := range []string{"/domains", "/domains/corp.test", "/users", "/users/admin@corp.test", "/api/domains", "/api/users", "/api/domains/corp.test/check"} {
			if resp, _ := c.get(p); resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s GET %s: %s, want 403", r, p, resp.Status)
			}
		}
		// A valid CSRF token does not lift the role check.
		for _, p := range []string{"/domains", "/users", "/aliases", "/support", "/users/admin@corp.test/delete"} {
			if resp, _ := c.post(p, url.Values{"domain": {"x.test"}, "address": {"x@corp.test"}, "password": {"12345678"}}); resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s POST %s: %s, want 403", r, p, resp.Status)
			}
		}
		// What every account may use.
		if resp, body := c.get("/me/client"); resp.StatusCode != 200 || !strings.Contains(body, mailHost) {
			t.Errorf("%s GET /me/client: %s", r, resp.Status)
		}
		if resp, _ := c.get("/api/me"); resp.StatusCode != 200 {
			t.Errorf("%s GET /api/me: %s", r, resp.Status)
		}
	}
	if ds, _ := e.st.Domains(ctx); len(ds) != 1 {
		t.Errorf("domains: %v", ds)
	}
	if _, err := e.st.Account(ctx, adminAddr); err != nil {
		t.Error("admin was removed by a lower role")
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t, true)
	c := e.client()
	c.mustLogin(adminAddr, adminPW)
	if resp, _ := c.do("POST", "/domains", url.Values{"domain": {"a.test"}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST without a token: %s, want 403", resp.Status)
	}
	if resp, _ := c.post("/domains", url.Values{"domain": {"a.test"}, "csrf": {"forged" + c.csrf[6:]}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST with a wrong token: %s, want 403", resp.Status)
	}
	// Another session's token is no good either.
	other := e.client()
	other.mustLogin(adminAddr, adminPW)
	if resp, _ := c.post("/domains", url.Values{"domain": {"a.test"}, "csrf": {other.csrf}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST with another session's token: %s, want 403", resp.Status)
	}
	if ok, _ := e.st.IsLocalDomain(context.Background(), "a.test"); ok {
		t.Fatal("a forged form added a domain")
	}
	// The JSON API takes the token in a header.
	if resp, _ := c.do("POST", "/api/domains/corp.test/check", nil, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("API POST without a token: %s, want 403", resp.Status)
	}
	if resp, body := c.do("POST", "/api/domains/corp.test/check", nil, map[string]string{"X-CSRF-Token": c.csrf}); resp.StatusCode != 200 || !strings.Contains(body, `"records"`) {
		t.Errorf("API POST with the token: %s %s", resp.Status, body)
	}
	// The login form has its own token.
	anon := e.client()
	if resp, _ := anon.do("POST", "/login", url.Values{"address": {adminAddr}, "password": {adminPW}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("login without the form's token: %s, want 403", resp.Status)
	}
	if resp, _ := c.post("/domains", url.Values{"domain": {"a.test"}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("POST with the token: %s", resp.Status)
	}
}

func TestLoginThrottle(t *testing.T) {
	e := newEnv(t, true)
	c := e.client()
	for i := 1; i <= 10; i++ {
		if resp, _ := c.login(adminAddr, "wrong-password"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %s, want 401", i, resp.Status)
		}
	}
	resp, body := c.login(adminAddr, "wrong-password")
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "Too many failed logins") {
		t.Errorf("11th wrong password: %s, want 429", resp.Status)
	}
	// Within the minute even the right password is refused.
	if resp, _ := c.login(adminAddr, adminPW); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("right password while throttled: %s, want 429", resp.Status)
	}
}

func TestSessionCookieAndLogout(t *testing.T) {
	e := newEnvTLS(t, true, true)
	c := e.client()
	resp, _ := c.login(adminAddr, adminPW)
	var sess *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == sessionCookie {
			sess = ck
		}
	}
	if sess == nil || !sess.Secure || !sess.HttpOnly || sess.SameSite != http.SameSiteLaxMode || len(sess.Value) < 43 {
		t.Fatalf("session cookie %+v: want Secure, HttpOnly, SameSite=Lax, 256 bits", sess)
	}
	if r, _ := c.get("/domains"); r.StatusCode != 200 {
		t.Fatalf("after login: %s", r.Status)
	}
	if r, _ := c.post("/logout", nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %s", r.Status)
	}
	// The old session ID is dead even if a browser kept it.
	req, _ := http.NewRequest("GET", e.ts.URL+"/api/domains", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: sess.Value})
	r, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusUnauthorized {
		t.Errorf("session after logout: %s, want 401", r.Status)
	}
}

func TestSetupLink(t *testing.T) {
	e := newEnv(t, false)
	ctx := context.Background()
	link, err := e.srv.SetupLink(ctx, e.ts.URL)
	if err != nil || link == "" {
		t.Fatalf("setup link: %q, %v", link, err)
	}
	u, _ := url.Parse(link)
	tok := u.Query().Get("token")
	if len(tok) < 43 {
		t.Fatalf("token %q is short", tok)
	}
	if raw, _ := e.st.Setting(ctx, setupSetting); strings.Contains(string(raw), tok) {
		t.Fatal("the setup token is stored in clear")
	}
	c := e.client()
	if resp, _ := c.get("/setup?token=wrong"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("wrong token: %s", resp.Status)
	}
	if resp, _ := c.get(u.RequestURI()); resp.StatusCode != 200 {
		t.Fatalf("setup page: %s", resp.Status)
	}
	form := url.Values{"token": {tok}, "address": {"boss@first.test"}, "password": {"first-admin-pw"}, "password2": {"first-admin-pw"}}
	resp, body := c.do("POST", "/setup", form, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/domains/first.test" {
		t.Fatalf("setup: %s %s\n%s", resp.Status, resp.Header.Get("Location"), body)
	}
	a, err := e.st.Account(ctx, "boss@first.test")
	if err != nil || a.Role != store.RoleAdmin {
		t.Fatalf("first admin: %+v %v", a, err)
	}
	// The new admin is logged in, and the domain has its records.
	if r, page := c.get("/domains/first.test"); r.StatusCode != 200 || len(recordRows(page)) < 8 {
		t.Errorf("domain page after setup: %s", r.Status)
	}
	// Used once, the link is dead.
	form.Set("address", "mallory@first.test")
	if resp, _ := e.client().do("POST", "/setup", form, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("second use of the setup link: %s", resp.Status)
	}
	if link, _ := e.srv.SetupLink(ctx, e.ts.URL); link != "" {
		t.Errorf("setup link with an admin present: %q", link)
	}
}

func TestUsersAndAddresses(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	c := e.client()
	c.mustLogin(adminAddr, adminPW)
	c.addDomain("acme.test")
	post := func(path string, form url.Values) {
		t.Helper()
		if resp, body := c.post(path, form); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("POST %s: %s\n%s", path, resp.Status, body)
		}
	}
	post("/users", url.Values{"address": {"bob@acme.test"}, "password": {"bob-password"}, "role": {"agent"}})
	post("/aliases", url.Values{"address": {"sales@acme.test"}, "target": {"bob@acme.test"}})
	post("/domains/acme.test/catchall", url.Values{"target": {"bob@acme.test"}})
	post("/support", url.Values{"address": {"sales@acme.test"}, "on": {"1"}})
	post("/users/bob@acme.test/password", url.Values{"password": {"new-bob-password"}})
	for _, to := range []string{"bob@acme.test", "sales@acme.test", "whoever@acme.test"} {
		a, err := e.st.ResolveRecipient(ctx, to)
		if err != nil || a.Address != "bob@acme.test" {
			t.Errorf("resolve %s: %+v %v", to, a, err)
		}
	}
	if ok, _ := e.st.IsSupportAddress(ctx, "sales@acme.test"); !ok {
		t.Error("sales@ is not a support address")
	}
	_, page := c.get("/users")
	if !strings.Contains(page, "sales@acme.test") || !strings.Contains(page, ">support<") {
		t.Error("users page does not show the alias and its support mark")
	}
	if _, err := e.st.Authenticate(ctx, "bob@acme.test", "new-bob-password"); err != nil {
		t.Error("password reset did not take")
	}
	// Removing needs the address typed again.
	if resp, _ := c.post("/users/bob@acme.test/delete", url.Values{"confirm": {"nope"}}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("delete without confirmation: %s", resp.Status)
	}
	if resp, _ := c.post("/users/"+adminAddr+"/delete", url.Values{"confirm": {adminAddr}}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("deleting oneself: %s", resp.Status)
	}
	post("/users/bob@acme.test/delete", url.Values{"confirm": {"bob@acme.test"}})
	for _, to := range []string{"bob@acme.test", "sales@acme.test", "whoever@acme.test"} {
		if _, err := e.st.ResolveRecipient(ctx, to); err == nil {
			t.Errorf("%s still resolves after its account was removed", to)
		}
	}
	if resp, _ := c.post("/users", url.Values{"address": {"x@unknown.test"}, "password": {"12345678"}}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("account in an unknown domain: %s", resp.Status)
	}
}
