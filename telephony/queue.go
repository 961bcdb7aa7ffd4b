package telephony

import (
	"context"
	"strconv"
	"time"

	"github.com/emiago/sipgo/sip"
)

// runQueue waits in q for an agent, with hold audio and position
// announcements, until answered, abandoned or past the caller's MaxWait,
// when voicemail is offered.
func (c *call) runQueue(q *QueueConfig) {
	s := c.s
	c.rec.Queue = q.Name
	w := &waiter{caller: c.rec.Caller, queue: q.Name, skill: q.Skill, level: c.rec.Level, enq: time.Now()}
	s.mu.Lock()
	s.nextID++
	w.id = s.nextID
	s.acd.enqueue(w)
	s.waiters[w] = c
	s.mu.Unlock()
	s.dispatch()

	maxWait := time.NewTimer(q.MaxWait[c.rec.Level])
	defer maxWait.Stop()
	announce := time.NewTicker(s.cfg.HoldInterval)
	defer announce.Stop()
	holdDone := c.leg.play(c.positionAudio(w))
	for {
		select {
		case al := <-c.agentCh:
			c.rec.Wait = time.Since(w.enq)
			c.bridge(q, al)
			return
		case <-holdDone:
			holdDone = c.leg.play(holdAudio)
		case <-announce.C:
			holdDone = c.leg.play(c.positionAudio(w))
		case <-maxWait.C:
			if !s.leaveQueue(w) { // an agent answered at this very moment
				continue
			}
			c.rec.Wait = time.Since(w.enq)
			c.log.Info("max wait passed", "queue", q.Name, "wait", c.rec.Wait)
			if !c.voicemail() {
				c.rec.Outcome = OutcomeNoAgent
			}
			return
		case <-c.ctx.Done():
			if !s.leaveQueue(w) {
				al := <-c.agentCh
				c.s.hangupAgent(al, q)
			}
			c.rec.Wait = time.Since(w.enq)
			c.rec.Outcome = OutcomeAbandoned
			return
		}
	}
}

// positionAudio is "you are number N" followed by hold audio.
func (c *call) positionAudio(w *waiter) []int16 {
	c.s.mu.Lock()
	pos := c.s.acd.position(w)
	c.s.mu.Unlock()
	out := append([]int16(nil), c.prompt("queue")...)
	if pos >= 1 && pos <= 9 {
		out = append(out, c.prompt("n"+strconv.Itoa(pos))...)
	} else {
		out = append(out, c.prompt("many")...)
	}
	return append(out, holdAudio...)
}

// leaveQueue removes w, cancelling a ring in progress. It reports false if
// w was already taken by an agent, whose leg is then in the call's agentCh.
func (s *Server) leaveQueue(w *waiter) bool {
	s.mu.Lock()
	_, ok := s.waiters[w]
	if ok {
		delete(s.waiters, w)
		s.acd.remove(w)
		if w.offering != "" {
			s.acd.release(w.offering)
			w.offering = "" // the ring's failure must not touch the agent again
		}
		if cancel := s.rings[w]; cancel != nil {
			cancel()
			delete(s.rings, w)
		}
	}
	s.mu.Unlock()
	if ok {
		s.dispatch()
	}
	return ok
}

// dispatch starts a ring for every caller the ACD can serve now.
func (s *Server) dispatch() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.ctx == nil {
		return
	}
	for _, a := range s.acd.next(time.Now()) {
		b, ok := s.regs[a.agent]
		q := s.queues[a.w.queue]
		if !ok || q == nil {
			s.acd.ringFailed(a.w, a.agent, time.Now())
			continue
		}
		ctx, cancel := context.WithTimeout(s.ctx, q.RingTimeout)
		s.rings[a.w] = cancel
		s.wg.Add(1)
		go s.ring(ctx, cancel, a, b, q)
	}
}

// ring INVITEs one agent for one waiting caller (RFC 3261 section 13.2),
// cancelling after the queue's RingTimeout (section 9.1).
func (s *Server) ring(ctx context.Context, cancel context.CancelFunc, a assignment, b binding, q *QueueConfig) {
	defer s.wg.Done()
	defer recoverLog(s.log, "ring")
	log := s.log.With("agent", a.agent, "queue", q.Name)
	fail := func(why string, err error) {
		cancel()
		log.Info("agent not reached", "why", why, "err", err)
		s.mu.Lock()
		if s.rings[a.w] != nil && a.w.offering == a.agent {
			delete(s.rings, a.w)
		}
		s.acd.ringFailed(a.w, a.agent, time.Now())
		s.mu.Unlock()
		// Try the next agent; a retry with nobody new waits for the next event.
		s.dispatch()
	}
	conn, err := listenRTP(s.ip, s.cfg.RTPPortMin, s.cfg.RTPPortMax, &s.rtpNext)
	if err != nil {
		fail("no RTP port", err)
		return
	}
	l := newLeg(conn, log)
	dua := s.duaUDP
	if b.transport == "TCP" {
		dua = s.duaTCP
	}
	offer := buildSDP(s.ip, l.port(), []uint8{ptPCMU, ptPCMA}, 101)
	ct := sip.ContentTypeHeader("application/sdp")
	s.mu.Lock()
	c := s.waiters[a.w]
	s.mu.Unlock()
	if c == nil {
		l.close()
		fail("caller left", nil)
		return
	}
	from := &sip.FromHeader{DisplayName: c.rec.Caller, Address: sip.Uri{Scheme: "sip", User: c.rec.Caller, Host: s.ip.String()}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	dlg, err := dua.Invite(ctx, b.contact, offer, &ct, from)
	if err != nil {
		l.close()
		fail("invite", err)
		return
	}
	callID := dlg.InviteRequest.CallID().Value()
	s.setHooks(callID, &dialogHooks{bye: func(r *sip.Request, t sip.ServerTransaction) {
		dlg.ReadBye(r, t)
	}})
	err = dlg.WaitAnswer(ctx, sipgoAnswer())
	if err != nil {
		if res := dlg.InviteResponse; res != nil && res.IsSuccess() {
			// The agent's 200 crossed our CANCEL (RFC 3261 section 9.1):
			// the dialog exists, so ACK it and hang it up (section 15).
			bg, bgCancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := dlg.Ack(bg); err == nil {
				dlg.Bye(bg)
			}
			bgCancel()
		}
		s.setHooks(callID, nil)
		dlg.Close()
		l.close()
		fail("no answer", err)
		return
	}
	bg, bgCancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer bgCancel()
	if err := dlg.Ack(bg); err != nil {
		log.Warn("ack agent", "err", err)
	}
	params, err := parseSDP(dlg.InviteResponse.Body())
	if err != nil {
		dlg.Bye(bg)
		s.setHooks(callID, nil)
		l.close()
		fail("bad answer SDP", err)
		return
	}
	l.start(params)
	al := &agentLeg{addr: a.agent, dlg: dlg, leg: l}
	s.mu.Lock()
	delete(s.rings, a.w)
	c, ok := s.waiters[a.w]
	if ok {
		delete(s.waiters, a.w)
		s.acd.answered(a.w, a.agent)
	}
	s.mu.Unlock()
	cancel()
	if !ok {
		// The caller left while the agent answered.
		s.hangupAgent(al, q)
		return
	}
	c.agentCh <- al // buffered; only one agent is ever handed to a call
}

// hangupAgent ends an agent's leg and starts their wrap-up.
func (s *Server) hangupAgent(al *agentLeg, q *QueueConfig) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if al.dlg.LoadState() != sip.DialogStateEnded {
		al.dlg.Bye(ctx)
	}
	al.dlg.Close()
	al.leg.close()
	s.setHooks(al.dlg.InviteRequest.CallID().Value(), nil)
	s.mu.Lock()
	s.acd.hungUp(al.addr, q.WrapUp, time.Now())
	s.mu.Unlock()
	if q.WrapUp > 0 {
		time.AfterFunc(q.WrapUp, s.dispatch)
	}
	s.dispatch()
}

// bridge relays audio both ways between the caller and the agent until
// either hangs up, recording both if the queue asks for it.
func (c *call) bridge(q *QueueConfig, al *agentLeg) {
	c.rec.Agent = al.addr
	c.rec.Answered = time.Now()
	c.rec.Outcome = OutcomeAnswered
	c.log.Info("bridged", "agent", al.addr, "wait", c.rec.Wait)
	toAgent, toCaller := newFIFO(), newFIFO()
	var rec *recorder
	if q.Record {
		rec = newRecorder(4*time.Hour, true)
	}
	c.leg.setSink(func(pcm []int16) {
		toAgent.write(pcm)
		if rec != nil {
			rec.add(0, pcm)
		}
	})
	al.leg.setSink(func(pcm []int16) {
		toCaller.write(pcm)
		if rec != nil {
			rec.add(1, pcm)
		}
	})
	c.leg.setSource(toCaller)
	al.leg.setSource(toAgent)

	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
loop:
	for {
		select {
		case <-c.ctx.Done():
			break loop
		case <-al.dlg.Context().Done():
			c.hangup("agent")
			break loop
		case <-t.C:
			if time.Since(time.Unix(0, al.leg.lastRecv.Load())) > c.s.cfg.MediaTimeout {
				c.hangup("server")
				break loop
			}
		}
	}
	c.rec.Talk = time.Since(c.rec.Answered)
	c.leg.setSink(nil)
	c.leg.setSource(nil)
	c.rec.AgentRTP = al.leg.stats()
	c.s.hangupAgent(al, q)
	if rec != nil {
		id := c.rec.ID + "-rec"
		if err := c.s.saveRecording(id, rec.samples()); err != nil {
			c.log.Error("recording", "err", err)
		} else {
			c.rec.Recording = id
		}
	}
}
