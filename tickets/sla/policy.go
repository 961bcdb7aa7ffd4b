package sla

import (
	"time"

	"frontdesk/tickets"
)

// Policy turns a ticket's creation time and priority into due times: each
// target is business time on the Calendar. A Policy implements tickets.SLA.
type Policy struct {
	Calendar *Calendar
	// FirstResponse and Resolution are the targets per priority; a
	// priority missing from a map has no due time of that kind.
	FirstResponse map[tickets.Priority]time.Duration
	Resolution    map[tickets.Priority]time.Duration
}

// DefaultFirstResponse and DefaultResolution are the targets used when
// the configuration names none: the common tiers of support desks.
var (
	DefaultFirstResponse = map[tickets.Priority]time.Duration{
		tickets.PriorityUrgent: time.Hour,
		tickets.PriorityHigh:   4 * time.Hour,
		tickets.PriorityNormal: 8 * time.Hour,
		tickets.PriorityLow:    24 * time.Hour,
	}
	DefaultResolution = map[tickets.Priority]time.Duration{
		tickets.PriorityUrgent: 4 * time.Hour,
		tickets.PriorityHigh:   8 * time.Hour,
		tickets.PriorityNormal: 24 * time.Hour,
		tickets.PriorityLow:    40 * time.Hour,
	}
)

// Due returns the first-response and resolution due times of a ticket
// created at created; a zero time means no target.
func (p *Policy) Due(created time.Time, priority tickets.Priority) (firstResponse, resolution time.Time) {
	if d, ok := p.FirstResponse[priority]; ok && d > 0 {
		firstResponse = p.Calendar.Add(created, d).UTC()
	}
	if d, ok := p.Resolution[priority]; ok && d > 0 {
		resolution = p.Calendar.Add(created, d).UTC()
	}
	return firstResponse, resolution
}
