package queue

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"frontdesk/dnscheck"
)

// Results of one attempt for one recipient, as logged.
const (
	resultDelivered = "delivered"
	resultDeferred  = "deferred"
	resultFailed    = "failed"
)

// outcome is what one attempt decided for one recipient.
type outcome struct {
	result string
	reply  string // remote reply ("550 5.1.1 …") or local error text
	status string // RFC 3463 code for a failure
	host   string
	tls    bool
}

// deliverDomain makes one attempt at the pending recipients of message id
// in domain. It returns when the job is due again (zero: nothing left for
// this domain) and whether the message has no pending recipient left.
func (q *Queue) deliverDomain(ctx context.Context, id, domain string) (next time.Time, finish bool) {
	it, err := q.get(id)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			q.log.Error("queue: reading record", "id", id, "err", err)
			return q.cfg.Now().Add(q.cfg.Retry[0]), false
		}
		return time.Time{}, false // dropped
	}
	var rcpts []string
	for _, r := range it.Recipients {
		if r.Status == StatusQueued && domainOf(r.Addr) == domain {
			rcpts = append(rcpts, r.Addr)
		}
	}
	if len(rcpts) == 0 {
		return time.Time{}, !it.pending()
	}
	var outs map[string]outcome
	quit := func() {}
	data, err := os.ReadFile(q.msgPath(id))
	if err != nil {
		outs = all(rcpts, outcome{result: resultDeferred, reply: "local error: " + err.Error()})
	} else {
		outs, quit = q.attempt(ctx, it.From, domain, rcpts, data)
	}
	if ctx.Err() != nil {
		// Shutting down: what the remote said stands, but an interrupted
		// attempt is not one, so the recipient stays due as it was.
		for a, o := range outs {
			if o.result == resultDeferred {
				delete(outs, a)
			}
		}
		next = q.cfg.Now()
	}
	nxt, pending, err := q.commit(id, domain, outs)
	quit()
	switch {
	case errors.Is(err, ErrNotFound):
		return time.Time{}, false
	case err != nil:
		q.log.Error("queue: committing delivery state", "id", id, "err", err)
		return q.cfg.Now().Add(q.cfg.Retry[0]), false
	}
	if next.IsZero() {
		next = nxt
	}
	return next, !pending
}

func all(rcpts []string, o outcome) map[string]outcome {
	m := make(map[string]outcome, len(rcpts))
	for _, r := range rcpts {
		m[r] = o
	}
	return m
}

// commit records the outcomes, turning deferrals past MaxAge into failures
// (RFC 5321 §4.5.4.1), and logs one line per recipient. It returns when
// domain's remaining recipients are due and whether any recipient of the
// message is still pending.
func (q *Queue) commit(id, domain string, outs map[string]outcome) (next time.Time, pending bool, err error) {
	type logLine struct {
		rcpt string
		o    outcome
	}
	var lines []logLine
	_, err = q.update(id, func(it *Item) error {
		now := q.cfg.Now()
		expiry := it.Created.Add(q.cfg.MaxAge)
		lines, next, pending = lines[:0], time.Time{}, false
		for i := range it.Recipients {
			r := &it.Recipients[i]
			o, ok := outs[r.Addr]
			if ok && r.Status == StatusQueued {
				r.Attempts++
				r.LastError, r.Host = o.reply, o.host
				switch o.result {
				case resultDelivered:
					r.Status = StatusDelivered
				case resultFailed:
					r.Status, r.DSNStatus = StatusFailed, o.status
				default:
					if !now.Before(expiry) {
						// "delivery time expired", RFC 3463 §3.5.
						r.Status, r.DSNStatus = StatusFailed, "5.4.7"
						o.result = resultFailed
					} else {
						r.NextAttempt = now.Add(q.backoff(r.Attempts))
						if r.NextAttempt.After(expiry) {
							r.NextAttempt = expiry // one last try at the deadline
						}
					}
				}
				lines = append(lines, logLine{r.Addr, o})
			}
			if r.Status == StatusQueued {
				pending = true
				if domainOf(r.Addr) == domain && (next.IsZero() || r.NextAttempt.Before(next)) {
					next = r.NextAttempt
				}
			}
		}
		return nil
	})
	if err != nil {
		return time.Time{}, false, err
	}
	for _, l := range lines {
		// One stable line per attempt and recipient, for postmasters.
		q.log.Info("delivery", "id", id, "rcpt", l.rcpt, "host", l.o.host, "result", l.o.result,
			"tls", l.o.tls, "reply", l.o.reply)
	}
	return next, pending, nil
}

// attempt delivers data to rcpts (all in domain) through the domain's MX
// hosts, in order of preference, trying the next host or address when one
// cannot be reached or answers 4xx (RFC 5321 §5.1). It returns an outcome
// for every recipient and a function that ends the SMTP session, to be
// called once the outcomes are committed.
func (q *Queue) attempt(ctx context.Context, from, domain string, rcpts []string, data []byte) (map[string]outcome, func()) {
	nothing := func() {}
	hosts, implicit, fail := q.lookupMX(ctx, domain)
	if fail != nil {
		return all(rcpts, *fail), nothing
	}
	last := outcome{result: resultDeferred, reply: "no mail server of " + domain + " could be reached"}
	for _, host := range hosts {
		ips, err := q.r.LookupIPAddr(ctx, host)
		if err != nil {
			if implicit && dnscheck.IsNotFound(err) {
				// No MX and no address: the domain does not take mail.
				return all(rcpts, outcome{result: resultFailed, status: "5.1.2",
					reply: "550 5.1.2 " + domain + " has no MX and no address record (RFC 5321 §5.1)"}), nothing
			}
			last = outcome{result: resultDeferred, host: host, reply: "451 4.4.3 looking up " + host + ": " + err.Error()}
			continue
		}
		for _, ip := range ips {
			addr := net.JoinHostPort(ip.IP.String(), strconv.Itoa(q.cfg.OutboundPort))
			outs, quit, err := q.session(ctx, host, addr, from, rcpts, data)
			if err == nil {
				return outs, quit
			}
			o := outcome{result: resultDeferred, host: host, reply: err.Error()}
			var rep *smtpReply
			var pe *phaseError
			if errors.As(err, &rep) {
				o.reply = rep.Error()
				// A 5xx to MAIL refuses the message itself; another host of
				// the same domain would say the same.
				if rep.code/100 == 5 && errors.As(err, &pe) && pe.phase == "mail" {
					o.result, o.status = resultFailed, rep.enhanced("5.0.0")
					return all(rcpts, o), nothing
				}
			}
			last = o
			if ctx.Err() != nil {
				return all(rcpts, last), nothing
			}
		}
	}
	return all(rcpts, last), nothing
}

// lookupMX returns the hosts to try for domain by preference. With no MX
// records the domain itself is the implicit MX (RFC 5321 §5.1); a null MX
// (RFC 7505) or a DNS failure comes back as the outcome for every recipient.
func (q *Queue) lookupMX(ctx context.Context, domain string) (hosts []string, implicit bool, fail *outcome) {
	mxs, err := q.r.LookupMX(ctx, domain)
	switch {
	case dnscheck.IsNotFound(err):
		return []string{domain}, true, nil
	case err != nil:
		return nil, false, &outcome{result: resultDeferred, reply: "451 4.4.3 MX lookup for " + domain + ": " + err.Error()}
	}
	for _, mx := range mxs {
		h := strings.TrimSuffix(mx.Host, ".")
		if h == "" {
			continue // RFC 7505 §3: a "." among real MX records is ignored
		}
		hosts = append(hosts, h)
	}
	if len(hosts) == 0 {
		return nil, false, &outcome{result: resultFailed, status: "5.1.10",
			reply: "556 5.1.10 " + domain + " does not accept mail (null MX, RFC 7505)"}
	}
	return hosts, false, nil
}

// session runs one SMTP session with host at addr, within host's
// PerDestination limit. On success the returned function sends QUIT and
// frees the connection slot.
func (q *Queue) session(ctx context.Context, host, addr, from string, rcpts []string, data []byte) (map[string]outcome, func(), error) {
	release, err := q.acquireHost(ctx, host)
	if err != nil {
		return nil, nil, err
	}
	// Opportunistic TLS (RFC 7435): use STARTTLS whenever offered, without
	// verifying the certificate, since MX hosts rarely have one valid for
	// their name and unauthenticated encryption beats none. If the
	// handshake fails, try again in clear text, as the sender would
	// otherwise never get through to a host with broken TLS.
	if c := q.takeIdle(addr); c != nil {
		res, err := c.send(from, rcpts, data)
		if err == nil {
			return q.outcomes(host, c, res), func() { q.park(addr, c); release() }, nil
		}
		// The session went bad since its last message: start afresh.
		c.close()
	}
	for _, tryTLS := range []bool{true, false} {
		c, err := dialSMTP(ctx, addr, q.cfg.Timeout)
		if err != nil {
			release()
			return nil, nil, err
		}
		if err := c.hello(q.cfg.Hostname); err != nil {
			c.close()
			release()
			return nil, nil, &phaseError{"ehlo", err}
		}
		if tryTLS && c.has("STARTTLS") {
			cfg := &tls.Config{ServerName: host, InsecureSkipVerify: true} //nolint:gosec // RFC 7435
			if err := c.startTLS(cfg, q.cfg.Hostname); err != nil {
				c.close()
				q.log.Warn("queue: STARTTLS failed, retrying without TLS", "host", host, "addr", addr, "err", err)
				continue
			}
		}
		res, err := c.send(from, rcpts, data)
		if err != nil {
			c.close()
			release()
			return nil, nil, err
		}
		return q.outcomes(host, c, res), func() { q.park(addr, c); release() }, nil
	}
	release() // not reached: the clear-text round always returns
	return nil, nil, fmt.Errorf("no session with %s", addr)
}

// outcomes turns the replies of one transaction into per-recipient outcomes.
func (q *Queue) outcomes(host string, c *smtpClient, res []rcptResult) map[string]outcome {
	outs := make(map[string]outcome, len(res))
	for _, r := range res {
		o := outcome{reply: r.reply.Error(), host: host, tls: c.tls}
		switch r.reply.code / 100 {
		case 2:
			o.result = resultDelivered
		case 5:
			o.result, o.status = resultFailed, r.reply.enhanced("5.0.0")
		default:
			o.result = resultDeferred
		}
		outs[r.addr] = o
	}
	return outs
}
