package tickets

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

// failingMailer refuses everything, as delivery does when the process
// dies before the acknowledgement is queued.
type failingMailer struct{}

func (failingMailer) Send(context.Context, string, []string, []byte) (string, error) {
	return "", errors.New("queue down")
}

// TestAckDueOnRetry: a ticket committed whose acknowledgement never got
// queued is acknowledged when the sender retries the mail (no 250 came),
// once; a mail acknowledged the first time is not acknowledged again.
func TestAckDueOnRetry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tickets.db")
	const support = "help@example.com"
	m := msg("From: Ann <ann@customer.test>", "To: help@example.com", "Subject: Printer on fire", "Message-ID: <p1@customer.test>")
	d, _ := openDesk(t, Config{Path: path, Mailer: failingMailer{}})
	if r := ingest(t, d, support, "ann@customer.test", m); !r.New || r.Acked {
		t.Fatalf("first delivery: %+v, want a new ticket, not acknowledged", r)
	}
	d.Close()

	d, box := openDesk(t, Config{Path: path})
	for try := range 2 {
		r := ingest(t, d, support, "ann@customer.test", m)
		if !r.Duplicate || r.Ticket != 1 || r.Acked != (try == 0) {
			t.Fatalf("retry %d: %+v", try+1, r)
		}
	}
	if n := len(box.all()); n != 1 {
		t.Fatalf("%d acknowledgements sent on the retries, want 1", n)
	}
	if s := box.last(t).Header.Get("Subject"); s != "Printer on fire [#1]" {
		t.Errorf("acknowledgement subject %q", s)
	}

	m2 := msg("From: Bob <bob@customer.test>", "To: help@example.com", "Subject: Paper jam", "Message-ID: <p2@customer.test>")
	if r := ingest(t, d, support, "bob@customer.test", m2); !r.Acked {
		t.Fatalf("new mail: %+v", r)
	}
	if r := ingest(t, d, support, "bob@customer.test", m2); !r.Duplicate || r.Acked {
		t.Fatalf("retry of an acknowledged mail: %+v", r)
	}
	if n := len(box.all()); n != 2 {
		t.Errorf("%d acknowledgements, want 2", n)
	}
}
