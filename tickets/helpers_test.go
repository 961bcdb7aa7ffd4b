package tickets

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/mail"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// sentMail is one message the desk handed to its Mailer.
type sentMail struct {
	from string
	to   []string
	msg  []byte
}

// outbox is a Mailer that keeps what it is given: the desk's side of the
// queue, whose own tests deliver for real.
type outbox struct {
	mu   sync.Mutex
	sent []sentMail
}

func (o *outbox) Send(_ context.Context, from string, to []string, msg []byte) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent = append(o.sent, sentMail{from, to, bytes.Clone(msg)})
	return fmt.Sprintf("q%d", len(o.sent)), nil
}

func (o *outbox) all() []sentMail {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]sentMail(nil), o.sent...)
}

func (o *outbox) last(t *testing.T) *mail.Message {
	t.Helper()
	all := o.all()
	if len(all) == 0 {
		t.Fatal("nothing was sent")
	}
	m, err := mail.ReadMessage(bytes.NewReader(all[len(all)-1].msg))
	if err != nil {
		t.Fatalf("sent mail does not parse: %v", err)
	}
	return m
}

func openDesk(t testing.TB, cfg Config) (*Desk, *outbox) {
	t.Helper()
	box := &outbox{}
	if cfg.Path == "" {
		cfg.Path = filepath.Join(t.TempDir(), "tickets.db")
	}
	if cfg.Mailer == nil {
		cfg.Mailer = box
	}
	cfg.Hostname = "mx.example.com"
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	d, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, box
}

// msg builds a message from header lines and a body.
func msg(headers ...string) []byte {
	body := "Hello, my printer is on fire.\r\n"
	var b strings.Builder
	for _, h := range headers {
		if strings.HasPrefix(h, "body:") {
			body = strings.TrimPrefix(h, "body:") + "\r\n"
			continue
		}
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n" + body)
	return []byte(b.String())
}

func ingest(t *testing.T, d *Desk, support, mailFrom string, m []byte) MailResult {
	t.Helper()
	r, err := d.IngestMail(context.Background(), MailIn{Support: support, MailFrom: mailFrom, Message: m})
	if err != nil {
		t.Fatalf("IngestMail: %v", err)
	}
	return r
}
