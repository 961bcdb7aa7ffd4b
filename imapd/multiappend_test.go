package imapd

import (
	"fmt"
	"strings"
	"testing"
)

// TestMultiAppend sends several messages in one APPEND (RFC 3502), with
// synchronizing literals (waiting for each "+") and LITERAL+ ones.
func TestMultiAppend(t *testing.T) {
	e := newTestEnv(t)
	r := dialRaw(t, e)
	if untagged, _ := r.cmd("c", "CAPABILITY"); !strings.Contains(only(t, untagged, "* CAPABILITY"), " MULTIAPPEND") {
		t.Errorf("capabilities: %q", untagged)
	}
	one := "Subject: one\r\n\r\nfirst\r\n"
	two := "Subject: two\r\n\r\nsecond\r\n"
	three := "Subject: three\r\n\r\nthird\r\n"

	// Synchronizing literals: each waits for the server's go-ahead.
	r.send(fmt.Sprintf("a APPEND Drafts (\\Seen) {%d}\r\n", len(one)))
	if l := r.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("want a continuation, got %s", l)
	}
	r.send(fmt.Sprintf("%s (\\Draft) \"05-Mar-2024 10:00:00 +0000\" {%d}\r\n", one, len(two)))
	if l := r.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("want a continuation, got %s", l)
	}
	r.send(two + "\r\n")
	_, done := r.until("a")
	if !strings.HasPrefix(done, "a OK [APPENDUID ") || !strings.HasSuffix(strings.Fields(done)[4], "1:2]") {
		t.Fatalf("MULTIAPPEND: %s", done)
	}

	// LITERAL+: all in one go, a third message after them.
	r.send(fmt.Sprintf("b APPEND Drafts {%d+}\r\n%s {%d+}\r\n%s\r\n", len(one), one, len(three), three))
	if _, done := r.until("b"); !strings.Contains(done, "3:4]") {
		t.Fatalf("MULTIAPPEND with LITERAL+: %s", done)
	}

	r.cmd("s", "SELECT Drafts")
	untagged, _ := r.cmd("f", "FETCH 1:* (FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
	got := strings.Join(untagged, "\n")
	for _, want := range []string{
		`FLAGS (\Seen \Recent) INTERNALDATE`, `FLAGS (\Draft \Recent) INTERNALDATE " 5-Mar-2024 10:00:00 +0000"`,
		"Subject: one", "Subject: two", "Subject: three", "* 4 FETCH",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("FETCH after MULTIAPPEND lacks %q:\n%s", want, got)
		}
	}
}

// TestMultiAppendAllOrNone: when the second message fails, the first is
// not stored either.
func TestMultiAppendAllOrNone(t *testing.T) {
	e := newTestEnv(t)
	r := dialRaw(t, e)
	one := "Subject: one\r\n\r\nfirst\r\n"
	count := func() string {
		untagged, _ := r.cmd("st", "STATUS Drafts (MESSAGES)")
		return only(t, untagged, "* STATUS")
	}

	// A syntax error in the second message's date: the client is told
	// before it sends that message.
	r.send(fmt.Sprintf("a APPEND Drafts {%d+}\r\n%s \"31-Foo-2024 10:00:00 +0000\" {%d}\r\n", len(one), one, len(one)))
	if untagged, done := r.until("a"); !strings.HasPrefix(done, "a BAD") {
		t.Errorf("bad date in the second message: %q %s", untagged, done)
	}
	// The second message is too big: refused before it is sent.
	r.send(fmt.Sprintf("b APPEND Drafts {%d}\r\n", len(one)))
	r.line()
	r.send(fmt.Sprintf("%s {%d}\r\n", one, 1<<30))
	if _, done := r.until("b"); !strings.HasPrefix(done, "b NO [TOOBIG]") {
		t.Errorf("too big second message: %s", done)
	}
	// Into a mailbox that does not exist.
	r.send(fmt.Sprintf("c APPEND Nowhere {%d+}\r\n%s {%d+}\r\n%s\r\n", len(one), one, len(one), one))
	if _, done := r.until("c"); !strings.HasPrefix(done, "c NO [TRYCREATE]") {
		t.Errorf("MULTIAPPEND to a missing mailbox: %s", done)
	}
	if got := count(); got != `* STATUS "Drafts" (MESSAGES 0)` {
		t.Errorf("after failed MULTIAPPENDs: %s", got)
	}
	// The connection is still in step.
	if _, done := r.cmd("n", "NOOP"); !strings.HasPrefix(done, "n OK") {
		t.Errorf("NOOP: %s", done)
	}
}

// FuzzMultiAppend sends two-message APPENDs with any flags and dates
// before each literal: every one gets a tagged OK, NO or BAD, never a
// server error, and the connection stays in step. Literals are
// synchronizing, so a refused message is never sent.
func FuzzMultiAppend(f *testing.F) {
	f.Add(`(\Seen) `, []byte("Subject: a\r\n\r\nx"), `"05-Mar-2024 10:00:00 +0000" `, []byte("Subject: b\r\n\r\ny"))
	f.Add(``, []byte("x"), `(\Draft $Label) "31-Foo-2024 10:00:00 +0000" `, []byte("y"))
	f.Add(`UTF8 (~`, []byte("x"), `(`, []byte(""))
	f.Add(`() `, []byte(""), `"" `, []byte("\x00"))
	e := newTestEnv(f)
	r := dialRaw(f, e)
	f.Fuzz(func(t *testing.T, args1 string, body1 []byte, args2 string, body2 []byte) {
		if strings.ContainsAny(args1+args2, "\r\n{") {
			return
		}
		r.t = t
		steps := []string{
			"z APPEND Drafts " + args1 + fmt.Sprintf("{%d}\r\n", len(body1)),
			string(body1) + " " + args2 + fmt.Sprintf("{%d}\r\n", len(body2)),
			string(body2) + "\r\n",
		}
		var done string
		for _, step := range steps {
			r.send(step)
			if l := r.line(); !strings.HasPrefix(l, "+") {
				done = l
				break
			}
		}
		if done == "" {
			_, done = r.until("z")
		}
		if !strings.HasPrefix(done, "z OK") && !strings.HasPrefix(done, "z NO") && !strings.HasPrefix(done, "z BAD") ||
			strings.Contains(done, "SERVERBUG") {
			t.Fatalf("%q: %s", steps, done)
		}
		if _, done := r.cmd("n", "NOOP"); !strings.HasPrefix(done, "n OK") {
			t.Fatalf("after %q: NOOP: %s", steps, done)
		}
	})
}
