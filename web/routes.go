package web

import (
	"net/http"
	"strings"

	"frontdesk/store"
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
	}
	for _, rt := range table {
		s.mux.Handle(rt.pattern, s.requireRole(rt.role, rt.handler))
	}
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
func (s *Server) requireRole(role store.Role, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := s.viewer(r)
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
		if unsafeMethod(r.Method) && !s.csrfOK(r, v) {
			s.fail(w, r, http.StatusForbidden, "missing or wrong CSRF token: reload the page and try again")
			return
		}
		h(w, r)
	})
}
