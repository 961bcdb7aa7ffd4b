package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"frontdesk/tickets"
)

const agentPass = "agent password here"

// sendPy hands a message to an MX with Python's smtplib, as the
// customer's mail server does (SPF passes: b.test's mail comes from
// 127.0.0.1).
const sendPy = `
import smtplib, sys
host, port = sys.argv[1].rsplit(":", 1)
sender, to, msg = sys.argv[2], sys.argv[3], sys.argv[4]
with smtplib.SMTP(host, int(port), local_hostname="mx.b.test", timeout=30) as s:
    s.sendmail(sender, [to], msg.encode())
print("sent")
`

func customerSend(t *testing.T, mx, from, to, msg string) {
	t.Helper()
	out, err := python(t, sendPy, mx, from, to, strings.ReplaceAll(msg, "\n", "\r\n"))
	if err != nil || !strings.Contains(out, "sent") {
		t.Fatalf("smtplib send: %v\n%s", err, out)
	}
}

// setupSupport makes support@a.test a support address and agent@a.test
// an agent, through the CLI of the running server.
func setupSupport(t *testing.T, w *world) {
	t.Helper()
	mustFrontdesk(t, "support mailbox pw\n", "user", "add", "support@a.test", "--password-stdin", "--data", w.aData)
	if out, err := frontdesk(t, "", "support", "add", "nobody@a.test", "--data", w.aData); err == nil {
		t.Fatalf("support add of an unknown address succeeded: %s", out)
	}
	mustFrontdesk(t, "", "support", "add", "support@a.test", "--data", w.aData)
	if out := mustFrontdesk(t, "", "support", "list", "--data", w.aData); strings.TrimSpace(out) != "support@a.test" {
		t.Fatalf("support list: %q", out)
	}
	mustFrontdesk(t, agentPass+"\n", "user", "add", "agent@a.test", "--password-stdin", "--role", "agent", "--data", w.aData)
}

// TestDeskMailFlow: a customer on another server mails support with
// smtplib; a ticket opens and the customer gets a signed acknowledgement
// with the token; an agent replies from the CLI; the customer's answer
// that carries only References threads into the same ticket.
func TestDeskMailFlow(t *testing.T) {
	w := newWorld(t)
	setupSupport(t, w)
	aMX := w.a.addr("smtp")

	customerSend(t, aMX, "bob@b.test", "support@a.test",
		"From: Bob <bob@b.test>\nTo: support@a.test\nSubject: Printer on fire\nMessage-ID: <p1@b.test>\n\nIt smokes since this morning.\n")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("a:\n%s", w.a.Log())
		}
	})
	ack := waitMail(t, w.b.addr("imap"), "bob@b.test", bobPass, "INBOX", "Printer on fire [#1]")
	for _, want := range []string{"Auto-Submitted: auto-replied", "In-Reply-To: <p1@b.test>", "dkim=pass", "spf=pass"} {
		if !strings.Contains(ack, want) {
			t.Errorf("acknowledgement lacks %q:\n%s", want, ack)
		}
	}

	list := mustFrontdesk(t, "", "tickets", "list", "--data", w.aData)
	if !regexp.MustCompile(`(?m)^1\s+new\s+normal\s+support\s+-\s+.*Printer on fire$`).MatchString(list) {
		t.Fatalf("tickets list:\n%s", list)
	}
	out := mustFrontdesk(t, "Please switch it off first.\n", "tickets", "reply", "1", "--as", "agent@a.test", "--status", "pending", "--data", w.aData)
	if !strings.Contains(out, "Reply to #1 queued") {
		t.Fatalf("tickets reply: %s", out)
	}
	reply := waitMail(t, w.b.addr("imap"), "bob@b.test", bobPass, "INBOX", "Re: Printer on fire [#1]")
	replyID := headerValue(reply, "Message-ID")
	if !strings.Contains(headerValue(reply, "References"), "<p1@b.test>") || !strings.Contains(reply, "Please switch it off first.") ||
		!strings.Contains(reply, "dkim=pass") || headerValue(reply, "From") == "" {
		t.Fatalf("reply as received:\n%s", reply)
	}

	// Bob's mail program keeps only References, and a new subject.
	customerSend(t, aMX, "bob@b.test", "support@a.test",
		"From: Bob <bob@b.test>\nTo: support@a.test\nSubject: it is off now\nMessage-ID: <p2@b.test>\nReferences: "+replyID+"\n\nThanks, it is off.\n")
	deadline := time.Now().Add(20 * time.Second)
	for {
		show := mustFrontdesk(t, "", "tickets", "show", "1", "--data", w.aData)
		if strings.Contains(show, "Thanks, it is off.") {
			if !strings.Contains(show, "Status open") {
				t.Errorf("the customer's answer did not reopen the pending ticket:\n%s", show)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the customer's answer is not on ticket 1:\n%s", show)
		}
		time.Sleep(100 * time.Millisecond)
	}
	list = mustFrontdesk(t, "", "tickets", "list", "--status", "all", "--data", w.aData)
	if strings.Count(strings.TrimSpace(list), "\n") != 1 {
		t.Fatalf("want exactly one ticket:\n%s", list)
	}
}

// TestDeskCrashDuringBurst kills the server with SIGKILL while a burst of
// support mail opens tickets. After a restart every mail that got 250 is
// on exactly one ticket, and the database opens.
func TestDeskCrashDuringBurst(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	srv := startServer(t, data)
	mustFrontdesk(t, "", "domain", "add", "example.test", "--data", data)
	mustFrontdesk(t, "support mailbox pw\n", "user", "add", "help@example.test", "--password-stdin", "--data", data)
	mustFrontdesk(t, "", "support", "add", "help@example.test", "--data", data)

	const total, conns = 600, 6
	var acked sync.Map
	var nacked atomic.Int64
	var wg sync.WaitGroup
	mx := srv.addr("smtp")
	for c := range conns {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			cl, err := smtp.Dial(mx)
			if err != nil {
				return
			}
			defer cl.Close()
			if cl.Hello("outside.test") != nil {
				return
			}
			for i := c; i < total; i += conns {
				from := fmt.Sprintf("customer%d@outside.test", i%50)
				m := fmt.Sprintf("From: %s\r\nTo: help@example.test\r\nSubject: problem %d\r\nMessage-ID: <burst-%d@outside.test>\r\n\r\nTicket body %d.\r\n", from, i, i, i)
				if i%5 == 4 {
					// Some follow up on an earlier mail of the burst.
					m = fmt.Sprintf("From: %s\r\nTo: help@example.test\r\nSubject: more\r\nMessage-ID: <burst-%d@outside.test>\r\nReferences: <burst-%d@outside.test>\r\n\r\nFollow-up %d.\r\n", from, i, i-4, i)
				}
				if cl.SendMail(from, []string{"help@example.test"}, strings.NewReader(m)) != nil {
					return
				}
				acked.Store(fmt.Sprintf("burst-%d@outside.test", i), true)
				nacked.Add(1)
			}
		}(c)
	}
	for nacked.Load() < total/3 {
		time.Sleep(time.Millisecond)
	}
	srv.kill()
	wg.Wait()
	n := int(nacked.Load())
	if n >= total {
		t.Fatalf("all %d acknowledged before the kill; the crash tested nothing", n)
	}

	// Restart (the store and queue recover), stop, then read the desk's
	// database as it is on disk.
	srv = startServer(t, data)
	srv.stop()
	desk, err := tickets.Open(tickets.Config{Path: filepath.Join(data, "tickets", "tickets.db"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("tickets database after the crash: %v", err)
	}
	defer desk.Close()
	onTicket := map[string]int{}
	ctx := context.Background()
	all := desk.All(ctx)
	for _, tk := range all {
		tl, err := desk.Timeline(ctx, tk.Number)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range tl {
			if e.Kind == tickets.KindMailIn {
				onTicket[e.MessageID]++
			}
		}
	}
	missing := 0
	acked.Range(func(k, _ any) bool {
		switch onTicket[k.(string)] {
		case 1:
		case 0:
			missing++
			t.Errorf("%s got 250 but is on no ticket", k)
		default:
			t.Errorf("%s is on %d tickets", k, onTicket[k.(string)])
		}
		return true
	})
	for id, c := range onTicket {
		if c > 1 {
			t.Errorf("%s landed %d times", id, c)
		}
	}
	t.Logf("%d of %d acknowledged before SIGKILL; after restart %d mails on %d tickets, %d missing", n, total, len(onTicket), len(all), missing)
}
