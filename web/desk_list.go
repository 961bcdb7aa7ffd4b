package web

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"frontdesk/store"
	"frontdesk/tickets"
)

// Inbox limits.
const (
	inboxPageSize  = 50
	inboxSearchMax = 500 // search hits looked at, before access filtering
)

// listQuery is the inbox's filter, the same for the page and the API:
// ?tab=mine|groups|unassigned|all|overdue&status=…&q=…&page=N.
type listQuery struct {
	Tab    string
	Status string // "" active, a status, or "any"
	Q      string
	Page   int
}

// inboxTab is one tab of the inbox.
type inboxTab struct {
	Name, Label string
}

// tabsFor lists the tabs a viewer gets, the default first.
func tabsFor(sc scope) []inboxTab {
	mine := inboxTab{"mine", "Mine"}
	groups := inboxTab{"groups", "My groups"}
	unassigned := inboxTab{"unassigned", "Unassigned"}
	overdue := inboxTab{"overdue", "Overdue"}
	switch {
	case sc.token:
		return []inboxTab{{"all", "All"}, unassigned, overdue}
	case sc.role == store.RoleAdmin || sc.role == store.RoleSupervisor:
		tabs := []inboxTab{{"all", "All"}, mine}
		if len(sc.groups) > 0 {
			tabs = append(tabs, groups)
		}
		return append(tabs, unassigned, overdue)
	case len(sc.groups) == 0:
		return []inboxTab{mine, unassigned, overdue}
	}
	return []inboxTab{groups, mine, unassigned, overdue}
}

var listStatuses = []string{"", "new", "open", "pending", "solved", "closed", "any"}

func parseListQuery(r *http.Request, sc scope) (listQuery, error) {
	q := r.URL.Query()
	lq := listQuery{Tab: q.Get("tab"), Status: q.Get("status"), Q: strings.TrimSpace(q.Get("q")), Page: 1}
	tabs := tabsFor(sc)
	if lq.Tab == "" {
		lq.Tab = tabs[0].Name
	}
	if !slices.ContainsFunc(tabs, func(t inboxTab) bool { return t.Name == lq.Tab }) {
		return lq, inputError("unknown tab " + lq.Tab)
	}
	if !slices.Contains(listStatuses, lq.Status) {
		return lq, inputError("unknown status " + lq.Status)
	}
	if len(lq.Q) > searchMaxQuery {
		return lq, inputError("the search is too long")
	}
	if p := q.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			return lq, inputError("bad page " + p)
		}
		lq.Page = n
	}
	return lq, nil
}

// matches reports whether a ticket the viewer may see belongs in the
// list of the query's tab and status.
func (lq listQuery) matches(sc scope, t *tickets.Ticket, now time.Time) bool {
	switch lq.Status {
	case "":
		if !t.Status.Active() {
			return false
		}
	case "any":
	default:
		if string(t.Status) != lq.Status {
			return false
		}
	}
	switch lq.Tab {
	case "mine":
		return t.Assignee == sc.addr
	case "groups":
		return slices.Contains(sc.groups, t.Group)
	case "unassigned":
		return t.Assignee == ""
	case "overdue":
		return tickets.Overdue(t, now)
	}
	return true // all: what the viewer may see
}

// listTickets returns the page of tickets the viewer may see that match
// lq, and how many matched in all. With a search, hits keep the index's
// order; otherwise the newest change comes first.
func (s *Server) listTickets(ctx context.Context, sc scope, lq listQuery) ([]tickets.Ticket, int, error) {
	var cand []tickets.Ticket
	if lq.Q != "" {
		hits, err := s.cfg.Desk.Search(ctx, lq.Q, inboxSearchMax)
		if err != nil {
			return nil, 0, err
		}
		cand = hits
	} else {
		cand, _ = s.cfg.Desk.List(ctx, tickets.ListOptions{AllStatus: true, Groups: sc.listGroups(lq), Limit: math.MaxInt32})
	}
	now := time.Now()
	var match []tickets.Ticket
	for i := range cand {
		t := &cand[i]
		if t.MergedInto == 0 && sc.canSeeTicket(t) && lq.matches(sc, t, now) {
			match = append(match, *t)
		}
	}
	from := min((lq.Page-1)*inboxPageSize, len(match))
	to := min(from+inboxPageSize, len(match))
	return match[from:to], len(match), nil
}

// listGroups narrows the desk's own list to the viewer's groups on the
// groups tab (elsewhere an agent also sees their tickets of other groups).
func (sc scope) listGroups(lq listQuery) []string {
	if sc.all || lq.Tab != "groups" {
		return nil
	}
	return sc.groups
}

// ticketRow is one line of the inbox.
type ticketRow struct {
	Number     uint64
	Subject    string
	Contact    string
	Group      string
	Routing    string
	Confidence string // "82%" for classifier routing
	Triage     bool
	Priority   string
	Status     string
	Assignee   string
	Due        string
	DueClass   string // overdue, soon or ""
	Updated    string
	UpdatedISO string
}

func (s *Server) rows(ctx context.Context, ts []tickets.Ticket) []ticketRow {
	now := time.Now()
	names := map[uint64]string{}
	out := make([]ticketRow, 0, len(ts))
	for i := range ts {
		t := &ts[i]
		name, ok := names[t.Contact]
		if !ok {
			if c, err := s.cfg.Desk.Contact(ctx, t.Contact); err == nil {
				name = contactLabel(c)
			}
			names[t.Contact] = name
		}
		row := ticketRow{Number: t.Number, Subject: t.Subject, Contact: name, Group: t.Group, Routing: t.Routing,
			Triage: t.Routing == "triage", Priority: string(t.Priority), Status: string(t.Status), Assignee: t.Assignee,
			Updated: shortAgo(t.Updated, now), UpdatedISO: t.Updated.UTC().Format(time.RFC3339)}
		if t.Routing == "classifier" && t.Confidence > 0 {
			row.Confidence = fmt.Sprintf("%.0f%%", t.Confidence*100)
		}
		row.Due, row.DueClass = dueOf(t, now)
		out = append(out, row)
	}
	return out
}

// contactLabel names a contact in one short string.
func contactLabel(c *tickets.Contact) string {
	switch {
	case c.Name != "":
		return c.Name
	case len(c.Emails) > 0:
		return c.Emails[0]
	case len(c.Phones) > 0:
		return c.Phones[0]
	}
	return "contact " + strconv.FormatUint(c.ID, 10)
}

// dueOf is the SLA badge of an active ticket: the first-response due time
// until answered, then the resolution due time.
func dueOf(t *tickets.Ticket, now time.Time) (text, class string) {
	if !t.Status.Active() {
		return "", ""
	}
	due := t.ResolutionDue
	if t.Answered.IsZero() && !t.FirstResponseDue.IsZero() {
		due = t.FirstResponseDue
	}
	if due.IsZero() {
		return "", ""
	}
	d := due.Sub(now)
	switch {
	case d < 0:
		return "overdue " + shortDur(-d), "overdue"
	case d < time.Hour:
		return "due in " + shortDur(d), "soon"
	}
	return "due in " + shortDur(d), ""
}

// shortDur renders a duration as people glance at it: 45s, 12m, 3h, 2d.
func shortDur(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + "m"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + "h"
	}
	return strconv.Itoa(int(d.Hours()/24)) + "d"
}

// shortAgo is a time in the inbox: "3m ago" today, a date before.
func shortAgo(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < 24*time.Hour:
		return shortDur(d) + " ago"
	}
	return t.UTC().Format("Jan 2 15:04")
}

// inboxView is the inbox page's data.
type inboxView struct {
	Query      listQuery
	Tabs       []inboxTab
	Statuses   []string
	Rows       []ticketRow
	Total      int
	First      int
	Last       int
	PrevURL    string
	NextURL    string
	ListURL    string // this list's URL, for the live refresh
	Supports   []string
	Groups     []string
	Priorities []string
}

func (lq listQuery) url(page int) string {
	v := url.Values{"tab": {lq.Tab}}
	if lq.Status != "" {
		v.Set("status", lq.Status)
	}
	if lq.Q != "" {
		v.Set("q", lq.Q)
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	return "/tickets?" + v.Encode()
}

// ticketsPage answers GET /tickets: the agent's inbox. With ?partial=1
// it answers only the list, which desk.js fetches on live events.
func (s *Server) ticketsPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sc := s.scopeOf(r)
	lq, err := parseListQuery(r, sc)
	if err != nil {
		s.failDesk(w, r, err)
		return
	}
	ts, total, err := s.listTickets(ctx, sc, lq)
	if err != nil {
		s.failDesk(w, r, err)
		return
	}
	d := &inboxView{Query: lq, Tabs: tabsFor(sc), Statuses: listStatuses, Rows: s.rows(ctx, ts), Total: total,
		ListURL: lq.url(lq.Page), Priorities: priorities, Groups: s.knownGroups(ctx, sc)}
	if len(ts) > 0 {
		d.First = (lq.Page-1)*inboxPageSize + 1
		d.Last = d.First + len(ts) - 1
	}
	if lq.Page > 1 {
		d.PrevURL = lq.url(lq.Page - 1)
	}
	if d.Last < total {
		d.NextURL = lq.url(lq.Page + 1)
	}
	p := page{Title: "Tickets", Nav: "tickets", Data: d}
	if r.URL.Query().Get("partial") == "1" {
		s.renderPart(w, r, "tickets.html", "ticket-list", p)
		return
	}
	d.Supports, _ = s.st.SupportAddresses(ctx)
	s.render(w, r, http.StatusOK, "tickets.html", p)
}

var priorities = []string{"urgent", "high", "normal", "low"}

// knownGroups are the groups to offer: those of tickets and queues the
// viewer may see, and the viewer's own.
func (s *Server) knownGroups(ctx context.Context, sc scope) []string {
	gs := slices.Clone(sc.groups)
	for _, t := range s.cfg.Desk.All(ctx) {
		if t.Group != "" && sc.canSeeTicket(&t) {
			gs = append(gs, t.Group)
		}
	}
	if s.cfg.Hotline != nil && sc.all {
		for _, q := range s.cfg.Hotline.Queues() {
			gs = append(gs, q.Name)
		}
	}
	slices.Sort(gs)
	return slices.Compact(gs)
}

// renderPart renders one named template of a page, without the layout:
// the fragments desk.js swaps in.
func (s *Server) renderPart(w http.ResponseWriter, r *http.Request, name, part string, p page) {
	if v := viewerOf(r); v != nil {
		p.User, p.CSRF = v.acct, v.sess.CSRF
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.pages[name].ExecuteTemplate(w, part, p); err != nil {
		s.log.Error("web: render", "template", name, "part", part, "err", err)
	}
}
