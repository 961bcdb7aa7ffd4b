package tickets

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"

	"frontdesk/durable"
	"frontdesk/search"

	bolt "go.etcd.io/bbolt"
)

// MailIn is one message that reached a support address.
type MailIn struct {
	// Support is the support address it reached, as the envelope named it
	// (a plus-addressed reply keeps its +detail).
	Support string
	// MailFrom is the envelope sender; "" is the null sender of bounces.
	MailFrom string
	// Message is the message as stored.
	Message []byte
}

// MailResult says what became of a message.
type MailResult struct {
	Ticket    uint64 // 0 when no ticket took it
	New       bool   // a ticket was opened
	Duplicate bool   // the same Message-ID was already on the ticket
	Acked     bool   // an acknowledgement was queued
	// Skipped says why no ticket took the message, or why no
	// acknowledgement went out.
	Skipped string
}

// maxText bounds the text a timeline keeps of one mail; the whole
// message stays in the support mailbox.
const maxText = 64 << 10

var tokenRE = regexp.MustCompile(`\[#(\d{1,12})\]`)

// parsed is what threading needs of a message.
type parsed struct {
	msgID      string
	inReplyTo  []string
	references []string
	threadRoot string // Outlook Thread-Index: its first 22 bytes, base64
	subject    string
	from       *mail.Address
	replyTo    *mail.Address
	to, cc     []string
	text       string
	attach     []string
	header     mail.Header
	bounce     bool
}

// ParseMail reads what the desk needs of a message. It never fails: a
// message whose header cannot be read becomes a ticket with its bytes as text.
func parseMail(raw []byte, mailFrom string) parsed {
	var p parsed
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		p.text = clip(string(raw), maxText)
		p.bounce = mailFrom == ""
		return p
	}
	h := m.Header
	p.header = h
	p.msgID = firstID(h.Get("Message-Id"))
	p.inReplyTo = msgIDs(h.Get("In-Reply-To"))
	p.references = msgIDs(h.Get("References"))
	if ti := strings.TrimSpace(h.Get("Thread-Index")); ti != "" {
		// [MS-OXOMSG] 2.2.1.3: the first 22 bytes identify the
		// conversation; each reply appends 5.
		if b, err := base64.StdEncoding.DecodeString(ti); err == nil && len(b) >= 22 {
			p.threadRoot = base64.StdEncoding.EncodeToString(b[:22])
		}
	}
	dec := &mime.WordDecoder{CharsetReader: charsetReader}
	if s, err := dec.DecodeHeader(h.Get("Subject")); err == nil {
		p.subject = strings.TrimSpace(s)
	} else {
		p.subject = strings.TrimSpace(h.Get("Subject"))
	}
	parser := mail.AddressParser{WordDecoder: dec}
	if l, err := parser.ParseList(h.Get("From")); err == nil && len(l) > 0 {
		p.from = l[0]
	}
	if l, err := parser.ParseList(h.Get("Reply-To")); err == nil && len(l) > 0 {
		p.replyTo = l[0]
	}
	for _, f := range []struct {
		name string
		dst  *[]string
	}{{"To", &p.to}, {"Cc", &p.cc}} {
		if l, err := parser.ParseList(h.Get(f.name)); err == nil {
			for _, a := range l {
				*f.dst = append(*f.dst, strings.ToLower(a.Address))
			}
		}
	}
	doc := search.Extract(raw)
	p.text = clip(strings.TrimSpace(doc.Body), maxText)
	p.attach = attachmentNames(raw)
	ct, params, _ := mime.ParseMediaType(h.Get("Content-Type"))
	// RFC 3464: a DSN is multipart/report; report-type=delivery-status.
	p.bounce = mailFrom == "" || (ct == "multipart/report" && strings.EqualFold(params["report-type"], "delivery-status"))
	return p
}

func charsetReader(_ string, r io.Reader) (io.Reader, error) { return r, nil }

var attachRE = regexp.MustCompile(`(?i)content-disposition:\s*attachment;[^\r\n]*filename="?([^"\r\n;]+)`)

func attachmentNames(raw []byte) []string {
	var out []string
	for _, m := range attachRE.FindAllSubmatch(raw, 20) {
		out = append(out, string(m[1]))
	}
	return out
}

// firstID returns the first <msg-id> of a field, without brackets.
func firstID(v string) string {
	ids := msgIDs(v)
	if len(ids) == 0 {
		// Some senders omit the brackets.
		return strings.Trim(strings.TrimSpace(v), "<>")
	}
	return ids[0]
}

var msgIDRE = regexp.MustCompile(`<([^<>\s]+)>`)

// msgIDs returns the msg-ids of an In-Reply-To or References field
// (RFC 5322 §3.6.4), oldest first, without brackets.
func msgIDs(v string) []string {
	var out []string
	for _, m := range msgIDRE.FindAllStringSubmatch(v, 200) {
		out = append(out, m[1])
	}
	return out
}

// autoReason says why a message must get no automatic answer (RFC 3834
// §2 and the fields of common bulk senders), or "".
func autoReason(p parsed, mailFrom string) string {
	h := p.header
	switch {
	case mailFrom == "":
		return "null sender"
	case h == nil:
		return "unreadable header"
	}
	if v := strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted"))); v != "" && v != "no" {
		return "Auto-Submitted: " + v
	}
	switch strings.ToLower(strings.TrimSpace(h.Get("Precedence"))) {
	case "bulk", "list", "junk", "auto_reply":
		return "Precedence: " + h.Get("Precedence")
	}
	for _, f := range []string{"List-Id", "List-Unsubscribe", "List-Post", "X-Autoreply", "X-Autorespond", "X-Frontdesk-Ticket"} {
		if h.Get(f) != "" {
			return f
		}
	}
	if v := strings.ToLower(h.Get("X-Auto-Response-Suppress")); strings.Contains(v, "all") || strings.Contains(v, "autoreply") || strings.Contains(v, "oof") {
		return "X-Auto-Response-Suppress"
	}
	local := strings.ToLower(mailFrom)
	if at := strings.LastIndexByte(local, '@'); at >= 0 {
		local = local[:at]
	}
	// RFC 3834 §2: not to list or system addresses.
	if local == "mailer-daemon" || local == "postmaster" || strings.HasPrefix(local, "owner-") ||
		strings.HasSuffix(local, "-request") || strings.HasPrefix(local, "noreply") || strings.HasPrefix(local, "no-reply") {
		return "system sender " + mailFrom
	}
	return ""
}

// IngestMail opens a ticket for a message or threads it into one. It
// returns once the ticket and its timeline entry are committed, so the
// SMTP 250 that follows means "on a ticket". The same Message-ID twice (a
// client retrying after a lost reply) lands once.
func (d *Desk) IngestMail(ctx context.Context, in MailIn) (MailResult, error) {
	p := parseMail(in.Message, in.MailFrom)
	support := strings.ToLower(in.Support)
	now := time.Now().UTC()
	var res MailResult
	var t *Ticket
	var contact *Contact
	var ack bool
	var due *Ticket // a duplicate whose acknowledgement is still due
	err := d.db.Update(func(tx *bolt.Tx) error {
		res, t, contact, ack, due = MailResult{}, nil, nil, false, nil
		durable.Fault("tickets.commit")
		if p.msgID != "" {
			if v := tx.Bucket(bucketMsgIDs).Get([]byte(p.msgID)); v != nil {
				n := binary.BigEndian.Uint64(v)
				res = MailResult{Ticket: n, Duplicate: true}
				var err error
				due, contact, err = ackDueTx(tx, p.msgID)
				return err
			}
		}
		target, err := threadTarget(tx, p, support)
		if err != nil {
			return err
		}
		if p.bounce {
			return d.bounceIn(tx, p, in, target, &res, &t)
		}
		sender, name := senderOf(p, in.MailFrom)
		if target != nil && target.Status == StatusClosed {
			target = nil // a closed ticket stays closed: this is a new problem
		}
		contact, err = contactFor(tx, sender, "", name, now)
		if err != nil {
			return err
		}
		if target == nil {
			t = &Ticket{
				Subject:  cleanSubject(p.subject),
				Status:   StatusNew,
				Priority: PriorityNormal,
				Contact:  contact.ID,
				Support:  BaseAddress(support),
				Created:  now,
				Updated:  now,
				Contacts: 1,
			}
			if contact.Level == LevelVIP {
				t.Priority = PriorityHigh
			}
			d.route(t, support, p.subject, p.text)
			d.setDue(t)
			if err := newTicket(tx, t); err != nil {
				return err
			}
			res.New = true
			if p.threadRoot != "" {
				if err := tx.Bucket(bucketThreads).Put([]byte(p.threadRoot), be64(t.Number)); err != nil {
					return err
				}
			}
		} else {
			t = target
			if contact.ID == t.Contact && t.Solved.IsZero() {
				t.Contacts++
			}
			switch t.Status {
			case StatusSolved:
				t.Status, t.Reopened = StatusOpen, true
			case StatusPending:
				t.Status = StatusOpen
			}
		}
		res.Ticket = t.Number
		e := &Entry{Kind: KindMailIn, At: now, Author: sender, From: sender, To: p.to, Cc: p.cc,
			Subject: p.subject, MessageID: p.msgID, Text: p.text, Attachments: p.attach}
		if err := addEntry(tx, t, e); err != nil {
			return err
		}
		if p.msgID != "" {
			t.LastMessageID = p.msgID
			if err := tx.Bucket(bucketMsgIDs).Put([]byte(p.msgID), be64(t.Number)); err != nil {
				return err
			}
		}
		if res.New {
			why := autoReason(p, in.MailFrom)
			if why == "" && strings.EqualFold(BaseAddress(sender), t.Support) {
				why = "sent by the support address itself"
			}
			if why == "" {
				ok, err := ackAllowed(tx, sender, now, d.cfg.AckPerHour)
				if err != nil {
					return err
				}
				if !ok {
					why = "acknowledgement limit for " + sender
				}
			}
			if why != "" {
				res.Skipped = why
			} else {
				ack = true
				if p.msgID != "" {
					if err := tx.Bucket(bucketAckDue).Put([]byte(p.msgID), be64(t.Number)); err != nil {
						return err
					}
				}
			}
		}
		return putTicket(tx, t)
	})
	if err == nil && due != nil {
		d.acknowledgeDue(ctx, due, contact, p, &res)
	}
	if err != nil || t == nil {
		return res, err
	}
	d.remember(t, KindMailIn)
	d.index(ctx, t.Number)
	if ack {
		if err := d.acknowledge(ctx, t, contact, p); err != nil {
			d.log.Error("acknowledgement not sent", "ticket", t.Number, "to", contact.Emails, "err", err)
			res.Skipped = "acknowledgement failed: " + err.Error()
		} else {
			res.Acked = true
		}
	}
	d.log.Info("mail on ticket", "ticket", t.Number, "new", res.New, "from", p.from, "msgid", p.msgID, "acked", res.Acked, "skipped", res.Skipped)
	return res, nil
}

// bounceIn puts a delivery report on the ticket whose mail bounced. A
// report about no ticket of ours opens nothing.
func (d *Desk) bounceIn(tx *bolt.Tx, p parsed, in MailIn, target *Ticket, res *MailResult, out **Ticket) error {
	if target == nil {
		// RFC 3464 reports quote the original header: its Message-ID
		// (ours) names the ticket.
		for _, id := range msgIDs(string(in.Message)) {
			if v := tx.Bucket(bucketMsgIDs).Get([]byte(id)); v != nil {
				t, err := getTicket(tx, binary.BigEndian.Uint64(v))
				if err != nil {
					return err
				}
				target = t
				break
			}
		}
	}
	if target == nil {
		res.Skipped = "delivery report about no ticket"
		return nil
	}
	res.Ticket = target.Number
	res.Skipped = "delivery report: no acknowledgement"
	e := &Entry{Kind: KindBounce, Author: "mailer-daemon", Subject: p.subject, MessageID: p.msgID, Text: clip(p.text, 4096)}
	if err := addEntry(tx, target, e); err != nil {
		return err
	}
	if p.msgID != "" {
		if err := tx.Bucket(bucketMsgIDs).Put([]byte(p.msgID), be64(target.Number)); err != nil {
			return err
		}
	}
	*out = target
	return putTicket(tx, target)
}

// threadTarget finds the ticket a message belongs to: a plus-addressed
// reply, the subject token, In-Reply-To and References, then Outlook's
// Thread-Index. Merged tickets lead to the ticket they went into.
func threadTarget(tx *bolt.Tx, p parsed, support string) (*Ticket, error) {
	var n uint64
	if at := strings.LastIndexByte(support, '@'); at > 0 {
		if plus := strings.IndexByte(support[:at], '+'); plus > 0 {
			// support+N-secret@domain, as our Reply-To writes it.
			detail := support[plus+1 : at]
			if num, secret, ok := strings.Cut(detail, "-"); ok {
				if v, err := strconv.ParseUint(strings.TrimPrefix(num, "t"), 10, 64); err == nil {
					if t, err := getTicket(tx, v); err == nil && t.Secret == secret {
						n = v
					}
				}
			}
		}
	}
	if n == 0 {
		if m := tokenRE.FindStringSubmatch(p.subject); m != nil {
			v, _ := strconv.ParseUint(m[1], 10, 64)
			if tx.Bucket(bucketTickets).Get(be64(v)) != nil {
				n = v
			}
		}
	}
	if n == 0 {
		ids := append([]string{}, p.inReplyTo...)
		for i := len(p.references) - 1; i >= 0; i-- {
			ids = append(ids, p.references[i])
		}
		for _, id := range ids {
			if v := tx.Bucket(bucketMsgIDs).Get([]byte(id)); v != nil {
				n = binary.BigEndian.Uint64(v)
				break
			}
		}
	}
	if n == 0 && p.threadRoot != "" {
		if v := tx.Bucket(bucketThreads).Get([]byte(p.threadRoot)); v != nil {
			n = binary.BigEndian.Uint64(v)
		}
	}
	if n == 0 {
		return nil, nil
	}
	return followMerge(tx, n)
}

// followMerge returns ticket n, or the ticket it was merged into.
func followMerge(tx *bolt.Tx, n uint64) (*Ticket, error) {
	for range 16 {
		t, err := getTicket(tx, n)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil, nil
			}
			return nil, err
		}
		if t.MergedInto == 0 {
			return t, nil
		}
		n = t.MergedInto
	}
	return nil, errors.New("tickets: merge chain too long")
}

// senderOf is the customer's address: Reply-To when given, else From,
// else the envelope sender.
func senderOf(p parsed, mailFrom string) (addr, name string) {
	switch {
	case p.replyTo != nil && p.replyTo.Address != "":
		addr, name = p.replyTo.Address, p.replyTo.Name
		if p.from != nil && name == "" {
			name = p.from.Name
		}
	case p.from != nil && p.from.Address != "":
		addr, name = p.from.Address, p.from.Name
	default:
		addr = mailFrom
	}
	return strings.ToLower(addr), name
}

var replyPrefixRE = regexp.MustCompile(`(?i)^\s*((re|aw|sv|fw|fwd|wg|tr)\s*(\[\d+\])?\s*:\s*)+`)

// cleanSubject drops reply and forward prefixes from a new ticket's subject.
func cleanSubject(s string) string {
	s = strings.TrimSpace(replyPrefixRE.ReplaceAllString(s, ""))
	if s == "" {
		return "(no subject)"
	}
	return clip(s, 250)
}

// BaseAddress drops an RFC 5233 subaddress ("help+t12-ab@x" → "help@x").
func BaseAddress(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return addr
	}
	if plus := strings.IndexByte(addr[:at], '+'); plus > 0 {
		return addr[:plus] + addr[at:]
	}
	return addr
}

// ackAllowed records an acknowledgement to sender unless perHour were
// already sent in the last hour.
func ackAllowed(tx *bolt.Tx, sender string, now time.Time, perHour int) (bool, error) {
	b := tx.Bucket(bucketAcks)
	var times []time.Time
	if v := b.Get([]byte(sender)); v != nil {
		json.Unmarshal(v, &times)
	}
	kept := times[:0]
	for _, t := range times {
		if now.Sub(t) < time.Hour {
			kept = append(kept, t)
		}
	}
	if len(kept) >= perHour {
		return false, nil
	}
	kept = append(kept, now)
	v, _ := json.Marshal(kept)
	return true, b.Put([]byte(sender), v)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
