package imapd

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"frontdesk/store"
)

// FuzzBaseSubject: the base subject is normalized (no space at either
// end, none doubled), no longer than the subject, and its own base.
func FuzzBaseSubject(f *testing.F) {
	for _, s := range []string{"Re: [list] Fwd: hello (fwd)", "[fwd: Re: x]", "[a][b] re [c]: y", "  tabs\tand\r\n folds ",
		"[only a blob]", "Re:", "fw: [fwd: [x]]", "\xff\xfe[", "Reply: not a reply"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, subject string) {
		base, _ := baseSubject(subject)
		if strings.HasPrefix(base, " ") || strings.HasSuffix(base, " ") || strings.Contains(base, "  ") {
			t.Fatalf("baseSubject(%q) = %q, not normalized", subject, base)
		}
		if len(base) > len(subject) {
			t.Fatalf("baseSubject(%q) = %q, longer", subject, base)
		}
		if again, _ := baseSubject(base); again != base {
			t.Fatalf("baseSubject(%q) = %q, but that gives %q", subject, base, again)
		}
	})
}

// FuzzThreadReferences builds mailboxes of messages that refer to each
// other at random, loops and duplicates included: every message comes out
// in exactly one place, and a missing message stands only at the root,
// above two threads or more.
func FuzzThreadReferences(f *testing.F) {
	f.Add([]byte("\x01\x02\x03\x04\x05\x06\x07\x08\x09"))
	f.Add([]byte("aaaabbbbccccddddeeee"))
	f.Add([]byte("\x00\x00\x00\x00\x01\x01\x01\x01\x02\x01\x00\x02"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var msgs []sortMsg
		for i := 0; i+3 < len(data) && len(msgs) < 64; i += 4 {
			id, nrefs, subj, date := data[i]%8, data[i+1]%4, data[i+2]%4, data[i+3]
			sum := &store.Summary{
				MessageID: fmt.Sprintf("m%d", id),
				Subject:   []string{"", "hello", "Re: hello", "[fwd: hello]"}[subj],
				Date:      time.Unix(int64(date%16)*3600, 0),
			}
			for r := 0; r < int(nrefs); r++ {
				sum.References = append(sum.References, fmt.Sprintf("m%d", (int(id)+r+int(date))%9))
			}
			if nrefs == 0 && date%3 == 0 {
				sum.InReplyTo = fmt.Sprintf("m%d", date%9)
			}
			n := uint32(len(msgs) + 1)
			msgs = append(msgs, sortMsg{seq: n, uid: n, m: &store.Message{UID: n}, sum: sum})
		}
		threads := threadReferences(msgs, imapserver.NumKindSeq)
		seen := map[uint32]int{}
		var walk func(d imap.ThreadData, root bool)
		walk = func(d imap.ThreadData, root bool) {
			if len(d.Chain) == 0 && (!root || len(d.SubThreads) < 2) {
				t.Fatalf("a missing message that is not a root above two threads: %+v", threads)
			}
			for _, n := range d.Chain {
				seen[n]++
			}
			for _, s := range d.SubThreads {
				walk(s, false)
			}
		}
		for _, d := range threads {
			walk(d, true)
		}
		for i := range msgs {
			if seen[uint32(i+1)] != 1 {
				t.Fatalf("message %d appears %d times in %+v", i+1, seen[uint32(i+1)], threads)
			}
		}
		if len(seen) != len(msgs) {
			t.Fatalf("%d numbers for %d messages", len(seen), len(msgs))
		}
	})
}

// FuzzSortThreadCommand sends SORT, THREAD and ESORT lines of any shape to
// a live session over the fixture mailbox: each gets a tagged OK, NO or
// BAD, never a server error, and the connection stays usable.
func FuzzSortThreadCommand(f *testing.F) {
	for _, s := range []string{"SORT (DATE) UTF-8 ALL", "UID SORT (REVERSE SUBJECT FROM) US-ASCII OR SEEN 1:3",
		"SORT RETURN (MIN MAX) (SIZE) UTF-8 NOT (FROM x)", "THREAD REFERENCES UTF-8 ALL",
		"UID THREAD ORDEREDSUBJECT UTF-8 SENTBEFORE 1-Jan-2030", "SORT (REVERSE REVERSE) UTF-8 ALL", "THREAD", "SORT ((DATE)) UTF-8 $"} {
		verb, args, _ := strings.Cut(s, " ")
		f.Add(verb == "THREAD", args)
	}
	e := newTestEnv(f)
	deliverThreadFixture(f, e)
	r := dialRaw(f, e)
	r.cmd("s", "SELECT INBOX")
	f.Fuzz(func(t *testing.T, thread bool, args string) {
		if strings.ContainsAny(args, "\r\n{") {
			return // one line, no literal
		}
		command := "SORT " + args
		if thread {
			command = "THREAD " + args
		}
		r.t = t
		untagged, done := r.cmd("z", command)
		if !strings.HasPrefix(done, "z OK") && !strings.HasPrefix(done, "z NO") && !strings.HasPrefix(done, "z BAD") ||
			strings.Contains(done, "SERVERBUG") {
			t.Fatalf("%q: %q %s", command, untagged, done)
		}
		if _, done := r.cmd("n", "NOOP"); !strings.HasPrefix(done, "n OK") {
			t.Fatalf("after %q: NOOP: %s", command, done)
		}
	})
}

// TestBaseSubject: RFC 5256 section 2.1, case by case.
func TestBaseSubject(t *testing.T) {
	for _, tc := range []struct {
		in, base string
		reply    bool
	}{
		{"Hello", "Hello", false},
		{"Re: Hello", "Hello", true},
		{"RE:Hello", "Hello", true},
		{"Fwd: Hello", "Hello", true},
		{"fw: Hello", "Hello", true},
		{"Re [list]: Hello", "Hello", true},
		{"[list] Re: Re: Hello", "Hello", true},
		{"[a][b] re: Hello", "Hello", true},
		{"Hello (fwd)", "Hello", true},
		{"Hello (FWD) (fwd)  ", "Hello", true},
		{"[fwd: Hello]", "Hello", true},
		{"[Fwd: Re: [list] Hello (fwd)]", "Hello", true},
		{"  Hello \t\r\n  world  ", "Hello world", false},
		{"[list] Hello", "Hello", false},
		{"[only a blob]", "[only a blob]", false},
		{"[a] [b]", "[b]", false},
		{"Reply: Hello", "Reply: Hello", false},
		{"Re:", "", true},
		{"", "", false},
	} {
		base, reply := baseSubject(tc.in)
		if base != tc.base || reply != tc.reply {
			t.Errorf("baseSubject(%q) = %q, %v; want %q, %v", tc.in, base, reply, tc.base, tc.reply)
		}
	}
}

// TestCasemap: i;unicode-casemap (RFC 5051) equates case and composition.
func TestCasemap(t *testing.T) {
	for _, pair := range [][2]string{
		{"hello", "HELLO"}, {"café", "CAFÉ"}, {"cafe\u0301", "CAFÉ"}, {"straße", "STRAßE"}, {"ǆ", "ǅ"},
	} {
		if a, b := casemap(pair[0]), casemap(pair[1]); a != b {
			t.Errorf("casemap(%q) = %q, casemap(%q) = %q", pair[0], a, pair[1], b)
		}
	}
	// Decomposed, é sorts right after E, before F.
	if !(casemap("e") < casemap("é") && casemap("é") < casemap("f")) {
		t.Errorf("é = %q does not sort between E and F", casemap("é"))
	}
}
