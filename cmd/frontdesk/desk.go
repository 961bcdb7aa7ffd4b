package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"frontdesk/config"
	"frontdesk/dkim"
	"frontdesk/mailauth"
	"frontdesk/queue"
	"frontdesk/search"
	"frontdesk/smtpd"
	"frontdesk/store"
	"frontdesk/tickets"
)

// deskPath is where the ticket desk keeps its database.
func deskPath(dataDir string) string { return filepath.Join(dataDir, "tickets", "tickets.db") }

// deskParts are what the desk needs from the rest of the server.
type deskParts struct {
	st    *store.Store
	queue *queue.Queue
	keys  *dkim.Keyring
	log   *slog.Logger
}

// openDesk opens the ticket desk with the server's mail path, routing,
// SLA clock and search index.
func openDesk(cfg config.Config, p deskParts) (*tickets.Desk, func() error, error) {
	tc := cfg.Tickets
	tpl, err := readTemplates(tc.Templates)
	if err != nil {
		return nil, nil, err
	}
	baseURL := tc.BaseURL
	if baseURL == "" && cfg.Listen.HTTP != "" {
		baseURL = "http://" + cfg.Listen.HTTP
	}
	idx, err := search.OpenDocs(filepath.Join(cfg.Data, "tickets", "index"))
	if err != nil {
		return nil, nil, err
	}
	routing, err := newRouting(cfg, p.log)
	if err != nil {
		idx.Close()
		return nil, nil, err
	}
	desk, err := tickets.Open(tickets.Config{
		Path: deskPath(cfg.Data), Hostname: cfg.Hostname,
		Mailer:       deskMailer{st: p.st, queue: p.queue, keys: p.keys},
		Router:       routing.router,
		Learner:      routing.learner,
		SLA:          routing.sla,
		DefaultGroup: tc.DefaultGroup,
		Index:        docsIndex{idx},
		BaseURL:      baseURL, CompanyName: tc.Company, Templates: tpl, AckPerHour: tc.AckPerHour,
		Supervisor: tc.Supervisor, Logger: p.log,
	})
	if err != nil {
		idx.Close()
		routing.close()
		return nil, nil, err
	}
	if idx.Fresh() {
		// The index is derived: a new or rebuilt one is fed from the desk.
		go func() {
			if err := desk.Reindex(context.Background()); err != nil {
				p.log.Warn("ticket index rebuild stopped", "err", err)
			}
		}()
	}
	return desk, func() error {
		err := desk.Close()
		idx.Close()
		routing.close()
		return err
	}, nil
}

func readTemplates(t config.TicketTemplates) (tickets.Templates, error) {
	var out tickets.Templates
	for _, f := range []struct {
		path string
		dst  *string
	}{{t.Ack, &out.Ack}, {t.Reply, &out.Reply}, {t.Solved, &out.Solved}} {
		if f.path == "" {
			continue
		}
		b, err := os.ReadFile(f.path)
		if err != nil {
			return out, fmt.Errorf("tickets template: %w", err)
		}
		*f.dst = string(b)
	}
	return out, nil
}

// docsIndex adapts the search package's document index to the desk.
type docsIndex struct{ d *search.Docs }

func (x docsIndex) Put(id string, f map[string]string) error { return x.d.Put(id, f) }
func (x docsIndex) Delete(id string) error                   { return x.d.Delete(id) }
func (x docsIndex) Query(ctx context.Context, q string, limit int) ([]string, error) {
	hits, err := x.d.Query(ctx, q, limit)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.ID
	}
	return ids, nil
}

// deskMailer sends the desk's mail as submission does: DKIM-signed with
// the support domain's keys, local recipients delivered at once, remote
// ones through the outbound queue.
type deskMailer struct {
	st    *store.Store
	queue *queue.Queue
	keys  *dkim.Keyring
}

func (m deskMailer) Send(ctx context.Context, from string, to []string, msg []byte) (string, error) {
	if m.keys != nil {
		if keys := m.keys.Active(mailauth.FromDomain(msg)); len(keys) > 0 {
			signed, err := dkim.Sign(msg, keys)
			if err != nil {
				return "", err
			}
			msg = signed
		}
	}
	var remote []string
	var local []store.Delivery
	for _, rcpt := range to {
		addr, err := store.NormalizeAddress(rcpt)
		if err != nil {
			return "", err
		}
		isLocal, err := m.st.IsLocalDomain(ctx, store.DomainOf(addr))
		if err != nil {
			return "", err
		}
		if !isLocal {
			remote = append(remote, addr)
			continue
		}
		a, err := m.st.ResolveRecipient(ctx, addr)
		if err != nil {
			return "", fmt.Errorf("local recipient %s: %w", addr, err)
		}
		local = append(local, store.Delivery{Account: a.ID, Mailbox: "INBOX"})
	}
	id := "local"
	if len(local) > 0 {
		if _, err := m.st.Deliver(ctx, msg, time.Now(), local...); err != nil {
			return "", err
		}
	}
	if len(remote) > 0 {
		if m.queue == nil {
			return "", fmt.Errorf("no outbound queue for %s", strings.Join(remote, ", "))
		}
		qid, err := m.queue.Enqueue(ctx, from, remote, msg)
		if err != nil {
			return "", err
		}
		id = qid
	}
	return id, nil
}

// deskHook is the MX's and submission's smtpd.Desk: mail to a support
// address goes onto a ticket before the 250.
type deskHook struct {
	st   *store.Store
	desk *tickets.Desk
}

func (h deskHook) SupportMail(ctx context.Context, in smtpd.SupportInput) error {
	for _, rcpt := range in.Recipients {
		base := store.BaseAddress(rcpt)
		ok, err := h.st.IsSupportAddress(ctx, base)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		acct, err := h.st.ResolveRecipient(ctx, base)
		if err != nil {
			return err
		}
		if in.Junk[acct.ID] {
			continue // spam opens no ticket; it waits in the support Junk folder
		}
		// One ticket per message, whichever support addresses it names.
		_, err = h.desk.IngestMail(ctx, tickets.MailIn{Support: rcpt, MailFrom: in.MailFrom, Message: in.Message})
		return err
	}
	return nil
}
