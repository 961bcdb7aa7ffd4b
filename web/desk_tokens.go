package web

import (
	"context"
	"net/http"
	"strings"

	"frontdesk/store"
	"frontdesk/tickets"
)

type tokenKey struct{}

func withToken(r *http.Request, t *tickets.Token) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), tokenKey{}, t))
}

// tokenOf returns the API token a request authenticated with, or nil.
func tokenOf(r *http.Request) *tickets.Token {
	t, _ := r.Context().Value(tokenKey{}).(*tickets.Token)
	return t
}

// tokenViewer checks "Authorization: Bearer fdt_…" and returns the
// viewer it acts as: an account-less "api:NAME" with the token's role and
// a session without a CSRF token. nil when the header or token is bad.
func (s *Server) tokenViewer(r *http.Request) (*viewer, *tickets.Token) {
	scheme, secret, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || s.cfg.Desk == nil {
		return nil, nil
	}
	t, err := s.cfg.Desk.CheckToken(r.Context(), strings.TrimSpace(secret))
	if err != nil {
		return nil, nil
	}
	role, err := store.ParseRole(t.Role)
	if err != nil || roleRank(role) < roleRank(store.RoleAgent) {
		return nil, nil
	}
	return &viewer{acct: &store.Account{Address: "api:" + t.Name, Role: role}, sess: &store.WebSession{}}, t
}

type tokensView struct {
	Tokens []tickets.Token
	Secret string // the new token's secret, shown once
	New    string // its name
}

// tokensPage answers GET /tokens: the API tokens, for admins.
func (s *Server) tokensPage(w http.ResponseWriter, r *http.Request) {
	s.renderTokens(w, r, http.StatusOK, &tokensView{}, "")
}

func (s *Server) renderTokens(w http.ResponseWriter, r *http.Request, status int, d *tokensView, msg string) {
	ts, err := s.cfg.Desk.Tokens(r.Context())
	if err != nil {
		s.failDesk(w, r, err)
		return
	}
	d.Tokens = ts
	s.render(w, r, status, "tokens.html", page{Title: "API tokens", Nav: "tokens", Error: msg, Data: d})
}

// tokenCreate answers POST /tokens: the page again, with the secret of
// the new token shown this once (never stored in clear).
func (s *Server) tokenCreate(w http.ResponseWriter, r *http.Request) {
	secret, t, err := s.cfg.Desk.CreateToken(r.Context(), r.PostFormValue("name"), r.PostFormValue("role"))
	if err != nil {
		s.renderTokens(w, r, http.StatusBadRequest, &tokensView{}, strings.TrimPrefix(err.Error(), "tickets: "))
		return
	}
	s.log.Info("web: API token created", "id", t.ID, "name", t.Name, "role", t.Role, "by", viewerOf(r).acct.Address)
	s.renderTokens(w, r, http.StatusOK, &tokensView{Secret: secret, New: t.Name}, "")
}

// tokenDelete answers POST /tokens/{id}/delete.
func (s *Server) tokenDelete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.cfg.Desk.RevokeToken(r.Context(), id); err != nil {
		s.failDesk(w, r, err)
		return
	}
	s.log.Info("web: API token revoked", "id", id, "by", viewerOf(r).acct.Address)
	s.redirect(w, r, "/tokens", "Token "+id+" revoked.")
}
