package imapd

import (
	"context"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"frontdesk/store"
)

// FuzzBodyStructure stores each input as a message and fetches its
// BODYSTRUCTURE, ENVELOPE, BODY[HEADER] and first part over the wire with
// go-imap's client: whatever the MIME, the answer parses, the structure is
// there and the session goes on.
func FuzzBodyStructure(f *testing.F) {
	for _, s := range []string{
		"From: a@example.org\r\nSubject: plain\r\n\r\nhello\r\n",
		"From: \"A\" <a@example.org>\r\nTo: undisclosed:;\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhi\r\n" +
			"--b1\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary=b2\r\n\r\n" +
			"--b2\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--b2--\r\n--b1\r\nContent-Type: application/pdf; name=\"=?utf-8?q?r=C3=A9sum=C3=A9.pdf?=\"\r\n" +
			"Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b1--\r\n",
		"Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n\r\n----\r\n",
		"Content-Type: multipart/mixed\r\n\r\nno boundary\r\n",
		"Content-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\n",
		"Content-Type: text/plain; charset=\"unterminated\r\nContent-Language: en, de\r\nContent-Location: x\r\n\r\nbody",
		"Subject: no body",
	} {
		f.Add([]byte(s))
	}
	e := newTestEnv(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) == 0 || len(raw) > 1<<16 {
			return
		}
		d, err := e.st.Deliver(ctx, raw, time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC),
			store.Delivery{Account: e.acct.ID, Mailbox: "INBOX"})
		if err != nil {
			t.Fatal(err)
		}
		uid := imap.UID(d[0].UID)
		// A session of its own, so a connection the client dropped over
		// an answer it could not parse is this input's failure.
		c := e.login(t, nil)
		mustSelect(t, c, "INBOX", false)
		msgs, err := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{
			UID: true, BodyStructure: &imap.FetchItemBodyStructure{Extended: true}, Envelope: true,
			BodySection: []*imap.FetchItemBodySection{
				{Specifier: imap.PartSpecifierHeader, Peek: true},
				{Part: []int{1}, Peek: true},
			},
		}).Collect()
		if err != nil {
			t.Fatalf("fetch of %q: %v", raw, err)
		}
		if len(msgs) != 1 || msgs[0].BodyStructure == nil || msgs[0].Envelope == nil || msgs[0].UID != uid {
			t.Fatalf("fetch of %q gave %+v", raw, msgs)
		}
		if err := c.Noop().Wait(); err != nil {
			t.Fatalf("NOOP after %q: %v", raw, err)
		}
	})
}
