package imapserver

import (
	"reflect"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
)

var addressListTests = []struct {
	in   string
	want []imap.Address
}{
	{"alice@example.com", []imap.Address{{Mailbox: "alice", Host: "example.com"}}},
	{`"Alice Liddell" <alice@example.com>, bob@example.org`, []imap.Address{
		{Name: "Alice Liddell", Mailbox: "alice", Host: "example.com"},
		{Mailbox: "bob", Host: "example.org"},
	}},
	{"undisclosed-recipients:;", []imap.Address{{Mailbox: "undisclosed-recipients"}, {}}},
	{"Team: a@x.example, Bob <b@y.example>;, c@z.example", []imap.Address{
		{Mailbox: "Team"},
		{Mailbox: "a", Host: "x.example"},
		{Name: "Bob", Mailbox: "b", Host: "y.example"},
		{},
		{Mailbox: "c", Host: "z.example"},
	}},
	{"<@route1,@route2:user@domain.example>", []imap.Address{
		{ADL: "@route1,@route2", Mailbox: "user", Host: "domain.example"},
	}},
	{"Joe <@a.example, ,@b.example : joe@c.example>", []imap.Address{
		{Name: "Joe", ADL: "@a.example,@b.example", Mailbox: "joe", Host: "c.example"},
	}},
	{"John (the boss) <j@x.example>", []imap.Address{{Name: "John", Mailbox: "j", Host: "x.example"}}},
	{"j@x.example (John Q. (Jr) Public)", []imap.Address{{Name: "John Q. (Jr) Public", Mailbox: "j", Host: "x.example"}}},
	{`"john doe"@x.example`, []imap.Address{{Mailbox: `"john doe"`, Host: "x.example"}}},
	{`"john"@x.example`, []imap.Address{{Mailbox: "john", Host: "x.example"}}},
	{`"a\"b"@x.example`, []imap.Address{{Mailbox: `"a\"b"`, Host: "x.example"}}},
	{"=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>", []imap.Address{
		{Name: "André Pirard", Mailbox: "PIRARD", Host: "vm1.ulg.ac.be"},
	}},
	{"=?UTF-8?B?w4lxdWlwZQ==?=: =?utf-8?q?J=C3=B6rg?= <j@x.example>;", []imap.Address{
		{Mailbox: "Équipe"},
		{Name: "Jörg", Mailbox: "j", Host: "x.example"},
		{},
	}},
	{"Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>", []imap.Address{
		{Name: "Mary Smith", Mailbox: "mary", Host: "x.test"},
		{Mailbox: "jdoe", Host: "example.org"},
		{Name: "Who?", Mailbox: "one", Host: "y.test"},
	}},
	{"a@x.example,, ,b@y.example", []imap.Address{
		{Mailbox: "a", Host: "x.example"},
		{Mailbox: "b", Host: "y.example"},
	}},
	{"user@[192.0.2.1]", []imap.Address{{Mailbox: "user", Host: "[192.0.2.1]"}}},
	{"Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>", []imap.Address{
		{Name: "Pete", Mailbox: "pete", Host: "silly.test"},
	}},
	{"A Group(Some people):Chris Jones <c@(Chris's host.)public.example>, joe@example.org, John <jdoe@one.test> (my dear friend); (the end of the group)", []imap.Address{
		{Mailbox: "A Group"},
		{Name: "Chris Jones", Mailbox: "c", Host: "public.example"},
		{Mailbox: "joe", Host: "example.org"},
		{Name: "John", Mailbox: "jdoe", Host: "one.test"},
		{},
	}},
	{"root, <broken, good@x.example", []imap.Address{{Mailbox: "good", Host: "x.example"}}},
	{"Empty:;, Other: o@x.example;", []imap.Address{
		{Mailbox: "Empty"}, {}, {Mailbox: "Other"}, {Mailbox: "o", Host: "x.example"}, {},
	}},
	{`"": a@x.example;`, []imap.Address{{Mailbox: "a", Host: "x.example"}}},
	{"john@x.example <john@x.example>", []imap.Address{{Name: "john@x.example", Mailbox: "john", Host: "x.example"}}},
	{"a@x.example; b@y.example", []imap.Address{{Mailbox: "a", Host: "x.example"}, {Mailbox: "b", Host: "y.example"}}},
	{"", nil},
}

func TestParseAddressList(t *testing.T) {
	for _, tc := range addressListTests {
		got := ParseAddressList(tc.in)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseAddressList(%q) =\n  %#v\nwant\n  %#v", tc.in, got, tc.want)
		}
	}
}

// FuzzParseAddressList: any input parses without panic, and group markers
// come in pairs.
func FuzzParseAddressList(f *testing.F) {
	for _, tc := range addressListTests {
		f.Add(tc.in)
	}
	f.Add("(((((")
	f.Add(`"unterminated <a@b`)
	f.Add("G: <@a:b@c>, (x) d@[e;")
	f.Fuzz(func(t *testing.T, s string) {
		depth := 0
		for _, a := range ParseAddressList(s) {
			switch {
			case a.IsGroupStart():
				if depth != 0 {
					t.Fatalf("nested group in %q", s)
				}
				depth++
			case a.IsGroupEnd():
				if depth != 1 {
					t.Fatalf("group end without start in %q", s)
				}
				depth--
			case strings.ContainsAny(a.Host, " \t\r\n"):
				t.Fatalf("white space in host %q of %q", a.Host, s)
			}
			for _, f := range []string{a.Name, a.ADL, a.Mailbox, a.Host} {
				if strings.ContainsAny(f, "\x00\r\n") && !strings.Contains(s, "=?") {
					t.Fatalf("NUL, CR or LF in %q of %q", f, s)
				}
			}
		}
		if depth != 0 {
			t.Fatalf("unterminated group in %q", s)
		}
	})
}
