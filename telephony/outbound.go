package telephony

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Outbound calls: ringing agents' phones (for queued callers and for
// callbacks) and callbacks to customers through the SIP trunk.
//
// A callback is two UAC legs that Frontdesk bridges: first the agent's
// registered contact, then, once the agent has answered, the customer's
// number through the trunk proxy. The agent hears a ringback tone while
// the customer's phone rings. Either side hanging up ends both.

// Errors of Server.Callback that mean nothing was dialled.
var (
	ErrNoTrunk            = errors.New("telephony: no SIP trunk configured for callbacks")
	ErrAgentNotRegistered = errors.New("telephony: agent is not registered")
	ErrAgentBusy          = errors.New("telephony: agent is ringing or on a call")
	ErrBadNumber          = errors.New("telephony: not a dialable number")
	ErrOverloaded         = errors.New("telephony: too many calls in progress")
	ErrNotStarted         = errors.New("telephony: server not started")
)

// errNoResponse: the peer sent nothing at all to our INVITE in time.
var errNoResponse = errors.New("no response to INVITE")

// ErrNotConnected is returned (wrapped, with the outcome) by
// Server.Callback when the call was tried but not connected: the agent or
// the customer did not answer or was busy. The call record was stored.
var ErrNotConnected = errors.New("telephony: callback not connected")

// CallbackRequest asks Server.Callback to connect an agent with a customer.
type CallbackRequest struct {
	// Agent is the agent's address; they must be registered and not on a
	// call. Required.
	Agent string
	// Number is the customer's number, dialled as sip:NUMBER@trunk-domain:
	// digits, an optional leading "+", "*". Required.
	Number string
	// Queue, if set, must name a configured queue: the call is counted
	// against it, and its Record and RingTimeout (for the agent) and WrapUp
	// apply. Record below is then ignored.
	Queue string
	// Record asks for the call to be recorded when Queue is empty.
	Record bool
	// Ticket is carried into the call record, so the ticket desk can put
	// the call on the ticket it was made for. 0: none.
	Ticket uint64
}

// Callback rings the agent's registered phone and, once they answer, dials
// the customer through the trunk and bridges the two (RFC 3261 section
// 13.2 for both INVITEs; the trunk's 401/407 digest challenge is answered
// once, section 22.2-22.3).
//
// It returns once the customer has answered, or the attempt has failed:
// on success the record is the call so far (Outcome answered, Answered
// set), and the call goes on in the background until either side hangs up
// or the server closes, when the final record is stored and
// Config.OnRecord fires. When the attempt fails the record is the stored
// final one and the error wraps ErrNotConnected. Errors before anything
// is dialled (ErrNoTrunk, ErrAgentNotRegistered, ErrAgentBusy,
// ErrBadNumber, an unknown queue) store nothing.
//
// ctx bounds the setup only (both rings); the agent's ring times out after
// the queue's RingTimeout (or Callbacks.RingTimeout), the customer's after
// Trunk.RingTimeout.
func (s *Server) Callback(ctx context.Context, req CallbackRequest) (CallRecord, error) {
	if s.cfg.Trunk == nil {
		return CallRecord{}, ErrNoTrunk
	}
	if !validNumber(req.Number) {
		return CallRecord{}, fmt.Errorf("%w: %q", ErrBadNumber, req.Number)
	}
	var q *QueueConfig
	if req.Queue != "" {
		if q = s.queues[req.Queue]; q == nil {
			return CallRecord{}, fmt.Errorf("telephony: unknown queue %q", req.Queue)
		}
	}
	addr := strings.ToLower(strings.TrimSpace(req.Agent))
	s.mu.Lock()
	if s.ctx == nil || s.closed {
		s.mu.Unlock()
		return CallRecord{}, ErrNotStarted
	}
	b, registered := s.regs[addr]
	if registered && !b.expires.After(time.Now()) {
		registered = false
	}
	if !registered {
		s.mu.Unlock()
		return CallRecord{}, fmt.Errorf("%w: %s", ErrAgentNotRegistered, addr)
	}
	if s.active >= s.cfg.MaxCalls {
		s.mu.Unlock()
		return CallRecord{}, ErrOverloaded
	}
	wasAway, ok := s.acd.reserve(addr)
	if !ok {
		s.mu.Unlock()
		return CallRecord{}, fmt.Errorf("%w: %s", ErrAgentBusy, addr)
	}
	s.active++
	s.wg.Add(1)
	s.mu.Unlock()

	o := s.newOutbound(req.Number, addr, q, req.Record, req.Ticket)
	o.restoreAway = wasAway
	ringTimeout := s.cfg.Callbacks.RingTimeout
	if q != nil {
		ringTimeout = q.RingTimeout
	}
	// The request's ctx, the server's life and the ring timeout all end
	// the setup.
	setup, cancel := context.WithTimeout(ctx, ringTimeout+s.cfg.Trunk.RingTimeout+10*time.Second)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()

	ringCtx, ringCancel := context.WithTimeout(setup, ringTimeout)
	al, err := s.dialAgent(ringCtx, addr, b, req.Number, o.log)
	ringCancel()
	if err != nil {
		o.log.Info("agent not reached", "err", err)
		o.rec.Outcome = OutcomeNoAgent
		o.agentDone()
		rec := o.finish()
		s.release()
		return rec, fmt.Errorf("%w: %s: %w", ErrNotConnected, OutcomeNoAgent, err)
	}
	o.agent = al
	if !o.dialCustomer(setup) {
		o.hangupAll()
		rec := o.finish()
		s.release()
		return rec, fmt.Errorf("%w: %s", ErrNotConnected, rec.Outcome)
	}
	snap := o.rec
	go func() {
		defer s.release()
		defer recoverLog(o.log, "callback")
		o.run()
	}()
	return snap, nil
}

// release ends a call's claim on MaxCalls and the server's wait group.
func (s *Server) release() {
	s.mu.Lock()
	s.active--
	s.mu.Unlock()
	s.wg.Done()
}

// outbound is one callback, owned by one goroutine at a time.
type outbound struct {
	s           *Server
	log         *slog.Logger
	rec         CallRecord
	record      bool
	wrapUp      time.Duration
	restoreAway bool // the agent was on a break before this call
	agent       *agentLeg
	cust        *agentLeg
}

func (s *Server) newOutbound(number, agent string, q *QueueConfig, record bool, ticket uint64) *outbound {
	o := &outbound{s: s, record: record}
	s.mu.Lock()
	s.nextID++
	o.rec.ID = fmt.Sprintf("c%d-%d", time.Now().UnixMilli(), s.nextID)
	s.mu.Unlock()
	o.rec.Direction = DirectionCallback
	o.rec.Ticket = ticket
	o.rec.Caller = number
	o.rec.Dialled = number
	o.rec.Agent = agent
	o.rec.Start = time.Now()
	if q != nil {
		o.rec.Queue = q.Name
		o.record = q.Record
		o.wrapUp = q.WrapUp
	}
	o.log = s.log.With("call", o.rec.ID, "callback", number, "agent", agent)
	o.rec.Level = LevelNew
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	if l, err := s.cfg.Contacts.Level(ctx, number); err == nil {
		o.rec.Level = l
	}
	return o
}

// dialCustomer INVITEs the customer through the trunk while the agent
// hears ringback. It reports whether the customer answered; if not, the
// record's outcome says why.
func (o *outbound) dialCustomer(ctx context.Context) bool {
	s, tr := o.s, o.s.cfg.Trunk
	stopRingback, ringbackDone := make(chan struct{}), make(chan struct{})
	go func() { // loop the ringback until the customer's leg settles
		defer close(ringbackDone)
		defer recoverLog(o.log, "ringback")
		for {
			ringing := o.agent.leg.play(ringback)
			select {
			case <-ringing:
			case <-stopRingback:
				return
			}
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, tr.RingTimeout)
	defer cancel()
	// The agent hanging up while the customer's phone rings cancels it
	// (RFC 3261 section 9.1).
	stop := context.AfterFunc(o.agent.dlg.Context(), cancel)
	defer stop()

	target := sip.Uri{Scheme: "sip", User: o.rec.Caller, Host: tr.Domain}
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: tr.CallerID, Host: tr.Domain}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	challenges := 0
	auth := sipgo.AnswerOptions{Username: tr.Username, Password: tr.Password,
		OnResponse: func(r *sip.Response) error {
			// One challenge is answered; a second means the trunk refused
			// our credentials (sipgo would otherwise retry once more).
			if r.StatusCode == 401 || r.StatusCode == 407 {
				if challenges++; challenges > 1 || tr.Password == "" {
					return &sipgo.ErrDialogResponse{Res: r}
				}
			}
			return nil
		}}
	cl, err := s.dialOut(ctx, dialSpec{dua: s.duaUDP, target: target, dest: tr.Proxy, from: from,
		auth: auth, name: o.rec.Caller, log: o.log})
	close(stopRingback)
	<-ringbackDone
	o.agent.leg.setSource(nil)
	if err != nil {
		o.rec.Outcome = customerOutcome(err)
		if o.agent.dlg.LoadState() == sip.DialogStateEnded {
			o.rec.Outcome, o.rec.HangupBy = OutcomeAbandoned, "agent"
		}
		if s.ctx.Err() != nil {
			o.rec.HangupBy = "server"
		}
		o.log.Info("customer not reached", "outcome", o.rec.Outcome, "err", err)
		return false
	}
	o.cust = cl
	o.rec.CallID = cl.dlg.InviteRequest.CallID().Value()
	o.rec.Codec = map[uint8]string{ptPCMU: "PCMU", ptPCMA: "PCMA"}[cl.leg.params.pt]
	o.rec.Answered = time.Now()
	o.rec.Outcome = OutcomeAnswered
	o.log.Info("callback connected")
	return true
}

// customerOutcome classifies a failed customer leg by the final response
// (RFC 3261 section 21).
func customerOutcome(err error) Outcome {
	if errors.Is(err, errNoResponse) {
		return OutcomeFailed // the trunk is down or unreachable
	}
	var dr *sipgo.ErrDialogResponse
	if errors.As(err, &dr) && dr.Res != nil {
		switch dr.Res.StatusCode {
		case 486, 600, 603:
			return OutcomeBusy
		case 408, 480, 487:
			return OutcomeNoAnswer
		}
		return OutcomeFailed
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return OutcomeNoAnswer
	}
	return OutcomeFailed
}

// run bridges the two legs until either hangs up, then ends both and
// stores the record.
func (o *outbound) run() {
	s := o.s
	var rec *recorder
	if o.record {
		rec = newRecorder(4*time.Hour, true)
	}
	undo := connect(o.cust.leg, o.agent.leg, rec)
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
loop:
	for {
		select {
		case <-s.ctx.Done():
			o.rec.HangupBy = "server"
			break loop
		case <-o.cust.dlg.Context().Done():
			o.rec.HangupBy = "caller"
			break loop
		case <-o.agent.dlg.Context().Done():
			o.rec.HangupBy = "agent"
			break loop
		case <-t.C:
			for _, l := range []*leg{o.cust.leg, o.agent.leg} {
				if time.Since(time.Unix(0, l.lastRecv.Load())) > s.cfg.MediaTimeout {
					o.log.Info("media timeout")
					o.rec.HangupBy = "server"
					break loop
				}
			}
		}
	}
	o.rec.Talk = time.Since(o.rec.Answered)
	undo()
	o.hangupAll()
	if rec != nil {
		id := o.rec.ID + "-rec"
		if err := s.saveRecording(id, rec.samples()); err != nil {
			o.log.Error("recording", "err", err)
		} else {
			o.rec.Recording = id
		}
	}
	o.finish()
}

// hangupAll BYEs whichever legs are still up and frees the agent.
func (o *outbound) hangupAll() {
	if o.cust != nil {
		o.rec.CallerRTP = o.cust.leg.stats()
		o.s.hangupLeg(o.cust)
	}
	if o.agent != nil {
		o.rec.AgentRTP = o.agent.leg.stats()
		o.s.hangupLeg(o.agent)
	}
	o.agentDone()
}

// agentDone returns the agent to the ACD: wrap-up or available, or back on
// their break if they were on one.
func (o *outbound) agentDone() {
	if o.restoreAway {
		o.s.mu.Lock()
		o.s.acd.hungUp(o.rec.Agent, 0, time.Now())
		o.s.acd.setAway(o.rec.Agent, true, time.Now())
		o.s.mu.Unlock()
		o.s.dispatch()
		return
	}
	o.s.agentFree(o.rec.Agent, o.wrapUp)
}

// finish stores the record (firing OnRecord) and returns it.
func (o *outbound) finish() CallRecord {
	o.rec.End = time.Now()
	if o.rec.HangupBy == "" {
		o.rec.HangupBy = "server"
	}
	if err := o.s.storeCall(&o.rec); err != nil {
		o.log.Error("store call record", "err", err)
	}
	o.log.Info("callback ended", "outcome", o.rec.Outcome, "talk", o.rec.Talk, "by", o.rec.HangupBy)
	return o.rec
}

// storeCall stores a finished call's record durably, then tells
// Config.OnRecord. On a full disk both happen later (see durably).
func (s *Server) storeCall(r *CallRecord) error {
	rec := *r
	held, err := s.durably(heldWrite{what: "call record " + rec.ID, record: &rec, write: func() error {
		if err := s.db.addCall(context.Background(), &rec); err != nil {
			return err
		}
		if s.cfg.OnRecord != nil {
			func() {
				defer recoverLog(s.log, "OnRecord")
				s.cfg.OnRecord(rec)
			}()
			if err := s.db.fed(rec.Seq); err != nil {
				s.log.Warn("call record handed on but not marked so; it is handed on again at the next start", "call", rec.ID, "err", err)
			}
		}
		return nil
	}})
	if err == nil && !held {
		r.Seq = rec.Seq // written here, by this goroutine
	}
	return err
}

// dialAgent rings an agent's registered contact (RFC 3261 section 10.2.1
// binding) presenting caller as the calling party.
func (s *Server) dialAgent(ctx context.Context, addr string, b binding, caller string, log *slog.Logger) (*agentLeg, error) {
	dua := s.duaUDP
	if b.transport == "TCP" {
		dua = s.duaTCP
	}
	from := &sip.FromHeader{DisplayName: caller, Address: sip.Uri{Scheme: "sip", User: caller, Host: s.ip.String()}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	return s.dialOut(ctx, dialSpec{dua: dua, target: b.contact, from: from, name: addr, log: log})
}

// dialSpec is one outgoing INVITE.
type dialSpec struct {
	dua    *sipgo.DialogUA
	target sip.Uri // Request-URI
	dest   string  // host:port to send to instead of target's (an outbound proxy)
	from   *sip.FromHeader
	auth   sipgo.AnswerOptions
	name   string // for the agentLeg: agent address or customer number
	log    *slog.Logger
}

// dialOut sends an INVITE offering PCMU, PCMA and telephone-event from a
// fresh RTP port, waits for a 2xx until ctx ends (then CANCELs, section
// 9.1), ACKs it (section 13.2.2.4) and starts the media. In-dialog BYEs
// are routed to the returned leg's dialog.
func (s *Server) dialOut(ctx context.Context, d dialSpec) (*agentLeg, error) {
	conn, err := listenRTP(s.ip, s.cfg.RTPPortMin, s.cfg.RTPPortMax, &s.rtpNext)
	if err != nil {
		return nil, fmt.Errorf("no RTP port: %w", err)
	}
	l := newLeg(conn, d.log)
	req := sip.NewRequest(sip.INVITE, d.target)
	req.SetBody(buildSDP(s.ip, l.port(), []uint8{ptPCMU, ptPCMA}, 101))
	if d.target.UriParams != nil {
		if tr, _ := d.target.UriParams.Get("transport"); tr != "" {
			req.SetTransport(strings.ToUpper(tr))
		}
	}
	ct := sip.ContentTypeHeader("application/sdp")
	req.AppendHeader(d.from)
	req.AppendHeader(&ct)
	if d.dest != "" {
		req.SetDestination(d.dest)
	}
	dlg, err := d.dua.WriteInvite(ctx, req)
	if err != nil {
		l.close()
		return nil, fmt.Errorf("invite: %w", err)
	}
	callID := dlg.InviteRequest.CallID().Value()
	s.setHooks(callID, &dialogHooks{bye: func(r *sip.Request, t sip.ServerTransaction) {
		dlg.ReadBye(r, t)
	}})
	// A peer that never sent even a provisional response cannot be
	// CANCELled (RFC 3261 section 9.1), and sipgo would then wait out
	// Timer B (32 s) past our deadline; give up on it at once instead.
	var heard atomic.Bool
	waitCtx, cancelWait := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelWait(nil)
	stopWait := context.AfterFunc(ctx, func() {
		if heard.Load() {
			cancelWait(context.Cause(ctx))
		} else {
			cancelWait(sipgo.WaitAnswerForceCancelErr)
		}
	})
	defer stopWait()
	opts := d.auth
	onResponse := opts.OnResponse
	opts.OnResponse = func(r *sip.Response) error {
		heard.Store(true)
		if onResponse != nil {
			return onResponse(r)
		}
		return nil
	}
	if err := dlg.WaitAnswer(waitCtx, opts); err != nil {
		if context.Cause(waitCtx) == sipgo.WaitAnswerForceCancelErr {
			err = fmt.Errorf("%w (%w)", errNoResponse, err)
		}
		if res := dlg.InviteResponse; res != nil && res.IsSuccess() {
			// The 200 crossed our CANCEL (RFC 3261 section 9.1): the
			// dialog exists, so ACK it and hang it up (section 15).
			bg, bgCancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := dlg.Ack(bg); err == nil {
				dlg.Bye(bg)
			}
			bgCancel()
		}
		s.setHooks(callID, nil)
		dlg.Close()
		l.close()
		return nil, err
	}
	bg, bgCancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer bgCancel()
	if err := dlg.Ack(bg); err != nil {
		d.log.Warn("ack", "to", d.name, "err", err)
	}
	params, err := parseSDP(dlg.InviteResponse.Body())
	if err != nil {
		dlg.Bye(bg)
		dlg.Close()
		s.setHooks(callID, nil)
		l.close()
		return nil, fmt.Errorf("bad answer SDP: %w", err)
	}
	l.start(params)
	return &agentLeg{addr: d.name, dlg: dlg, leg: l}, nil
}

// ringback is what the agent hears while the customer's phone rings: the
// ITU-T E.180 425 Hz cadence, 1 s on, 4 s off.
var ringback = append(tone(425, 1000, 2500), make([]int16, 4*SampleRate)...)
