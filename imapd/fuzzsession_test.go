package imapd

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// FuzzSessionCommands sends logged-in sessions arbitrary command lines and
// checks that none gets SERVERBUG and that the server goes on serving:
// bad input is the client's error (ID lists, mailbox names, literals
// after a rejected command, keywords, subscriptions).
func FuzzSessionCommands(f *testing.F) {
	for _, s := range []string{
		"a ID NIL\r\n",
		"a ID (\"name\" \"x\" \"version\" NIL)\r\n",
		"a ID (\"name\")\r\n",
		"a ID ({4}\r\nname \"x\")\r\n",
		"a CREATE \"a&b\"\r\n",
		"a APPEND \"&Jjo\" {5+}\r\nb NOOP\r\n",
		"a SELECT INBOX\r\nb STORE 1 +FLAGS (New)\r\nc UID MOVE 1 INBOX\r\n",
		"a EXAMINE INBOX\r\nb CLOSE\r\n",
		"a SUBSCRIBE x/y\r\nb LSUB \"\" %\r\nc LIST (SUBSCRIBED RECURSIVEMATCH) \"\" %\r\n",
		"a SELECT INBOX\r\nb SEARCH NEW\r\nc SEARCH OLD RECENT\r\nd STATUS INBOX (RECENT)\r\n",
		"a RENAME \"&AGE-\" x\r\nb XFOO\r\n",
	} {
		f.Add([]byte(s))
	}
	e := newTestEnv(f)
	e.deliver(f, "INBOX", msg("one", "bob@example.org", "1"))
	f.Fuzz(func(t *testing.T, in []byte) {
		conn, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(20 * time.Second))
		fmt.Fprintf(conn, "l LOGIN %q %q\r\n", testUser, testPass)
		conn.Write(in)
		conn.Write([]byte("\r\nzz LOGOUT\r\n"))
		conn.(*net.TCPConn).CloseWrite()
		out, _ := io.ReadAll(conn)
		if bytes.Contains(out, []byte("SERVERBUG")) {
			t.Fatalf("SERVERBUG for %q:\n%s", in, out)
		}
		c := dialWire(t, e.addr)
		c.ok("NOOP")
	})
}
