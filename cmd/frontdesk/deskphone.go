package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"frontdesk/telephony"
	"frontdesk/tickets"
)

// deskContacts classifies callers from the desk's contacts, so a VIP who
// mails is a VIP on the phone; the config's contacts file still counts
// for numbers the desk does not know.
type deskContacts struct {
	desk     *tickets.Desk
	fallback telephony.ContactDirectory
}

func (c deskContacts) Level(ctx context.Context, number string) (telephony.Level, error) {
	l, err := c.desk.Level(ctx, number)
	if err != nil {
		return telephony.LevelNew, err
	}
	if l == tickets.LevelNew && c.fallback != nil {
		return c.fallback.Level(ctx, number)
	}
	return telephony.Level(l), nil
}

// callOnTicket is the hotline's OnRecord: every call record lands on the
// caller's ticket.
func callOnTicket(desk *tickets.Desk, log *slog.Logger) func(telephony.CallRecord) {
	return func(r telephony.CallRecord) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c := tickets.Call{ID: r.ID, Direction: r.Direction, Number: r.Caller, Queue: r.Queue, Agent: r.Agent, IVRPath: r.IVRPath,
			Start: r.Start, Answered: r.Answered, End: r.End, Wait: r.Wait, Talk: r.Talk, Outcome: string(r.Outcome), Recording: r.Recording}
		if c.Direction == "" {
			c.Direction = telephony.DirectionInbound
		}
		if _, _, err := desk.AddCall(ctx, c, r.Ticket); err != nil {
			// The record itself is stored; the ticket misses it until an
			// agent looks it up in `calls list`.
			log.Error("call not put on a ticket", "call", r.ID, "caller", r.Caller, "err", err)
		}
	}
}

// deskPhone is the web desk's view of the hotline.
type deskPhone struct {
	tel  *telephony.Server
	desk *tickets.Desk
}

// Callback counts the call against the queue of the ticket's group, so
// that queue's recording and wrap-up rules apply to it.
func (p deskPhone) Callback(ctx context.Context, agent, number string, ticket uint64) (string, error) {
	queue := ""
	if t, err := p.desk.Ticket(ctx, ticket); err == nil {
		for _, q := range p.tel.QueueState() {
			if q.Skill == t.Group || q.Name == t.Group {
				queue = q.Name
				break
			}
		}
	}
	rec, err := p.tel.Callback(ctx, telephony.CallbackRequest{Agent: agent, Number: number, Ticket: ticket, Queue: queue})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("Call back to %s: %s", number, rec.Outcome), nil
}

func (p deskPhone) Recording(ctx context.Context, id string) (io.ReadCloser, error) {
	return p.tel.Recording(ctx, id)
}

// AgentGroups are an agent's skills in the agent directory, whether or
// not their softphone is registered; not an agent: no groups.
func (p deskPhone) AgentGroups(ctx context.Context, address string) ([]string, error) {
	a, err := p.tel.Agent(ctx, address)
	if errors.Is(err, telephony.ErrUnknownAgent) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return a.Skills, nil
}
