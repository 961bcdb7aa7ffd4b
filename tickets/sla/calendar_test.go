package sla

import (
	"strings"
	"testing"
	"time"

	"frontdesk/tickets"
)

func berlin(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func office(t *testing.T) *Calendar {
	t.Helper()
	c, err := ParseCalendar("Europe/Berlin", []string{"mon-fri 09:00-17:00"}, []string{"2026-12-25"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The expectations are worked out by hand on the December 2026 calendar:
// the 7th is a Monday and the 25th, a Friday, is a holiday.
func TestAddBusinessTime(t *testing.T) {
	loc := berlin(t)
	c := office(t)
	at := func(day, hour, min int) time.Time { return time.Date(2026, 12, day, hour, min, 0, 0, loc) }
	tests := []struct {
		name  string
		start time.Time
		d     time.Duration
		want  time.Time
	}{
		{"within the day", at(7, 10, 0), 3 * time.Hour, at(7, 13, 0)},
		{"ends exactly at closing", at(7, 9, 0), 8 * time.Hour, at(7, 17, 0)},
		{"overnight", at(7, 10, 0), 8 * time.Hour, at(8, 10, 0)},
		{"before opening", at(8, 6, 30), time.Hour, at(8, 10, 0)},
		{"after closing", at(8, 20, 0), 30 * time.Minute, at(9, 9, 30)},
		{"over the weekend", at(11, 16, 0), 4 * time.Hour, at(14, 12, 0)},
		{"from Saturday", at(12, 11, 0), time.Hour, at(14, 10, 0)},
		{"over the holiday and weekend", at(24, 16, 30), time.Hour, at(28, 9, 30)},
		{"a business week", at(7, 9, 0), 40 * time.Hour, at(11, 17, 0)},
		{"zero", at(12, 11, 0), 0, at(12, 11, 0)},
	}
	for _, tt := range tests {
		if got := c.Add(tt.start, tt.d); !got.Equal(tt.want) {
			t.Errorf("%s: Add(%s, %s) = %s, want %s", tt.name, tt.start, tt.d, got, tt.want)
		}
	}
}

func TestBetween(t *testing.T) {
	loc := berlin(t)
	c := office(t)
	fri := time.Date(2026, 12, 11, 16, 0, 0, 0, loc)
	mon := time.Date(2026, 12, 14, 10, 0, 0, 0, loc)
	if got := c.Between(fri, mon); got != 2*time.Hour {
		t.Errorf("Between(Fri 16:00, Mon 10:00) = %s, want 2h", got)
	}
	if got := c.Between(mon, fri); got != -2*time.Hour {
		t.Errorf("Between(Mon 10:00, Fri 16:00) = %s, want -2h", got)
	}
	for _, d := range []time.Duration{time.Minute, 7 * time.Hour, 19 * time.Hour, 100 * time.Hour} {
		if got := c.Between(fri, c.Add(fri, d)); got != d {
			t.Errorf("Between(start, Add(start, %s)) = %s", d, got)
		}
	}
}

func TestIsOpen(t *testing.T) {
	loc := berlin(t)
	c := office(t)
	for _, tt := range []struct {
		at   time.Time
		open bool
	}{
		{time.Date(2026, 12, 7, 9, 0, 0, 0, loc), true},
		{time.Date(2026, 12, 7, 16, 59, 0, 0, loc), true},
		{time.Date(2026, 12, 7, 17, 0, 0, 0, loc), false},
		{time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC), true}, // 09:00 in Berlin
		{time.Date(2026, 12, 12, 12, 0, 0, 0, loc), false},   // Saturday
		{time.Date(2026, 12, 25, 12, 0, 0, 0, loc), false},   // holiday
	} {
		if got := c.IsOpen(tt.at); got != tt.open {
			t.Errorf("IsOpen(%s) = %v, want %v", tt.at, got, tt.open)
		}
	}
}

// On 29 March 2026 Berlin's clocks jump from 02:00 to 03:00, so the
// opening 01:00-04:00 lasts two hours that day.
func TestAddAcrossDaylightSaving(t *testing.T) {
	loc := berlin(t)
	c, err := ParseCalendar("Europe/Berlin", []string{"sun 01:00-04:00"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 29, 1, 0, 0, 0, loc)
	if got, want := c.Add(start, 2*time.Hour), time.Date(2026, 3, 29, 4, 0, 0, 0, loc); !got.Equal(want) {
		t.Errorf("2h = %s, want %s", got, want)
	}
	if got, want := c.Add(start, 3*time.Hour), time.Date(2026, 4, 5, 2, 0, 0, 0, loc); !got.Equal(want) {
		t.Errorf("3h = %s, want %s", got, want)
	}
}

func TestAroundTheClock(t *testing.T) {
	for _, hours := range [][]string{nil, {"24/7"}, {"mon-sun 00:00-24:00"}} {
		c, err := ParseCalendar("", hours, nil)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Date(2026, 12, 12, 23, 0, 0, 0, time.UTC)
		if got := c.Add(start, 5*time.Hour); !got.Equal(start.Add(5 * time.Hour)) {
			t.Errorf("hours %q: Add = %s", hours, got)
		}
	}
	var zero *Calendar
	if got := zero.Add(time.Unix(0, 0), time.Hour); !got.Equal(time.Unix(3600, 0)) {
		t.Errorf("nil calendar: Add = %s", got)
	}
}

func TestParseCalendarForms(t *testing.T) {
	c, err := ParseCalendar("UTC", []string{"MON,Wed 08:00-12:00 13:00-17:00", "fri-mon 10:00-11:00", "wed 11:00-14:00"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Wednesday: 08:00-17:00 once the overlapping ranges merge.
	wed := time.Date(2026, 12, 9, 8, 0, 0, 0, time.UTC)
	if got := c.Between(wed, wed.Add(24*time.Hour)); got != 9*time.Hour {
		t.Errorf("Wednesday has %s of business time, want 9h", got)
	}
	// Sunday lies inside the wrapping range fri-mon.
	if !c.IsOpen(time.Date(2026, 12, 13, 10, 30, 0, 0, time.UTC)) {
		t.Error("Sunday 10:30 closed; fri-mon should wrap over the weekend")
	}
	if c.IsOpen(time.Date(2026, 12, 8, 10, 30, 0, 0, time.UTC)) {
		t.Error("Tuesday 10:30 open")
	}
}

func TestParseCalendarErrors(t *testing.T) {
	for _, tt := range []struct {
		tz              string
		hours, holidays []string
		want            string
	}{
		{"Mars/Olympus", nil, nil, "timezone"},
		{"", []string{"mon-fri 17:00-09:00"}, nil, "start must be before end"},
		{"", []string{"funday 09:00-17:00"}, nil, `unknown day "funday"`},
		{"", []string{"mon-fri"}, nil, "days and time ranges"},
		{"", []string{"mon 9-17"}, nil, "HH:MM-HH:MM"},
		{"", []string{"mon 09:00-24:30"}, nil, "HH:MM-HH:MM"},
		{"", nil, []string{"25.12.2026"}, "YYYY-MM-DD"},
	} {
		_, err := ParseCalendar(tt.tz, tt.hours, tt.holidays)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseCalendar(%q, %q, %q) = %v, want an error with %q", tt.tz, tt.hours, tt.holidays, err, tt.want)
		}
	}
}

func TestPolicyDue(t *testing.T) {
	loc := berlin(t)
	p := &Policy{Calendar: office(t), FirstResponse: DefaultFirstResponse, Resolution: DefaultResolution}
	created := time.Date(2026, 12, 11, 16, 0, 0, 0, loc) // Friday
	fr, res := p.Due(created, tickets.PriorityNormal)
	// 8h: 1h on Friday, 7h on Monday. 24h: 1 + 8 + 8 + 7.
	if want := time.Date(2026, 12, 14, 16, 0, 0, 0, loc); !fr.Equal(want) {
		t.Errorf("first response due %s, want %s", fr.In(loc), want)
	}
	if want := time.Date(2026, 12, 16, 16, 0, 0, 0, loc); !res.Equal(want) {
		t.Errorf("resolution due %s, want %s", res.In(loc), want)
	}
	// An hour before closing, an urgent ticket is due at closing.
	fr, _ = p.Due(created, tickets.PriorityUrgent)
	if want := time.Date(2026, 12, 11, 17, 0, 0, 0, loc); !fr.Equal(want) {
		t.Errorf("urgent first response due %s, want %s", fr.In(loc), want)
	}
	none := &Policy{Calendar: office(t)}
	if fr, res := none.Due(created, tickets.PriorityLow); !fr.IsZero() || !res.IsZero() {
		t.Errorf("a policy without targets set due times %s, %s", fr, res)
	}
}

func FuzzParseCalendar(f *testing.F) {
	f.Add("mon-fri 09:00-17:00", "2026-12-25", int64(3600))
	f.Add("sat,sun 10:00-14:00 15:00-16:00", "", int64(90000))
	f.Add("fri-mon 00:00-24:00", "2026-01-01", int64(1))
	f.Fuzz(func(t *testing.T, hours, holiday string, secs int64) {
		c, err := ParseCalendar("Europe/Berlin", strings.Split(hours, ";"), []string{holiday})
		if err != nil {
			return
		}
		d := time.Duration(secs%(1000*3600)) * time.Second
		start := time.Date(2026, 3, 28, 23, 30, 0, 0, time.UTC)
		due := c.Add(start, d)
		if due.Before(start) {
			t.Fatalf("Add(%s, %s) = %s, before the start", start, d, due)
		}
		if d > 0 && due.Equal(start) {
			t.Fatalf("Add(%s, %s) did not move", start, d)
		}
	})
}
