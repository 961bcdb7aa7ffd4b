package tickets

import (
	"context"
	"testing"
)

// FuzzIngestMail feeds any bytes to the desk as support mail: it must
// neither panic nor fail, and whatever ticket it names must exist with
// the mail on its timeline (a bounce to nothing of ours is dropped).
func FuzzIngestMail(f *testing.F) {
	for _, seed := range []string{
		"From: a@example.org\r\nSubject: hi\r\nMessage-ID: <1@x>\r\n\r\nbody\r\n",
		"From: a@example.org\r\nSubject: Re: [#1] hi\r\nReferences: <1@x> <2@x>\r\nIn-Reply-To: <2@x>\r\n\r\n",
		"Thread-Index: AQHZ\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\nFrom: \"B\" <b@example.org>\r\n\r\n",
		"Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x\r\n\r\nFinal-Recipient: rfc822; a@example.org\r\n--x--\r\n",
		"Content-Type: multipart/mixed; boundary=\"b\"\r\nFrom: c@example.org\r\n\r\n--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=E9t=E9\r\n--b--\r\n",
		"no header at all",
		"",
	} {
		f.Add([]byte(seed), "a@example.org")
	}
	d, _ := openDesk(f, Config{})
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, msg []byte, from string) {
		res, err := d.IngestMail(ctx, MailIn{Support: "help@example.com", MailFrom: from, Message: msg})
		if err != nil {
			t.Fatalf("IngestMail: %v", err)
		}
		if res.Ticket == 0 {
			return
		}
		if _, err := d.Ticket(ctx, res.Ticket); err != nil {
			t.Fatalf("ticket %d named but not there: %v", res.Ticket, err)
		}
		tl, err := d.Timeline(ctx, res.Ticket)
		if err != nil || len(tl) == 0 {
			t.Fatalf("ticket %d: timeline %d entries, %v", res.Ticket, len(tl), err)
		}
	})
}
