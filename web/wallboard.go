package web

import (
	"html/template"
	"net/http"
	"slices"
	"time"

	"frontdesk/tickets"
)

// wallboardView is the supervisors' wall: live queues, agents, the
// groups' load and the contact-centre figures.
type wallboardView struct {
	Updated string
	Hotline bool
	Groups  []string // the groups shown; nil for all
	Queues  []wbQueue
	Agents  []AgentView
	Load    []wbLoad
	Open    int
	Overdue int
	Figures []wbFigure
	Charts  []wbChart
}

// wbQueue is one queue on the wall.
type wbQueue struct {
	Name      string        `json:"name"`
	Waiting   int           `json:"waiting"`
	Longest   time.Duration `json:"longestWait"`
	LongestS  string        `json:"-"`
	Available int           `json:"agentsAvailable"`
	Busy      int           `json:"agentsBusy"`
}

// wbLoad is one group's load: open tickets and callers waiting.
type wbLoad struct {
	Group   string `json:"group"`
	Open    int    `json:"open"`
	Overdue int    `json:"overdue"`
	Waiting int    `json:"waiting"`
}

// wbFigure is one headline number.
type wbFigure struct {
	Key   string `json:"key"`
	Label string `json:"label"`
	Value string `json:"value"`
	Hint  string `json:"hint,omitempty"`
	Class string `json:"-"` // ok, warn, bad
}

// wbChart is a server-rendered SVG chart.
type wbChart struct {
	Title string        `json:"title"`
	SVG   template.HTML `json:"-"`
}

// wallboard gathers the wall for the viewer: supervisors see their groups
// (every group when they have none), admins all.
func (s *Server) wallboard(r *http.Request) (*wallboardView, error) {
	ctx := r.Context()
	sc := s.scopeOf(r)
	d := &wallboardView{Updated: time.Now().UTC().Format("15:04:05 UTC"), Hotline: s.cfg.Hotline != nil, Groups: sc.groupsShown()}
	inGroups := func(g string) bool { return d.Groups == nil || slices.Contains(d.Groups, g) }
	load := map[string]*wbLoad{}
	loadOf := func(g string) *wbLoad {
		if load[g] == nil {
			load[g] = &wbLoad{Group: g}
		}
		return load[g]
	}
	for _, g := range d.Groups {
		loadOf(g)
	}
	if s.cfg.Hotline != nil {
		seen := map[string]bool{}
		for _, q := range s.cfg.Hotline.Queues() {
			if !inGroups(q.Name) {
				continue
			}
			wq := wbQueue{Name: q.Name, Waiting: len(q.Waiting)}
			for _, c := range q.Waiting {
				wq.Longest = max(wq.Longest, c.Wait)
			}
			wq.LongestS = wq.Longest.Round(time.Second).String()
			for _, a := range q.Agents {
				switch a.State {
				case "available":
					wq.Available++
				case "ringing", "on call", "oncall", "busy", "talking":
					wq.Busy++
				}
				if !seen[a.Address] {
					seen[a.Address] = true
					d.Agents = append(d.Agents, a)
				}
			}
			d.Queues = append(d.Queues, wq)
			loadOf(q.Name).Waiting += wq.Waiting
		}
		slices.SortFunc(d.Agents, func(a, b AgentView) int { return compareStrings(a.Address, b.Address) })
	}
	all := s.cfg.Desk.All(ctx)
	now := time.Now()
	var mine []tickets.Ticket
	for _, t := range all {
		if t.MergedInto != 0 || !inGroups(t.Group) {
			continue
		}
		mine = append(mine, t)
		if t.Status.Active() {
			l := loadOf(t.Group)
			l.Open++
			d.Open++
			if tickets.Overdue(&t, now) {
				l.Overdue++
				d.Overdue++
			}
		}
	}
	for _, l := range load {
		d.Load = append(d.Load, *l)
	}
	slices.SortFunc(d.Load, func(a, b wbLoad) int { return compareStrings(a.Group, b.Group) })
	calls, err := s.cfg.Desk.Calls(ctx)
	if err != nil {
		return nil, err
	}
	var shown []tickets.Call
	for _, c := range calls {
		if inGroups(c.Queue) {
			shown = append(shown, c)
		}
	}
	s.figures(d, shown, mine, now)
	return d, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// wallboardPage answers GET /wallboard; desk.js refreshes its live part
// from ?partial=1 every five seconds.
func (s *Server) wallboardPage(w http.ResponseWriter, r *http.Request) {
	d, err := s.wallboard(r)
	if err != nil {
		s.failDesk(w, r, err)
		return
	}
	p := page{Title: "Wallboard", Nav: "wallboard", Data: d}
	if r.URL.Query().Get("partial") == "1" {
		s.renderPart(w, r, "wallboard.html", "board", p)
		return
	}
	s.render(w, r, http.StatusOK, "wallboard.html", p)
}

// apiWallboard answers GET /api/wallboard: the same figures as JSON.
func (s *Server) apiWallboard(w http.ResponseWriter, r *http.Request) {
	d, err := s.wallboard(r)
	if err != nil {
		s.failDesk(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"updated": time.Now().UTC(), "groups": d.Groups, "queues": d.Queues,
		"agents": d.Agents, "load": d.Load, "open": d.Open, "overdue": d.Overdue, "figures": d.Figures})
}
