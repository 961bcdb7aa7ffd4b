package smtpd

import (
	"strings"
	"testing"
	"time"
)

// TestIdleClientTimedOut: a client silent past the command timeout gets
// 421 4.4.2 and is closed (RFC 5321 §4.5.3.2.7), before MAIL and in the
// middle of a DATA block; nothing of the cut message is stored.
func TestIdleClientTimedOut(t *testing.T) {
	e := newEnv(t, MX, func(c *Config) { c.ReadTimeout = 300 * time.Millisecond })

	r := dialRaw(t, e.addr)
	r.cmd("EHLO client.test", 250, "")
	r.expect(421, "4.4.2 Idle timeout")
	if _, err := r.tp.ReadLine(); err == nil {
		t.Error("connection still open after the 421")
	}

	r = dialRaw(t, e.addr)
	r.cmd("EHLO client.test", 250, "")
	r.cmd("MAIL FROM:<carol@remote.test>", 250, "")
	r.cmd("RCPT TO:<"+alice+">", 250, "")
	r.cmd("DATA", 354, "")
	r.send("Subject: cut\r\n\r\nhalf a message\r\n")
	// The aborted DATA is answered, then the connection ends with 421.
	var replies []string
	for {
		code, msg, err := r.tp.ReadResponse(0)
		if err != nil && code == 0 {
			break
		}
		replies = append(replies, msg)
		if code == 421 {
			break
		}
	}
	if len(replies) == 0 || !strings.Contains(replies[len(replies)-1], "4.4.2 Idle timeout") {
		t.Errorf("replies to a stalled DATA: %q, want the last to be 421 4.4.2 ... timeout", replies)
	}
	if n := len(e.inbox()); n != 0 {
		t.Errorf("%d messages stored from a cut DATA", n)
	}
}
