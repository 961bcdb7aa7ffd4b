package telephony

import (
	"slices"
	"testing"
)

func TestDTMFDetector(t *testing.T) {
	var d dtmfDetector
	var got []rune
	feed := func(ts uint32, key rune, end bool) {
		got = append(got, d.feed(ts, telephoneEvent(key, end, 10, 160))...)
	}
	// Key 2: three progress packets, three end packets (RFC 4733 2.5.1.4).
	for i := 0; i < 3; i++ {
		feed(1000, '2', false)
	}
	for i := 0; i < 3; i++ {
		feed(1000, '2', true)
	}
	// Key 5 whose end packets are all lost, then key #.
	feed(2000, '5', false)
	feed(2000, '5', false)
	feed(3000, '#', false)
	feed(3000, '#', true)
	// A late progress packet of the reported '#'.
	feed(3000, '#', false)
	if want := []rune("25#"); !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", string(got), string(want))
	}
	// Garbage: short payload and non-DTMF events.
	if r := d.feed(4000, []byte{1}); r != nil {
		t.Fatal("short payload reported")
	}
	if r := d.feed(4000, []byte{36, 0x80, 0, 0}); r != nil {
		t.Fatal("fax event reported")
	}
}

func TestDTMFInfo(t *testing.T) {
	cases := []struct {
		ct, body string
		want     rune
		ok       bool
	}{
		{"application/dtmf-relay", "Signal=5\r\nDuration=160\r\n", '5', true},
		{"application/dtmf-relay; charset=x", "signal= *\r\n", '*', true},
		{"application/dtmf", "#", '#', true},
		{"application/dtmf-relay", "Signal=55\r\n", 0, false},
		{"text/plain", "Signal=1", 0, false},
		{"application/dtmf-relay", "", 0, false},
	}
	for _, c := range cases {
		r, ok := parseDTMFInfo(c.ct, []byte(c.body))
		if r != c.want || ok != c.ok {
			t.Errorf("%q %q: got %q %v", c.ct, c.body, r, ok)
		}
	}
}
