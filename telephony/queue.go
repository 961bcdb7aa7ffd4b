package telephony

import (
	"context"
	"strconv"
	"time"

	"github.com/emiago/sipgo/sip"
)

// runQueue waits in q for an agent, with hold audio and position
// announcements, until answered, abandoned or past the caller's MaxWait,
// when a callback (if a trunk is configured) and voicemail are offered.
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
			if c.offerCallback(q) {
				return
			}
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

// offerCallback asks a caller past the maximum wait "press 1 to be called
// back, 2 to leave a message". It reports whether the call is settled: a
// callback stored (or the caller gone); false means go to voicemail, as
// after a 2, no key or any other key. Without a trunk, or for a caller
// whose number cannot be dialled (anonymous, a SIP name), nothing is
// offered.
func (c *call) offerCallback(q *QueueConfig) bool {
	s := c.s
	if s.cfg.Trunk == nil || !validNumber(c.rec.Caller) {
		return false
	}
	// Keys pressed while on hold are not an answer to this question.
	rtpKeys, infoKeys := c.keys()
	for drained := false; !drained; {
		select {
		case <-rtpKeys:
		case <-infoKeys:
		default:
			drained = true
		}
	}
	k, ok := c.playPrompts([]string{"callback_offer"})
	if !ok {
		c.rec.Outcome = OutcomeAbandoned
		return true
	}
	if k == 0 {
		t := time.NewTimer(s.cfg.Callbacks.OfferTimeout)
		select {
		case k = <-rtpKeys:
			c.noteKey("rfc4733")
		case k = <-infoKeys:
			c.noteKey("info")
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			c.rec.Outcome = OutcomeAbandoned
			return true
		}
		t.Stop()
	}
	if k != '1' {
		return false
	}
	task, err := s.requestCallback(c.rec.Caller, q, c.rec.ID)
	if err != nil {
		c.log.Error("callback request", "err", err)
		return false // a message is better than a promise we cannot keep
	}
	c.log.Info("callback requested", "task", task.ID, "queue", q.Name)
	c.rec.Outcome = OutcomeCallbackRequested
	c.playPrompts([]string{"callback_ok"}) // a key or hang-up just ends it sooner
	return true
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

// dispatch starts a ring for every caller the ACD can serve now, and a
// callback for every due callback task it hands an agent.
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
		if a.w.task != 0 {
			s.wg.Add(1)
			go s.runTask(a, b, q)
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
	s.mu.Lock()
	c := s.waiters[a.w]
	s.mu.Unlock()
	if c == nil {
		fail("caller left", nil)
		return
	}
	al, err := s.dialAgent(ctx, a.agent, b, c.rec.Caller, log)
	if err != nil {
		fail("no answer", err)
		return
	}
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
	s.hangupLeg(al)
	s.agentFree(al.addr, q.WrapUp)
}

// hangupLeg sends BYE on an outgoing leg unless it has ended already
// (RFC 3261 section 15.1.1) and releases its dialog and media.
func (s *Server) hangupLeg(al *agentLeg) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if al.dlg.LoadState() != sip.DialogStateEnded {
		al.dlg.Bye(ctx)
	}
	al.dlg.Close()
	al.leg.close()
	s.setHooks(al.dlg.InviteRequest.CallID().Value(), nil)
}

// agentFree ends an agent's call in the ACD: wrap-up, then available.
func (s *Server) agentFree(addr string, wrap time.Duration) {
	s.mu.Lock()
	s.acd.hungUp(addr, wrap, time.Now())
	s.mu.Unlock()
	if wrap > 0 {
		time.AfterFunc(wrap, s.dispatch)
	}
	s.dispatch()
}

// connect relays audio both ways between legs x and y, mixing both
// directions into rec if it is not nil (x as direction 0, y as 1). The
// returned function undoes it.
func connect(x, y *leg, rec *recorder) (undo func()) {
	toY, toX := newFIFO(), newFIFO()
	x.setSink(func(pcm []int16) {
		toY.write(pcm)
		if rec != nil {
			rec.add(0, pcm)
		}
	})
	y.setSink(func(pcm []int16) {
		toX.write(pcm)
		if rec != nil {
			rec.add(1, pcm)
		}
	})
	x.setSource(toX)
	y.setSource(toY)
	return func() {
		x.setSink(nil)
		x.setSource(nil)
		y.setSink(nil)
		y.setSource(nil)
	}
}

// bridge relays audio both ways between the caller and the agent until
// either hangs up, recording both if the queue asks for it.
func (c *call) bridge(q *QueueConfig, al *agentLeg) {
	c.rec.Agent = al.addr
	c.rec.Answered = time.Now()
	c.rec.Outcome = OutcomeAnswered
	c.log.Info("bridged", "agent", al.addr, "wait", c.rec.Wait)
	var rec *recorder
	if q.Record {
		rec = newRecorder(4*time.Hour, true)
	}
	undo := connect(c.leg, al.leg, rec)

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
	undo()
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
