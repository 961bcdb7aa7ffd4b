package web

// The ticket desk in the console: who may see what (this file), the inbox
// and ticket pages (desk_pages.go, desk_actions.go), live updates
// (desk_events.go), the wallboard (wallboard.go), the JSON API
// (apitickets.go) and API tokens (desk_tokens.go).
//
// Access rules, the one place they live (canSee, canHear):
//   - admin: every ticket and recording;
//   - supervisor: tickets of their groups, or of every group when they
//     have none, and the recordings on those tickets;
//   - agent: tickets assigned to them or in their groups; recordings only
//     of calls they took themselves, and voicemails on those tickets;
//   - user: no desk at all (the route table answers 403).
//
// A ticket the viewer may not see answers 404, never 403, so its
// existence does not leak. Contacts are shared by the whole desk: every
// agent may read and edit them. An API token acts with its role but
// belongs to no group: it sees every ticket (as a supervisor without
// groups would), and hears recordings only with the supervisor or admin
// role.

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"frontdesk/store"
	"frontdesk/tickets"
)

// Phone is what the desk needs of the hotline: calling a customer back,
// playing recordings, and agents' skills. The command implements it over
// the telephony server; nil hides the call-back button and the players.
type Phone interface {
	// Callback rings agent's softphone and then number, putting the call
	// on ticket; it returns a status text for the agent.
	Callback(ctx context.Context, agent, number string, ticket uint64) (string, error)
	// Recording opens the decrypted WAV of a recording; id is the
	// Recording field of the call record.
	Recording(ctx context.Context, id string) (io.ReadCloser, error)
	// AgentGroups returns an agent's skills, which are ticket groups.
	AgentGroups(ctx context.Context, address string) ([]string, error)
}

// scope is what one viewer may see of the desk.
type scope struct {
	addr   string
	role   store.Role
	groups []string // the viewer's skills
	all    bool     // every group: admins, supervisors without groups, tokens
	token  bool
}

// scopeOf works out the viewer's scope. Groups come from the hotline's
// agent skills; when they cannot be read the viewer gets none (and so
// sees less, never more).
func (s *Server) scopeOf(r *http.Request) scope {
	ctx, v := r.Context(), viewerOf(r)
	sc := scope{addr: v.acct.Address, role: v.acct.Role, token: tokenOf(r) != nil}
	if sc.role == store.RoleAdmin || sc.token {
		sc.all = true
		return sc
	}
	if s.cfg.Phone != nil {
		gs, err := s.cfg.Phone.AgentGroups(ctx, sc.addr)
		if err != nil {
			s.log.Warn("web: agent groups", "agent", sc.addr, "err", err)
		}
		sc.groups = gs
	}
	if sc.role == store.RoleSupervisor && len(sc.groups) == 0 {
		sc.all = true
	}
	return sc
}

// canSee reports whether the viewer may see a ticket with this group and
// assignee (a Ticket's, or an Event's).
func (sc scope) canSee(group, assignee string) bool {
	switch sc.role {
	case store.RoleAdmin, store.RoleSupervisor, store.RoleAgent:
	default:
		return false
	}
	if sc.all || (assignee != "" && assignee == sc.addr) {
		return true
	}
	return slices.Contains(sc.groups, group)
}

// canSeeTicket is canSee for a ticket.
func (sc scope) canSeeTicket(t *tickets.Ticket) bool { return sc.canSee(t.Group, t.Assignee) }

// canHear reports whether the viewer may play a call's recording on a
// ticket they can see.
func (sc scope) canHear(t *tickets.Ticket, c *tickets.Call) bool {
	if !sc.canSeeTicket(t) || c == nil || c.Recording == "" {
		return false
	}
	switch sc.role {
	case store.RoleAdmin, store.RoleSupervisor:
		return true
	}
	if sc.token {
		return false
	}
	// A voicemail is the customer's message to the desk, not a recorded
	// conversation: whoever works the ticket hears it.
	return c.Outcome == "voicemail" || (c.Agent != "" && c.Agent == sc.addr)
}

// groupsShown is the viewer's group filter for lists: nil for all.
func (sc scope) groupsShown() []string {
	if sc.all {
		return nil
	}
	return sc.groups
}

// needDesk answers 503 while the desk is not running.
func (s *Server) needDesk(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Desk == nil {
			s.fail(w, r, http.StatusServiceUnavailable, "the ticket desk is not running")
			return
		}
		h(w, r)
	}
}

// errNoTicket is what a ticket the viewer may not see answers.
var errNoTicket = errors.New("no such ticket")

// visibleTicket reads ticket {n} of the path, if the viewer may see it.
func (s *Server) visibleTicket(r *http.Request) (*tickets.Ticket, scope, error) {
	sc := s.scopeOf(r)
	n, err := strconv.ParseUint(r.PathValue("n"), 10, 64)
	if err != nil || n == 0 {
		return nil, sc, errNoTicket
	}
	t, err := s.cfg.Desk.Ticket(r.Context(), n)
	if errors.Is(err, tickets.ErrNotFound) || (err == nil && !sc.canSeeTicket(t)) {
		return nil, sc, errNoTicket
	}
	return t, sc, err
}

// failDesk maps a desk error to a status: 404 unknown, 409 conflicts of
// state (merged tickets), 400 refused input, 500 otherwise.
func (s *Server) failDesk(w http.ResponseWriter, r *http.Request, err error) {
	msg := strings.TrimPrefix(err.Error(), "tickets: ")
	switch {
	case errors.Is(err, errNoTicket), errors.Is(err, tickets.ErrNotFound):
		s.fail(w, r, http.StatusNotFound, msg)
	case strings.Contains(msg, "merged"), strings.Contains(msg, "belongs to contact"), strings.Contains(msg, "loop"):
		s.fail(w, r, http.StatusConflict, msg)
	case errors.As(err, new(inputError)), strings.HasPrefix(err.Error(), "tickets: "):
		s.fail(w, r, http.StatusBadRequest, msg)
	default:
		s.log.Error("web: desk request failed", "path", r.URL.Path, "err", err)
		s.fail(w, r, http.StatusInternalServerError, "internal error")
	}
}

// inputError is a request the web side refuses before the desk sees it.
type inputError string

func (e inputError) Error() string { return string(e) }

// isAgentAccount reports whether address is an account that may work
// tickets, for assignments.
func (s *Server) isAgentAccount(ctx context.Context, address string) bool {
	a, err := s.st.Account(ctx, address)
	return err == nil && roleRank(a.Role) >= roleRank(store.RoleAgent)
}
