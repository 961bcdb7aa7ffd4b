// Package tickets is the ticket desk: tickets, contacts and one timeline per
// ticket of the mails, calls, voicemails and notes that belong to it.
//
// Mail to a support address and calls to the hotline meet here. A ticket
// and its timeline live in one bbolt database with the same crash rules as
// mail: a change is acknowledged only once its transaction is committed
// (and so fsynced). Protocol packages hand their events in through Desk's
// methods; the desk sends mail through a Mailer it is given and never
// imports a protocol package.
package tickets

import (
	"errors"
	"time"
)

// Status is where a ticket stands.
type Status string

// Ticket statuses, in their usual order of life.
const (
	StatusNew     Status = "new"     // nobody has answered yet
	StatusOpen    Status = "open"    // being worked
	StatusPending Status = "pending" // waiting for the customer
	StatusSolved  Status = "solved"  // answered; a reply reopens it
	StatusClosed  Status = "closed"  // final; a reply opens a new ticket
)

// ParseStatus checks a status name.
func ParseStatus(s string) (Status, error) {
	switch st := Status(s); st {
	case StatusNew, StatusOpen, StatusPending, StatusSolved, StatusClosed:
		return st, nil
	}
	return "", errors.New("tickets: unknown status " + s + " (new, open, pending, solved, closed)")
}

// Active reports whether the ticket still needs work.
func (s Status) Active() bool {
	return s == StatusNew || s == StatusOpen || s == StatusPending
}

// Priority orders tickets and picks their SLA targets.
type Priority string

// Priorities, most pressing first.
const (
	PriorityUrgent Priority = "urgent"
	PriorityHigh   Priority = "high"
	PriorityNormal Priority = "normal"
	PriorityLow    Priority = "low"
)

// ParsePriority checks a priority name.
func ParsePriority(s string) (Priority, error) {
	switch p := Priority(s); p {
	case PriorityUrgent, PriorityHigh, PriorityNormal, PriorityLow:
		return p, nil
	}
	return "", errors.New("tickets: unknown priority " + s + " (urgent, high, normal, low)")
}

// Level is a contact's standing: the same levels the hotline's ACD uses,
// so one contact list serves both.
type Level string

// Contact levels.
const (
	LevelVIP     Level = "vip"
	LevelRegular Level = "regular"
	LevelNew     Level = "new"
)

// ParseLevel checks a level name.
func ParseLevel(s string) (Level, error) {
	switch l := Level(s); l {
	case LevelVIP, LevelRegular, LevelNew:
		return l, nil
	}
	return "", errors.New("tickets: unknown level " + s + " (vip, regular, new)")
}

// Ticket is one customer problem.
type Ticket struct {
	Number   uint64   `json:"number"`
	Subject  string   `json:"subject"`
	Status   Status   `json:"status"`
	Priority Priority `json:"priority"`
	// Group is the skill group (the hotline's queue skill) that works it.
	Group string `json:"group"`
	// Routing says how Group was chosen: "rule", "classifier", "triage",
	// "default" or "agent", with the classifier's confidence.
	Routing    string   `json:"routing,omitempty"`
	Confidence float64  `json:"confidence,omitempty"`
	Assignee   string   `json:"assignee,omitempty"` // agent's account address
	Contact    uint64   `json:"contact"`
	Tags       []string `json:"tags,omitempty"`
	// Support is the support address the ticket was opened at; replies
	// leave from it.
	Support string `json:"support,omitempty"`

	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
	Solved   time.Time `json:"solved,omitzero"`
	Answered time.Time `json:"answered,omitzero"` // first agent reply or answered call

	FirstResponseDue time.Time `json:"firstResponseDue,omitzero"`
	ResolutionDue    time.Time `json:"resolutionDue,omitzero"`
	// Escalated records SLA breaches already escalated, so each is
	// mailed to the supervisor once.
	Escalated []string `json:"escalated,omitempty"`

	// Contacts counts inbound customer contacts (mails and calls) until
	// the first solve: FCR counts tickets solved at 1.
	Contacts int  `json:"contacts"`
	Reopened bool `json:"reopened,omitempty"`
	// CSAT is the customer's rating from the solved mail: 0 none, 1 bad,
	// 5 good.
	CSAT int `json:"csat,omitempty"`

	MergedInto uint64 `json:"mergedInto,omitempty"`
	// Secret authenticates plus-addressed replies and rating links.
	Secret string `json:"secret"`
	// LastMessageID is the newest mail of the timeline, for In-Reply-To.
	LastMessageID string `json:"lastMessageId,omitempty"`
}

// Token is the subject token that threads mail into the ticket.
func (t *Ticket) Token() string { return "[#" + itoa(t.Number) + "]" }

// Contact is a customer: the people who mail and call.
type Contact struct {
	ID      uint64    `json:"id"`
	Name    string    `json:"name,omitempty"`
	Emails  []string  `json:"emails,omitempty"` // lower case
	Phones  []string  `json:"phones,omitempty"` // normalized: digits and a leading +
	Level   Level     `json:"level"`
	Created time.Time `json:"created"`
}

// Kind is what a timeline entry records.
type Kind string

// Timeline entry kinds.
const (
	KindMailIn    Kind = "mail-in"
	KindMailOut   Kind = "mail-out"
	KindCall      Kind = "call"
	KindVoicemail Kind = "voicemail"
	KindCallback  Kind = "callback"
	KindNote      Kind = "note"
	KindStatus    Kind = "status"
	KindAssign    Kind = "assign"
	KindPriority  Kind = "priority"
	KindGroup     Kind = "group"
	KindMerge     Kind = "merge"
	KindBounce    Kind = "bounce"
	KindRating    Kind = "rating"
	KindEscalated Kind = "escalated"
)

// Entry is one item on a ticket's timeline.
type Entry struct {
	Ticket uint64    `json:"ticket"`
	Seq    uint32    `json:"seq"` // 1-based within the ticket
	Kind   Kind      `json:"kind"`
	At     time.Time `json:"at"`
	// Author is the agent's address, the customer's email or number, or
	// "frontdesk" for what the desk did itself.
	Author string `json:"author"`

	// Mail entries.
	From      string   `json:"from,omitempty"`
	To        []string `json:"to,omitempty"`
	Cc        []string `json:"cc,omitempty"`
	Subject   string   `json:"subject,omitempty"`
	MessageID string   `json:"messageId,omitempty"`
	// Text is the mail's readable text, the note, or the change
	// ("open → solved").
	Text        string   `json:"text,omitempty"`
	Attachments []string `json:"attachments,omitempty"`
	// Queued is the outbound queue id of a sent mail.
	Queued string `json:"queued,omitempty"`

	// Call entries.
	Call *Call `json:"call,omitempty"`
}

// Call is the part of a hotline call record the timeline shows.
type Call struct {
	ID        string        `json:"id"`
	Direction string        `json:"direction"` // inbound or callback
	Number    string        `json:"number"`
	Queue     string        `json:"queue,omitempty"`
	Agent     string        `json:"agent,omitempty"`
	IVRPath   string        `json:"ivrPath,omitempty"`
	Start     time.Time     `json:"start"`
	Answered  time.Time     `json:"answered,omitzero"`
	End       time.Time     `json:"end"`
	Wait      time.Duration `json:"wait"`
	Talk      time.Duration `json:"talk"`
	Outcome   string        `json:"outcome"`
	Recording string        `json:"recording,omitempty"`
}

// ErrNotFound is returned for tickets and contacts that do not exist.
var ErrNotFound = errors.New("tickets: not found")

func itoa(n uint64) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
