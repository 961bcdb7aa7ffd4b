package telephony

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"frontdesk/authn"
)

// handleRegister is the registrar, RFC 3261 section 10.3: digest
// authentication (section 22.4), then the agent's contact is bound to their
// address until it expires.
func (s *Server) handleRegister(req *sip.Request, tx sip.ServerTransaction) {
	authz := req.GetHeader("Authorization")
	if authz == nil {
		s.respond(tx, req, 401, "Unauthorized", sip.NewHeader("WWW-Authenticate", s.auth.challenge(false)))
		return
	}
	user, err := s.auth.verify(authz.Value(), string(req.Method), func(u string) (string, error) {
		return s.agents.DigestHA1(s.ctx, u, s.cfg.Realm)
	})
	switch {
	case errors.Is(err, errDigestStale):
		s.respond(tx, req, 401, "Unauthorized", sip.NewHeader("WWW-Authenticate", s.auth.challenge(true)))
		return
	case err != nil:
		// Log the cause, never the credentials.
		reason := authn.ReasonPassword
		if errors.Is(err, errDigestMalformed) {
			reason = authn.ReasonMalformed
		}
		authn.Refused(s.log, "sip", req.Source(), digestUser(authz.Value()), reason, "err", err)
		s.respond(tx, req, 403, "Forbidden")
		return
	}
	agent, err := s.agents.Agent(s.ctx, user)
	if err != nil {
		authn.Refused(s.log, "sip", req.Source(), user, authn.ReasonPassword, "err", err)
		s.respond(tx, req, 403, "Forbidden")
		return
	}
	// Section 10.3 step 6: a Contact of "*" with Expires 0 removes all.
	expiresHdr := -1
	if h := req.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil && n >= 0 {
			expiresHdr = n
		}
	}
	now := time.Now()
	contacts := req.GetHeaders("Contact")
	var bound *binding
	remove := false
	for _, h := range contacts {
		c, ok := h.(*sip.ContactHeader)
		if !ok {
			s.respond(tx, req, 400, "Bad Request")
			return
		}
		if c.Address.Wildcard || c.Address.Host == "*" || strings.TrimSpace(h.Value()) == "*" {
			if expiresHdr != 0 || len(contacts) > 1 {
				s.respond(tx, req, 400, "Bad Request")
				return
			}
			remove = true
			continue
		}
		exp := expiresHdr
		if v, ok := c.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				exp = n
			}
		}
		if exp < 0 {
			exp = 3600
		}
		if d := time.Duration(exp) * time.Second; d > s.cfg.RegisterMaxExpiry {
			exp = int(s.cfg.RegisterMaxExpiry / time.Second)
		}
		if exp == 0 {
			remove = true
			continue
		}
		bound = &binding{contact: *c.Address.Clone(), transport: req.Transport(), expires: now.Add(time.Duration(exp) * time.Second)}
	}
	s.mu.Lock()
	switch {
	case bound != nil:
		s.regs[agent.Address] = *bound
		s.acd.register(agent.Address, agent.Skills, bound.expires, now)
	case remove:
		delete(s.regs, agent.Address)
		s.acd.register(agent.Address, agent.Skills, time.Time{}, now)
	}
	cur, has := s.regs[agent.Address]
	s.mu.Unlock()

	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	if has && cur.expires.After(now) {
		ch := &sip.ContactHeader{Address: cur.contact, Params: sip.NewParams()}
		ch.Params.Add("expires", strconv.Itoa(int(cur.expires.Sub(now).Round(time.Second)/time.Second)))
		res.AppendHeader(ch)
	}
	res.AppendHeader(sip.NewHeader("Date", now.UTC().Format(time.RFC1123)))
	if err := tx.Respond(res); err != nil {
		s.log.Debug("register respond", "err", err)
	}
	s.log.Info("register", "agent", agent.Address, "bound", bound != nil, "removed", remove && bound == nil)
	s.dispatch()
}

// handleOptions answers capability queries, RFC 3261 section 11.2.
func (s *Server) handleOptions(req *sip.Request, tx sip.ServerTransaction) {
	s.respond(tx, req, 200, "OK",
		sip.NewHeader("Allow", allowMethods),
		sip.NewHeader("Accept", "application/sdp, application/dtmf-relay"))
}

func (s *Server) hooks(req *sip.Request) *dialogHooks {
	id := req.CallID()
	if id == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dialogs[id.Value()]
}

func (s *Server) handleAck(req *sip.Request, tx sip.ServerTransaction) {
	if h := s.hooks(req); h != nil && h.ack != nil {
		h.ack(req, tx)
	}
	// An ACK for an unknown dialog is dropped silently (section 17.2.3: ACK gets no response).
}

func (s *Server) handleBye(req *sip.Request, tx sip.ServerTransaction) {
	if h := s.hooks(req); h != nil && h.bye != nil {
		h.bye(req, tx)
		return
	}
	s.respond(tx, req, 481, "Call/Transaction Does Not Exist")
}

// handleCancel sees only CANCELs that matched no INVITE transaction (the
// transaction layer answers the others with 200 and the INVITE with 487,
// section 9.2).
func (s *Server) handleCancel(req *sip.Request, tx sip.ServerTransaction) {
	s.respond(tx, req, 481, "Call/Transaction Does Not Exist")
}

// handleInfo takes DTMF sent as SIP INFO (application/dtmf-relay), the
// fallback for phones without RFC 4733.
func (s *Server) handleInfo(req *sip.Request, tx sip.ServerTransaction) {
	if h := s.hooks(req); h != nil && h.info != nil {
		h.info(req, tx)
		return
	}
	s.respond(tx, req, 481, "Call/Transaction Does Not Exist")
}

func containsString(ss []string, s string) bool { return slices.Contains(ss, s) }

func sortAgentStates(a []AgentState) {
	slices.SortFunc(a, func(x, y AgentState) int { return strings.Compare(x.Address, y.Address) })
}
