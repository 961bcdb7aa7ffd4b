package web

import (
	"net/http"
	"strings"

	"frontdesk/authn"
	"frontdesk/store"
)

// userRow is one account in the users table.
type userRow struct {
	Address string
	Role    store.Role
	Created string
	Aliases []string
	Support bool
}

type usersView struct {
	Users    []userRow
	Aliases  []aliasRow
	Domains  []string
	Roles    []store.Role
	Accounts []string
}

type aliasRow struct {
	store.Alias
	Support bool
}

func (s *Server) usersView(r *http.Request) (*usersView, error) {
	ctx := r.Context()
	as, err := s.st.Accounts(ctx)
	if err != nil {
		return nil, err
	}
	byTarget, err := s.st.AliasesByTarget(ctx)
	if err != nil {
		return nil, err
	}
	sup, err := s.st.SupportAddresses(ctx)
	if err != nil {
		return nil, err
	}
	isSup := map[string]bool{}
	for _, a := range sup {
		isSup[a] = true
	}
	v := &usersView{Roles: []store.Role{store.RoleUser, store.RoleAgent, store.RoleSupervisor, store.RoleAdmin}}
	for _, a := range as {
		v.Users = append(v.Users, userRow{Address: a.Address, Role: a.Role, Created: a.Created.Format("2006-01-02"),
			Aliases: byTarget[a.Address], Support: isSup[a.Address]})
		v.Accounts = append(v.Accounts, a.Address)
	}
	als, err := s.st.Aliases(ctx)
	if err != nil {
		return nil, err
	}
	for _, al := range als {
		v.Aliases = append(v.Aliases, aliasRow{Alias: al, Support: isSup[al.Address]})
	}
	ds, err := s.st.Domains(ctx)
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		v.Domains = append(v.Domains, d.Name)
	}
	return v, nil
}

func (s *Server) renderUsers(w http.ResponseWriter, r *http.Request, status int, errMsg string) {
	v, err := s.usersView(r)
	if err != nil {
		s.failStore(w, r, err)
		return
	}
	s.render(w, r, status, "users.html", page{Title: "Users and addresses", Nav: "users", Error: errMsg, Data: v})
}

func (s *Server) userList(w http.ResponseWriter, r *http.Request) {
	s.renderUsers(w, r, http.StatusOK, "")
}

// formError re-shows the users page with what went wrong.
func (s *Server) formError(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusBadRequest
	if strings.Contains(err.Error(), store.ErrExists.Error()) {
		status = http.StatusConflict
	}
	s.renderUsers(w, r, status, err.Error())
}

func (s *Server) userAdd(w http.ResponseWriter, r *http.Request) {
	role, err := store.ParseRole(r.PostFormValue("role"))
	if err != nil {
		s.formError(w, r, err)
		return
	}
	a, err := s.st.AddAccount(r.Context(), r.PostFormValue("address"), r.PostFormValue("password"), role)
	if err != nil {
		s.formError(w, r, err)
		return
	}
	s.log.Info("web: account added", "address", a.Address, "role", a.Role, "by", viewerOf(r).acct.Address)
	s.redirect(w, r, "/users", "Account "+a.Address+" created.")
}

// userPage shows one account: the client settings to type by hand, and
// the forms to reset its password or remove it.
func (s *Server) userPage(w http.ResponseWriter, r *http.Request) {
	a, err := s.st.Account(r.Context(), r.PathValue("address"))
	if err != nil {
		s.failStore(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "user.html", page{Title: a.Address, Nav: "users", Data: s.clientSettings(a.Address)})
}

func (s *Server) userPassword(w http.ResponseWriter, r *http.Request) {
	addr := r.PathValue("address")
	if err := s.st.SetPassword(r.Context(), addr, r.PostFormValue("password")); err != nil {
		s.formError(w, r, err)
		return
	}
	s.redirect(w, r, "/users", "Password of "+addr+" reset.")
}

func (s *Server) userDelete(w http.ResponseWriter, r *http.Request) {
	addr, err := store.NormalizeAddress(r.PathValue("address"))
	if err != nil {
		s.formError(w, r, err)
		return
	}
	v := viewerOf(r)
	if addr == v.acct.Address {
		s.renderUsers(w, r, http.StatusBadRequest, "You cannot remove your own account.")
		return
	}
	if r.PostFormValue("confirm") != addr {
		s.renderUsers(w, r, http.StatusBadRequest, "To remove "+addr+", type its address in the confirmation field.")
		return
	}
	if err := s.st.DeleteAccount(r.Context(), addr); err != nil {
		s.formError(w, r, err)
		return
	}
	s.log.Info("web: account removed", "address", addr, "by", v.acct.Address)
	s.redirect(w, r, "/users", "Account "+addr+" removed with its mail.")
}

func (s *Server) aliasAdd(w http.ResponseWriter, r *http.Request) {
	al, err := s.st.AddAlias(r.Context(), r.PostFormValue("address"), r.PostFormValue("target"))
	if err != nil {
		s.formError(w, r, err)
		return
	}
	s.redirect(w, r, "/users", "Mail to "+al.Address+" now goes to "+al.Target+".")
}

func (s *Server) aliasDelete(w http.ResponseWriter, r *http.Request) {
	addr := r.PathValue("address")
	if err := s.st.RemoveAlias(r.Context(), addr); err != nil {
		s.formError(w, r, err)
		return
	}
	s.redirect(w, r, "/users", "Alias "+addr+" removed.")
}

// supportSet marks or unmarks a support address (the ticket desk reads it).
func (s *Server) supportSet(w http.ResponseWriter, r *http.Request) {
	addr := r.PostFormValue("address")
	on := r.PostFormValue("on") == "1"
	if err := s.st.SetSupport(r.Context(), addr, on); err != nil {
		s.formError(w, r, err)
		return
	}
	msg := addr + " is no longer a support address."
	if on {
		msg = "Mail to " + addr + " now opens tickets."
	}
	s.redirect(w, r, "/users", msg)
}

// home is the start page of every logged-in account.
func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	v := viewerOf(r)
	if v.acct.Role == store.RoleAdmin {
		http.Redirect(w, r, "/domains", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/me/client", http.StatusSeeOther)
}

func (s *Server) myClient(w http.ResponseWriter, r *http.Request) {
	v := viewerOf(r)
	s.render(w, r, http.StatusOK, "client.html", page{Title: "Mail client settings", Nav: "me", Data: s.clientSettings(v.acct.Address)})
}

func (s *Server) myPassword(w http.ResponseWriter, r *http.Request) {
	v := viewerOf(r)
	ctx := r.Context()
	if _, err := s.auth.Check(ctx, remoteAddr(r), v.acct.Address, r.PostFormValue("current")); err != nil {
		authn.Refused(s.log, "web", r.RemoteAddr, v.acct.Address, authn.ReasonOf(err), "form", "password change")
		s.render(w, r, http.StatusForbidden, "client.html", page{Title: "Mail client settings", Nav: "me",
			Error: "The current password is wrong.", Data: s.clientSettings(v.acct.Address)})
		return
	}
	if err := s.st.SetPassword(ctx, v.acct.Address, r.PostFormValue("password")); err != nil {
		s.render(w, r, http.StatusBadRequest, "client.html", page{Title: "Mail client settings", Nav: "me",
			Error: err.Error(), Data: s.clientSettings(v.acct.Address)})
		return
	}
	s.redirect(w, r, "/me/client", "Password changed.")
}
