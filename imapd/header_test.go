package imapd

import (
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// Header-only FETCHes come from the header alone, whatever its line
// lengths, and say the same as a fetch of the whole message.
func TestFetchHeaderFieldsOnly(t *testing.T) {
	e := newTestEnv(t)
	long := strings.Repeat("x", 6000) // longer than a read buffer
	raw := "From: a@example.test\r\nX-Long: " + long + "\r\nSubject: listing\r\nTo: b@example.test\r\n\r\nbody text\r\n"
	e.deliver(t, "INBOX", raw)
	c := e.login(t, nil)
	mustSelect(t, c, "INBOX", false)
	fields := &imap.FetchItemBodySection{Peek: true, Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Subject", "To"}}
	whole := &imap.FetchItemBodySection{Peek: true, Specifier: imap.PartSpecifierHeader}
	for round := 0; round < 2; round++ { // the second from the cache
		got := fetch(t, c, imap.SeqSetNum(1), &imap.FetchOptions{UID: true, RFC822Size: true, BodySection: []*imap.FetchItemBodySection{fields, whole}})
		if len(got) != 1 {
			t.Fatalf("%d messages", len(got))
		}
		if f := string(got[0].FindBodySection(fields)); f != "Subject: listing\r\nTo: b@example.test\r\n\r\n" {
			t.Errorf("round %d: HEADER.FIELDS (SUBJECT TO) = %q", round, f)
		}
		if h := string(got[0].FindBodySection(whole)); h != raw[:strings.Index(raw, "\r\n\r\n")+4] {
			t.Errorf("round %d: HEADER = %d bytes, want the whole header", round, len(h))
		}
	}
}

// Our HEADER.FIELDS extraction says what go-imap's full parser says.
func TestHeaderFieldsLikeLibrary(t *testing.T) {
	msgs := []string{
		"From: a@example.test\r\nTo: b@example.test,\r\n c@example.test\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\nX-Other: 1\r\nsubject: second\r\n\r\nbody\r\n",
		"Received: from x\r\n\tby y\r\nDate: Sat, 21 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@x>\r\n\r\n",
		"From: a@example.test\nSubject: bare LF\n\nbody\n",
		"Subject: no body",
	}
	sets := [][]string{{"SUBJECT"}, {"From", "To", "Date", "Message-ID"}, {"X-Missing"}, {"received"}}
	for _, m := range msgs {
		for _, names := range sets {
			for _, not := range []bool{false, true} {
				bs := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader}
				if not {
					bs.HeaderFieldsNot = names
				} else {
					bs.HeaderFields = names
				}
				want := string(imapserver.ExtractBodySection(strings.NewReader(m), bs))
				got := string(bodySection([]byte(m), bs))
				if got != want {
					t.Errorf("message %q, fields %v (not %v):\n got %q\nwant %q", m[:min(len(m), 30)], names, not, got, want)
				}
			}
		}
	}
}
