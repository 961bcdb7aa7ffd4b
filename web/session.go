package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"frontdesk/authn"
	"frontdesk/store"
)

const (
	sessionCookie = "fd_session"
	loginCookie   = "fd_login" // CSRF token of the login form, before any session
	setupSetting  = "web.setup_token"
)

// viewer is the account behind a request's session.
type viewer struct {
	acct *store.Account
	sess *store.WebSession
	key  string // store key of the session
}

type viewerKey struct{}

func withViewer(r *http.Request, v *viewer) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), viewerKey{}, v))
}

func viewerOf(r *http.Request) *viewer {
	v, _ := r.Context().Value(viewerKey{}).(*viewer)
	return v
}

// randomToken returns 256 random bits, URL-safe.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashToken is how session IDs and setup tokens are kept: a stolen copy
// of the database opens nothing.
func hashToken(t string) string {
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:])
}

// viewer finds the session of a request, or nil. A session whose account
// was deleted is no session; the account's role is read fresh each time.
func (s *Server) viewer(r *http.Request) *viewer {
	c, err := r.Cookie(sessionCookie)
	if err != nil || len(c.Value) < 40 {
		return nil
	}
	key := hashToken(c.Value)
	ws, err := s.st.WebSession(r.Context(), key, time.Now())
	if err != nil {
		return nil
	}
	a, err := s.st.AccountByID(r.Context(), ws.Account)
	if err != nil {
		return nil
	}
	a.Password = ""
	return &viewer{acct: a, sess: ws, key: key}
}

func (s *Server) secure(r *http.Request) bool { return r.TLS != nil || s.cfg.SecureCookies }

func (s *Server) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteLaxMode})
}

// startSession logs acct in with a fresh session ID (never reusing one
// the browser brought, against session fixation).
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, acct *store.Account) error {
	id := randomToken()
	now := time.Now().UTC()
	ws := &store.WebSession{Account: acct.ID, CSRF: randomToken(), Created: now, Expires: now.Add(s.cfg.SessionTTL)}
	if err := s.st.PutWebSession(r.Context(), hashToken(id), ws); err != nil {
		return err
	}
	s.setCookie(w, r, sessionCookie, id, int(s.cfg.SessionTTL.Seconds()))
	s.setCookie(w, r, loginCookie, "", -1)
	s.metrics.logins.Add(1)
	return nil
}

// csrfOK checks the session's token in the form field "csrf" or the
// X-CSRF-Token header (JSON API).
func (s *Server) csrfOK(r *http.Request, v *viewer) bool {
	tok := r.Header.Get("X-CSRF-Token")
	if tok == "" {
		tok = r.PostFormValue("csrf")
	}
	return tok != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(v.sess.CSRF)) == 1
}

// remoteAddr turns r.RemoteAddr into the net.Addr the shared throttle
// counts failures by.
func remoteAddr(r *http.Request) net.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return &net.TCPAddr{}
	}
	return net.TCPAddrFromAddrPort(ap)
}

type loginData struct {
	Next    string
	Address string
}

// loginToken returns the login form's CSRF token, setting its cookie.
func (s *Server) loginToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(loginCookie); err == nil && len(c.Value) >= 40 {
		return c.Value
	}
	t := randomToken()
	s.setCookie(w, r, loginCookie, t, 3600)
	return t
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if viewerOf(r) != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	tok := s.loginToken(w, r)
	s.render(w, r, http.StatusOK, "login.html", page{Title: "Log in", CSRF: tok,
		Data: loginData{Next: safeNext(r.URL.Query().Get("next"))}})
}

func (s *Server) loginPost(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(loginCookie)
	form := r.PostFormValue("csrf")
	if err != nil || form == "" || subtle.ConstantTimeCompare([]byte(form), []byte(c.Value)) != 1 {
		s.fail(w, r, http.StatusForbidden, "the login form expired: reload the page and try again")
		return
	}
	addr, pw := strings.TrimSpace(r.PostFormValue("address")), r.PostFormValue("password")
	next := safeNext(r.PostFormValue("next"))
	again := func(status int, msg string) {
		s.render(w, r, status, "login.html", page{Title: "Log in", CSRF: c.Value, Error: msg,
			Data: loginData{Next: next, Address: addr}})
	}
	acct, err := s.auth.Check(r.Context(), remoteAddr(r), addr, pw)
	switch {
	case errors.Is(err, authn.ErrRateLimited):
		s.metrics.loginFailures.Add(1)
		authn.Refused(s.log, "web", r.RemoteAddr, addr, authn.ReasonRateLimited)
		again(http.StatusTooManyRequests, "Too many failed logins. Wait a minute and try again.")
		return
	case err != nil:
		s.metrics.loginFailures.Add(1)
		authn.Refused(s.log, "web", r.RemoteAddr, addr, authn.ReasonPassword)
		again(http.StatusUnauthorized, "Wrong address or password.")
		return
	}
	if err := s.startSession(w, r, acct); err != nil {
		s.fail(w, r, http.StatusInternalServerError, "could not start a session")
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if v := viewerOf(r); v != nil {
		s.st.DeleteWebSession(r.Context(), v.key)
	}
	s.setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// safeNext keeps post-login redirects on this site.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, `\`) {
		return "/"
	}
	return next
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// hasAdmin reports whether any admin account exists.
func (s *Server) hasAdmin(ctx context.Context) (bool, error) {
	as, err := s.st.Accounts(ctx)
	if err != nil {
		return false, err
	}
	for _, a := range as {
		if a.Role == store.RoleAdmin {
			return true, nil
		}
	}
	return false, nil
}

// SetupLink returns a one-time link (under base, e.g.
// "http://127.0.0.1:8080") that lets whoever has it create the first
// admin, or "" when an admin exists. Each call makes a new token and
// voids the previous one; only its hash is stored, and it is deleted
// once used.
func (s *Server) SetupLink(ctx context.Context, base string) (string, error) {
	ok, err := s.hasAdmin(ctx)
	if err != nil || ok {
		return "", err
	}
	tok := randomToken()
	if err := s.st.SetSetting(ctx, setupSetting, []byte(hashToken(tok))); err != nil {
		return "", err
	}
	return strings.TrimSuffix(base, "/") + "/setup?token=" + tok, nil
}

// setupTokenOK checks a setup token against the stored hash, and that
// no admin exists yet.
func (s *Server) setupTokenOK(ctx context.Context, tok string) bool {
	want, err := s.st.Setting(ctx, setupSetting)
	if err != nil || len(want) == 0 || tok == "" {
		return false
	}
	if subtle.ConstantTimeCompare([]byte(hashToken(tok)), want) != 1 {
		return false
	}
	ok, err := s.hasAdmin(ctx)
	return err == nil && !ok
}

type setupData struct {
	Token   string
	Address string
}

func (s *Server) setupPage(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("token")
	if !s.setupTokenOK(r.Context(), tok) {
		s.fail(w, r, http.StatusForbidden, "this setup link is not valid (it works once, and only while no admin exists)")
		return
	}
	s.render(w, r, http.StatusOK, "setup.html", page{Title: "Create the first admin", Data: setupData{Token: tok}})
}

func (s *Server) setupPost(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tok := r.PostFormValue("token")
	if !s.setupTokenOK(ctx, tok) {
		s.fail(w, r, http.StatusForbidden, "this setup link is not valid (it works once, and only while no admin exists)")
		return
	}
	addr, pw := strings.TrimSpace(r.PostFormValue("address")), r.PostFormValue("password")
	again := func(msg string) {
		s.render(w, r, http.StatusBadRequest, "setup.html", page{Title: "Create the first admin", Error: msg,
			Data: setupData{Token: tok, Address: addr}})
	}
	if pw != r.PostFormValue("password2") {
		again("The two passwords differ.")
		return
	}
	norm, err := store.NormalizeAddress(addr)
	if err != nil {
		again(err.Error())
		return
	}
	if len(pw) < 8 {
		again("The password needs at least 8 characters.")
		return
	}
	if local, err := s.st.IsLocalDomain(ctx, store.DomainOf(norm)); err == nil && !local {
		if err := s.addDomain(ctx, store.DomainOf(norm)); err != nil {
			again(err.Error())
			return
		}
	}
	acct, err := s.st.AddAccount(ctx, norm, pw, store.RoleAdmin)
	if err != nil {
		again(err.Error())
		return
	}
	if err := s.st.SetSetting(ctx, setupSetting, nil); err != nil {
		s.log.Error("web: void setup token", "err", err)
	}
	s.log.Info("first admin created through the setup link", "address", acct.Address)
	if err := s.startSession(w, r, acct); err != nil {
		s.fail(w, r, http.StatusInternalServerError, "could not start a session")
		return
	}
	http.Redirect(w, r, "/domains/"+store.DomainOf(norm), http.StatusSeeOther)
}
