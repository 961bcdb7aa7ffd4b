package imapd

import (
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
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
