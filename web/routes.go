package web

import (
	"net/http"
	"strings"

	"frontdesk/authn"
	"frontdesk/store"
	"frontdesk/tickets"
)

// public marks routes anyone may use.
const public store.Role = ""

// route is one entry of the route table: the least role that may use it.
type route struct {
	pattern string // net/http ServeMux pattern, with method
	role    store.Role
	handler http.HandlerFunc
}

// roleRank orders the roles: a route open to a role is open to every
// role ranked above it.
func roleRank(r store.Role) int {
	switch r {
	case store.RoleAdmin:
		return 4
	case store.RoleSupervisor:
		return 3
	case store.RoleAgent:
		return 2
	case store.RoleUser:
		return 1
	}
	return 0
}

// routes is the whole surface of the server: each route names its least
// role, and requireRole enforces it (with CSRF on unsafe methods) before
// the handler runs.
func (s *Server) routes() {
	table := []route{
		// Public: login, first-run setup, client autoconfiguration, policy, metrics.
		{"GET /login", public, s.loginPage},
		{"POST /login", public, s.loginPost},
		{"POST /logout", store.RoleUser, s.logout},
		{"GET /setup", public, s.setupPage},
		{"POST /setup", public, s.setupPost},
		{"GET /static/", public, s.static},
		{"GET /mail/config-v1.1.xml", public, s.autoconfig},
		{"GET /.well-known/autoconfig/mail/config-v1.1.xml", public, s.autoconfig},
		{"POST /autodiscover/autodiscover.xml", public, s.autodiscover},
		{"POST /Autodiscover/Autodiscover.xml", public, s.autodiscover},
		{"GET /.well-known/mta-sts.txt", public, s.mtaSTS},
		{"GET /metrics", public, s.metricsHandler},

		// Every logged-in account.
		{"GET /{$}", store.RoleUser, s.home},
		{"GET /me/client", store.RoleUser, s.myClient},
		{"POST /me/password", store.RoleUser, s.myPassword},
		{"GET /api/me", store.RoleUser, s.apiMe},
		{"GET /search", store.RoleUser, s.searchPage},

		// Supervisors: the hotline's live queues and call records.
		{"GET /calls", store.RoleSupervisor, s.callsPage},
		{"GET /api/calls/queues", store.RoleSupervisor, s.apiQueues},

		// Administration: domains, users, addresses.
		{"GET /domains", store.RoleAdmin, s.domainList},
		{"POST /domains", store.RoleAdmin, s.domainAdd},
		{"GET /domains/{domain}", store.RoleAdmin, s.domainPage},
		{"POST /domains/{domain}/check", store.RoleAdmin, s.domainCheck},
		{"GET /domains/{domain}/zone", store.RoleAdmin, s.domainZone},
		{"POST /domains/{domain}/catchall", store.RoleAdmin, s.catchAll},
		{"GET /users", store.RoleAdmin, s.userList},
		{"POST /users", store.RoleAdmin, s.userAdd},
		{"GET /users/{address}", store.RoleAdmin, s.userPage},
		{"POST /users/{address}/password", store.RoleAdmin, s.userPassword},
		{"POST /users/{address}/delete", store.RoleAdmin, s.userDelete},
		{"POST /aliases", store.RoleAdmin, s.aliasAdd},
		{"POST /aliases/{address}/delete", store.RoleAdmin, s.aliasDelete},
		{"POST /support", store.RoleAdmin, s.supportSet},

		// JSON API for admin data.
		{"GET /api/domains", store.RoleAdmin, s.apiDomains},
		{"GET /api/domains/{domain}", store.RoleAdmin, s.apiDomain},
		{"GET /api/domains/{domain}/check", store.RoleAdmin, s.apiDomainCheck},
		{"POST /api/domains/{domain}/check", store.RoleAdmin, s.apiDomainCheck},
		{"GET /api/users", store.RoleAdmin, s.apiUsers},

		// Ticket desk (desk*.go); a customer's one-click rating is public.
		{"GET /rate/{n}/{secret}/{verdict}", public, s.needDesk(s.ratePage)},
		{"GET /tickets", store.RoleAgent, s.needDesk(s.ticketsPage)},
		{"POST /tickets", store.RoleAgent, s.needDesk(s.ticketCreate)},
		{"GET /tickets/{n}", store.RoleAgent, s.needDesk(s.ticketPage)},
		{"POST /tickets/{n}/reply", store.RoleAgent, s.needDesk(s.ticketReply)},
		{"POST /tickets/{n}/note", store.RoleAgent, s.needDesk(s.ticketNote)},
		{"POST /tickets/{n}/assign", store.RoleAgent, s.needDesk(s.ticketAssign)},
		{"POST /tickets/{n}/update", store.RoleAgent, s.needDesk(s.ticketUpdate)},
		{"POST /tickets/{n}/merge", store.RoleAgent, s.needDesk(s.ticketMerge)},
		{"POST /tickets/{n}/callback", store.RoleAgent, s.needDesk(s.ticketCallback)},
		{"GET /tickets/{n}/recordings/{callid}", store.RoleAgent, s.needDesk(s.ticketRecording)},
		{"POST /contacts/{id}", store.RoleAgent, s.needDesk(s.contactEdit)},
		{"GET /api/tickets/events", store.RoleAgent, s.needDesk(s.ticketEvents)},
		{"GET /wallboard", store.RoleSupervisor, s.needDesk(s.wallboardPage)},
		{"GET /api/wallboard", store.RoleSupervisor, s.needDesk(s.apiWallboard)},
		{"GET /tokens", store.RoleAdmin, s.needDesk(s.tokensPage)},
		{"POST /tokens", store.RoleAdmin, s.needDesk(s.tokenCreate)},
		{"POST /tokens/{id}/delete", store.RoleAdmin, s.needDesk(s.tokenDelete)},

		// Ticket desk JSON API (apitickets.go), for session cookies and
		// Bearer API tokens alike.
		{"GET /api/tickets", store.RoleAgent, s.needDesk(s.apiTickets)},
		{"POST /api/tickets", store.RoleAgent, s.needDesk(s.apiTicketCreate)},
		{"GET /api/tickets/{n}", store.RoleAgent, s.needDesk(s.apiTicket)},
		{"PATCH /api/tickets/{n}", store.RoleAgent, s.needDesk(s.apiTicketUpdate)},
		{"POST /api/tickets/{n}", store.RoleAgent, s.needDesk(s.apiTicketUpdate)},
		{"POST /api/tickets/{n}/reply", store.RoleAgent, s.needDesk(s.apiTicketReply)},
		{"POST /api/tickets/{n}/note", store.RoleAgent, s.needDesk(s.apiTicketNote)},
		{"GET /api/contacts", store.RoleAgent, s.needDesk(s.apiContacts)},
		{"POST /api/contacts", store.RoleAgent, s.needDesk(s.apiContactSave)},
		{"GET /api/contacts/{id}", store.RoleAgent, s.needDesk(s.apiContact)},
		{"POST /api/contacts/{id}", store.RoleAgent, s.needDesk(s.apiContactSave)},
	}
	for _, rt := range table {
		s.mux.Handle(rt.pattern, s.requireRole(rt.role, rt.handler))
	}
	s.table = table
}

// isAPI reports whether a request wants JSON answers (401/403 codes
// rather than redirects).
func isAPI(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/api/")
}

// unsafeMethod: requests that change state and so need a CSRF token.
func unsafeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}

// requireRole wraps a handler with the checks of its route: a session of
// at least role, and a CSRF token on unsafe methods. Anonymous callers of
// pages go to the login page; of the API get 401. Too-low roles get 403.
// API requests may instead carry "Authorization: Bearer fdt_…" (a desk
// API token, acting with its role); they skip the CSRF check, since they
// carry no cookie a browser could send for an attacker.
func (s *Server) requireRole(role store.Role, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := s.viewer(r)
		if isAPI(r) && r.Header.Get("Authorization") != "" {
			var tok *tickets.Token
			if v, tok = s.tokenViewer(r); v == nil {
				authn.Refused(s.log, "web", r.RemoteAddr, "", authn.ReasonToken)
				w.Header().Set("WWW-Authenticate", `Bearer realm="frontdesk"`)
				s.fail(w, r, http.StatusUnauthorized, "invalid API token")
				return
			}
			r = withToken(r, tok)
		}
		if v != nil {
			r = withViewer(r, v)
		}
		if role == public {
			h(w, r)
			return
		}
		if v == nil {
			if isAPI(r) || unsafeMethod(r.Method) {
				w.Header().Set("WWW-Authenticate", `Cookie realm="frontdesk"`)
				s.fail(w, r, http.StatusUnauthorized, "log in first")
				return
			}
			http.Redirect(w, r, "/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if roleRank(v.acct.Role) < roleRank(role) {
			s.fail(w, r, http.StatusForbidden, "this needs the "+string(role)+" role")
			return
		}
		if unsafeMethod(r.Method) && tokenOf(r) == nil && !s.csrfOK(r, v) {
			s.fail(w, r, http.StatusForbidden, "missing or wrong CSRF token: reload the page and try again")
			return
		}
		h(w, r)
	})
}
