package web

import (
	"fmt"
	"html/template"
	"time"

	"frontdesk/tickets"
	cc "frontdesk/tickets/metrics"
)

// The wall's window: figures over the last day, charts hour by hour.
const (
	wallWindow = 24 * time.Hour
	wallStep   = time.Hour
)

// figures fills the wall's headline figures and charts from the desk's
// call records and tickets (formulas: package tickets/metrics, imported as cc: contact centre).
func (s *Server) figures(d *wallboardView, calls []tickets.Call, ts []tickets.Ticket, now time.Time) {
	mc := make([]cc.Call, 0, len(calls))
	for _, c := range calls {
		mc = append(mc, cc.Call{Queue: c.Queue, Start: c.Start, Answered: c.Answered, End: c.End,
			Wait: c.Wait, Talk: c.Talk, Outcome: c.Outcome, Direction: c.Direction})
	}
	mt := make([]cc.Ticket, 0, len(ts))
	for _, t := range ts {
		mt = append(mt, cc.Ticket{Number: t.Number, Group: t.Group, Status: string(t.Status), Created: t.Created,
			FirstResponse: t.Answered, Solved: t.Solved, Contacts: t.Contacts, Reopened: t.Reopened, CSAT: t.CSAT,
			FirstResponseDue: t.FirstResponseDue, ResolutionDue: t.ResolutionDue})
	}
	from := now.Add(-wallWindow)
	f := cc.Compute(mc, mt, from, now.Add(time.Nanosecond), now, cc.Options{})
	d.Figures = wallFigures(f)

	// Hour buckets aligned on the hour, the current one last.
	start := now.Truncate(wallStep).Add(-wallWindow + wallStep)
	series := cc.Series(mc, mt, start, now.Add(time.Nanosecond), wallStep, now, cc.Options{})
	if len(series) == 0 {
		return
	}
	labels := make([]string, len(series))
	offered, sl, asa := make([]float64, len(series)), make([]float64, len(series)), make([]float64, len(series))
	for i, p := range series {
		labels[i] = p.Start.UTC().Format("15:04")
		offered[i] = float64(p.Offered)
		sl[i] = 100 * p.ServiceLevel
		asa[i] = p.ASA.Seconds()
	}
	chart := func(title string, v []float64) wbChart {
		// SVGLine escapes every text it writes.
		return wbChart{Title: title, SVG: template.HTML(cc.SVGLine(title, v, labels, 320, 120))}
	}
	d.Charts = []wbChart{
		chart("Calls offered per hour", offered),
		chart("Service level per hour (%)", sl),
		chart("ASA per hour (s)", asa),
	}
}

// wallFigures are the headline tiles, each with its formula as a hint.
func wallFigures(f cc.Figures) []wbFigure {
	pct := func(v float64) string { return fmt.Sprintf("%.0f%%", 100*v) }
	secs := func(d time.Duration) string { return d.Round(time.Second).String() }
	sl := wbFigure{Key: "sl", Label: "Service level 80/20", Value: pct(f.ServiceLevel),
		Hint: fmt.Sprintf("%d of %d answered within 20 s", f.AnsweredInTime, f.Offered-f.ShortAbandoned)}
	switch {
	case f.Offered == 0:
	case f.ServiceLevel >= 0.8:
		sl.Class = "ok"
	default:
		sl.Class = "bad"
	}
	ab := wbFigure{Key: "abandon", Label: "Abandoned", Value: pct(f.AbandonRate),
		Hint: fmt.Sprintf("%d abandoned, %d short abandons left out", f.Abandoned, f.ShortAbandoned)}
	if f.AbandonRate > 0.1 {
		ab.Class = "bad"
	}
	return []wbFigure{
		{Key: "offered", Label: "Calls offered", Value: fmt.Sprint(f.Offered), Hint: fmt.Sprintf("%d answered, %d callbacks", f.Answered, f.Callbacks)},
		sl,
		{Key: "asa", Label: "ASA", Value: secs(f.ASA), Hint: "average wait of answered calls"},
		{Key: "aht", Label: "AHT", Value: secs(f.AHT), Hint: "average talk + wrap-up"},
		ab,
		{Key: "fcr", Label: "FCR", Value: pct(f.FCR), Hint: fmt.Sprintf("of %d solved with one contact", f.Solved)},
		{Key: "csat", Label: "CSAT", Value: pct(f.CSAT), Hint: fmt.Sprintf("good of %d rated", f.Rated)},
	}
}
