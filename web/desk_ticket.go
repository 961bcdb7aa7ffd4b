package web

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"frontdesk/store"
	"frontdesk/tickets"
)

// ticketView is the ticket page's data.
type ticketView struct {
	T           *tickets.Ticket
	Token       string
	Contact     *tickets.Contact
	ContactName string
	Entries     []entryView
	Due         string
	DueClass    string
	Created     string
	Updated     string
	Tags        string
	Me          string
	CanCall     bool   // a phone and a number to call
	CallNumber  string // the contact's first number
	Agents      []string
	Groups      []string
	Statuses    []string
	Priorities  []string
	Levels      []string
}

// entryView is one timeline entry as shown.
type entryView struct {
	tickets.Entry
	Class string // mail-in, mail-out, note, call, event
	When  string // "2006-01-02 15:04 UTC"
	Label string // what happened, in words
	Audio string // URL of the recording, when the viewer may hear it
	Wait  string
	Talk  string
	To    string
}

var entryLabels = map[tickets.Kind]string{
	tickets.KindMailIn: "Mail from customer", tickets.KindMailOut: "Mail sent", tickets.KindCall: "Call",
	tickets.KindVoicemail: "Voicemail", tickets.KindCallback: "Call back", tickets.KindNote: "Internal note",
	tickets.KindStatus: "Status", tickets.KindAssign: "Assigned", tickets.KindPriority: "Priority",
	tickets.KindGroup: "Group", tickets.KindMerge: "Merge", tickets.KindBounce: "Bounce",
	tickets.KindRating: "Rating", tickets.KindEscalated: "Escalated",
}

func (s *Server) entries(sc scope, t *tickets.Ticket, tl []tickets.Entry) []entryView {
	out := make([]entryView, 0, len(tl))
	for _, e := range tl {
		ev := entryView{Entry: e, When: e.At.UTC().Format("2006-01-02 15:04 UTC"), Label: entryLabels[e.Kind],
			To: strings.Join(append(append([]string{}, e.To...), e.Cc...), ", ")}
		switch e.Kind {
		case tickets.KindMailIn, tickets.KindMailOut, tickets.KindNote, tickets.KindBounce:
			ev.Class = string(e.Kind)
		case tickets.KindCall, tickets.KindVoicemail, tickets.KindCallback:
			ev.Class = "call"
		default:
			ev.Class = "event"
		}
		if e.Kind == tickets.KindBounce {
			ev.Class = "mail-in bounce"
		}
		if c := e.Call; c != nil {
			ev.Wait, ev.Talk = c.Wait.Round(time.Second).String(), c.Talk.Round(time.Second).String()
			if s.cfg.Phone != nil && sc.canHear(t, c) {
				ev.Audio = fmt.Sprintf("/tickets/%d/recordings/%s", t.Number, c.ID)
			}
		}
		out = append(out, ev)
	}
	return out
}

// ticketPage answers GET /tickets/{n}; with ?partial=1 only the header
// and timeline, which desk.js swaps in when the ticket changes.
func (s *Server) ticketPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	t, sc, err := s.visibleTicket(r)
	if err != nil {
		s.failDesk(w, r, err)
		return
	}
	tl, err := s.cfg.Desk.Timeline(ctx, t.Number)
	if err != nil {
		s.failDesk(w, r, err)
		return
	}
	now := time.Now()
	d := &ticketView{T: t, Token: t.Token(), Entries: s.entries(sc, t, tl), Created: t.Created.UTC().Format("2006-01-02 15:04 UTC"),
		Updated: shortAgo(t.Updated, now), Tags: strings.Join(t.Tags, ", "), Me: sc.addr,
		Statuses: []string{"new", "open", "pending", "solved", "closed"}, Priorities: priorities,
		Levels: []string{"vip", "regular", "new"}}
	d.Due, d.DueClass = dueOf(t, now)
	if c, err := s.cfg.Desk.Contact(ctx, t.Contact); err == nil {
		d.Contact, d.ContactName = c, contactLabel(c)
		if len(c.Phones) > 0 {
			d.CallNumber = c.Phones[0]
			d.CanCall = s.cfg.Phone != nil
		}
	}
	p := page{Title: t.Token() + " " + t.Subject, Nav: "tickets", Data: d}
	if r.URL.Query().Get("partial") == "1" {
		s.renderPart(w, r, "ticket.html", "ticket-live", p)
		return
	}
	d.Agents = s.agentAddresses(ctx)
	d.Groups = s.knownGroups(ctx, sc)
	s.render(w, r, http.StatusOK, "ticket.html", p)
}

// agentAddresses lists the accounts tickets may be assigned to.
func (s *Server) agentAddresses(ctx context.Context) []string {
	as, err := s.st.Accounts(ctx)
	if err != nil {
		s.log.Warn("web: accounts", "err", err)
		return nil
	}
	var out []string
	for _, a := range as {
		if roleRank(a.Role) >= roleRank(store.RoleAgent) {
			out = append(out, a.Address)
		}
	}
	return out
}

type rateView struct {
	Good   bool
	Number uint64
}

// ratePage answers GET /rate/{n}/{secret}/{good|bad}, the one-click
// rating link of the solved mail. It needs no login: the ticket's secret
// is the credential. The same click twice records one rating.
func (s *Server) ratePage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	n, err := strconv.ParseUint(r.PathValue("n"), 10, 64)
	verdict := r.PathValue("verdict")
	if err != nil || (verdict != "good" && verdict != "bad") {
		s.fail(w, r, http.StatusNotFound, "this rating link is not valid")
		return
	}
	t, err := s.cfg.Desk.Ticket(ctx, n)
	secret := r.PathValue("secret")
	if err != nil || t.Secret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(t.Secret)) != 1 {
		s.fail(w, r, http.StatusNotFound, "this rating link is not valid")
		return
	}
	good := verdict == "good"
	score := 1
	if good {
		score = 5
	}
	if t.CSAT != score {
		if err := s.cfg.Desk.Rate(ctx, n, secret, good); err != nil {
			s.failDesk(w, r, err)
			return
		}
	}
	s.render(w, r, http.StatusOK, "rate.html", page{Title: "Thank you", Data: rateView{Good: good, Number: n}})
}
