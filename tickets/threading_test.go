package tickets

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// TestThreading is the threading table: each way a customer's mail comes
// back lands on the ticket it belongs to, and nothing automatic is answered.
func TestThreading(t *testing.T) {
	d, box := openDesk(t, Config{})
	ctx := context.Background()
	const support = "help@example.com"
	root := make([]byte, 22)
	for i := range root {
		root[i] = byte(i + 1)
	}
	threadIndex := base64.StdEncoding.EncodeToString(root)
	first := ingest(t, d, support, "ann@customer.test", msg(
		"From: Ann Customer <ann@customer.test>",
		"To: help@example.com",
		"Subject: Printer on fire",
		"Message-ID: <first@customer.test>",
		"Thread-Index: "+threadIndex,
	))
	if !first.New || first.Ticket != 1 || !first.Acked {
		t.Fatalf("first mail: %+v, want new ticket 1, acknowledged", first)
	}
	ack := box.last(t)
	if !strings.Contains(ack.Header.Get("Subject"), "[#1]") {
		t.Fatalf("acknowledgement subject %q has no token", ack.Header.Get("Subject"))
	}
	if ack.Header.Get("Auto-Submitted") != "auto-replied" || ack.Header.Get("In-Reply-To") != "<first@customer.test>" {
		t.Fatalf("acknowledgement headers: Auto-Submitted %q In-Reply-To %q", ack.Header.Get("Auto-Submitted"), ack.Header.Get("In-Reply-To"))
	}
	ackID := ack.Header.Get("Message-ID")
	replyTo := ack.Header.Get("Reply-To")
	tk, _ := d.Ticket(ctx, 1)
	ann := tk.Contact
	if c, _ := d.Contact(ctx, ann); c.Name != "Ann Customer" || c.Emails[0] != "ann@customer.test" {
		t.Fatalf("contact made from the sender: %+v", c)
	}

	// A reply that reached the thread by its subject alone, after an
	// unknown Message-ID in References, and so on.
	reply5 := base64.StdEncoding.EncodeToString(append(root, 1, 2, 3, 4, 5))
	cases := []struct {
		name     string
		support  string
		mailFrom string
		message  []byte
		ticket   uint64 // 0: a new ticket
		kind     Kind
		acked    bool
	}{
		{"token in subject", support, "ann@customer.test", msg("From: ann@customer.test", "Subject: Re: Printer on fire [#1]", "Message-ID: <tok@c>"), 1, KindMailIn, false},
		{"References only", support, "ann@customer.test", msg("From: ann@customer.test", "Subject: still burning", "Message-ID: <refs@c>", "References: <unknown@x> "+ackID), 1, KindMailIn, false},
		{"In-Reply-To only", support, "ann@customer.test", msg("From: ann@customer.test", "Subject: hello?", "Message-ID: <irt@c>", "In-Reply-To: "+ackID), 1, KindMailIn, false},
		{"Outlook Thread-Index", support, "ann@customer.test", msg("From: ann@customer.test", "Subject: AW: Drucker", "Message-ID: <ol@c>", "Thread-Index: "+reply5), 1, KindMailIn, false},
		{"forwarded by a colleague", support, "bob@customer.test", msg("From: Bob <bob@customer.test>", "Subject: Fwd: Re: Printer on fire [#1]", "Message-ID: <fwd@c>", "body:---------- Forwarded message ---------\r\nFrom: Ann"), 1, KindMailIn, false},
		{"CC'd third party replies to all", support, "carol@other.test", msg("From: carol@other.test", "To: ann@customer.test", "Cc: help@example.com", "Subject: Re: Printer on fire", "Message-ID: <cc@c>", "In-Reply-To: <first@customer.test>", "References: <first@customer.test>"), 1, KindMailIn, false},
		{"plus-addressed reply", addressOf(replyTo), "ann@customer.test", msg("From: ann@customer.test", "Subject: no token here", "Message-ID: <plus@c>"), 1, KindMailIn, false},
		{"auto-reply to the acknowledgement", support, "ann@customer.test", msg("From: ann@customer.test", "Subject: Out of office", "Auto-Submitted: auto-replied", "Message-ID: <ooo@c>", "In-Reply-To: "+ackID), 1, KindMailIn, false},
		{"bounce of the acknowledgement", support, "", msg("From: MAILER-DAEMON@customer.test", "Subject: Undelivered Mail", "Message-ID: <dsn@c>",
			`Content-Type: multipart/report; report-type=delivery-status; boundary="b"`,
			"body:--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: "+ackID+"\r\n--b--"), 1, KindBounce, false},
		{"new auto-reply opens a ticket, unanswered", support, "vacation@else.test", msg("From: vacation@else.test", "Subject: I am away", "Auto-Submitted: auto-replied", "Message-ID: <away@e>"), 0, KindMailIn, false},
		{"list mail, unanswered", support, "news@list.test", msg("From: news@list.test", "Subject: Our newsletter", "List-Id: <news.list.test>", "Message-ID: <list@e>"), 0, KindMailIn, false},
		{"bulk precedence, unanswered", support, "promo@list.test", msg("From: promo@list.test", "Subject: Offer", "Precedence: bulk", "Message-ID: <bulk@e>"), 0, KindMailIn, false},
		{"our own address, unanswered", support, "help@example.com", msg("From: help@example.com", "Subject: loop?", "Message-ID: <own@e>"), 0, KindMailIn, false},
		{"a new problem", support, "dave@customer.test", msg("From: dave@customer.test", "Subject: Invoice wrong", "Message-ID: <dave@e>"), 0, KindMailIn, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := len(box.all())
			r := ingest(t, d, c.support, c.mailFrom, c.message)
			if c.ticket != 0 && (r.Ticket != c.ticket || r.New) {
				t.Fatalf("landed on %+v, want ticket %d", r, c.ticket)
			}
			if c.ticket == 0 && (!r.New || r.Ticket <= 1) {
				t.Fatalf("got %+v, want a new ticket", r)
			}
			if got := len(box.all()) - before; (got == 1) != c.acked || got > 1 {
				t.Fatalf("%d mails sent (skipped: %q), want acknowledged=%v", got, r.Skipped, c.acked)
			}
			tl, err := d.Timeline(ctx, r.Ticket)
			if err != nil {
				t.Fatal(err)
			}
			last := tl[len(tl)-1]
			if c.acked {
				last = tl[len(tl)-2] // the acknowledgement follows it
			}
			if last.Kind != c.kind {
				t.Fatalf("last entry %s, want %s", last.Kind, c.kind)
			}
		})
	}
	tk, _ = d.Ticket(ctx, 1)
	if tk.Contact != ann {
		t.Fatalf("ticket 1's contact changed to %d", tk.Contact)
	}
	// Ann's own follow-ups count as contacts; Bob's and Carol's do not.
	if tk.Contacts != 7 {
		t.Fatalf("contacts = %d, want 7 (first, token, refs, irt, outlook, plus, auto-reply)", tk.Contacts)
	}
	if ticketsOf(d) != 6 {
		t.Fatalf("%d tickets, want 6", ticketsOf(d))
	}
}

func addressOf(field string) string {
	if i := strings.IndexByte(field, '<'); i >= 0 {
		return strings.Trim(field[i:], "<>")
	}
	return field
}

func ticketsOf(d *Desk) int { return len(d.All(context.Background())) }

// TestDuplicateMessageID: a client that resends after a lost 250 puts
// the mail on its ticket once.
func TestDuplicateMessageID(t *testing.T) {
	d, box := openDesk(t, Config{})
	m := msg("From: ann@c.test", "Subject: once", "Message-ID: <once@c.test>")
	a := ingest(t, d, "help@example.com", "ann@c.test", m)
	b := ingest(t, d, "help@example.com", "ann@c.test", m)
	if !a.New || !b.Duplicate || b.Ticket != a.Ticket {
		t.Fatalf("first %+v second %+v", a, b)
	}
	tl, _ := d.Timeline(context.Background(), a.Ticket)
	if mails := count(tl, KindMailIn); mails != 1 || len(box.all()) != 1 {
		t.Fatalf("%d mail entries, %d acknowledgements; want 1 and 1", mails, len(box.all()))
	}
}

func count(tl []Entry, k Kind) int {
	n := 0
	for _, e := range tl {
		if e.Kind == k {
			n++
		}
	}
	return n
}

// TestAckRateLimit: RFC 3834 §2 — a sender who opens many tickets gets a
// few acknowledgements an hour, not one per mail.
func TestAckRateLimit(t *testing.T) {
	d, box := openDesk(t, Config{AckPerHour: 3})
	for i := range 5 {
		ingest(t, d, "help@example.com", "ann@c.test", msg("From: ann@c.test", "Subject: problem "+itoa(uint64(i)), "Message-ID: <p"+itoa(uint64(i))+"@c>"))
	}
	if n := len(box.all()); n != 3 {
		t.Fatalf("%d acknowledgements, want 3", n)
	}
	if ticketsOf(d) != 5 {
		t.Fatal("every mail must still open its ticket")
	}
}

// TestReopenAndClosed: a reply to a solved ticket reopens it; one to a
// closed ticket opens a new ticket.
func TestReopenAndClosed(t *testing.T) {
	d, box := openDesk(t, Config{})
	ctx := context.Background()
	r := ingest(t, d, "help@example.com", "ann@c.test", msg("From: Ann <ann@c.test>", "Subject: help", "Message-ID: <h1@c>"))
	if err := d.SetStatus(ctx, r.Ticket, "agent@example.com", StatusSolved); err != nil {
		t.Fatal(err)
	}
	solved := box.last(t)
	if !strings.Contains(solved.Header.Get("Subject"), "Solved") {
		t.Fatalf("solved notice subject %q", solved.Header.Get("Subject"))
	}
	r2 := ingest(t, d, "help@example.com", "ann@c.test", msg("From: ann@c.test", "Subject: Re: help [#1]", "Message-ID: <h2@c>"))
	tk, _ := d.Ticket(ctx, r.Ticket)
	if r2.Ticket != r.Ticket || tk.Status != StatusOpen || !tk.Reopened {
		t.Fatalf("reply to solved: %+v, status %s reopened %v", r2, tk.Status, tk.Reopened)
	}
	if err := d.SetStatus(ctx, r.Ticket, "agent@example.com", StatusClosed); err != nil {
		t.Fatal(err)
	}
	r3 := ingest(t, d, "help@example.com", "ann@c.test", msg("From: ann@c.test", "Subject: Re: help [#1]", "Message-ID: <h3@c>"))
	if !r3.New || r3.Ticket == r.Ticket {
		t.Fatalf("reply to closed: %+v, want a new ticket", r3)
	}
}

// TestReplyThreads: an agent's reply carries the token, In-Reply-To and
// References of the conversation, leaves from the support address, and
// the customer's answer quoting only its Message-ID threads back.
func TestReplyThreads(t *testing.T) {
	d, box := openDesk(t, Config{})
	ctx := context.Background()
	r := ingest(t, d, "help@example.com", "ann@c.test", msg("From: Ann <ann@c.test>", "Subject: Wifi down", "Message-ID: <w1@c>"))
	e, err := d.Reply(ctx, r.Ticket, ReplyInput{Agent: "agent@example.com", AgentName: "Alex", Text: "Please restart the router.", Status: StatusPending})
	if err != nil {
		t.Fatal(err)
	}
	sent := box.all()[len(box.all())-1]
	if sent.from != "help@example.com" || sent.to[0] != "ann@c.test" {
		t.Fatalf("sent from %s to %v", sent.from, sent.to)
	}
	m := box.last(t)
	if !strings.Contains(m.Header.Get("Subject"), "[#1]") || !strings.Contains(m.Header.Get("References"), "<w1@c>") {
		t.Fatalf("reply headers: subject %q references %q", m.Header.Get("Subject"), m.Header.Get("References"))
	}
	if m.Header.Get("Auto-Submitted") != "" {
		t.Fatal("a person's reply is not auto-submitted")
	}
	tk, _ := d.Ticket(ctx, r.Ticket)
	if tk.Status != StatusPending || tk.Answered.IsZero() {
		t.Fatalf("after reply: status %s answered %v", tk.Status, tk.Answered)
	}
	back := ingest(t, d, "help@example.com", "ann@c.test", msg("From: ann@c.test", "Subject: thanks", "Message-ID: <w2@c>", "References: <"+e.MessageID+">"))
	tk, _ = d.Ticket(ctx, r.Ticket)
	if back.Ticket != r.Ticket || tk.Status != StatusOpen {
		t.Fatalf("customer's answer: %+v status %s", back, tk.Status)
	}
	if _, err := d.Reply(ctx, r.Ticket, ReplyInput{Agent: "a", Text: "  "}); err == nil {
		t.Fatal("an empty reply must be refused")
	}
}

// TestCallsLandOnTickets: a call from a contact's number lands on their
// open ticket; a call from an unknown number opens one; a call id lands once.
func TestCallsLandOnTickets(t *testing.T) {
	d, _ := openDesk(t, Config{})
	ctx := context.Background()
	r := ingest(t, d, "help@example.com", "ann@c.test", msg("From: Ann <ann@c.test>", "Subject: Router", "Message-ID: <r1@c>"))
	tk, _ := d.Ticket(ctx, r.Ticket)
	if _, err := d.UpsertContact(ctx, tk.Contact, ContactUpdate{Phones: []string{"+1 (555) 010-0199"}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	call := Call{ID: "c1", Direction: "inbound", Number: "+15550100199", Queue: "support", Start: now, End: now.Add(time.Minute), Outcome: "voicemail", Recording: "c1"}
	n, opened, err := d.AddCall(ctx, call, 0)
	if err != nil || n != r.Ticket || opened {
		t.Fatalf("voicemail on %d opened=%v err=%v, want ticket %d", n, opened, err, r.Ticket)
	}
	if n2, _, _ := d.AddCall(ctx, call, 0); n2 != 0 {
		t.Fatal("the same call landed twice")
	}
	tl, _ := d.Timeline(ctx, r.Ticket)
	if last := tl[len(tl)-1]; last.Kind != KindVoicemail || last.Call.Recording != "c1" {
		t.Fatalf("last entry %+v", last)
	}
	n3, opened, err := d.AddCall(ctx, Call{ID: "c2", Direction: "inbound", Number: "+4930123", Start: now, End: now, Outcome: "abandoned"}, 0)
	if err != nil || !opened || n3 == r.Ticket {
		t.Fatalf("unknown caller: ticket %d opened=%v err=%v", n3, opened, err)
	}
	if lvl, _ := d.Level(ctx, "+1 555 010 0199"); lvl != LevelNew {
		t.Fatalf("level %s", lvl)
	}
}

// TestMerge: merging moves the timeline and later mail follows.
func TestMerge(t *testing.T) {
	d, _ := openDesk(t, Config{})
	ctx := context.Background()
	a := ingest(t, d, "help@example.com", "ann@c.test", msg("From: ann@c.test", "Subject: one", "Message-ID: <m1@c>"))
	b := ingest(t, d, "help@example.com", "ann@c.test", msg("From: ann@c.test", "Subject: two", "Message-ID: <m2@c>"))
	if err := d.Merge(ctx, b.Ticket, a.Ticket, "sup@example.com"); err != nil {
		t.Fatal(err)
	}
	r := ingest(t, d, "help@example.com", "ann@c.test", msg("From: ann@c.test", "Subject: Re: two", "Message-ID: <m3@c>", "In-Reply-To: <m2@c>"))
	if r.Ticket != a.Ticket {
		t.Fatalf("mail to the merged ticket landed on %d", r.Ticket)
	}
	if err := d.Merge(ctx, a.Ticket, a.Ticket, "x"); err == nil {
		t.Fatal("merge into itself accepted")
	}
	list, total := d.List(ctx, ListOptions{})
	if total != 1 || list[0].Number != a.Ticket {
		t.Fatalf("list after merge: %d %+v", total, list)
	}
}

// TestReopenDatabase: everything survives a close and an open, and a
// newer format is refused with a clear message.
func TestReopenDatabase(t *testing.T) {
	path := t.TempDir() + "/t.db"
	d, _ := openDesk(t, Config{Path: path})
	ingest(t, d, "help@example.com", "ann@c.test", msg("From: ann@c.test", "Subject: keep me", "Message-ID: <k@c>"))
	d.Close()
	d2, _ := openDesk(t, Config{Path: path})
	if tk, err := d2.Ticket(context.Background(), 1); err != nil || tk.Subject != "keep me" {
		t.Fatalf("after reopen: %+v %v", tk, err)
	}
}
