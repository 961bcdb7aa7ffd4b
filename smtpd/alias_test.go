package smtpd

import (
	"context"
	"encoding/base64"
	"testing"
)

// Aliases and the catch-all receive mail; a user may send as an alias
// that is theirs, not as a catch-all address.
func TestAliasesAndCatchAll(t *testing.T) {
	e := newEnv(t, MX, nil)
	ctx := context.Background()
	if _, err := e.st.AddAlias(ctx, "sales@example.test", alice); err != nil {
		t.Fatal(err)
	}
	r := dialRaw(t, e.addr)
	r.cmd("EHLO client.test", 250, "")
	r.cmd("MAIL FROM:<x@outside.test>", 250, "")
	r.cmd("RCPT TO:<Sales@example.test>", 250, "")
	r.cmd("RCPT TO:<random@example.test>", 550, "5.1.1")
	if err := e.st.SetCatchAll(ctx, "example.test", alice); err != nil {
		t.Fatal(err)
	}
	r.cmd("RCPT TO:<random@example.test>", 250, "")
	r.cmd("DATA", 354, "")
	r.send("Subject: to an alias\r\n\r\nhi\r\n.\r\n")
	r.expect(250, "")
	if got := len(e.inbox()); got != 1 {
		t.Fatalf("alice's INBOX holds %d messages, want 1 (one copy for both addresses)", got)
	}

	sub := newEnv(t, Submission, nil)
	sub.st.AddAlias(ctx, "sales@example.test", alice)
	sub.st.SetCatchAll(ctx, "example.test", alice)
	s := dialRaw(t, sub.addr)
	s.cmd("EHLO client.test", 250, "")
	s.cmd("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00"+alice+"\x00"+alicePW)), 235, "")
	s.cmd("MAIL FROM:<sales@example.test>", 250, "")
	s.cmd("RSET", 250, "")
	s.cmd("MAIL FROM:<anything@example.test>", 553, "5.7.1")
}
