package tickets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"text/template"
	"time"

	bolt "go.etcd.io/bbolt"

	"frontdesk/durable"
)

// Templates are the texts of the desk's mail, as Go text/template. Each
// sees TemplateData. Empty fields keep the defaults.
type Templates struct {
	Ack    string // acknowledgement of a new ticket
	Reply  string // wraps an agent's reply
	Solved string // notice that a ticket was solved, with rating links
}

// TemplateData is what a template may use: {{.Number}}, {{.Token}},
// {{.Subject}}, {{.Name}}, {{.Agent}}, {{.Body}}, {{.Company}},
// {{.RateGood}}, {{.RateBad}}.
type TemplateData struct {
	Number   uint64
	Token    string
	Subject  string
	Name     string // the customer's name, or "there"
	Agent    string
	Body     string
	Company  string
	RateGood string
	RateBad  string
}

// DefaultTemplates are the texts used unless configured.
var DefaultTemplates = Templates{
	Ack: `Hello {{.Name}},

thank you for writing to us. We have opened ticket {{.Token}} for your
request "{{.Subject}}" and will answer as soon as we can.

Just reply to this mail to add to it; please keep {{.Token}} in the subject.

{{.Company}}
`,
	Reply: `{{.Body}}

-- 
{{.Agent}}, {{.Company}}
Ticket {{.Token}}: reply to this mail to answer.
`,
	Solved: `Hello {{.Name}},

we have marked ticket {{.Token}} "{{.Subject}}" as solved.
If anything is still wrong, just reply and it opens again.

How did we do? One click is enough:
  Good: {{.RateGood}}
  Bad:  {{.RateBad}}

{{.Company}}
`,
}

type templates struct {
	ack, reply, solved *template.Template
}

func parseTemplates(t Templates) (*templates, error) {
	pick := func(s, def string) string {
		if strings.TrimSpace(s) == "" {
			return def
		}
		return s
	}
	var out templates
	for _, x := range []struct {
		name string
		text string
		dst  **template.Template
	}{
		{"ack", pick(t.Ack, DefaultTemplates.Ack), &out.ack},
		{"reply", pick(t.Reply, DefaultTemplates.Reply), &out.reply},
		{"solved", pick(t.Solved, DefaultTemplates.Solved), &out.solved},
	} {
		tp, err := template.New(x.name).Option("missingkey=error").Parse(x.text)
		if err != nil {
			return nil, fmt.Errorf("tickets: %s template: %w", x.name, err)
		}
		// A template that cannot run would fail on the first customer:
		// try it now.
		if err := tp.Execute(&bytes.Buffer{}, TemplateData{}); err != nil {
			return nil, fmt.Errorf("tickets: %s template: %w", x.name, err)
		}
		*x.dst = tp
	}
	return &out, nil
}

func (d *Desk) data(t *Ticket, c *Contact) TemplateData {
	name := "there"
	if c != nil && c.Name != "" {
		name = c.Name
	}
	return TemplateData{Number: t.Number, Token: t.Token(), Subject: t.Subject, Name: name, Company: d.cfg.CompanyName,
		RateGood: fmt.Sprintf("%s/rate/%d/%s/good", d.cfg.BaseURL, t.Number, t.Secret),
		RateBad:  fmt.Sprintf("%s/rate/%d/%s/bad", d.cfg.BaseURL, t.Number, t.Secret)}
}

// outMail is one message the desk composes.
type outMail struct {
	from, fromName string
	replyTo        string
	to, cc         []string
	subject        string
	inReplyTo      string
	references     []string
	body           string
	auto           bool // RFC 3834 §5: Auto-Submitted: auto-replied
	ticket         uint64
}

// compose writes an RFC 5322 message and returns it with its Message-ID.
func (d *Desk) compose(m outMail) ([]byte, string) {
	id := fmt.Sprintf("t%d.%s@%s", m.ticket, randomHex(8), d.cfg.Hostname)
	var b bytes.Buffer
	hdr := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	hdr("From", (&mail.Address{Name: m.fromName, Address: m.from}).String())
	hdr("To", strings.Join(m.to, ", "))
	if len(m.cc) > 0 {
		hdr("Cc", strings.Join(m.cc, ", "))
	}
	if m.replyTo != "" {
		hdr("Reply-To", m.replyTo)
	}
	hdr("Subject", mime.QEncoding.Encode("utf-8", m.subject))
	hdr("Date", time.Now().Format(time.RFC1123Z))
	hdr("Message-ID", "<"+id+">")
	if m.inReplyTo != "" {
		hdr("In-Reply-To", "<"+m.inReplyTo+">")
	}
	if len(m.references) > 0 {
		refs := m.references
		// RFC 5322 §3.6.4 lets References grow; keep the first and the
		// last ones, as clients do, so lines stay short.
		if len(refs) > 10 {
			refs = append(append([]string{}, refs[:1]...), refs[len(refs)-9:]...)
		}
		hdr("References", "<"+strings.Join(refs, ">\r\n <")+">")
	}
	if m.auto {
		hdr("Auto-Submitted", "auto-replied")
		hdr("X-Auto-Response-Suppress", "All")
	}
	hdr("X-Frontdesk-Ticket", itoa(m.ticket))
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(strings.ReplaceAll(strings.ReplaceAll(m.body, "\r\n", "\n"), "\n", "\r\n")))
	qp.Close()
	return b.Bytes(), id
}

// replyAddress is the plus address that threads a reply even when a
// client keeps neither subject token nor References.
func replyAddress(t *Ticket) string {
	at := strings.LastIndexByte(t.Support, '@')
	if at < 0 {
		return t.Support
	}
	return fmt.Sprintf("%s+t%d-%s%s", t.Support[:at], t.Number, t.Secret, t.Support[at:])
}

func subjectWithToken(t *Ticket) string {
	s := t.Subject
	if !strings.Contains(s, t.Token()) {
		s += " " + t.Token()
	}
	return s
}

// acknowledge mails the customer that their ticket is open.
func (d *Desk) acknowledge(ctx context.Context, t *Ticket, c *Contact, p parsed) error {
	if d.cfg.Mailer == nil || t.Support == "" || len(c.Emails) == 0 {
		return errors.New("no mailer or no address")
	}
	var body bytes.Buffer
	if err := d.tpl.ack.Execute(&body, d.data(t, c)); err != nil {
		return err
	}
	var refs []string
	if p.msgID != "" {
		refs = append(append(refs, p.references...), p.msgID)
	}
	to, _ := senderOf(p, "")
	msg, id := d.compose(outMail{from: t.Support, fromName: d.cfg.CompanyName, replyTo: replyAddress(t), to: []string{to},
		subject: subjectWithToken(t), inReplyTo: p.msgID, references: refs, body: body.String(), auto: true, ticket: t.Number})
	qid, err := d.cfg.Mailer.Send(ctx, t.Support, []string{to}, msg)
	if err != nil {
		return err
	}
	return d.recordOut(t.Number, &Entry{Kind: KindMailOut, Author: "frontdesk", From: t.Support, To: []string{to},
		Subject: subjectWithToken(t), MessageID: id, Text: body.String(), Queued: qid}, false, p.msgID)
}

// recordOut adds a sent mail to the timeline and registers its Message-ID,
// so the customer's reply threads by References alone. ackOf, if not
// empty, is the Message-ID of the mail the sent one acknowledges: its
// acknowledgement is no longer due.
func (d *Desk) recordOut(n uint64, e *Entry, response bool, ackOf string) error {
	var t *Ticket
	err := d.db.Update(func(tx *bolt.Tx) error {
		durable.Fault("tickets.commit")
		var err error
		if t, err = getTicket(tx, n); err != nil {
			return err
		}
		if err := addEntry(tx, t, e); err != nil {
			return err
		}
		if ackOf != "" {
			if err := tx.Bucket(bucketAckDue).Delete([]byte(ackOf)); err != nil {
				return err
			}
		}
		if response && t.Answered.IsZero() {
			t.Answered = e.At
		}
		t.LastMessageID = e.MessageID
		if err := tx.Bucket(bucketMsgIDs).Put([]byte(e.MessageID), be64(n)); err != nil {
			return err
		}
		return putTicket(tx, t)
	})
	if err != nil {
		return err
	}
	d.remember(t, e.Kind)
	return nil
}

// ReplyInput is an agent's answer to a ticket.
type ReplyInput struct {
	Agent     string // the agent's account address
	AgentName string // shown in the signature; default the address
	Text      string
	Cc        []string
	// Status, when set, changes the ticket's status with the reply
	// (usually pending or solved).
	Status Status
}

// Reply mails an agent's answer to the ticket's contact from the support
// address, threaded under the ticket's last mail, and records it.
func (d *Desk) Reply(ctx context.Context, n uint64, in ReplyInput) (*Entry, error) {
	if strings.TrimSpace(in.Text) == "" {
		return nil, errors.New("tickets: the reply is empty")
	}
	if d.cfg.Mailer == nil {
		return nil, errors.New("tickets: no outbound mail configured")
	}
	t, err := d.Ticket(ctx, n)
	if err != nil {
		return nil, err
	}
	if t.MergedInto != 0 {
		return nil, fmt.Errorf("tickets: #%d was merged into #%d; reply there", n, t.MergedInto)
	}
	c, err := d.Contact(ctx, t.Contact)
	if err != nil {
		return nil, err
	}
	if len(c.Emails) == 0 {
		return nil, fmt.Errorf("tickets: contact of #%d has no mail address; call back instead", n)
	}
	if t.Support == "" {
		return nil, fmt.Errorf("tickets: #%d has no support address to send from", n)
	}
	refs, err := d.references(n)
	if err != nil {
		return nil, err
	}
	data := d.data(t, c)
	data.Body = strings.TrimSpace(in.Text)
	data.Agent = in.AgentName
	if data.Agent == "" {
		data.Agent = in.Agent
	}
	var body bytes.Buffer
	if err := d.tpl.reply.Execute(&body, data); err != nil {
		return nil, err
	}
	subject := "Re: " + subjectWithToken(t)
	to := []string{c.Emails[0]}
	msg, id := d.compose(outMail{from: t.Support, fromName: d.cfg.CompanyName, replyTo: replyAddress(t), to: to, cc: in.Cc,
		subject: subject, inReplyTo: t.LastMessageID, references: refs, body: body.String(), ticket: n})
	qid, err := d.cfg.Mailer.Send(ctx, t.Support, append(to, in.Cc...), msg)
	if err != nil {
		return nil, fmt.Errorf("tickets: reply not queued: %w", err)
	}
	e := &Entry{Kind: KindMailOut, Author: in.Agent, From: t.Support, To: to, Cc: in.Cc, Subject: subject,
		MessageID: id, Text: data.Body, Queued: qid}
	if err := d.recordOut(n, e, true, ""); err != nil {
		return nil, err
	}
	status := in.Status
	if status == "" && t.Status == StatusNew {
		status = StatusOpen
	}
	if status != "" && status != t.Status {
		if err := d.SetStatus(ctx, n, in.Agent, status); err != nil {
			return e, err
		}
	}
	return e, nil
}

// references lists the ticket's Message-IDs, oldest first.
func (d *Desk) references(n uint64) ([]string, error) {
	tl, err := d.Timeline(context.Background(), n)
	if err != nil {
		return nil, err
	}
	var refs []string
	for _, e := range tl {
		if e.MessageID != "" && (e.Kind == KindMailIn || e.Kind == KindMailOut) {
			refs = append(refs, e.MessageID)
		}
	}
	return refs, nil
}

// notifySolved mails the "solved" notice with the rating links.
func (d *Desk) notifySolved(ctx context.Context, n uint64) error {
	t, err := d.Ticket(ctx, n)
	if err != nil || d.cfg.Mailer == nil || t.Support == "" {
		return err
	}
	c, err := d.Contact(ctx, t.Contact)
	if err != nil || len(c.Emails) == 0 {
		return err
	}
	refs, err := d.references(n)
	if err != nil {
		return err
	}
	var body bytes.Buffer
	if err := d.tpl.solved.Execute(&body, d.data(t, c)); err != nil {
		return err
	}
	subject := "Solved: " + subjectWithToken(t)
	msg, id := d.compose(outMail{from: t.Support, fromName: d.cfg.CompanyName, replyTo: replyAddress(t), to: c.Emails[:1],
		subject: subject, inReplyTo: t.LastMessageID, references: refs, body: body.String(), auto: true, ticket: n})
	qid, err := d.cfg.Mailer.Send(ctx, t.Support, c.Emails[:1], msg)
	if err != nil {
		return err
	}
	return d.recordOut(n, &Entry{Kind: KindMailOut, Author: "frontdesk", From: t.Support, To: c.Emails[:1],
		Subject: subject, MessageID: id, Text: body.String(), Queued: qid}, false, "")
}
