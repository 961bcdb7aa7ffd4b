package imapd

import (
	"fmt"
	"strings"
	"testing"
)

// TestNewKeywordAnnounced checks that a keyword new to the mailbox comes
// with an updated FLAGS (and PERMANENTFLAGS for read-write sessions)
// before the FETCH or EXISTS that brings it: from STORE, from APPEND and
// COPY, in the session that made the change and in the others.
func TestNewKeywordAnnounced(t *testing.T) {
	e := newTestEnv(t)
	e.deliver(t, "INBOX", msg("one", "bob@example.org", "1"))
	e.deliver(t, "INBOX", msg("two", "bob@example.org", "2"))
	const base = `\Seen \Answered \Flagged \Deleted \Draft $Junk`
	a, b, ro := e.loginWire(t), e.loginWire(t), e.loginWire(t)
	a.ok("SELECT INBOX")
	b.ok("SELECT INBOX")
	ro.ok("EXAMINE INBOX")

	// inOrder checks that the lines of want come in u in this order.
	inOrder := func(what string, u []string, want ...string) {
		t.Helper()
		j := 0
		for _, l := range u {
			if j < len(want) && l == want[j] {
				j++
			}
		}
		if j != len(want) {
			t.Errorf("%s: got\n%s\nwant in order\n%s", what, strings.Join(u, "\n"), strings.Join(want, "\n"))
		}
	}

	u := a.ok("STORE 1 +FLAGS (Work)")
	inOrder("STORE with a new keyword", u,
		"* FLAGS ("+base+" Work)",
		"* OK [PERMANENTFLAGS ("+base+` Work \*)] Permanent flags`,
		`* 1 FETCH (UID 1 FLAGS (Work \Recent))`)
	if len(u) != 3 {
		t.Errorf("STORE answer: %q", u)
	}
	if u := a.ok("STORE 2 +FLAGS.SILENT (Work)"); len(u) != 0 {
		t.Errorf("STORE of a known keyword: %q", u)
	}
	u = b.ok("NOOP")
	inOrder("other session", u,
		"* FLAGS ("+base+" Work)",
		"* OK [PERMANENTFLAGS ("+base+` Work \*)] Permanent flags`,
		`* 1 FETCH (UID 1 FLAGS (Work))`,
		`* 2 FETCH (UID 2 FLAGS (Work))`)
	u = ro.ok("NOOP")
	inOrder("EXAMINE session", u, "* FLAGS ("+base+" Work)", `* 1 FETCH (UID 1 FLAGS (Work))`)
	if len(wirePrefixedLines(u, "* OK [PERMANENTFLAGS")) != 0 {
		t.Errorf("PERMANENTFLAGS to a read-only session: %q", u)
	}

	// APPEND into the selected mailbox with a new keyword.
	body := "Subject: three\r\n\r\n3\r\n"
	u = a.ok(fmt.Sprintf("APPEND INBOX (Urgent) {%d+}\r\n%s", len(body), body))
	inOrder("APPEND", u, "* FLAGS ("+base+" Work Urgent)", "* 3 EXISTS")

	// COPY from another mailbox brings one too, to every session.
	a.ok("CREATE Other")
	u = a.ok(fmt.Sprintf("APPEND Other (Later) {%d+}\r\n%s", len(body), body))
	if len(wirePrefixedLines(u, "* FLAGS")) != 0 {
		t.Errorf("APPEND to another mailbox announced flags: %q", u)
	}
	b.ok("NOOP")
	b.ok("SELECT Other")
	u = b.ok("COPY 1 INBOX")
	if len(wirePrefixedLines(u, "* FLAGS")) != 0 {
		t.Errorf("COPY announced the target's flags: %q", u)
	}
	u = a.ok("NOOP")
	inOrder("COPY seen by the selecting session", u,
		"* FLAGS ("+base+" Work Urgent Later)",
		"* OK [PERMANENTFLAGS ("+base+` Work Urgent Later \*)] Permanent flags`,
		"* 4 EXISTS")
	u = ro.ok("FETCH 1:* (FLAGS)")
	inOrder("FETCH in the EXAMINE session", u, "* FLAGS ("+base+" Work Urgent Later)", "* 4 EXISTS")

	// A new SELECT lists them all from the start.
	c := e.loginWire(t)
	u = c.ok("SELECT INBOX")
	inOrder("SELECT", u, "* FLAGS ("+base+" Later Urgent Work)")
}

func wirePrefixedLines(lines []string, prefix string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}
