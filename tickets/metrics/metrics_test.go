package metrics

import (
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func at(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

func sec(n int) time.Duration { return time.Duration(n) * time.Second }

// eventLog is a small hour of a contact centre, worked out by hand below.
func eventLog() ([]Call, []Ticket) {
	calls := []Call{
		{Queue: "support", Start: at(1), Wait: sec(10), Talk: sec(120), Outcome: "answered", Direction: "inbound"},
		{Queue: "support", Start: at(5), Wait: sec(30), Talk: sec(60), Outcome: "answered", Direction: "inbound"},
		{Queue: "sales", Start: at(7), Wait: sec(3), Outcome: "abandoned", Direction: "inbound"},
		{Queue: "sales", Start: at(9), Wait: sec(40), Outcome: "abandoned", Direction: "inbound"},
		{Queue: "support", Start: at(20), Wait: sec(20), Talk: sec(280), Wrap: sec(20), Outcome: "answered", Direction: "inbound"},
		{Queue: "", Start: at(22), Outcome: "abandoned", Direction: "inbound"}, // hung up in the menu
		{Queue: "support", Start: at(30), Talk: sec(90), Outcome: "answered", Direction: "callback"},
		{Queue: "support", Start: at(40), Wait: sec(60), Outcome: "voicemail", Direction: "inbound"},
		{Queue: "support", Start: at(60), Wait: sec(1), Talk: sec(999), Outcome: "answered", Direction: "inbound"}, // next hour
	}
	tickets := []Ticket{
		{Number: 1, Group: "support", Status: "solved", Solved: at(30), Contacts: 1, CSAT: 5},
		{Number: 2, Group: "support", Status: "solved", Solved: at(40), Contacts: 2, CSAT: 1},
		{Number: 3, Group: "sales", Status: "closed", Solved: at(50), Contacts: 1, Reopened: true},
		{Number: 4, Group: "sales", Status: "open", FirstResponseDue: at(15)},
		{Number: 5, Group: "support", Status: "new", FirstResponseDue: at(200)},
		{Number: 6, Group: "support", Status: "solved", Solved: at(-60), Contacts: 1, CSAT: 5}, // before the window
	}
	return calls, tickets
}

func TestComputeByHand(t *testing.T) {
	calls, tickets := eventLog()
	f := Compute(calls, tickets, at(0), at(60), at(90), Options{})
	// Offered: the six queued inbound calls of the hour; one short abandon
	// (3 s) leaves five that count.
	check := func(name string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("offered", f.Offered, 6)
	check("short abandons", f.ShortAbandoned, 1)
	check("answered", f.Answered, 3)
	check("answered within 20 s", f.AnsweredInTime, 2) // 10 s and exactly 20 s
	check("abandoned", f.Abandoned, 1)
	check("callbacks", f.Callbacks, 1)
	check("ASA", f.ASA, sec(20))                     // (10+30+20)/3
	check("AHT", f.AHT, 142500*time.Millisecond)     // (120+60+300+90)/4
	check("abandonment", f.AbandonRate, 0.2)         // 1/5
	check("service level", f.ServiceLevel, 0.4)      // 2/5
	check("solved", f.Solved, 3)                     // 1, 2, 3
	check("FCR", math.Round(f.FCR*1000)/1000, 0.333) // only 1: 2 had two contacts, 3 reopened
	check("rated", f.Rated, 2)                       // 1 and 2
	check("CSAT", f.CSAT, 0.5)                       // 1 good of 2
	check("open", f.OpenTickets, 2)                  // 4, 5
	check("overdue", f.OverdueTickets, 1)            // 4: no answer past its due time
	if len(f.Groups) != 2 || f.Groups[0].Name != "sales" || f.Groups[0].Offered != 2 || f.Groups[0].Overdue != 1 ||
		f.Groups[1].Name != "support" || f.Groups[1].Offered != 4 || f.Groups[1].Answered != 3 || f.Groups[1].Open != 1 {
		t.Errorf("groups: %+v", f.Groups)
	}
}

func TestComputeEmptyIsZero(t *testing.T) {
	f := Compute(nil, nil, at(0), at(60), at(60), Options{})
	for name, v := range map[string]float64{"abandon": f.AbandonRate, "sl": f.ServiceLevel, "fcr": f.FCR, "csat": f.CSAT} {
		if v != 0 || math.IsNaN(v) {
			t.Errorf("%s = %v on nothing", name, v)
		}
	}
	if f.ASA != 0 || f.AHT != 0 {
		t.Errorf("durations on nothing: %v %v", f.ASA, f.AHT)
	}
}

func TestThresholdOption(t *testing.T) {
	calls, _ := eventLog()
	f := Compute(calls, nil, at(0), at(60), at(60), Options{Threshold: sec(30), ShortAbandon: sec(1)})
	if f.AnsweredInTime != 3 || f.ShortAbandoned != 0 || f.Abandoned != 2 || f.ServiceLevel != 0.5 {
		t.Errorf("30 s threshold, 1 s short abandon: %+v", f)
	}
}

func TestSeriesBuckets(t *testing.T) {
	calls, tickets := eventLog()
	s := Series(calls, tickets, at(0), at(120), time.Hour, at(120), Options{})
	if len(s) != 2 || !s[0].Start.Equal(at(0)) || !s[1].Start.Equal(at(60)) {
		t.Fatalf("series: %+v", s)
	}
	if s[0].Offered != 6 || s[1].Offered != 1 || s[1].ASA != sec(1) || s[1].ServiceLevel != 1 {
		t.Errorf("buckets: %d/%d, second ASA %v SL %v", s[0].Offered, s[1].Offered, s[1].ASA, s[1].ServiceLevel)
	}
	if Series(calls, tickets, at(60), at(0), time.Hour, at(0), Options{}) != nil {
		t.Error("a backwards window has buckets")
	}
}

// TestSVGIsWellFormed parses the chart as XML, with hostile text in it.
func TestSVGIsWellFormed(t *testing.T) {
	for _, values := range [][]float64{nil, {0}, {1, math.NaN(), 3.5, 0}} {
		svg := SVGLine(`Calls <script>&"x"`, values, []string{"09:00", "</svg>"}, 300, 100)
		if strings.Contains(svg, "<script>") {
			t.Fatalf("unescaped text: %s", svg)
		}
		d := xml.NewDecoder(strings.NewReader(svg))
		elems := 0
		for {
			tok, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("not XML (%v): %s", err, svg)
			}
			if _, ok := tok.(xml.StartElement); ok {
				elems++
			}
		}
		if elems < 4 || !strings.HasPrefix(svg, "<svg") {
			t.Errorf("%d elements: %s", elems, svg)
		}
		if len(values) > 1 && !strings.Contains(svg, "<polyline") {
			t.Errorf("no line for %v", values)
		}
	}
}
