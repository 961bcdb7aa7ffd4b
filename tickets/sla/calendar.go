// Package sla is the ticket desk's business-hours clock: a Calendar of
// opening hours and holidays in one time zone, and a Policy that turns a
// ticket's creation time and priority into due times.
//
// All arithmetic happens in local wall time (each opening is built with
// time.Date in the calendar's zone), so "09:00" stays 09:00 across
// daylight-saving changes.
package sla

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxDays bounds how far Add and Between walk the calendar. Every calendar
// ParseCalendar accepts is open at least once a week, so this only stops
// absurd durations (centuries of business time) from looping for long.
const maxDays = 100 * 366

const minutesPerDay = 24 * 60

// span is one opening on a day, in minutes after local midnight; end may
// be minutesPerDay (24:00).
type span struct{ start, end int }

// date is a civil date in the calendar's zone.
type date struct {
	year  int
	month time.Month
	day   int
}

func dateOf(t time.Time) date {
	y, m, d := t.Date()
	return date{y, m, d}
}

// next is the following civil date; UTC keeps the arithmetic free of DST.
func (d date) next() date {
	return dateOf(time.Date(d.year, d.month, d.day+1, 0, 0, 0, 0, time.UTC))
}

func (d date) weekday() time.Weekday {
	return time.Date(d.year, d.month, d.day, 0, 0, 0, 0, time.UTC).Weekday()
}

// at is the instant of minute m after midnight of d in loc. Minute 1440
// is the next midnight, which is not always 24 hours later.
func (d date) at(m int, loc *time.Location) time.Time {
	return time.Date(d.year, d.month, d.day, m/60, m%60, 0, 0, loc)
}

// Calendar is a time zone, weekly business hours and holidays. The zero
// Calendar is open around the clock in UTC. A Calendar is immutable once
// built and safe for concurrent use.
type Calendar struct {
	loc      *time.Location
	week     [7][]span // by time.Weekday, sorted, non-overlapping
	holidays map[date]bool
	// always: open every minute of every day (holidays aside).
	always bool
}

// ParseCalendar builds a Calendar.
//
// tz is an IANA zone name such as "Europe/Berlin"; "" means UTC.
//
// Each entry of hours is "24/7", or days followed by one or more time
// ranges: "mon-fri 09:00-17:00", "sat 10:00-14:00",
// "mon,wed 08:00-12:00 13:00-17:00", "fri-mon 10:00-16:00" (ranges of days
// wrap around the week). Day names are English, three letters or in full,
// any case. A time range is HH:MM-HH:MM within one day, start before end;
// 24:00 ends the day. Ranges of several entries on the same day are merged.
// No hours at all means around the clock.
//
// holidays are whole local days off, "2026-12-25".
//
// Errors name the bad entry.
func ParseCalendar(tz string, hours, holidays []string) (*Calendar, error) {
	c := &Calendar{loc: time.UTC}
	if tz != "" {
		loc, err := time.LoadLocation(tz)
		if err != nil {
			return nil, fmt.Errorf("sla: timezone %q: %w", tz, err)
		}
		c.loc = loc
	}
	if len(hours) == 0 {
		c.always = true
	}
	for _, h := range hours {
		if err := c.addHours(h); err != nil {
			return nil, fmt.Errorf("sla: hours %q: %w", h, err)
		}
	}
	for wd := range c.week {
		c.week[wd] = merge(c.week[wd])
	}
	if !c.always {
		c.always = true
		for _, spans := range c.week {
			if len(spans) != 1 || spans[0] != (span{0, minutesPerDay}) {
				c.always = false
			}
		}
	}
	if c.always {
		for wd := range c.week {
			c.week[wd] = []span{{0, minutesPerDay}}
		}
	}
	for _, h := range holidays {
		t, err := time.Parse(time.DateOnly, strings.TrimSpace(h))
		if err != nil {
			return nil, fmt.Errorf("sla: holiday %q: want YYYY-MM-DD", h)
		}
		if c.holidays == nil {
			c.holidays = map[date]bool{}
		}
		c.holidays[dateOf(t)] = true
	}
	return c, nil
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "sunday": time.Sunday,
	"mon": time.Monday, "monday": time.Monday,
	"tue": time.Tuesday, "tuesday": time.Tuesday,
	"wed": time.Wednesday, "wednesday": time.Wednesday,
	"thu": time.Thursday, "thursday": time.Thursday,
	"fri": time.Friday, "friday": time.Friday,
	"sat": time.Saturday, "saturday": time.Saturday,
}

// addHours parses one entry of hours into c.week.
func (c *Calendar) addHours(entry string) error {
	f := strings.Fields(strings.ToLower(entry))
	if len(f) == 1 && f[0] == "24/7" {
		c.always = true
		return nil
	}
	if len(f) < 2 {
		return errors.New(`want "24/7" or days and time ranges, like "mon-fri 09:00-17:00"`)
	}
	days, err := parseDays(f[0])
	if err != nil {
		return err
	}
	var spans []span
	for _, field := range f[1:] {
		for r := range strings.SplitSeq(field, ",") {
			if r == "" {
				continue
			}
			s, err := parseRange(r)
			if err != nil {
				return err
			}
			spans = append(spans, s)
		}
	}
	if len(spans) == 0 {
		return errors.New("no time range")
	}
	for wd, on := range days {
		if on {
			c.week[wd] = append(c.week[wd], spans...)
		}
	}
	return nil
}

// parseDays parses "mon", "mon-fri", "sat,sun", "fri-mon".
func parseDays(s string) ([7]bool, error) {
	var days [7]bool
	for part := range strings.SplitSeq(s, ",") {
		from, to, isRange := strings.Cut(part, "-")
		a, ok := dayNames[from]
		if !ok {
			return days, fmt.Errorf("unknown day %q (mon, tue, wed, thu, fri, sat, sun)", from)
		}
		b := a
		if isRange {
			if b, ok = dayNames[to]; !ok {
				return days, fmt.Errorf("unknown day %q (mon, tue, wed, thu, fri, sat, sun)", to)
			}
		}
		for d := a; ; d = (d + 1) % 7 {
			days[d] = true
			if d == b {
				break
			}
		}
	}
	return days, nil
}

// parseRange parses "09:00-17:00".
func parseRange(s string) (span, error) {
	from, to, ok := strings.Cut(s, "-")
	if !ok {
		return span{}, fmt.Errorf("bad time range %q (want HH:MM-HH:MM)", s)
	}
	a, err1 := parseClock(from)
	b, err2 := parseClock(to)
	if err1 != nil || err2 != nil || a == minutesPerDay {
		return span{}, fmt.Errorf("bad time range %q (want HH:MM-HH:MM)", s)
	}
	if a >= b {
		return span{}, fmt.Errorf("time range %q: start must be before end (ranges cannot cross midnight)", s)
	}
	return span{a, b}, nil
}

// parseClock parses "HH:MM" into minutes after midnight; "24:00" is 1440.
func parseClock(s string) (int, error) {
	hh, mm, ok := strings.Cut(s, ":")
	if !ok || len(hh) != 2 || len(mm) != 2 {
		return 0, errors.New("bad clock")
	}
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if err1 != nil || err2 != nil || h < 0 || m < 0 || m > 59 || h > 24 || h == 24 && m != 0 {
		return 0, errors.New("bad clock")
	}
	return h*60 + m, nil
}

// merge sorts spans and joins the overlapping and touching ones.
func merge(spans []span) []span {
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.start, b.start) })
	var out []span
	for _, s := range spans {
		if n := len(out); n > 0 && s.start <= out[n-1].end {
			out[n-1].end = max(out[n-1].end, s.end)
			continue
		}
		out = append(out, s)
	}
	return out
}

// Location is the calendar's time zone.
func (c *Calendar) Location() *time.Location {
	if c == nil || c.loc == nil {
		return time.UTC
	}
	return c.loc
}

// plain reports whether business time is simply elapsed time.
func (c *Calendar) plain() bool {
	return c == nil || c.loc == nil || c.always && len(c.holidays) == 0
}

// openings calls fn with each opening [open, end) of day d, in order,
// until fn returns false.
func (c *Calendar) openings(d date, fn func(open, end time.Time) bool) {
	if c.holidays[d] {
		return
	}
	for _, s := range c.week[d.weekday()] {
		open, end := d.at(s.start, c.loc), d.at(s.end, c.loc)
		// A fall-back hour can make a short opening empty or reversed.
		if !end.After(open) {
			continue
		}
		if !fn(open, end) {
			return
		}
	}
}

// IsOpen reports whether t falls within business hours.
func (c *Calendar) IsOpen(t time.Time) bool {
	if c.plain() {
		return true
	}
	t = t.In(c.loc)
	open := false
	c.openings(dateOf(t), func(o, end time.Time) bool {
		open = !t.Before(o) && t.Before(end)
		return !open
	})
	return open
}

// Add returns the instant when d of business time has elapsed after
// start. Outside business hours counting begins at the next opening; a
// d of zero or less returns start. The result is in the calendar's zone.
// Add walks at most about a century of calendar and returns where it got
// to if d needs more.
func (c *Calendar) Add(start time.Time, d time.Duration) time.Time {
	if d <= 0 {
		return start
	}
	if c.plain() {
		return start.Add(d).In(c.Location())
	}
	t := start.In(c.loc)
	day := dateOf(t)
	var due time.Time
	for range maxDays {
		c.openings(day, func(open, end time.Time) bool {
			if !end.After(t) {
				return true
			}
			if open.Before(t) {
				open = t
			}
			if avail := end.Sub(open); d > avail {
				d -= avail
				t = end
				return true
			}
			due = open.Add(d)
			return false
		})
		if !due.IsZero() {
			return due
		}
		day = day.next()
	}
	return t
}

// Between returns the business time from a to b, negative when b is
// before a (so Between(now, due) is the time left, or overdue).
func (c *Calendar) Between(a, b time.Time) time.Duration {
	if b.Before(a) {
		return -c.Between(b, a)
	}
	if c.plain() {
		return b.Sub(a)
	}
	a, b = a.In(c.loc), b.In(c.loc)
	var sum time.Duration
	last := dateOf(b)
	day := dateOf(a)
	for range maxDays {
		c.openings(day, func(open, end time.Time) bool {
			if open.Before(a) {
				open = a
			}
			if end.After(b) {
				end = b
			}
			if end.After(open) {
				sum += end.Sub(open)
			}
			return true
		})
		if day == last {
			break
		}
		day = day.next()
	}
	return sum
}
