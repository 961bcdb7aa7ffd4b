package imapd

import (
	"strings"
	"testing"
)

// TestSubscriptions walks a table of commands and the exact LIST and LSUB
// answers RFC 3501 §6.3.9, RFC 5258 and RFC 9051 §6.3.7 call for, with
// subscriptions kept as names apart from the mailboxes.
func TestSubscriptions(t *testing.T) {
	e := newTestEnv(t)
	w := e.loginWire(t)
	steps := []struct {
		cmd  string
		want []string // every untagged line, in order; nil for none
	}{
		// CREATE does not subscribe.
		{`CREATE Work`, nil},
		{`LSUB "" Work`, nil},
		{`LIST (SUBSCRIBED) "" Work`, nil},
		{`LIST "" Work RETURN (SUBSCRIBED)`, []string{`* LIST (\HasNoChildren) "/" "Work"`}},
		// A subscribed child under an unsubscribed parent.
		{`CREATE Projects/Alpha`, nil},
		{`SUBSCRIBE Projects/Alpha`, nil},
		{`LSUB "" Projects`, []string{`* LSUB (\Noselect \HasChildren) "/" "Projects"`}},
		{`LSUB "" Projects/%`, []string{`* LSUB (\HasNoChildren) "/" "Projects/Alpha"`}},
		{`LSUB "" Projects*`, []string{`* LSUB (\HasNoChildren) "/" "Projects/Alpha"`}},
		{`LIST (SUBSCRIBED) "" Projects`, nil},
		{`LIST (SUBSCRIBED RECURSIVEMATCH) "" Projects`, []string{`* LIST (\HasChildren) "/" "Projects" (CHILDINFO ("SUBSCRIBED"))`}},
		{`LIST (SUBSCRIBED RECURSIVEMATCH) "" Projects*`, []string{`* LIST (\Subscribed \HasNoChildren) "/" "Projects/Alpha"`}},
		{`LIST (SUBSCRIBED) "" Projects/%`, []string{`* LIST (\Subscribed \HasNoChildren) "/" "Projects/Alpha"`}},
		// A subscribed parent with a subscribed child beyond the pattern.
		{`SUBSCRIBE Projects`, nil},
		{`LIST (SUBSCRIBED RECURSIVEMATCH) "" Projects`, []string{`* LIST (\Subscribed \HasChildren) "/" "Projects" (CHILDINFO ("SUBSCRIBED"))`}},
		{`LSUB "" Projects`, []string{`* LSUB (\HasChildren) "/" "Projects"`}},
		{`UNSUBSCRIBE Projects`, nil},
		// DELETE keeps the subscription.
		{`SUBSCRIBE Work`, nil},
		{`DELETE Work`, nil},
		{`LIST "" Work`, nil},
		{`LIST (SUBSCRIBED) "" Work`, []string{`* LIST (\NonExistent \Subscribed) "/" "Work"`}},
		{`LSUB "" Work`, []string{`* LSUB (\Noselect) "/" "Work"`}},
		// A subscription to a name no mailbox has yet.
		{`SUBSCRIBE Later`, nil},
		{`LIST (SUBSCRIBED) "" L*`, []string{`* LIST (\NonExistent \Subscribed) "/" "Later"`}},
		{`CREATE Later`, nil},
		{`LIST (SUBSCRIBED) "" L*`, []string{`* LIST (\Subscribed \HasNoChildren) "/" "Later"`}},
		// RENAME takes the subscriptions of the mailbox and its children.
		{`RENAME Projects Clients`, nil},
		{`LIST (SUBSCRIBED) "" *`, []string{
			`* LIST (\Subscribed \HasNoChildren) "/" INBOX`,
			`* LIST (\Subscribed \Archive \HasNoChildren) "/" "Archive"`,
			`* LIST (\Subscribed \HasNoChildren) "/" "Clients/Alpha"`,
			`* LIST (\Subscribed \Drafts \HasNoChildren) "/" "Drafts"`,
			`* LIST (\Subscribed \Junk \HasNoChildren) "/" "Junk"`,
			`* LIST (\Subscribed \HasNoChildren) "/" "Later"`,
			`* LIST (\Subscribed \Sent \HasNoChildren) "/" "Sent"`,
			`* LIST (\Subscribed \Trash \HasNoChildren) "/" "Trash"`,
			`* LIST (\NonExistent \Subscribed) "/" "Work"`,
		}},
		{`UNSUBSCRIBE Work`, nil},
		{`LSUB "" W*`, nil},
	}
	for _, s := range steps {
		u, st := w.cmd(s.cmd)
		if !strings.HasPrefix(st, "OK") {
			t.Errorf("%s: %s", s.cmd, st)
			continue
		}
		if strings.Join(u, "\n") != strings.Join(s.want, "\n") {
			t.Errorf("%s:\n got: %s\nwant: %s", s.cmd, strings.Join(u, "\n      "), strings.Join(s.want, "\n      "))
		}
	}
	if _, st := w.cmd(`UNSUBSCRIBE Work`); !strings.HasPrefix(st, "NO [NONEXISTENT]") {
		t.Errorf("UNSUBSCRIBE of a name not subscribed: %s", st)
	}
}
