package imapd

import (
	"strings"
	"testing"
)

// TestRecent follows \Recent (RFC 3501 §2.3.2) across sessions: EXAMINE
// shows without claiming, the first SELECT claims, later sessions see
// nothing recent, new mail is recent only to the session that hears of it
// first, and IMAP4rev2 sessions see none of it (RFC 9051).
func TestRecent(t *testing.T) {
	e := newTestEnv(t)
	e.deliver(t, "INBOX", msg("one", "bob@example.org", "1"))
	e.deliver(t, "INBOX", msg("two", "bob@example.org", "2"), `\Seen`)

	st := e.loginWire(t)
	if u := st.ok("STATUS INBOX (RECENT MESSAGES)"); !wireHas(u, "* STATUS INBOX (MESSAGES 2 RECENT 2)") {
		t.Fatalf("STATUS before any SELECT: %q", u)
	}

	ex := e.loginWire(t)
	if u := ex.ok("EXAMINE INBOX"); !wireHas(u, "* 2 RECENT") {
		t.Fatalf("EXAMINE: %q", u)
	}
	if u := ex.ok("FETCH 1:* (FLAGS)"); !wireHas(u, `* 1 FETCH (UID 1 FLAGS (\Recent))`) || !wireHas(u, `* 2 FETCH (UID 2 FLAGS (\Seen \Recent))`) {
		t.Fatalf("FETCH after EXAMINE: %q", u)
	}

	a := e.loginWire(t)
	if u := a.ok("SELECT INBOX"); !wireHas(u, "* 2 RECENT") {
		t.Fatalf("first SELECT after EXAMINE: %q", u)
	}
	for _, c := range []struct{ cmd, want string }{
		{"SEARCH RECENT", "* SEARCH 1 2"},
		{"SEARCH NEW", "* SEARCH 1"},
		{"SEARCH OLD", "* SEARCH"},
		{"SEARCH NOT RECENT", "* SEARCH"},
		{"FETCH 1 (FLAGS)", `* 1 FETCH (UID 1 FLAGS (\Recent))`},
		// \Recent cannot be set or cleared by the client.
		{`STORE 1 FLAGS (\Flagged)`, `* 1 FETCH (UID 1 FLAGS (\Flagged \Recent))`},
		{`STORE 1 -FLAGS (\Flagged \Recent)`, `* 1 FETCH (UID 1 FLAGS (\Recent))`},
	} {
		if u := a.ok(c.cmd); !wireHas(u, c.want) {
			t.Errorf("%s: %q, want %q", c.cmd, u, c.want)
		}
	}

	b := e.loginWire(t)
	if u := b.ok("SELECT INBOX"); !wireHas(u, "* 0 RECENT") {
		t.Fatalf("second SELECT: %q", u)
	}
	for _, c := range []struct{ cmd, want string }{
		{"SEARCH RECENT", "* SEARCH"},
		{"SEARCH OLD", "* SEARCH 1 2"},
		{"FETCH 1:2 (FLAGS)", `* 2 FETCH (UID 2 FLAGS (\Seen))`},
	} {
		if u := b.ok(c.cmd); !wireHas(u, c.want) {
			t.Errorf("second session %s: %q, want %q", c.cmd, u, c.want)
		}
	}
	if u := st.ok("STATUS INBOX (RECENT)"); !wireHas(u, "* STATUS INBOX (RECENT 0)") {
		t.Fatalf("STATUS after SELECT: %q", u)
	}

	// An IMAP4rev2 session neither sees nor claims new mail as recent.
	e.deliver(t, "INBOX", msg("three", "bob@example.org", "3"))
	r2 := e.loginWire(t)
	r2.ok("ENABLE IMAP4rev2")
	u := r2.ok("SELECT INBOX")
	if !wireHas(u, "* 3 EXISTS") || strings.Contains(strings.Join(u, "\n"), "RECENT") {
		t.Fatalf("IMAP4rev2 SELECT: %q", u)
	}
	if u := r2.ok("FETCH 3 (FLAGS)"); !wireHas(u, `* 3 FETCH (UID 3 FLAGS ())`) {
		t.Fatalf("IMAP4rev2 FETCH: %q", u)
	}
	if _, s := r2.cmd("STATUS INBOX (RECENT)"); !strings.HasPrefix(s, "BAD") {
		t.Errorf("IMAP4rev2 STATUS RECENT: %s", s)
	}

	// New mail goes to the first IMAP4rev1 session that hears of it.
	if u := b.ok("NOOP"); !wireHas(u, "* 3 EXISTS") || !wireHas(u, "* 1 RECENT") {
		t.Fatalf("NOOP of the session that hears first: %q", u)
	}
	if u := b.ok("FETCH 3 (FLAGS)"); !wireHas(u, `* 3 FETCH (UID 3 FLAGS (\Recent))`) {
		t.Fatalf("new message in that session: %q", u)
	}
	if u := a.ok("NOOP"); !wireHas(u, "* 3 EXISTS") || !wireHas(u, "* 2 RECENT") {
		t.Fatalf("NOOP of the other session: %q", u)
	}
	if u := a.ok("SEARCH RECENT"); !wireHas(u, "* SEARCH 1 2") {
		t.Fatalf("other session, new message: %q", u)
	}
	// EXAMINE claims nothing, and mail another session claimed is not
	// recent to it.
	if u := ex.ok("NOOP"); !wireHas(u, "* 3 EXISTS") || !wireHas(u, "* 2 RECENT") {
		t.Fatalf("NOOP after EXAMINE: %q", u)
	}

	// The claim is in the store: a session opened later sees nothing new.
	c := e.loginWire(t)
	if u := c.ok("SELECT INBOX"); !wireHas(u, "* 0 RECENT") {
		t.Fatalf("SELECT after all was claimed: %q", u)
	}
}
