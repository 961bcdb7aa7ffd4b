package queue

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"frontdesk/store"
)

// finish ends a message whose recipients are all delivered or failed: a DSN
// for the failed ones goes to the sender, then the message is removed. It
// returns when to try again if the DSN could not be stored.
func (q *Queue) finish(ctx context.Context, id string) (next time.Time) {
	it, err := q.get(id)
	if errors.Is(err, ErrNotFound) {
		return time.Time{}
	}
	if err != nil {
		q.log.Error("queue: reading record", "id", id, "err", err)
		return q.cfg.Now().Add(q.cfg.Retry[0])
	}
	if it.pending() {
		return time.Time{} // a Retry or a restart raced us; the domain jobs finish it
	}
	var failed []RcptState
	for _, r := range it.Recipients {
		if r.Status == StatusFailed {
			failed = append(failed, r)
		}
	}
	if len(failed) > 0 {
		if err := q.bounce(ctx, it, failed); err != nil {
			q.log.Error("queue: storing DSN", "id", id, "err", err)
			return q.cfg.Now().Add(q.cfg.Retry[0])
		}
	}
	if err := q.remove(id); err != nil && !errors.Is(err, ErrNotFound) {
		q.log.Error("queue: removing message", "id", id, "err", err)
		return q.cfg.Now().Add(q.cfg.Retry[0])
	}
	return time.Time{}
}

// bounce returns a DSN to the sender of it: into the INBOX of a local
// sender, else through the queue with the null sender (RFC 5321 §4.5.5).
func (q *Queue) bounce(ctx context.Context, it *Item, failed []RcptState) error {
	if it.From == "" {
		// Never bounce a bounce (RFC 5321 §4.5.5, RFC 3464 §2): it has
		// nowhere to go and could loop.
		q.log.Warn("queue: DSN not sent for a message with null sender", "id", it.ID, "failed", len(failed))
		return nil
	}
	orig, err := os.ReadFile(q.msgPath(it.ID))
	if err != nil {
		q.log.Warn("queue: original message unreadable for DSN", "id", it.ID, "err", err)
	}
	dsn := q.buildDSN(it, failed, headerSection(orig))
	acct, err := q.st.Account(ctx, it.From)
	switch {
	case err == nil:
		_, err = q.st.Deliver(ctx, dsn, time.Time{}, store.Delivery{Account: acct.ID, Mailbox: "INBOX"})
		if err == nil {
			q.log.Info("queue: DSN delivered", "id", it.ID, "to", it.From, "failed", len(failed))
		}
		return err
	case errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid):
		dsnID, err := q.Enqueue(ctx, "", []string{it.From}, dsn)
		if errors.Is(err, ErrInvalid) {
			q.log.Warn("queue: DSN dropped, sender address unusable", "id", it.ID, "from", it.From)
			return nil
		}
		if err == nil {
			q.log.Info("queue: DSN queued", "id", it.ID, "to", it.From, "dsn_id", dsnID)
		}
		return err
	default:
		return err
	}
}

// headerSection returns the header of a message, up to and without the
// blank line, with CRLF line ends.
func headerSection(msg []byte) []byte {
	end := len(msg)
	if i := bytes.Index(msg, []byte("\r\n\r\n")); i >= 0 {
		end = i + 2
	} else if i := bytes.Index(msg, []byte("\n\n")); i >= 0 {
		end = i + 1
	}
	const limit = 64 << 10 // enough for any sane header; DSNs stay small
	h := msg[:min(end, limit)]
	h = bytes.ReplaceAll(h, []byte("\r\n"), []byte("\n"))
	return bytes.ReplaceAll(h, []byte("\n"), []byte("\r\n"))
}

// buildDSN writes an RFC 3464 delivery status notification: a
// multipart/report (RFC 6522) of a human-readable part, the
// message/delivery-status fields and the original header as
// text/rfc822-headers.
func (q *Queue) buildDSN(it *Item, failed []RcptState, headers []byte) []byte {
	host := q.cfg.Hostname
	now := q.cfg.Now()
	var rb [12]byte
	rand.Read(rb[:])
	boundary := "=_dsn_" + hex.EncodeToString(rb[:])

	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\r\n", args...) }
	w("From: Mail Delivery System <MAILER-DAEMON@%s>", host)
	w("To: <%s>", it.From)
	w("Subject: Undelivered Mail Returned to Sender")
	w("Date: %s", now.Format(time.RFC1123Z))
	w("Message-ID: <%s.dsn@%s>", it.ID, host)
	w("Auto-Submitted: auto-replied") // RFC 3834 §5
	w("MIME-Version: 1.0")
	w("Content-Type: multipart/report; report-type=delivery-status;")
	w("\tboundary=\"%s\"", boundary)
	w("")
	w("This is a MIME-encapsulated message.")
	w("")

	w("--%s", boundary)
	w("Content-Type: text/plain; charset=utf-8")
	w("Content-Description: Notification")
	w("")
	w("This is the mail system at %s.", host)
	w("")
	w("Your message could not be delivered to one or more recipients.")
	w("It has been removed from the queue.")
	w("")
	for _, r := range failed {
		why := sanitize(r.LastError)
		if r.DSNStatus == "5.4.7" {
			why = fmt.Sprintf("gave up after %d attempts over %s; last error: %s",
				r.Attempts, q.cfg.MaxAge, why)
		}
		w("<%s>: %s", r.Addr, why)
	}
	w("")

	w("--%s", boundary)
	w("Content-Type: message/delivery-status")
	w("Content-Description: Delivery report")
	w("")
	w("Reporting-MTA: dns; %s", host)
	w("X-Frontdesk-Queue-ID: %s", it.ID)
	w("Arrival-Date: %s", it.Created.Format(time.RFC1123Z))
	for _, r := range failed {
		w("")
		w("Final-Recipient: rfc822; %s", r.Addr)
		w("Action: failed")
		w("Status: %s", dsnStatus(r.DSNStatus))
		if r.Host != "" {
			w("Remote-MTA: dns; %s", r.Host)
		}
		w("Diagnostic-Code: %s", diagnostic(r.LastError))
	}
	w("")

	w("--%s", boundary)
	w("Content-Type: text/rfc822-headers")
	w("Content-Description: Undelivered message headers")
	w("")
	b.Write(headers)
	w("")
	w("--%s--", boundary)
	return b.Bytes()
}

// dsnStatus keeps the status a permanent class-5 code, as Action: failed
// requires (RFC 3464 §2.3.4).
func dsnStatus(s string) string {
	if !strings.HasPrefix(s, "5.") {
		return "5.0.0"
	}
	return s
}

// diagnostic is the Diagnostic-Code value (RFC 3464 §2.3.6): type "smtp"
// for a remote reply, our own type for a local error.
func diagnostic(lastError string) string {
	s := sanitize(lastError)
	if len(s) >= 4 && s[3] == ' ' && strings.Trim(s[:3], "0123456789") == "" {
		return "smtp; " + s
	}
	return "X-Frontdesk; " + s
}

// sanitize makes remote text safe for a one-line US-ASCII header field.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\r' || r == '\n' || r == '\t':
			b.WriteByte(' ')
		case r < 0x20 || r >= 0x7f:
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
	}
	const limit = 900
	out := strings.TrimSpace(b.String())
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}
