package tickets

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"frontdesk/durable"
)

// AddCall puts a hotline call on the caller's ticket: the ticket named by
// the call (a callback), else the newest active ticket of the contact
// whose number called, else a new ticket. A call id lands once.
func (d *Desk) AddCall(ctx context.Context, c Call, ticket uint64) (uint64, bool, error) {
	number := NormalizePhone(c.Number)
	kind := KindCall
	switch {
	case c.Direction == "callback":
		kind = KindCallback
	case c.Outcome == "voicemail":
		kind = KindVoicemail
	}
	var t *Ticket
	var opened, dup bool
	err := d.db.Update(func(tx *bolt.Tx) error {
		t, opened, dup = nil, false, false
		durable.Fault("tickets.commit")
		if v := tx.Bucket(bucketCalls).Get([]byte(c.ID)); v != nil {
			dup = true
			return nil
		}
		now := time.Now().UTC()
		contact, err := contactFor(tx, "", number, "", now)
		if err != nil {
			return err
		}
		if ticket != 0 {
			if t, err = followMerge(tx, ticket); err != nil {
				return err
			}
		}
		if t == nil {
			t, err = d.activeTicketOf(tx, contact.ID)
			if err != nil {
				return err
			}
		}
		if t == nil {
			subject := "Call from " + c.Number
			if kind == KindVoicemail {
				subject = "Voicemail from " + c.Number
			}
			t = &Ticket{Subject: subject, Status: StatusNew, Priority: PriorityNormal, Contact: contact.ID,
				Created: now, Updated: now, Group: c.Queue, Routing: "call"}
			if contact.Level == LevelVIP {
				t.Priority = PriorityHigh
			}
			if t.Group == "" {
				t.Group, t.Routing = d.cfg.DefaultGroup, "default"
			}
			if s := d.supportFor(contact); s != "" {
				t.Support = s
			}
			d.setDue(t)
			if err := newTicket(tx, t); err != nil {
				return err
			}
			opened = true
		} else if t.Status == StatusSolved && kind != KindCallback {
			t.Status, t.Reopened = StatusOpen, true
		}
		if kind != KindCallback && t.Solved.IsZero() && !opened {
			t.Contacts++
		} else if opened {
			t.Contacts = 1
		}
		if c.Outcome == "answered" && t.Answered.IsZero() {
			t.Answered = c.Answered
			if t.Status == StatusNew {
				t.Status = StatusOpen
			}
		}
		author := c.Number
		if kind == KindCallback {
			author = c.Agent
		}
		cc := c
		if err := addEntry(tx, t, &Entry{Kind: kind, At: c.End.UTC(), Author: author, Text: callText(c), Call: &cc}); err != nil {
			return err
		}
		if err := tx.Bucket(bucketCalls).Put([]byte(c.ID), be64(t.Number)); err != nil {
			return err
		}
		return putTicket(tx, t)
	})
	if err != nil || dup {
		return 0, false, err
	}
	d.remember(t, kind)
	d.index(ctx, t.Number)
	d.log.Info("call on ticket", "ticket", t.Number, "new", opened, "call", c.ID, "number", number, "outcome", c.Outcome)
	return t.Number, opened, nil
}

func callText(c Call) string {
	switch c.Outcome {
	case "answered":
		return fmt.Sprintf("%s call answered by %s after %s, talked %s", c.Direction, c.Agent, c.Wait.Round(time.Second), c.Talk.Round(time.Second))
	case "voicemail":
		return fmt.Sprintf("voicemail left after %s in %s", c.Wait.Round(time.Second), c.Queue)
	}
	return fmt.Sprintf("%s call: %s", c.Direction, c.Outcome)
}

// activeTicketOf returns the contact's most recently updated ticket that
// is active or solved, from the in-memory view (committed state).
func (d *Desk) activeTicketOf(tx *bolt.Tx, contact uint64) (*Ticket, error) {
	var best uint64
	var at time.Time
	d.mu.RLock()
	for _, t := range d.tickets {
		if t.Contact == contact && t.MergedInto == 0 && (t.Status.Active() || t.Status == StatusSolved) && t.Updated.After(at) {
			best, at = t.Number, t.Updated
		}
	}
	d.mu.RUnlock()
	if best == 0 {
		return nil, nil
	}
	return getTicket(tx, best)
}

// supportFor picks the support address a call's ticket answers from: the
// one the contact last wrote to.
func (d *Desk) supportFor(c *Contact) string {
	var s string
	var at time.Time
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, t := range d.tickets {
		if t.Contact == c.ID && t.Support != "" && t.Updated.After(at) {
			s, at = t.Support, t.Updated
		}
	}
	return s
}

// Calls returns the call entries of every ticket, for the wallboard.
func (d *Desk) Calls(_ context.Context) ([]Call, error) {
	var out []Call
	err := d.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketEntries).ForEach(func(_, v []byte) error {
			var e Entry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			if e.Call != nil {
				out = append(out, *e.Call)
			}
			return nil
		})
	})
	slices.SortFunc(out, func(a, b Call) int { return a.Start.Compare(b.Start) })
	return out, err
}

// CheckSLA flags tickets that breached a due time: one escalated entry per
// breach and a mail to the supervisor. The server runs it every minute.
func (d *Desk) CheckSLA(ctx context.Context, now time.Time) (int, error) {
	n := 0
	for _, t := range d.All(ctx) {
		if !t.Status.Active() || t.MergedInto != 0 {
			continue
		}
		var breach string
		switch {
		case !t.FirstResponseDue.IsZero() && t.Answered.IsZero() && now.After(t.FirstResponseDue) && !slices.Contains(t.Escalated, "first-response"):
			breach = "first-response"
		case !t.ResolutionDue.IsZero() && now.After(t.ResolutionDue) && !slices.Contains(t.Escalated, "resolution"):
			breach = "resolution"
		default:
			continue
		}
		_, err := d.change(ctx, t.Number, KindEscalated, func(tx *bolt.Tx, t *Ticket) error {
			t.Escalated = append(t.Escalated, breach)
			return addEntry(tx, t, &Entry{Kind: KindEscalated, Author: "frontdesk", Text: breach + " due time passed"})
		})
		if err != nil {
			return n, err
		}
		n++
		if d.cfg.Supervisor != "" && d.cfg.Mailer != nil && t.Support != "" {
			msg, _ := d.compose(outMail{from: t.Support, fromName: d.cfg.CompanyName, to: []string{d.cfg.Supervisor},
				subject: fmt.Sprintf("SLA breach: %s %s", breach, subjectWithToken(&t)), auto: true, ticket: t.Number,
				body: fmt.Sprintf("Ticket %s (%s, group %s, assignee %s) passed its %s due time.\n\n%s/tickets/%d\n",
					t.Token(), t.Priority, t.Group, orNobody(t.Assignee), breach, d.cfg.BaseURL, t.Number)})
			if _, err := d.cfg.Mailer.Send(ctx, t.Support, []string{d.cfg.Supervisor}, msg); err != nil {
				d.log.Error("escalation not sent", "ticket", t.Number, "err", err)
			}
		}
	}
	return n, nil
}

func orNobody(s string) string {
	if s == "" {
		return "nobody"
	}
	return s
}

// Run checks SLAs every interval until ctx ends.
func (d *Desk) Run(ctx context.Context, interval time.Duration) {
	tk := time.NewTicker(interval)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tk.C:
			if _, err := d.CheckSLA(ctx, now); err != nil && ctx.Err() == nil {
				d.log.Error("SLA check", "err", err)
			}
		}
	}
}

func jsonUnmarshal(v []byte, x any) error { return json.Unmarshal(v, x) }

func beUint(v []byte) uint64 { return binary.BigEndian.Uint64(v) }
