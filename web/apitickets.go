package web

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"frontdesk/tickets"
)

// The ticket desk's JSON API, for a CRM reading and creating tickets and
// contacts. It is authenticated by the session cookie (with the CSRF
// token in X-CSRF-Token on unsafe methods) or by an API token in
// "Authorization: Bearer fdt_…". Errors are {"error": "…"} with 400 for
// bad input, 401, 403, 404 (also for tickets the caller may not see) and
// 409 for conflicts of state.

// apiTicketOut is a ticket in the API: the desk's fields without the
// secret (which would let anyone rate it or reply as the customer).
type apiTicketOut struct {
	*tickets.Ticket
	Secret   string           `json:"secret,omitempty"` // shadows Ticket.Secret: never sent
	Token    string           `json:"token"`
	Overdue  bool             `json:"overdue"`
	Customer *tickets.Contact `json:"customer,omitempty"`
	Timeline []apiEntry       `json:"timeline,omitempty"`
}

// apiEntry is a timeline entry, with its recording's URL when the caller
// may play it.
type apiEntry struct {
	tickets.Entry
	RecordingURL string `json:"recordingUrl,omitempty"`
}

func (s *Server) ticketOut(r *http.Request, t *tickets.Ticket) apiTicketOut {
	out := apiTicketOut{Ticket: t, Token: t.Token(), Overdue: tickets.Overdue(t, time.Now())}
	if c, err := s.cfg.Desk.Contact(r.Context(), t.Contact); err == nil {
		out.Customer = c
	}
	return out
}

// readJSON decodes a request body of at most 1 MiB into v, refusing
// unknown fields so a typo is an error, not a silent no-op.
func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return inputError("the body is not the JSON expected: " + err.Error())
	}
	return nil
}

// apiTickets answers GET /api/tickets with the inbox's filters
// (?tab=&status=&q=&page=).
func (s *Server) apiTickets(w http.ResponseWriter, r *http.Request) {
	sc := s.scopeOf(r)
	lq, err := parseListQuery(r, sc)
	if err != nil {
		s.failDesk(w, r, err)
		return
	}
	ts, total, err := s.listTickets(r.Context(), sc, lq)
	if err != nil {
		s.failDesk(w, r, err)
		return
	}
	out := make([]apiTicketOut, 0, len(ts))
	for i := range ts {
		out = append(out, s.ticketOut(r, &ts[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"tickets": out, "total": total, "page": lq.Page, "pageSize": inboxPageSize})
}

// apiNewTicket is the body of POST /api/tickets.
type apiNewTicket struct {
	Subject  string `json:"subject"`
	Text     string `json:"text"`
	Email    string `json:"email"`
	Phone    string `json:"phone"`
	Name     string `json:"name"`
	Group    string `json:"group"`
	Priority string `json:"priority"`
	Support  string `json:"support"`
	Assignee string `json:"assignee"`
}

// apiTicketCreate answers POST /api/tickets: 201 and the new ticket.
func (s *Server) apiTicketCreate(w http.ResponseWriter, r *http.Request) {
	var in apiNewTicket
	if err := readJSON(r, &in); err != nil {
		s.failDesk(w, r, err)
		return
	}
	sc := s.scopeOf(r)
	if in.Assignee != "" && !s.isAgentAccount(r.Context(), in.Assignee) {
		s.failDesk(w, r, inputError(in.Assignee+" is not an agent account"))
		return
	}
	t, err := s.cfg.Desk.Create(r.Context(), tickets.NewTicket{Subject: in.Subject, Text: in.Text, Email: in.Email,
		Phone: in.Phone, Name: in.Name, Support: in.Support, Group: in.Group, Priority: tickets.Priority(in.Priority), Author: sc.addr})
	if err != nil {
		s.failDesk(w, r, err)
		return
	}
	if in.Assignee != "" {
		if err := s.cfg.Desk.Assign(r.Context(), t.Number, sc.addr, in.Assignee); err != nil {
			s.failDesk(w, r, err)
			return
		}
		if t, err = s.cfg.Desk.Ticket(r.Context(), t.Number); err != nil {
			s.failDesk(w, r, err)
			return
		}
	}
	w.Header().Set("Location", fmt.Sprintf("/api/tickets/%d", t.Number))
	writeJSON(w, http.StatusCreated, s.ticketOut(r, t))
}

// apiTicket answers GET /api/tickets/{n}: the ticket and its timeline.
func (s *Server) apiTicket(w http.ResponseWriter, r *http.Request) {
	t, sc, err := s.visibleTicket(r)
	if err != nil {
		s.failDesk(w, r, err)
		return
	}
	tl, err := s.cfg.Desk.Timeline(r.Context(), t.Number)
	if err != nil {
		s.failDesk(w, r, err)
		return
	}
	out := s.ticketOut(r, t)
	out.Timeline = make([]apiEntry, 0, len(tl))
	for _, ev := range s.entries(sc, t, tl) {
		out.Timeline = append(out.Timeline, apiEntry{Entry: ev.Entry, RecordingURL: ev.Audio})
	}
	writeJSON(w, http.StatusOK, out)
}

// apiTicketUpdate answers PATCH (or POST) /api/tickets/{n} with any of
// status, priority, assignee, group and tags.
func (s *Server) apiTicketUpdate(w http.ResponseWriter, r *http.Request) {
	t, sc, err := s.visibleTicket(r)
	if err != nil {
		s.failDesk(w, r, err)
		return
	}
	var ch ticketChange
	if err := readJSON(r, &ch); err != nil {
		s.failDesk(w, r, err)
		return
	}
	if err := s.apply(r.Context(), t, sc.addr, ch); err != nil {
		s.failDesk(w, r, err)
		return
	}
	if t, err = s.cfg.Desk.Ticket(r.Context(), t.Number); err != nil {
		s.failDesk(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.ticketOut(r, t))
}

// apiReply is the body of POST /api/tickets/{n}/reply and /note.
type apiReply struct {
	Text   string   `json:"text"`
	Status string   `json:"status"` // reply only: open, pending, solved…
	Cc     []string `json:"cc"`     // reply only
}

// apiTicketReply answers POST /api/tickets/{n}/reply: 201 and the sent
// mail's timeline entry.
func (s *Server) apiTicketReply(w http.ResponseWriter, r *http.Request) {
	t, sc, err := s.visibleTicket(r)
	if err != nil {
		s.failDesk(w, r, err)
		return
	}
	var in apiReply
	if err := readJSON(r, &in); err != nil {
		s.failDesk(w, r, err)
		return
	}
	ri := tickets.ReplyInput{Agent: sc.addr, Text: in.Text, Cc: in.Cc}
	if in.Status != "" {
		if ri.Status, err = tickets.ParseStatus(in.Status); err != nil {
			s.failDesk(w, r, err)
			return
		}
	}
	e, err := s.cfg.Desk.Reply(r.Context(), t.Number, ri)
	if err != nil {
		s.failDesk(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, e)
}

// apiTicketNote answers POST /api/tickets/{n}/note.
func (s *Server) apiTicketNote(w http.ResponseWriter, r *http.Request) {
	t, sc, err := s.visibleTicket(r)
	if err != nil {
		s.failDesk(w, r, err)
		return
	}
	var in apiReply
	if err := readJSON(r, &in); err != nil {
		s.failDesk(w, r, err)
		return
	}
	if err := s.cfg.Desk.AddNote(r.Context(), t.Number, sc.addr, in.Text); err != nil {
		s.failDesk(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"ticket": t.Number, "kind": tickets.KindNote, "text": in.Text})
}

// apiContacts answers GET /api/contacts, or the one contact with
// ?email= or ?phone=.
func (s *Server) apiContacts(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	var c *tickets.Contact
	var err error
	switch {
	case q.Get("email") != "":
		c, err = s.cfg.Desk.ContactByEmail(ctx, q.Get("email"))
	case q.Get("phone") != "":
		c, err = s.cfg.Desk.ContactByPhone(ctx, q.Get("phone"))
	default:
		cs, err := s.cfg.Desk.Contacts(ctx)
		if err != nil {
			s.failDesk(w, r, err)
			return
		}
		if cs == nil {
			cs = []tickets.Contact{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"contacts": cs})
		return
	}
	if err != nil {
		s.failDesk(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"contacts": []*tickets.Contact{c}})
}

func contactID(r *http.Request) (uint64, error) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil || id == 0 {
		return 0, fmt.Errorf("contact %q: %w", r.PathValue("id"), tickets.ErrNotFound)
	}
	return id, nil
}

// apiContact answers GET /api/contacts/{id}.
func (s *Server) apiContact(w http.ResponseWriter, r *http.Request) {
	id, err := contactID(r)
	if err == nil {
		var c *tickets.Contact
		if c, err = s.cfg.Desk.Contact(r.Context(), id); err == nil {
			writeJSON(w, http.StatusOK, c)
			return
		}
	}
	s.failDesk(w, r, err)
}

// apiContactIn is the body of POST /api/contacts[/{id}]; absent fields stay.
type apiContactIn struct {
	Name   *string  `json:"name"`
	Emails []string `json:"emails"`
	Phones []string `json:"phones"`
	Level  *string  `json:"level"`
}

// apiContactSave answers POST /api/contacts (create: 201) and POST
// /api/contacts/{id} (change: 200).
func (s *Server) apiContactSave(w http.ResponseWriter, r *http.Request) {
	var id uint64
	if r.PathValue("id") != "" {
		var err error
		if id, err = contactID(r); err != nil {
			s.failDesk(w, r, err)
			return
		}
		if _, err := s.cfg.Desk.Contact(r.Context(), id); err != nil {
			s.failDesk(w, r, err)
			return
		}
	}
	var in apiContactIn
	if err := readJSON(r, &in); err != nil {
		s.failDesk(w, r, err)
		return
	}
	u := tickets.ContactUpdate{Name: in.Name, Emails: in.Emails, Phones: in.Phones}
	if in.Level != nil {
		l := tickets.Level(*in.Level)
		u.Level = &l
	}
	if id == 0 && len(in.Emails) == 0 && len(in.Phones) == 0 {
		s.failDesk(w, r, inputError("a contact needs an email or a phone"))
		return
	}
	c, err := s.cfg.Desk.UpsertContact(r.Context(), id, u)
	if err != nil {
		s.failDesk(w, r, err)
		return
	}
	status := http.StatusOK
	if id == 0 {
		status = http.StatusCreated
		w.Header().Set("Location", fmt.Sprintf("/api/contacts/%d", c.ID))
	}
	writeJSON(w, status, c)
}
