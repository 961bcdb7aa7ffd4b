package imapd

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// FuzzCondStoreWire sends random CONDSTORE and QRESYNC parameters to a
// live server: every answer is OK, NO or BAD, never a SERVERBUG, and the
// connection keeps working.
func FuzzCondStoreWire(f *testing.F) {
	for _, s := range []string{
		"1 2", "1 2 1:*", "1 2 1:5 (1:2 3,4)", "1 2 (1 2)", "4294967295 18446744073709551615 1:4294967295",
		"CHANGEDSINCE 1 VANISHED", "UNCHANGEDSINCE 0", "CHANGEDSINCE 18446744073709551615",
	} {
		f.Add(s)
	}
	e := newTestEnv(f)
	for i := 0; i < 5; i++ {
		e.deliver(f, "INBOX", msg(fmt.Sprintf("message %d", i), "bob@example.org", "body"))
	}
	conn, err := net.Dial("tcp", e.addr)
	if err != nil {
		f.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	n := 0
	run := func(t testing.TB, cmd string) string {
		n++
		tag := fmt.Sprintf("f%d", n)
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := fmt.Fprintf(conn, "%s %s\r\n", tag, cmd); err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		for {
			ln, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("%s: connection lost: %v", cmd, err)
			}
			if strings.HasPrefix(ln, tag+" ") {
				return strings.TrimSpace(ln[len(tag)+1:])
			}
		}
	}
	if _, err := r.ReadString('\n'); err != nil {
		f.Fatal(err)
	}
	run(f, fmt.Sprintf("LOGIN %s %q", testUser, testPass))
	run(f, "ENABLE QRESYNC")
	f.Fuzz(func(t *testing.T, p string) {
		if strings.ContainsAny(p, "\r\n{") {
			t.Skip("line breaks and literals are not parameters")
		}
		for _, cmd := range []string{
			"SELECT INBOX (QRESYNC (" + p + "))",
			"EXAMINE INBOX (" + p + ")",
			"SELECT INBOX",
			"UID FETCH 1:* (FLAGS) (" + p + ")",
			"FETCH 1:* (FLAGS) (" + p + ")",
			"STORE 1:* (" + p + ") +FLAGS (\\Seen)",
			"SEARCH MODSEQ " + p,
			"STATUS INBOX (HIGHESTMODSEQ " + p + ")",
		} {
			got := run(t, cmd)
			if strings.Contains(got, "SERVERBUG") || !(strings.HasPrefix(got, "OK") || strings.HasPrefix(got, "NO") || strings.HasPrefix(got, "BAD")) {
				t.Fatalf("%q: %s", cmd, got)
			}
		}
		if got := run(t, "NOOP"); !strings.HasPrefix(got, "OK") {
			t.Fatalf("NOOP after %q: %s", p, got)
		}
	})
}
