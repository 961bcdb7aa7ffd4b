package tickets

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

func (d *Desk) route(t *Ticket, support, subject, body string) {
	t.Group, t.Routing = d.cfg.DefaultGroup, "default"
	if d.cfg.Router == nil {
		return
	}
	r := d.cfg.Router.Route(BaseAddress(support), subject, body)
	if r.Group != "" {
		t.Group, t.Routing, t.Confidence = r.Group, r.Source, r.Confidence
	}
}

func (d *Desk) setDue(t *Ticket) {
	if d.cfg.SLA == nil {
		return
	}
	t.FirstResponseDue, t.ResolutionDue = d.cfg.SLA.Due(t.Created, t.Priority)
}

// index puts a ticket's searchable text into the index. The index is
// derived data: a failure is logged and the next change retries.
func (d *Desk) index(ctx context.Context, n uint64) {
	if d.cfg.Index == nil {
		return
	}
	fields, err := d.searchFields(ctx, n)
	if err == nil {
		err = d.cfg.Index.Put(itoa(n), fields)
	}
	if err != nil {
		d.log.Warn("ticket not indexed", "ticket", n, "err", err)
	}
}

func (d *Desk) searchFields(ctx context.Context, n uint64) (map[string]string, error) {
	t, err := d.Ticket(ctx, n)
	if err != nil {
		return nil, err
	}
	tl, err := d.Timeline(ctx, n)
	if err != nil {
		return nil, err
	}
	var body, notes strings.Builder
	for _, e := range tl {
		switch e.Kind {
		case KindMailIn, KindMailOut:
			body.WriteString(e.Text)
			body.WriteString("\n")
		case KindNote:
			notes.WriteString(e.Text)
			notes.WriteString("\n")
		}
	}
	f := map[string]string{"subject": t.Subject, "body": body.String(), "notes": notes.String(),
		"number": itoa(n), "status": string(t.Status), "group": t.Group}
	if c, err := d.Contact(ctx, t.Contact); err == nil {
		f["contact"] = c.Name
		f["email"] = strings.Join(c.Emails, " ")
		f["phone"] = strings.Join(c.Phones, " ")
	}
	return f, nil
}

// Reindex feeds every ticket to the index (after the index was rebuilt).
func (d *Desk) Reindex(ctx context.Context) error {
	for _, n := range d.numbers() {
		if err := ctx.Err(); err != nil {
			return err
		}
		d.index(ctx, n)
	}
	return nil
}

func (d *Desk) numbers() []uint64 {
	d.mu.RLock()
	out := make([]uint64, 0, len(d.tickets))
	for n := range d.tickets {
		out = append(out, n)
	}
	d.mu.RUnlock()
	slices.Sort(out)
	return out
}

// change runs fn on ticket n in one transaction, commits, then updates
// the view, the index and subscribers.
func (d *Desk) change(ctx context.Context, n uint64, kind Kind, fn func(tx *bolt.Tx, t *Ticket) error) (*Ticket, error) {
	var t *Ticket
	err := d.db.Update(func(tx *bolt.Tx) error {
		var err error
		if t, err = getTicket(tx, n); err != nil {
			return err
		}
		if err := fn(tx, t); err != nil {
			return err
		}
		return putTicket(tx, t)
	})
	if err != nil {
		return nil, err
	}
	d.remember(t, kind)
	d.index(ctx, n)
	return t, nil
}

// SetStatus changes a ticket's status. Solving teaches the router the
// ticket's group and mails the customer the solved notice with rating links.
func (d *Desk) SetStatus(ctx context.Context, n uint64, by string, s Status) error {
	var old Status
	t, err := d.change(ctx, n, KindStatus, func(tx *bolt.Tx, t *Ticket) error {
		old = t.Status
		if old == s {
			return nil
		}
		if t.MergedInto != 0 && s != StatusClosed {
			return fmt.Errorf("tickets: #%d was merged into #%d", n, t.MergedInto)
		}
		t.Status = s
		now := time.Now().UTC()
		if s == StatusSolved || s == StatusClosed {
			if t.Solved.IsZero() {
				t.Solved = now
			}
		}
		if !old.Active() && s.Active() {
			t.Reopened = true
		}
		return addEntry(tx, t, &Entry{Kind: KindStatus, At: now, Author: by, Text: string(old) + " → " + string(s)})
	})
	if err != nil || old == s {
		return err
	}
	if s == StatusSolved {
		if d.cfg.Learner != nil && t.Group != "" {
			if err := d.trainSolved(ctx, t); err != nil {
				d.log.Warn("routing not trained", "ticket", n, "err", err)
			}
		}
		if err := d.notifySolved(ctx, n); err != nil {
			d.log.Error("solved notice not sent", "ticket", n, "err", err)
		}
	}
	return nil
}

func (d *Desk) trainSolved(ctx context.Context, t *Ticket) error {
	tl, err := d.Timeline(ctx, t.Number)
	if err != nil {
		return err
	}
	text := t.Subject
	for _, e := range tl {
		if e.Kind == KindMailIn {
			text += "\n" + e.Text
			break // the first mail is what routing sees
		}
	}
	return d.cfg.Learner.TrainTicket(t.Number, text, t.Group)
}

// Assign gives a ticket to an agent ("" unassigns).
func (d *Desk) Assign(ctx context.Context, n uint64, by, agent string) error {
	_, err := d.change(ctx, n, KindAssign, func(tx *bolt.Tx, t *Ticket) error {
		if t.Assignee == agent {
			return nil
		}
		text := agent
		if agent == "" {
			text = "unassigned"
		}
		t.Assignee = agent
		if t.Status == StatusNew && agent != "" {
			t.Status = StatusOpen
		}
		return addEntry(tx, t, &Entry{Kind: KindAssign, Author: by, Text: text})
	})
	return err
}

// SetPriority changes a ticket's priority and its due times.
func (d *Desk) SetPriority(ctx context.Context, n uint64, by string, p Priority) error {
	_, err := d.change(ctx, n, KindPriority, func(tx *bolt.Tx, t *Ticket) error {
		if t.Priority == p {
			return nil
		}
		old := t.Priority
		t.Priority = p
		d.setDue(t)
		return addEntry(tx, t, &Entry{Kind: KindPriority, Author: by, Text: string(old) + " → " + string(p)})
	})
	return err
}

// SetGroup moves a ticket to another group.
func (d *Desk) SetGroup(ctx context.Context, n uint64, by, group string) error {
	group = strings.TrimSpace(group)
	if group == "" {
		return errors.New("tickets: a group is needed")
	}
	_, err := d.change(ctx, n, KindGroup, func(tx *bolt.Tx, t *Ticket) error {
		if t.Group == group {
			return nil
		}
		old := t.Group
		t.Group, t.Routing, t.Confidence = group, "agent", 0
		return addEntry(tx, t, &Entry{Kind: KindGroup, Author: by, Text: old + " → " + group})
	})
	return err
}

// SetTags replaces a ticket's tags.
func (d *Desk) SetTags(ctx context.Context, n uint64, tags []string) error {
	var clean []string
	for _, t := range tags {
		if t = strings.ToLower(strings.TrimSpace(t)); t != "" && !slices.Contains(clean, t) {
			clean = append(clean, t)
		}
	}
	_, err := d.change(ctx, n, "", func(tx *bolt.Tx, t *Ticket) error {
		t.Tags = clean
		return nil
	})
	return err
}

// AddNote adds an internal note, never mailed to the customer.
func (d *Desk) AddNote(ctx context.Context, n uint64, by, text string) error {
	if strings.TrimSpace(text) == "" {
		return errors.New("tickets: the note is empty")
	}
	_, err := d.change(ctx, n, KindNote, func(tx *bolt.Tx, t *Ticket) error {
		return addEntry(tx, t, &Entry{Kind: KindNote, Author: by, Text: clip(text, maxText)})
	})
	return err
}

// Merge moves ticket from's timeline into ticket into and closes from;
// mail that threads to from lands on into from then on.
func (d *Desk) Merge(ctx context.Context, from, into uint64, by string) error {
	if from == into {
		return errors.New("tickets: a ticket cannot be merged into itself")
	}
	var src, dst *Ticket
	err := d.db.Update(func(tx *bolt.Tx) error {
		var err error
		if src, err = getTicket(tx, from); err != nil {
			return fmt.Errorf("#%d: %w", from, err)
		}
		if dst, err = followMerge(tx, into); err != nil || dst == nil {
			return fmt.Errorf("#%d: %w", into, ErrNotFound)
		}
		if src.MergedInto != 0 {
			return fmt.Errorf("tickets: #%d is already merged into #%d", from, src.MergedInto)
		}
		if dst.Number == from {
			return errors.New("tickets: that merge would make a loop")
		}
		c := tx.Bucket(bucketEntries).Cursor()
		prefix := string(be64(from))
		var moved []Entry
		for k, v := c.Seek(be64(from)); k != nil && strings.HasPrefix(string(k), prefix); k, v = c.Next() {
			var e Entry
			if err := jsonUnmarshal(v, &e); err != nil {
				return err
			}
			moved = append(moved, e)
		}
		for _, e := range moved {
			e := e
			if err := addEntry(tx, dst, &e); err != nil {
				return err
			}
		}
		dst.Contacts += src.Contacts
		now := time.Now().UTC()
		if err := addEntry(tx, dst, &Entry{Kind: KindMerge, At: now, Author: by, Text: fmt.Sprintf("#%d merged into this ticket", from)}); err != nil {
			return err
		}
		src.MergedInto, src.Status = dst.Number, StatusClosed
		if src.Solved.IsZero() {
			src.Solved = now
		}
		if err := addEntry(tx, src, &Entry{Kind: KindMerge, At: now, Author: by, Text: fmt.Sprintf("merged into #%d", dst.Number)}); err != nil {
			return err
		}
		if err := putTicket(tx, src); err != nil {
			return err
		}
		return putTicket(tx, dst)
	})
	if err != nil {
		return err
	}
	d.remember(src, KindMerge)
	d.remember(dst, KindMerge)
	d.index(ctx, src.Number)
	d.index(ctx, dst.Number)
	return nil
}

// Rate records the customer's rating from the solved mail's link; secret
// is the ticket's, so nobody else can rate it. good is the one click.
func (d *Desk) Rate(ctx context.Context, n uint64, secret string, good bool) error {
	_, err := d.change(ctx, n, KindRating, func(tx *bolt.Tx, t *Ticket) error {
		if t.Secret == "" || secret != t.Secret {
			return ErrNotFound
		}
		score, word := 1, "bad"
		if good {
			score, word = 5, "good"
		}
		t.CSAT = score
		return addEntry(tx, t, &Entry{Kind: KindRating, Author: "customer", Text: "rated " + word})
	})
	return err
}

// NewTicket is a ticket opened by an agent or an integration.
type NewTicket struct {
	Subject  string
	Text     string // the first entry, a note
	Email    string // the contact's address, or
	Phone    string // number
	Name     string
	Support  string // the support address replies leave from
	Group    string // "" routes it
	Priority Priority
	Author   string
}

// Create opens a ticket by hand (web or API).
func (d *Desk) Create(ctx context.Context, in NewTicket) (*Ticket, error) {
	in.Subject = strings.TrimSpace(in.Subject)
	if in.Subject == "" {
		return nil, errors.New("tickets: a subject is needed")
	}
	email := strings.ToLower(strings.TrimSpace(in.Email))
	phone := NormalizePhone(in.Phone)
	if email == "" && phone == "" {
		return nil, errors.New("tickets: a contact email or phone is needed")
	}
	if in.Priority == "" {
		in.Priority = PriorityNormal
	}
	if _, err := ParsePriority(string(in.Priority)); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	var t *Ticket
	err := d.db.Update(func(tx *bolt.Tx) error {
		c, err := contactFor(tx, email, phone, in.Name, now)
		if err != nil {
			return err
		}
		t = &Ticket{Subject: clip(in.Subject, 250), Status: StatusNew, Priority: in.Priority, Contact: c.ID,
			Support: strings.ToLower(in.Support), Created: now, Updated: now, Contacts: 1}
		if in.Group != "" {
			t.Group, t.Routing = in.Group, "agent"
		} else {
			d.route(t, in.Support, in.Subject, in.Text)
		}
		d.setDue(t)
		if err := newTicket(tx, t); err != nil {
			return err
		}
		if strings.TrimSpace(in.Text) != "" {
			if err := addEntry(tx, t, &Entry{Kind: KindNote, At: now, Author: in.Author, Text: clip(in.Text, maxText)}); err != nil {
				return err
			}
		}
		return putTicket(tx, t)
	})
	if err != nil {
		return nil, err
	}
	d.remember(t, KindNote)
	d.index(ctx, t.Number)
	return t, nil
}

// ContactUpdate changes a contact; nil fields stay.
type ContactUpdate struct {
	Name   *string
	Emails []string
	Phones []string
	Level  *Level
}

// UpsertContact creates a contact (id 0) or changes one. Addresses and
// numbers already used by another contact are refused.
func (d *Desk) UpsertContact(_ context.Context, id uint64, u ContactUpdate) (*Contact, error) {
	var c *Contact
	err := d.db.Update(func(tx *bolt.Tx) error {
		var err error
		if id == 0 {
			nid, err := tx.Bucket(bucketContacts).NextSequence()
			if err != nil {
				return err
			}
			c = &Contact{ID: nid, Level: LevelNew, Created: time.Now().UTC()}
		} else if c, err = getContact(tx, id); err != nil {
			return err
		}
		if u.Name != nil {
			c.Name = strings.TrimSpace(*u.Name)
		}
		if u.Level != nil {
			if _, err := ParseLevel(string(*u.Level)); err != nil {
				return err
			}
			c.Level = *u.Level
		}
		claim := func(b []byte, key string) error {
			if v := tx.Bucket(b).Get([]byte(key)); v != nil && beUint(v) != c.ID {
				return fmt.Errorf("tickets: %s belongs to contact %d", key, beUint(v))
			}
			return nil
		}
		if u.Emails != nil {
			for _, e := range c.Emails {
				tx.Bucket(bucketEmails).Delete([]byte(e))
			}
			c.Emails = nil
			for _, e := range u.Emails {
				if e = strings.ToLower(strings.TrimSpace(e)); e != "" {
					if !strings.Contains(e, "@") {
						return fmt.Errorf("tickets: %q is not a mail address", e)
					}
					if err := claim(bucketEmails, e); err != nil {
						return err
					}
					c.Emails = append(c.Emails, e)
				}
			}
		}
		if u.Phones != nil {
			for _, p := range c.Phones {
				tx.Bucket(bucketPhones).Delete([]byte(p))
			}
			c.Phones = nil
			for _, p := range u.Phones {
				if p = NormalizePhone(p); p != "" {
					if err := claim(bucketPhones, p); err != nil {
						return err
					}
					c.Phones = append(c.Phones, p)
				}
			}
		}
		return putContact(tx, c)
	})
	return c, err
}

// ListOptions filter and page a ticket list.
type ListOptions struct {
	Assignee   string   // only this agent's
	Unassigned bool     // only tickets nobody has
	Groups     []string // only these groups (nil: all)
	Statuses   []Status // nil: every active status
	AllStatus  bool     // include solved and closed
	Contact    uint64
	Overdue    bool // past a due time now
	Offset     int
	Limit      int // default 50
}

// List returns tickets, newest change first, and how many matched.
func (d *Desk) List(_ context.Context, o ListOptions) ([]Ticket, int) {
	if o.Limit <= 0 {
		o.Limit = 50
	}
	now := time.Now()
	d.mu.RLock()
	defer d.mu.RUnlock()
	total := 0
	var out []Ticket
	for _, t := range d.order {
		if t.MergedInto != 0 {
			continue
		}
		switch {
		case o.Assignee != "" && t.Assignee != o.Assignee,
			o.Unassigned && t.Assignee != "",
			o.Groups != nil && !slices.Contains(o.Groups, t.Group),
			o.Contact != 0 && t.Contact != o.Contact,
			o.Overdue && !Overdue(t, now):
			continue
		}
		if o.Statuses != nil {
			if !slices.Contains(o.Statuses, t.Status) {
				continue
			}
		} else if !o.AllStatus && !t.Status.Active() {
			continue
		}
		if total >= o.Offset && len(out) < o.Limit {
			c := *t
			c.Tags = slices.Clone(c.Tags)
			out = append(out, c)
		}
		total++
	}
	return out, total
}

// All returns every ticket in number order, for metrics and exports.
func (d *Desk) All(_ context.Context) []Ticket {
	d.mu.RLock()
	out := make([]Ticket, 0, len(d.tickets))
	for _, t := range d.tickets {
		out = append(out, *t)
	}
	d.mu.RUnlock()
	slices.SortFunc(out, func(a, b Ticket) int { return int(int64(a.Number) - int64(b.Number)) })
	return out
}

// Overdue reports whether an active ticket is past a due time.
func Overdue(t *Ticket, now time.Time) bool {
	if !t.Status.Active() {
		return false
	}
	if !t.FirstResponseDue.IsZero() && t.Answered.IsZero() && now.After(t.FirstResponseDue) {
		return true
	}
	return !t.ResolutionDue.IsZero() && now.After(t.ResolutionDue)
}

// Search finds tickets by words in their subject, mails, notes and
// contact; without an index it looks at subjects only.
func (d *Desk) Search(ctx context.Context, q string, limit int) ([]Ticket, error) {
	q = strings.TrimSpace(q)
	if q == "" {
		return nil, errors.New("tickets: type something to search for")
	}
	if limit <= 0 {
		limit = 50
	}
	var nums []uint64
	if d.cfg.Index != nil {
		ids, err := d.cfg.Index.Query(ctx, q, limit)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			var n uint64
			fmt.Sscan(id, &n)
			nums = append(nums, n)
		}
	} else {
		lq := strings.ToLower(q)
		for _, n := range d.numbers() {
			if t, _ := d.Ticket(ctx, n); t != nil && strings.Contains(strings.ToLower(t.Subject), lq) {
				nums = append(nums, n)
			}
		}
	}
	var out []Ticket
	for _, n := range nums {
		if t, err := d.Ticket(ctx, n); err == nil && len(out) < limit {
			out = append(out, *t)
		}
	}
	return out, nil
}
