package imapd

import (
	"fmt"
	"strings"
	"testing"
)

// envelopeTests are address fields and the ENVELOPE the server must send
// for them (RFC 9051 §7.5.2, RFC 5322 §3.4 and §4.4). Each answer is
// written out by hand from the RFCs: a group is a start marker
// (NIL NIL "name" NIL), its members and an end marker (NIL NIL NIL NIL);
// a source route goes in the second field (adl); comments are not part of
// a display name, but name a mailbox that has none.
var envelopeTests = []struct {
	name, from, to, cc string
	want               string
}{
	{
		name: "plain",
		from: `"Bob Smith" <bob@example.org>`, to: "alice@example.com",
		want: `("Sun, 10 Mar 2024 12:00:00 +0000" "plain" (("Bob Smith" NIL "bob" "example.org")) (("Bob Smith" NIL "bob" "example.org")) (("Bob Smith" NIL "bob" "example.org")) ((NIL NIL "alice" "example.com")) NIL NIL NIL "<plain@example.org>")`,
	},
	{
		name: "undisclosed",
		from: "bob@example.org", to: "undisclosed-recipients:;",
		want: `("Sun, 10 Mar 2024 12:00:00 +0000" "undisclosed" ((NIL NIL "bob" "example.org")) ((NIL NIL "bob" "example.org")) ((NIL NIL "bob" "example.org")) ((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) NIL NIL NIL "<undisclosed@example.org>")`,
	},
	{
		name: "group",
		from: "bob@example.org", to: "Team: a@x.example, Bea <b@y.example>;, carol@example.net",
		cc:   "Empty:;",
		want: `("Sun, 10 Mar 2024 12:00:00 +0000" "group" ((NIL NIL "bob" "example.org")) ((NIL NIL "bob" "example.org")) ((NIL NIL "bob" "example.org")) ((NIL NIL "Team" NIL)(NIL NIL "a" "x.example")("Bea" NIL "b" "y.example")(NIL NIL NIL NIL)(NIL NIL "carol" "example.net")) ((NIL NIL "Empty" NIL)(NIL NIL NIL NIL)) NIL NIL "<group@example.org>")`,
	},
	{
		name: "route",
		from: "<@route1,@route2:user@domain.example>", to: "Joe <@relay.example:joe@example.com>",
		want: `("Sun, 10 Mar 2024 12:00:00 +0000" "route" ((NIL "@route1,@route2" "user" "domain.example")) ((NIL "@route1,@route2" "user" "domain.example")) ((NIL "@route1,@route2" "user" "domain.example")) (("Joe" "@relay.example" "joe" "example.com")) NIL NIL NIL "<route@example.org>")`,
	},
	{
		name: "comments",
		from: "John (the boss) <j@x.example>", to: "j2@x.example (John Two), Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
		want: `("Sun, 10 Mar 2024 12:00:00 +0000" "comments" (("John" NIL "j" "x.example")) (("John" NIL "j" "x.example")) (("John" NIL "j" "x.example")) (("John Two" NIL "j2" "x.example")("Pete" NIL "pete" "silly.test")) NIL NIL NIL "<comments@example.org>")`,
	},
	{
		name: "quoted",
		from: `"john doe"@x.example`, to: `"plain"@x.example, "Doe, Jane" <jane@x.example>`,
		want: `("Sun, 10 Mar 2024 12:00:00 +0000" "quoted" ((NIL NIL "\"john doe\"" "x.example")) ((NIL NIL "\"john doe\"" "x.example")) ((NIL NIL "\"john doe\"" "x.example")) ((NIL NIL "plain" "x.example")("Doe, Jane" NIL "jane" "x.example")) NIL NIL NIL "<quoted@example.org>")`,
	},
	{
		// Encoded words are decoded, then sent again as UTF-8 Q encoding.
		name: "encoded",
		from: "=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>", to: "=?UTF-8?B?w4lxdWlwZQ==?=: =?utf-8?q?J=C3=B6rg?= <j@x.example>;",
		want: `("Sun, 10 Mar 2024 12:00:00 +0000" "encoded" (("=?utf-8?q?Andr=C3=A9_Pirard?=" NIL "PIRARD" "vm1.ulg.ac.be")) (("=?utf-8?q?Andr=C3=A9_Pirard?=" NIL "PIRARD" "vm1.ulg.ac.be")) (("=?utf-8?q?Andr=C3=A9_Pirard?=" NIL "PIRARD" "vm1.ulg.ac.be")) ((NIL NIL "=?utf-8?q?=C3=89quipe?=" NIL)("=?utf-8?q?J=C3=B6rg?=" NIL "j" "x.example")(NIL NIL NIL NIL)) NIL NIL NIL "<encoded@example.org>")`,
	},
}

func envelopeMessage(name, from, to, cc string) string {
	h := fmt.Sprintf("From: %s\r\nTo: %s\r\n", from, to)
	if cc != "" {
		h += "Cc: " + cc + "\r\n"
	}
	return h + fmt.Sprintf("Subject: %s\r\nDate: Sun, 10 Mar 2024 12:00:00 +0000\r\nMessage-ID: <%s@example.org>\r\n\r\nbody\r\n", name, name)
}

// TestEnvelopeAddresses checks ENVELOPE byte for byte, for a message and
// for the same message attached as message/rfc822 (whose BODYSTRUCTURE
// carries its envelope).
func TestEnvelopeAddresses(t *testing.T) {
	e := newTestEnv(t)
	uids := map[string]uint32{}
	for _, tc := range envelopeTests {
		raw := envelopeMessage(tc.name, tc.from, tc.to, tc.cc)
		uids[tc.name] = e.deliver(t, "INBOX", raw)
		uids[tc.name+"/attached"] = e.deliver(t, "INBOX", "From: fwd@example.org\r\nSubject: fwd\r\n"+
			"Content-Type: message/rfc822\r\n\r\n"+raw)
	}
	w := e.dialWire(t)
	w.ok("SELECT INBOX")
	for _, tc := range envelopeTests {
		got := w.ok(fmt.Sprintf("UID FETCH %d ENVELOPE", uids[tc.name]))
		want := fmt.Sprintf("FETCH (UID %d ENVELOPE %s)", uids[tc.name], tc.want)
		if len(got) != 1 || !strings.HasSuffix(got[0], want) {
			t.Errorf("%s: got\n  %q\nwant\n  * N %s", tc.name, got, want)
		}
		got = w.ok(fmt.Sprintf("UID FETCH %d BODYSTRUCTURE", uids[tc.name+"/attached"]))
		if len(got) != 1 || !strings.Contains(got[0], `("message" "rfc822" NIL NIL NIL "7bit" `) || !strings.Contains(got[0], " "+tc.want+" ") {
			t.Errorf("%s attached: got\n  %q\nwant its envelope\n  %s", tc.name, got, tc.want)
		}
	}
}

// TestSearchAddresses: FROM, TO, CC and BCC find group members, group
// names, display names (encoded words decoded) and comments.
func TestSearchAddresses(t *testing.T) {
	e := newTestEnv(t)
	for _, tc := range envelopeTests {
		e.deliver(t, "INBOX", envelopeMessage(tc.name, tc.from, tc.to, tc.cc))
	}
	e.deliver(t, "INBOX", "From: x@example.org\r\nBcc: Hidden: h@secret.example;\r\nSubject: bcc\r\n\r\nbody\r\n")
	// Sequence numbers follow envelopeTests: plain 1, undisclosed 2,
	// group 3, route 4, comments 5, quoted 6, encoded 7, bcc 8.
	for _, tc := range []struct{ key, want string }{
		{`TO "b@y.example"`, "3"},
		{`TO "Bea"`, "3"},
		{`TO "Team"`, "3"},
		{`TO "carol@example.net"`, "3"},
		{`CC "Empty"`, "3"},
		{`TO "undisclosed-recipients"`, "2"},
		{`FROM "user@domain.example"`, "4"},
		{`TO "joe@example.com"`, "4"},
		{`FROM "the boss"`, "5"},
		{`TO "John Two"`, "5"},
		{`FROM "john doe"`, "6"},
		{`TO "Doe, Jane"`, "6"},
		{`FROM "pirard"`, "7"},
		// 8-bit text goes in a literal (RFC 9051 §4.3); LITERAL+ spares the
		// continuation request.
		{"CHARSET UTF-8 FROM {6+}\r\nAndr\xc3\xa9", "7"},
		{"CHARSET UTF-8 TO {5+}\r\nJ\xc3\xb6rg", "7"},
		{"CHARSET UTF-8 TO {7+}\r\n\xc3\x89quipe", "7"},
		{`BCC "h@secret.example"`, "8"},
		{`BCC "Hidden"`, "8"},
		{`TO "nobody@example.com"`, ""},
	} {
		got, status := e.searchWire(t, tc.key)
		if !strings.HasPrefix(status, "OK") || got != tc.want {
			t.Errorf("SEARCH %s = %q (%s), want %q", tc.key, got, status, tc.want)
		}
	}
}

func (e *testEnv) searchWire(t *testing.T, key string) (string, string) {
	t.Helper()
	w := e.dialWire(t)
	w.ok("SELECT INBOX")
	untagged, status := w.cmd("SEARCH " + key)
	var nums []string
	for _, u := range untagged {
		if rest, ok := strings.CutPrefix(u, "* SEARCH"); ok {
			nums = append(nums, strings.Fields(rest)...)
		}
	}
	return strings.Join(nums, " "), status
}
