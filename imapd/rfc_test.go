package imapd

import (
	"fmt"
	"strings"
	"testing"
)

// TestID checks ID (RFC 2971) before and after login, with NIL and with a
// field list, and that it is advertised in both states.
func TestID(t *testing.T) {
	e := newTestEnv(t)
	w := dialWire(t, e.addr)
	caps := w.ok("CAPABILITY")
	if len(caps) != 1 || !strings.Contains(caps[0]+" ", " ID ") {
		t.Fatalf("ID not advertised before login: %q", caps)
	}
	u := w.ok("ID NIL")
	if len(u) != 1 || !strings.HasPrefix(u[0], `* ID ("name" "Frontdesk" "version" "`) {
		t.Fatalf("ID NIL: %q", u)
	}
	w.ok(fmt.Sprintf("LOGIN %q %q", testUser, testPass))
	caps = w.ok("CAPABILITY")
	if !strings.Contains(caps[0]+" ", " ID ") {
		t.Fatalf("ID not advertised after login: %q", caps)
	}
	u = w.ok(`ID ("name" "imaptest" "version" "1.0" "x-extra" NIL)`)
	if len(u) != 1 || !strings.Contains(u[0], `"name" "Frontdesk"`) {
		t.Fatalf("ID list: %q", u)
	}
	if _, st := w.cmd(`ID ("name")`); !strings.HasPrefix(st, "BAD") {
		t.Errorf("ID with a field and no value: %s", st)
	}
	if _, st := w.cmd(`ID foo`); !strings.HasPrefix(st, "BAD") {
		t.Errorf("ID foo: %s", st)
	}
	w.ok("NOOP")
}

// TestUnknownCommandBeforeLogin checks that a client probing for a
// command gets BAD and can still log in.
func TestUnknownCommandBeforeLogin(t *testing.T) {
	e := newTestEnv(t)
	w := dialWire(t, e.addr)
	if _, st := w.cmd("XFOO bar"); !strings.HasPrefix(st, "BAD") {
		t.Fatalf("XFOO: %s", st)
	}
	w.ok(fmt.Sprintf("LOGIN %q %q", testUser, testPass))
	w.ok("SELECT INBOX")
	if _, st := w.cmd("XFOO"); !strings.HasPrefix(st, "BAD") {
		t.Fatalf("XFOO after login: %s", st)
	}
	w.ok("NOOP")

	// Something that is not IMAP at all is cut off after a few lines.
	h := dialWire(t, e.addr)
	fmt.Fprintf(h.conn, "GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: x\r\nAccept: text/html\r\nConnection: close\r\n\r\n")
	var got []string
	for {
		l, err := h.r.ReadString('\n')
		if err != nil {
			break
		}
		got = append(got, strings.TrimSpace(l))
	}
	if len(got) != 4 || !strings.HasPrefix(got[3], "* BYE") {
		t.Fatalf("HTTP request: %q", got)
	}
}

// TestCloseAfterExamine checks that CLOSE of an examined mailbox is OK and
// expunges nothing, while CLOSE after SELECT does.
func TestCloseAfterExamine(t *testing.T) {
	e := newTestEnv(t)
	e.deliver(t, "INBOX", msg("one", "bob@example.org", "1"), `\Deleted`)
	e.deliver(t, "INBOX", msg("two", "bob@example.org", "2"))
	w := e.loginWire(t)
	w.ok("EXAMINE INBOX")
	if _, st := w.cmd("EXPUNGE"); !strings.HasPrefix(st, "NO") {
		t.Errorf("EXPUNGE after EXAMINE: %s", st)
	}
	w.ok("CLOSE")
	u := w.ok("STATUS INBOX (MESSAGES DELETED)")
	if !wireHas(u, `* STATUS INBOX (MESSAGES 2 DELETED 1)`) {
		t.Fatalf("after CLOSE of EXAMINE: %q", u)
	}
	w.ok("SELECT INBOX")
	w.ok("CLOSE")
	u = w.ok("STATUS INBOX (MESSAGES DELETED)")
	if !wireHas(u, `* STATUS INBOX (MESSAGES 1 DELETED 0)`) {
		t.Fatalf("after CLOSE of SELECT: %q", u)
	}
	// EXAMINE then SELECT in the same session: the second one counts.
	e.deliver(t, "INBOX", msg("three", "bob@example.org", "3"), `\Deleted`)
	w.ok("EXAMINE INBOX")
	w.ok("SELECT INBOX")
	w.ok("CLOSE")
	u = w.ok("STATUS INBOX (MESSAGES)")
	if !wireHas(u, `* STATUS INBOX (MESSAGES 1)`) {
		t.Fatalf("after EXAMINE, SELECT, CLOSE: %q", u)
	}
}

// TestMoveIntoSelected checks COPY and MOVE into the selected mailbox:
// COPYUID names new UIDs, MOVE expunges the old ones, and the client is
// told of both.
func TestMoveIntoSelected(t *testing.T) {
	e := newTestEnv(t)
	e.deliver(t, "INBOX", msg("one", "bob@example.org", "1"), `\Flagged`)
	e.deliver(t, "INBOX", msg("two", "bob@example.org", "2"))
	w := e.loginWire(t)
	w.ok("SELECT INBOX")
	u, st := w.cmd("UID MOVE 1 INBOX")
	if !strings.HasPrefix(st, "OK") {
		t.Fatalf("UID MOVE: %s", st)
	}
	// COPYUID maps 1 to 3; then the expunge of 1 and the count with 3,
	// which is new to the mailbox and so \Recent (RFC 3501 §6.4.7).
	if len(u) != 4 || copyUID(u[0]) != "1 3" || u[1] != "* 1 EXPUNGE" || u[2] != "* 2 EXISTS" || u[3] != "* 2 RECENT" {
		t.Fatalf("UID MOVE answer: %q", u)
	}
	u = w.ok("FETCH 1:* (UID FLAGS)")
	if len(u) != 2 || u[0] != `* 1 FETCH (UID 2 FLAGS (\Recent))` || u[1] != `* 2 FETCH (UID 3 FLAGS (\Flagged \Recent))` {
		t.Fatalf("after MOVE: %q", u)
	}
	u, st = w.cmd("COPY 1 INBOX")
	if copyUID(st) != "2 4" || !wireHas(u, "* 3 EXISTS") {
		t.Fatalf("COPY: %s %q", st, u)
	}
	u = w.ok("UID FETCH 1:* (FLAGS)")
	if len(u) != 3 {
		t.Fatalf("messages after COPY: %q", u)
	}
}

// copyUID returns the source and destination sets of a COPYUID response
// code in line, without the UIDVALIDITY.
func copyUID(line string) string {
	i := strings.Index(line, "[COPYUID ")
	if i < 0 {
		return ""
	}
	f := strings.Fields(line[i+len("[COPYUID "):])
	if len(f) < 3 || !strings.HasSuffix(f[2], "]") {
		return ""
	}
	return f[1] + " " + strings.TrimSuffix(f[2], "]")
}

// TestInvalidUTF7Names checks that a mailbox name that is not valid
// modified UTF-7 gets BAD with a reason in every command that takes one,
// and that the session goes on.
func TestInvalidUTF7Names(t *testing.T) {
	e := newTestEnv(t)
	e.deliver(t, "INBOX", msg("one", "bob@example.org", "1"))
	w := e.loginWire(t)
	w.ok("SELECT INBOX")
	for _, name := range []string{"a&b", "&Jjo", "&AGE-", "x&ZeVnLIqe"} {
		for _, c := range []string{
			"CREATE %q", "SELECT %q", "EXAMINE %q", "DELETE %q", "RENAME %q Other", "RENAME INBOX/x %q",
			"STATUS %q (MESSAGES)", "SUBSCRIBE %q", "COPY 1 %q", "MOVE 1 %q", "UID MOVE 1 %q",
		} {
			command := fmt.Sprintf(c, name)
			u, st := w.cmd(command)
			if !strings.HasPrefix(st, "BAD") || !strings.Contains(st, "modified UTF-7") {
				t.Errorf("%s: %s %q", command, st, u)
			}
			if strings.HasPrefix(command, "SELECT") || strings.HasPrefix(command, "EXAMINE") {
				w.ok("SELECT INBOX")
			}
		}
		// A non-synchronizing literal after the bad name is skipped, not
		// read as commands.
		body := "Subject: x\r\n\r\nNOOP\r\n"
		u, st := w.cmd(fmt.Sprintf("APPEND %q {%d+}\r\n%s", name, len(body), body))
		if !strings.HasPrefix(st, "BAD") || !strings.Contains(st, "modified UTF-7") || len(u) != 0 {
			t.Errorf("APPEND %s: %s %q", name, st, u)
		}
	}
	u := w.ok("FETCH 1 (UID)")
	if len(u) != 1 || u[0] != "* 1 FETCH (UID 1)" {
		t.Fatalf("session after bad names: %q", u)
	}
	// Valid modified UTF-7 still works and comes back the same.
	w.ok(`CREATE "&ZeVnLIqe-"`)
	u = w.ok(`LIST "" "&ZeVnLIqe-"`)
	if len(u) != 1 || !strings.HasSuffix(u[0], ` "/" "&ZeVnLIqe-"`) && !strings.HasSuffix(u[0], ` "/" &ZeVnLIqe-`) {
		t.Fatalf("LIST of a UTF-7 name: %q", u)
	}
}
