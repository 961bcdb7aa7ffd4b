// Package metrics computes the contact centre's figures from the event
// log: the hotline's call records and the desk's tickets.
//
// The formulas, over the calls that started and tickets that were solved
// in the window [from, to):
//
//   - Offered: inbound calls that reached a queue.
//   - Short abandons: offered calls hung up within Options.ShortAbandon
//     (default 5 s) of joining the queue; they are left out of the rates
//     below, as usual in contact centres (misdials, instant regrets).
//   - Abandoned: offered calls hung up in the queue after that.
//   - ASA (average speed of answer) = sum of queue waits of answered
//     inbound calls / their number.
//   - AHT (average handle time) = sum of (talk + wrap-up) of answered
//     calls, inbound and callbacks / their number.
//   - Abandonment rate = abandoned / (offered − short abandons).
//   - Service level (80/20) = inbound calls answered within
//     Options.Threshold (default 20 s) / (offered − short abandons); the
//     target is 80 %. Voicemails and callback requests count as offered
//     and not answered in time.
//   - FCR (first-contact resolution) = solved tickets with one inbound
//     customer contact and never reopened / solved tickets.
//   - CSAT = tickets rated good / tickets rated (ratings from the solved
//     mail: 5 good, 1 bad).
//   - Open and overdue tickets are counted at now, whatever the window:
//     overdue means active and past its first-response due time without
//     an answer, or past its resolution due time.
//
// A rate with nothing to divide by is 0, never NaN.
package metrics

import (
	"sort"
	"time"
)

// Call is one call record.
type Call struct {
	Queue     string
	Start     time.Time
	Answered  time.Time // zero when never answered
	End       time.Time
	Wait      time.Duration // time in the queue
	Talk      time.Duration
	Wrap      time.Duration
	Outcome   string // answered, abandoned, voicemail, no agent, callback requested, ...
	Direction string // inbound or callback
}

// Ticket is what the figures need of a ticket.
type Ticket struct {
	Number           uint64
	Group            string
	Status           string // new, open, pending, solved, closed
	Created          time.Time
	FirstResponse    time.Time
	Solved           time.Time
	Contacts         int // inbound customer contacts until the first solve
	Reopened         bool
	CSAT             int // 0 none, 1 bad, 5 good
	FirstResponseDue time.Time
	ResolutionDue    time.Time
}

// Options tune the formulas.
type Options struct {
	// Threshold is the service-level answer time. Default 20 s.
	Threshold time.Duration
	// ShortAbandon is the wait under which an abandon is not counted.
	// Default 5 s.
	ShortAbandon time.Duration
}

func (o Options) withDefaults() Options {
	if o.Threshold == 0 {
		o.Threshold = 20 * time.Second
	}
	if o.ShortAbandon == 0 {
		o.ShortAbandon = 5 * time.Second
	}
	return o
}

// Figures are the wallboard's numbers for one window.
type Figures struct {
	Offered        int           `json:"offered"`
	Answered       int           `json:"answered"`
	AnsweredInTime int           `json:"answeredInTime"`
	Abandoned      int           `json:"abandoned"`
	ShortAbandoned int           `json:"shortAbandoned"`
	Callbacks      int           `json:"callbacks"` // callbacks answered by the customer
	ASA            time.Duration `json:"asa"`
	AHT            time.Duration `json:"aht"`
	AbandonRate    float64       `json:"abandonRate"`
	ServiceLevel   float64       `json:"serviceLevel"`
	Solved         int           `json:"solved"`
	FCR            float64       `json:"fcr"`
	Rated          int           `json:"rated"`
	CSAT           float64       `json:"csat"`
	OpenTickets    int           `json:"openTickets"`
	OverdueTickets int           `json:"overdueTickets"`
	Groups         []Group       `json:"groups"`
}

// Group is one skill group's load.
type Group struct {
	Name     string `json:"name"`
	Offered  int    `json:"offered"`
	Answered int    `json:"answered"`
	Open     int    `json:"open"`
	Overdue  int    `json:"overdue"`
}

func in(t, from, to time.Time) bool { return !t.Before(from) && t.Before(to) }

func rate(n, d int) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / float64(d)
}

// Active reports whether a ticket status still needs work.
func Active(status string) bool { return status == "new" || status == "open" || status == "pending" }

// Overdue reports whether t is active and past a due time at now.
func Overdue(t Ticket, now time.Time) bool {
	if !Active(t.Status) {
		return false
	}
	if !t.FirstResponseDue.IsZero() && t.FirstResponse.IsZero() && now.After(t.FirstResponseDue) {
		return true
	}
	return !t.ResolutionDue.IsZero() && now.After(t.ResolutionDue)
}

// Compute returns the figures of the window [from, to), with open and
// overdue tickets counted at now.
func Compute(calls []Call, tickets []Ticket, from, to, now time.Time, opt Options) Figures {
	opt = opt.withDefaults()
	var f Figures
	groups := map[string]*Group{}
	group := func(name string) *Group {
		g := groups[name]
		if g == nil {
			g = &Group{Name: name}
			groups[name] = g
		}
		return g
	}
	var waits, handle time.Duration
	handled := 0
	for _, c := range calls {
		if !in(c.Start, from, to) {
			continue
		}
		answered := c.Outcome == "answered"
		if c.Direction == "callback" {
			if answered {
				f.Callbacks++
				handled++
				handle += c.Talk + c.Wrap
			}
			continue
		}
		if c.Queue == "" {
			continue // hung up in the menu: never offered to a queue
		}
		g := group(c.Queue)
		g.Offered++
		f.Offered++
		switch {
		case answered:
			f.Answered++
			g.Answered++
			waits += c.Wait
			handled++
			handle += c.Talk + c.Wrap
			if c.Wait <= opt.Threshold {
				f.AnsweredInTime++
			}
		case c.Outcome == "abandoned" && c.Wait < opt.ShortAbandon:
			f.ShortAbandoned++
		case c.Outcome == "abandoned":
			f.Abandoned++
		}
	}
	if f.Answered > 0 {
		f.ASA = waits / time.Duration(f.Answered)
	}
	if handled > 0 {
		f.AHT = handle / time.Duration(handled)
	}
	counted := f.Offered - f.ShortAbandoned
	f.AbandonRate = rate(f.Abandoned, counted)
	f.ServiceLevel = rate(f.AnsweredInTime, counted)

	fcr, good := 0, 0
	for _, t := range tickets {
		if Active(t.Status) {
			f.OpenTickets++
			g := group(t.Group)
			g.Open++
			if Overdue(t, now) {
				f.OverdueTickets++
				g.Overdue++
			}
		}
		if t.Solved.IsZero() || !in(t.Solved, from, to) {
			continue
		}
		f.Solved++
		if t.Contacts <= 1 && !t.Reopened {
			fcr++
		}
		if t.CSAT > 0 {
			f.Rated++
			if t.CSAT >= 4 {
				good++
			}
		}
	}
	f.FCR = rate(fcr, f.Solved)
	f.CSAT = rate(good, f.Rated)
	for _, g := range groups {
		f.Groups = append(f.Groups, *g)
	}
	sort.Slice(f.Groups, func(i, j int) bool { return f.Groups[i].Name < f.Groups[j].Name })
	return f
}

// Point is the figures of one bucket of a series.
type Point struct {
	Start time.Time `json:"start"`
	Figures
}

// Series computes the figures bucket by bucket from from to to.
func Series(calls []Call, tickets []Ticket, from, to time.Time, step time.Duration, now time.Time, opt Options) []Point {
	if step <= 0 || !from.Before(to) {
		return nil
	}
	var out []Point
	for s := from; s.Before(to); s = s.Add(step) {
		e := s.Add(step)
		if e.After(to) {
			e = to
		}
		out = append(out, Point{Start: s, Figures: Compute(calls, tickets, s, e, now, opt)})
	}
	return out
}
