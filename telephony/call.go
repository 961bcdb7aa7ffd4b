package telephony

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// call is one customer call, owned by the goroutine of its INVITE.
type call struct {
	s       *Server
	log     *slog.Logger
	rec     CallRecord
	line    *Hotline
	dlg     *sipgo.DialogServerSession
	leg     *leg
	ctx     context.Context // ends when the caller hangs up or the server closes
	cancel  context.CancelFunc
	info    chan rune      // keys from SIP INFO
	agentCh chan *agentLeg // an answered agent, from a ring goroutine
	mu      sync.Mutex
	hangBy  string // guarded by mu; who hung up first
}

// agentLeg is an answered agent's side of a bridge.
type agentLeg struct {
	addr string
	dlg  *sipgo.DialogClientSession
	leg  *leg
}

// handleInvite answers a hotline number (RFC 3261 section 13.3) and runs
// the whole call in this goroutine; sipgo gives each request its own.
func (s *Server) handleInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil {
		if _, ok := to.Params.Get("tag"); ok {
			// A re-INVITE (section 14): we do not renegotiate media.
			s.respond(tx, req, 488, "Not Acceptable Here")
			return
		}
	}
	line := s.lines[req.Recipient.User]
	if line == nil {
		s.respond(tx, req, 404, "Not Found")
		return
	}
	s.mu.Lock()
	over := s.closed || s.active >= s.cfg.MaxCalls
	if !over {
		s.active++
		s.wg.Add(1)
	}
	s.mu.Unlock()
	if over {
		s.respond(tx, req, 503, "Service Unavailable", sip.NewHeader("Retry-After", "30"))
		return
	}
	defer func() {
		s.mu.Lock()
		s.active--
		s.mu.Unlock()
		s.wg.Done()
	}()

	params, err := parseSDP(req.Body())
	if err != nil {
		// Section 13.3.1.3 / RFC 3264 section 6: no acceptable media.
		s.respond(tx, req, 488, "Not Acceptable Here", sip.NewHeader("Warning", fmt.Sprintf("304 frontdesk %q", err.Error())))
		return
	}
	conn, err := listenRTP(s.ip, s.cfg.RTPPortMin, s.cfg.RTPPortMax, &s.rtpNext)
	if err != nil {
		s.log.Warn("no RTP port", "err", err)
		s.respond(tx, req, 503, "Service Unavailable")
		return
	}
	dua := s.duaUDP
	if req.Transport() == "TCP" {
		dua = s.duaTCP
	}
	dlg, err := dua.ReadInvite(req, tx)
	if err != nil {
		conn.Close()
		s.respond(tx, req, 400, "Bad Request")
		return
	}
	defer dlg.Close()

	c := &call{s: s, line: line, dlg: dlg, info: make(chan rune, 16), agentCh: make(chan *agentLeg, 1)}
	c.ctx, c.cancel = context.WithCancel(s.ctx)
	defer c.cancel()
	s.mu.Lock()
	s.nextID++
	c.rec.ID = fmt.Sprintf("c%d-%d", time.Now().UnixMilli(), s.nextID)
	s.mu.Unlock()
	c.rec.Direction = DirectionInbound
	c.rec.CallID = req.CallID().Value()
	c.rec.Caller = req.From().Address.User
	c.rec.Dialled = line.Number
	c.rec.Start = time.Now()
	c.rec.Codec = map[uint8]string{ptPCMU: "PCMU", ptPCMA: "PCMA"}[params.pt]
	c.log = s.log.With("call", c.rec.ID, "caller", c.rec.Caller)
	c.rec.Level = LevelNew
	if l, err := s.cfg.Contacts.Level(c.ctx, c.rec.Caller); err == nil {
		c.rec.Level = l
	} else {
		c.log.Warn("contact lookup", "err", err)
	}

	c.leg = newLeg(conn, c.log)
	defer c.leg.close()
	s.setHooks(c.rec.CallID, &dialogHooks{
		ack: func(r *sip.Request, t sip.ServerTransaction) { dlg.ReadAck(r, t) },
		bye: func(r *sip.Request, t sip.ServerTransaction) {
			if err := dlg.ReadBye(r, t); err != nil {
				s.respond(t, r, 481, "Call/Transaction Does Not Exist")
				return
			}
			c.hangup("caller")
		},
		info: c.handleInfo,
	})
	defer s.setHooks(c.rec.CallID, nil)

	c.leg.start(params)
	// From here the caller may hear the call answered: a record must
	// outlive a crash.
	if err := s.db.putLive(&c.rec); err != nil {
		c.log.Error("store live call record; call refused", "err", err)
		s.respond(tx, req, 503, "Service Unavailable")
		return
	}
	answer := buildSDP(s.ip, c.leg.port(), []uint8{params.pt}, params.dtmfPT)
	if err := dlg.RespondSDP(answer); err != nil {
		c.log.Info("call not established", "err", err)
		c.rec.Outcome = OutcomeAbandoned
		c.hangup("caller")
		c.finish()
		return
	}
	c.log.Info("call answered", "dialled", line.Number, "level", c.rec.Level)
	s.wg.Add(1)
	go c.watch()
	c.run()
	c.finish()
}

func (s *Server) setHooks(callID string, h *dialogHooks) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h == nil {
		delete(s.dialogs, callID)
	} else {
		s.dialogs[callID] = h
	}
}

// hangup records who ended the call (the first to do so wins) and
// cancels the call's context.
func (c *call) hangup(by string) {
	c.mu.Lock()
	if c.hangBy == "" {
		c.hangBy = by
	}
	c.mu.Unlock()
	c.cancel()
}

func (c *call) hungUpBy() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hangBy
}

// watch ends the call when the dialog ends or media stops (RFC 3550 gives
// no liveness signal on its own; a silent peer for MediaTimeout is gone).
func (c *call) watch() {
	defer c.s.wg.Done()
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.dlg.Context().Done():
			c.hangup("caller")
			return
		case <-t.C:
			if time.Since(time.Unix(0, c.leg.lastRecv.Load())) > c.s.cfg.MediaTimeout {
				c.log.Info("media timeout")
				c.hangup("server")
				return
			}
		}
	}
}

func (c *call) handleInfo(req *sip.Request, tx sip.ServerTransaction) {
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = h.Value()
	}
	k, ok := parseDTMFInfo(ct, req.Body())
	if !ok {
		c.s.respond(tx, req, 415, "Unsupported Media Type", sip.NewHeader("Accept", "application/dtmf-relay, application/dtmf"))
		return
	}
	select {
	case c.info <- k:
	default:
	}
	c.s.respond(tx, req, 200, "OK")
}

// run walks the IVR and then the queue, voicemail or goodbye it leads to.
func (c *call) run() {
	exit, ok := c.runIVR()
	if !ok {
		c.rec.Outcome = OutcomeAbandoned
		return
	}
	switch exit.Action {
	case ActQueue:
		c.runQueue(c.s.queues[exit.Queue])
	case ActVoicemail:
		if exit.Queue != "" {
			c.rec.Queue = exit.Queue
		}
		if !c.voicemail() {
			c.rec.Outcome = OutcomeAbandoned
		}
	default: // hang up
		c.playPrompts([]string{"goodbye"})
		c.rec.Outcome = OutcomeAbandoned
	}
}

// key returns the next key from RFC 4733 or SIP INFO.
func (c *call) keys() (<-chan rune, <-chan rune) { return c.leg.digits, c.info }

func (c *call) prompt(name string) []int16 {
	pcm, err := c.s.prompts.get(c.line.Number, name)
	if err != nil {
		c.log.Error("prompt", "err", err)
		return nil
	}
	return pcm
}

// playPrompts plays names in order; it returns early with a key pressed
// (barge-in), or false if the caller hung up.
func (c *call) playPrompts(names []string) (rune, bool) {
	rtpKeys, infoKeys := c.keys()
	for _, n := range names {
		done := c.leg.play(c.prompt(n))
		select {
		case <-done:
		case k := <-rtpKeys:
			c.leg.setSource(nil)
			c.noteKey("rfc4733")
			return k, true
		case k := <-infoKeys:
			c.leg.setSource(nil)
			c.noteKey("info")
			return k, true
		case <-c.ctx.Done():
			return 0, false
		}
	}
	return 0, true
}

func (c *call) noteKey(src string) {
	if c.rec.DTMFSource == "" {
		c.rec.DTMFSource = src
	}
}

func (c *call) runIVR() (Option, bool) {
	v := newIVR(c.line)
	step := v.start()
	defer func() { c.rec.IVRPath = v.pathString() }()
	for step.wait {
		k, ok := c.playPrompts(step.prompts)
		if !ok {
			return Option{}, false
		}
		if k == 0 {
			rtpKeys, infoKeys := c.keys()
			t := time.NewTimer(v.menu.DigitTimeout)
			select {
			case k = <-rtpKeys:
				c.noteKey("rfc4733")
			case k = <-infoKeys:
				c.noteKey("info")
			case <-t.C:
			case <-c.ctx.Done():
				t.Stop()
				return Option{}, false
			}
			t.Stop()
		}
		if k == 0 {
			step = v.timeout()
		} else {
			step = v.key(k)
		}
	}
	return step.exit, true
}

// finish hangs up the caller if they are still there and stores the record.
func (c *call) finish() {
	c.rec.End = time.Now()
	if c.rec.Outcome == "" {
		c.rec.Outcome = OutcomeAbandoned
	}
	c.hangup("server") // no-op if someone hung up already
	by := c.hungUpBy()
	if by != "caller" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := c.dlg.Bye(ctx); err != nil && !errors.Is(err, context.Canceled) {
			c.log.Debug("bye caller", "err", err)
		}
		cancel()
	}
	c.rec.HangupBy = by
	c.rec.CallerRTP = c.leg.stats()
	if err := c.s.storeCall(&c.rec); err != nil {
		c.log.Error("store call record", "err", err)
	}
	c.log.Info("call ended", "outcome", c.rec.Outcome, "ivr", c.rec.IVRPath, "queue", c.rec.Queue,
		"agent", c.rec.Agent, "wait", c.rec.Wait, "talk", c.rec.Talk, "by", by)
}

// voicemail plays the prompt and a beep and records until the caller hangs
// up or MaxVoicemail passes. It reports whether a message was left.
func (c *call) voicemail() bool {
	if _, ok := c.playPrompts([]string{"voicemail"}); !ok {
		return false
	}
	select {
	case <-c.leg.play(beep):
	case <-c.ctx.Done():
		return false
	}
	rec := newRecorder(c.s.cfg.MaxVoicemail, false)
	c.leg.setSink(func(pcm []int16) { rec.add(0, pcm) })
	t := time.NewTimer(c.s.cfg.MaxVoicemail)
	select {
	case <-c.ctx.Done():
	case <-t.C:
		c.leg.play(c.prompt("goodbye"))
		time.Sleep(100 * time.Millisecond)
	}
	t.Stop()
	c.leg.setSink(nil)
	pcm := rec.samples()
	if len(pcm) == 0 {
		return false
	}
	id := c.rec.ID + "-vm"
	if err := c.s.saveRecording(id, pcm); err != nil {
		c.log.Error("voicemail", "err", err)
		return false
	}
	c.rec.Recording = id
	c.rec.Outcome = OutcomeVoicemail
	return true
}
