package telephony

import (
	"bufio"
	"encoding/binary"
	"strings"
)

// dtmfEvents maps RFC 4733 section 3.2 event codes 0-15 to keys.
const dtmfEvents = "0123456789*#ABCD"

// dtmfDetector turns a stream of RFC 4733 telephone-event payloads into
// key presses. One key press is many packets sharing one RTP timestamp
// (RFC 4733 section 2.5.1.2); the final packets carry the E bit and are
// sent three times (section 2.5.1.4). We report a key once, when its end is
// seen, or when a new event starts and the old one's end packets were lost.
//
// Not safe for concurrent use; the receiving goroutine owns it.
type dtmfDetector struct {
	active   bool   // an event is in progress
	activeTS uint32 // its RTP timestamp
	activeEv byte
	doneTS   uint32 // timestamp of the last reported event
	done     bool   // doneTS is valid
}

// feed takes one telephone-event payload with its RTP timestamp and returns
// the keys completed by it (zero, one, or rarely two).
func (d *dtmfDetector) feed(ts uint32, payload []byte) []rune {
	if len(payload) < 4 {
		return nil
	}
	ev := payload[0]
	end := payload[1]&0x80 != 0
	if ev > 15 { // not a DTMF key (e.g. a fax tone); ignore
		return nil
	}
	if d.done && ts == d.doneTS { // retransmitted end packet, or late packet of a reported event
		return nil
	}
	var out []rune
	if d.active && d.activeTS != ts {
		// A new event began without the end of the previous one: report it.
		out = append(out, rune(dtmfEvents[d.activeEv]))
		d.done, d.doneTS = true, d.activeTS
		d.active = false
	}
	if end {
		out = append(out, rune(dtmfEvents[ev]))
		d.done, d.doneTS = true, ts
		d.active = false
		return out
	}
	d.active, d.activeTS, d.activeEv = true, ts, ev
	return out
}

// telephoneEvent builds an RFC 4733 payload (section 2.3) for tests and
// for sending keys.
func telephoneEvent(key rune, end bool, volume byte, duration uint16) []byte {
	b := make([]byte, 4)
	b[0] = byte(strings.IndexRune(dtmfEvents, key))
	b[1] = volume & 0x3F
	if end {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], duration)
	return b
}

// parseDTMFInfo extracts the key from the body of a SIP INFO request, the
// fallback for phones that do not send RFC 4733 events. Content types
// application/dtmf-relay ("Signal=5\r\nDuration=160") and application/dtmf
// ("5") are understood.
func parseDTMFInfo(contentType string, body []byte) (rune, bool) {
	ct := strings.ToLower(strings.TrimSpace(strings.Split(contentType, ";")[0]))
	valid := func(s string) (rune, bool) {
		s = strings.ToUpper(strings.TrimSpace(s))
		if len(s) == 1 && strings.Contains(dtmfEvents, s) {
			return rune(s[0]), true
		}
		return 0, false
	}
	switch ct {
	case "application/dtmf-relay":
		sc := bufio.NewScanner(strings.NewReader(string(body)))
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "signal") {
				return valid(v)
			}
		}
	case "application/dtmf":
		return valid(string(body))
	}
	return 0, false
}
