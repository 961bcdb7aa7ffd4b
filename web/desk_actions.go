package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"frontdesk/tickets"
)

// ticketChange is a change of a ticket's fields; nil fields stay. The
// form handlers and the API share it.
type ticketChange struct {
	Status   *string   `json:"status"`
	Priority *string   `json:"priority"`
	Assignee *string   `json:"assignee"` // "" unassigns
	Group    *string   `json:"group"`
	Tags     *[]string `json:"tags"`
}

// apply makes the change as by, checking every value first so a bad one
// changes nothing.
func (s *Server) apply(ctx context.Context, t *tickets.Ticket, by string, ch ticketChange) error {
	var status tickets.Status
	var prio tickets.Priority
	var err error
	if ch.Status != nil {
		if status, err = tickets.ParseStatus(*ch.Status); err != nil {
			return err
		}
	}
	if ch.Priority != nil {
		if prio, err = tickets.ParsePriority(*ch.Priority); err != nil {
			return err
		}
	}
	if ch.Assignee != nil {
		a := strings.ToLower(strings.TrimSpace(*ch.Assignee))
		if a != "" && !s.isAgentAccount(ctx, a) {
			return inputError(a + " is not an agent account")
		}
		ch.Assignee = &a
	}
	if ch.Group != nil && strings.TrimSpace(*ch.Group) == "" {
		return inputError("a group is needed")
	}
	d := s.cfg.Desk
	if ch.Assignee != nil && *ch.Assignee != t.Assignee {
		if err := d.Assign(ctx, t.Number, by, *ch.Assignee); err != nil {
			return err
		}
	}
	if ch.Priority != nil && prio != t.Priority {
		if err := d.SetPriority(ctx, t.Number, by, prio); err != nil {
			return err
		}
	}
	if ch.Group != nil && strings.TrimSpace(*ch.Group) != t.Group {
		if err := d.SetGroup(ctx, t.Number, by, *ch.Group); err != nil {
			return err
		}
	}
	if ch.Tags != nil && !slices.Equal(*ch.Tags, t.Tags) {
		if err := d.SetTags(ctx, t.Number, *ch.Tags); err != nil {
			return err
		}
	}
	if ch.Status != nil && status != t.Status {
		if err := d.SetStatus(ctx, t.Number, by, status); err != nil {
			return err
		}
	}
	return nil
}

func ticketURL(n uint64) string { return "/tickets/" + strconv.FormatUint(n, 10) }

// formField returns a form value and whether the form has the field.
func formField(r *http.Request, name string) (*string, bool) {
	if _, ok := r.PostForm[name]; !ok {
		return nil, false
	}
	v := strings.TrimSpace(r.PostFormValue(name))
	return &v, true
}

// splitTags reads "a, b c" as tags.
func splitTags(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return r == ',' || r == ' ' })
}

// ticketCreate answers POST /tickets: a ticket opened by an agent, assigned
// to them unless they unticked "assign to me".
func (s *Server) ticketCreate(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sc := s.scopeOf(r)
	prio := tickets.Priority(r.PostFormValue("priority"))
	t, err := s.cfg.Desk.Create(ctx, tickets.NewTicket{Subject: r.PostFormValue("subject"), Text: r.PostFormValue("text"),
		Email: r.PostFormValue("email"), Phone: r.PostFormValue("phone"), Name: strings.TrimSpace(r.PostFormValue("name")),
		Support: strings.TrimSpace(r.PostFormValue("support")), Group: strings.TrimSpace(r.PostFormValue("group")),
		Priority: prio, Author: sc.addr})
	if err != nil {
		s.failDesk(w, r, err)
		return
	}
	if r.PostFormValue("assign") == "me" {
		if err := s.cfg.Desk.Assign(ctx, t.Number, sc.addr, sc.addr); err != nil {
			s.failDesk(w, r, err)
			return
		}
	}
	s.redirect(w, r, ticketURL(t.Number), "Ticket "+t.Token()+" opened.")
}

// ticketReply answers POST /tickets/{n}/reply: the reply goes out as mail
// from the support address, and the status follows if asked.
func (s *Server) ticketReply(w http.ResponseWriter, r *http.Request) {
	t, sc, err := s.visibleTicket(r)
	if err != nil {
		s.failDesk(w, r, err)
		return
	}
	in := tickets.ReplyInput{Agent: sc.addr, Text: r.PostFormValue("text")}
	if st := r.PostFormValue("status"); st != "" {
		if in.Status, err = tickets.ParseStatus(st); err != nil {
			s.failDesk(w, r, err)
			return
		}
	}
	if _, err := s.cfg.Desk.Reply(r.Context(), t.Number, in); err != nil {
		s.failDesk(w, r, err)
		return
	}
	s.redirect(w, r, ticketURL(t.Number), "Reply sent.")
}

// ticketNote answers POST /tickets/{n}/note: an internal note.
func (s *Server) ticketNote(w http.ResponseWriter, r *http.Request) {
	t, sc, err := s.visibleTicket(r)
	if err != nil {
		s.failDesk(w, r, err)
		return
	}
	if err := s.cfg.Desk.AddNote(r.Context(), t.Number, sc.addr, r.PostFormValue("text")); err != nil {
		s.failDesk(w, r, err)
		return
	}
	s.redirect(w, r, ticketURL(t.Number), "Note added.")
}

// ticketAssign answers POST /tickets/{n}/assign with to=me, to= (nobody)
// or to=ADDRESS.
func (s *Server) ticketAssign(w http.ResponseWriter, r *http.Request) {
	t, sc, err := s.visibleTicket(r)
	if err != nil {
		s.failDesk(w, r, err)
		return
	}
	to := strings.TrimSpace(r.PostFormValue("to"))
	if to == "me" {
		to = sc.addr
	}
	if err := s.apply(r.Context(), t, sc.addr, ticketChange{Assignee: &to}); err != nil {
		s.failDesk(w, r, err)
		return
	}
	msg := "Unassigned."
	if to != "" {
		msg = "Assigned to " + to + "."
	}
	if !s.scopeOf(r).canSee(t.Group, to) {
		s.redirect(w, r, "/tickets", msg)
		return
	}
	s.redirect(w, r, ticketURL(t.Number), msg)
}

// ticketUpdate answers POST /tickets/{n}/update: status, priority, group
// and tags, each only when the form has it.
func (s *Server) ticketUpdate(w http.ResponseWriter, r *http.Request) {
	t, sc, err := s.visibleTicket(r)
	if err != nil {
		s.failDesk(w, r, err)
		return
	}
	r.ParseForm()
	var ch ticketChange
	ch.Status, _ = formField(r, "status")
	ch.Priority, _ = formField(r, "priority")
	ch.Group, _ = formField(r, "group")
	if tags, ok := formField(r, "tags"); ok {
		ts := splitTags(*tags)
		ch.Tags = &ts
	}
	if err := s.apply(r.Context(), t, sc.addr, ch); err != nil {
		s.failDesk(w, r, err)
		return
	}
	s.redirect(w, r, ticketURL(t.Number), "Ticket updated.")
}

// ticketMerge answers POST /tickets/{n}/merge: into=M, a ticket the
// viewer may also see.
func (s *Server) ticketMerge(w http.ResponseWriter, r *http.Request) {
	t, sc, err := s.visibleTicket(r)
	if err != nil {
		s.failDesk(w, r, err)
		return
	}
	into, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(r.PostFormValue("into")), "#"), 10, 64)
	if err != nil {
		s.failDesk(w, r, inputError("type the number of the ticket to merge into"))
		return
	}
	dst, err := s.cfg.Desk.Ticket(r.Context(), into)
	if err != nil || !sc.canSeeTicket(dst) {
		s.failDesk(w, r, fmt.Errorf("ticket #%d: %w", into, errNoTicket))
		return
	}
	if err := s.cfg.Desk.Merge(r.Context(), t.Number, into, sc.addr); err != nil {
		s.failDesk(w, r, err)
		return
	}
	s.redirect(w, r, ticketURL(into), fmt.Sprintf("Ticket #%d merged into this one.", t.Number))
}

// ticketCallback answers POST /tickets/{n}/callback: the hotline rings
// the viewer's softphone, then the contact's first number.
func (s *Server) ticketCallback(w http.ResponseWriter, r *http.Request) {
	t, sc, err := s.visibleTicket(r)
	if err != nil {
		s.failDesk(w, r, err)
		return
	}
	if s.cfg.Phone == nil {
		s.fail(w, r, http.StatusServiceUnavailable, "the hotline is not running")
		return
	}
	c, err := s.cfg.Desk.Contact(r.Context(), t.Contact)
	if err != nil {
		s.failDesk(w, r, err)
		return
	}
	if len(c.Phones) == 0 {
		s.failDesk(w, r, inputError("the contact has no phone number: add one first"))
		return
	}
	status, err := s.cfg.Phone.Callback(r.Context(), sc.addr, c.Phones[0], t.Number)
	if err != nil {
		s.log.Warn("web: call back", "ticket", t.Number, "agent", sc.addr, "err", err)
		status = "Call back failed: " + err.Error()
	}
	s.redirect(w, r, ticketURL(t.Number), status)
}

// ticketRecording answers GET /tickets/{n}/recordings/{callid}: the
// decrypted WAV, streamed from the hotline and never written to disk.
func (s *Server) ticketRecording(w http.ResponseWriter, r *http.Request) {
	t, sc, err := s.visibleTicket(r)
	if err != nil {
		s.failDesk(w, r, err)
		return
	}
	call, err := s.callOf(r.Context(), t.Number, r.PathValue("callid"))
	if err != nil {
		s.failDesk(w, r, err)
		return
	}
	if s.cfg.Phone == nil || !sc.canHear(t, call) {
		s.fail(w, r, http.StatusNotFound, "no such recording")
		return
	}
	rc, err := s.cfg.Phone.Recording(r.Context(), call.Recording)
	if err != nil {
		s.log.Warn("web: recording", "ticket", t.Number, "call", call.ID, "err", err)
		s.fail(w, r, http.StatusNotFound, "the recording cannot be played")
		return
	}
	defer rc.Close()
	// A long recording outlasts the server's write timeout.
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(30 * time.Minute))
	h := w.Header()
	h.Set("Content-Type", "audio/wav")
	h.Set("Cache-Control", "private, no-store")
	h.Set("Accept-Ranges", "none")
	h.Set("Content-Disposition", fmt.Sprintf(`inline; filename="call-%s.wav"`, call.ID))
	if _, err := io.Copy(w, rc); err != nil && r.Context().Err() == nil {
		s.log.Warn("web: recording stream", "call", call.ID, "err", err)
	}
}

// callOf finds a call on a ticket's timeline.
func (s *Server) callOf(ctx context.Context, n uint64, id string) (*tickets.Call, error) {
	tl, err := s.cfg.Desk.Timeline(ctx, n)
	if err != nil {
		return nil, err
	}
	for _, e := range tl {
		if e.Call != nil && e.Call.ID == id {
			return e.Call, nil
		}
	}
	return nil, fmt.Errorf("call %s: %w", id, tickets.ErrNotFound)
}

// contactEdit answers POST /contacts/{id}: name and level, and an email
// or phone to add. The form's ticket field names the page to go back to.
func (s *Server) contactEdit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		s.failDesk(w, r, tickets.ErrNotFound)
		return
	}
	c, err := s.cfg.Desk.Contact(ctx, id)
	if err != nil {
		s.failDesk(w, r, err)
		return
	}
	r.ParseForm()
	var u tickets.ContactUpdate
	if name, ok := formField(r, "name"); ok {
		u.Name = name
	}
	if lv, ok := formField(r, "level"); ok && *lv != "" {
		l := tickets.Level(*lv)
		u.Level = &l
	}
	if e := strings.TrimSpace(r.PostFormValue("email")); e != "" {
		u.Emails = append(slices.Clone(c.Emails), e)
	}
	if p := strings.TrimSpace(r.PostFormValue("phone")); p != "" {
		u.Phones = append(slices.Clone(c.Phones), p)
	}
	if _, err := s.cfg.Desk.UpsertContact(ctx, id, u); err != nil {
		s.failDesk(w, r, err)
		return
	}
	back := "/tickets"
	if n, err := strconv.ParseUint(r.PostFormValue("ticket"), 10, 64); err == nil {
		back = ticketURL(n)
	}
	s.redirect(w, r, back, "Contact saved.")
}
