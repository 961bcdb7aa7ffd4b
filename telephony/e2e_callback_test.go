package telephony

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// End-to-end tests of callbacks: sipp plays the agent's phone (registered
// through our registrar) and, on another port, the SIP trunk proxy with the
// customer's phone behind it.

// onRecords collects what Config.OnRecord is given.
type onRecords struct {
	mu   sync.Mutex
	recs []CallRecord
}

func (o *onRecords) add(r CallRecord) {
	o.mu.Lock()
	o.recs = append(o.recs, r)
	o.mu.Unlock()
}

// wait waits until OnRecord has been called n times (it runs just after
// the record is committed, so Calls may see the record a moment before).
func (o *onRecords) wait(t *testing.T, n int) []CallRecord {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if got := o.get(); len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (o *onRecords) get() []CallRecord {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]CallRecord(nil), o.recs...)
}

// trunkHarness is a harness with a trunk whose proxy is 127.0.0.1:port
// (start sipp there as the customer) and OnRecord collected.
func trunkHarness(t *testing.T, port int, mod func(*Config)) (*harness, *onRecords) {
	t.Helper()
	got := &onRecords{}
	h := newHarness(t, func(c *Config) {
		c.Trunk = &TrunkConfig{Proxy: fmt.Sprintf("127.0.0.1:%d", port), Username: "trunkuser", Password: "trunkpass",
			CallerID: "5550100", RingTimeout: 5 * time.Second}
		c.OnRecord = got.add
		if mod != nil {
			mod(c)
		}
	})
	return h, got
}

// addAgent adds agent with the support skill and registers a sipp UAS
// running scenario (extra: sipp arguments) as their phone.
func (h *harness) addAgent(agent, scenario string, extra ...string) *sippRun {
	h.t.Helper()
	if err := h.s.AddAgent(context.Background(), agent, []string{"support"}, "agentpassword"); err != nil {
		h.t.Fatal(err)
	}
	aport := freeSIPPort(h.t)
	phone := h.sipp(scenario, aport, extra...)
	h.register(agent, aport)
	return phone
}

func agentState(h *harness, agent string) string {
	for _, a := range h.s.QueueState()[1].Agents {
		if a.Address == agent {
			return a.State
		}
	}
	return ""
}

func waitAgentState(t *testing.T, h *harness, agent, state string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for agentState(h, agent) != state {
		if time.Now().After(deadline) {
			t.Fatalf("agent %s is %q, want %q", agent, agentState(h, agent), state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestE2ECallback: the agent's phone rings first; once it answers, the
// customer is dialled through the trunk, which challenges with 407; the
// customer answers, audio flows both ways through Frontdesk (both sipps
// echo), and the customer's BYE ends the agent's leg too.
func TestE2ECallback(t *testing.T) {
	needSipp(t)
	t.Parallel()
	tport := freeSIPPort(t)
	h, got := trunkHarness(t, tport, nil)
	agent := h.addAgent("cb1@example.com", "agent_answer", "-rtp_echo")
	trunk := h.sipp("trunk_auth", tport, "-rtp_echo")

	rec, err := h.s.Callback(context.Background(), CallbackRequest{Agent: "CB1@example.com", Number: "+15551234", Record: true, Ticket: 42})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Outcome != OutcomeAnswered || rec.Direction != DirectionCallback || rec.Answered.IsZero() || rec.Caller != "+15551234" {
		t.Fatalf("Callback returned %+v", rec)
	}
	if st := agentState(h, "cb1@example.com"); st != StateOnCall {
		t.Fatalf("agent %s during the callback", st)
	}
	trunk.wait(t) // the customer hangs up after 3 s
	agent.wait(t) // so the agent's phone got BYE
	r := h.records(1)[0]
	t.Logf("record %+v", r)
	if r.ID != rec.ID || r.Direction != DirectionCallback || r.Agent != "cb1@example.com" || r.Caller != "+15551234" ||
		r.Ticket != 42 || r.Outcome != OutcomeAnswered || r.HangupBy != "caller" || r.Codec != "PCMA" {
		t.Fatalf("record %+v", r)
	}
	if r.Talk < 2*time.Second || r.Answered.Before(r.Start) || r.End.Before(r.Answered) {
		t.Fatalf("times %+v", r)
	}
	// Our RTP reached both phones and their echoes came back.
	if r.CallerRTP.In < 50 || r.CallerRTP.Out < 50 || r.AgentRTP.In < 50 || r.AgentRTP.Out < 50 {
		t.Fatalf("RTP customer %+v agent %+v", r.CallerRTP, r.AgentRTP)
	}
	if r.Recording == "" {
		t.Fatal("no recording")
	}
	rc, err := h.s.Recording(context.Background(), r.Recording)
	if err != nil {
		t.Fatal(err)
	}
	pcm, err := ReadWAV(rc)
	rc.Close()
	if err != nil || len(pcm) < SampleRate {
		t.Fatalf("recording: %d samples, %v", len(pcm), err)
	}
	if on := got.wait(t, 1); len(on) != 1 || on[0].Seq != r.Seq || on[0].ID != r.ID || on[0].Recording != r.Recording {
		t.Fatalf("OnRecord got %+v", on)
	}
	waitAgentState(t, h, "cb1@example.com", StateAvailable)
}

// TestE2ECallbackErrors: no trunk, an unregistered agent and a bad number
// are refused before anything is dialled; an agent's busy phone stops the
// callback before the trunk is used ("no agent"); a busy customer hangs
// up the agent ("busy").
func TestE2ECallbackErrors(t *testing.T) {
	needSipp(t)
	t.Parallel()
	ctx := context.Background()

	plain := newHarness(t, nil)
	if _, err := plain.s.Callback(ctx, CallbackRequest{Agent: "a@example.com", Number: "123"}); !errors.Is(err, ErrNoTrunk) {
		t.Fatalf("without trunk: %v", err)
	}

	// The trunk is a bare UDP socket first: nothing may reach it.
	sock, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	h, got := trunkHarness(t, sock.LocalAddr().(*net.UDPAddr).Port, func(c *Config) { c.Trunk.RingTimeout = time.Second })
	if err := h.s.AddAgent(ctx, "off@example.com", []string{"support"}, "agentpassword"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.s.Callback(ctx, CallbackRequest{Agent: "off@example.com", Number: "123"}); !errors.Is(err, ErrAgentNotRegistered) {
		t.Fatalf("unregistered agent: %v", err)
	}
	if _, err := h.s.Callback(ctx, CallbackRequest{Agent: "nobody@example.com", Number: "123"}); !errors.Is(err, ErrAgentNotRegistered) {
		t.Fatalf("unknown agent: %v", err)
	}
	busyPhone := h.addAgent("busy@example.com", "agent_busy")
	for _, n := range []string{"", "12 3", "1@evil", "sip:1", "#1"} {
		if _, err := h.s.Callback(ctx, CallbackRequest{Agent: "busy@example.com", Number: n}); !errors.Is(err, ErrBadNumber) {
			t.Fatalf("number %q: %v", n, err)
		}
	}
	if _, err := h.s.Callback(ctx, CallbackRequest{Agent: "busy@example.com", Number: "1", Queue: "nope"}); err == nil {
		t.Fatal("unknown queue accepted")
	}
	if n := len(got.get()); n != 0 {
		t.Fatalf("%d records for refused callbacks", n)
	}

	rec, err := h.s.Callback(ctx, CallbackRequest{Agent: "busy@example.com", Number: "+15552000", Queue: "support"})
	if !errors.Is(err, ErrNotConnected) || rec.Outcome != OutcomeNoAgent || rec.Seq == 0 || rec.Queue != "support" {
		t.Fatalf("busy agent: %+v %v", rec, err)
	}
	busyPhone.wait(t)
	sock.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, _, err := sock.ReadFromUDP(make([]byte, 2048)); err == nil {
		t.Fatalf("the trunk got %d bytes though the agent never answered", n)
	}
	waitAgentState(t, h, "busy@example.com", StateAvailable)

	// A trunk that never answers at all: the INVITE reaches it only after
	// the agent answered, and the attempt ends at the ring timeout, not
	// after SIP's 32 s transaction timeout.
	silentAgent := h.addAgent("cb7@example.com", "agent_answer")
	start := time.Now()
	rec, err = h.s.Callback(ctx, CallbackRequest{Agent: "cb7@example.com", Number: "+15552002"})
	if !errors.Is(err, ErrNotConnected) || rec.Outcome != OutcomeFailed || time.Since(start) > 4*time.Second {
		t.Fatalf("silent trunk: %+v %v after %v", rec, err, time.Since(start))
	}
	sock.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 4096)
	if n, _, err := sock.ReadFromUDP(buf); err != nil || !strings.HasPrefix(string(buf[:n]), "INVITE sip:+15552002@127.0.0.1 SIP/2.0") {
		t.Fatalf("trunk got %q %v", buf[:n], err)
	}
	silentAgent.wait(t) // hung up

	// Now a customer whose line is busy, behind a real trunk.
	tport := freeSIPPort(t)
	h2, got2 := trunkHarness(t, tport, nil)
	agent := h2.addAgent("cb2@example.com", "agent_answer", "-rtp_echo")
	trunk := h2.sipp("trunk_busy", tport)
	rec, err = h2.s.Callback(ctx, CallbackRequest{Agent: "cb2@example.com", Number: "+15552001", Ticket: 7})
	if !errors.Is(err, ErrNotConnected) || rec.Outcome != OutcomeBusy || rec.Agent != "cb2@example.com" || rec.Ticket != 7 || rec.Talk != 0 {
		t.Fatalf("busy customer: %+v %v", rec, err)
	}
	trunk.wait(t)
	agent.wait(t) // the agent's leg got BYE
	if on := got2.wait(t, 1); len(on) != 1 || on[0].Outcome != OutcomeBusy || on[0].Direction != DirectionCallback {
		t.Fatalf("OnRecord %+v", on)
	}
	waitAgentState(t, h2, "cb2@example.com", StateAvailable)
}

// TestE2EQueuedCallback: a caller waits past the maximum wait, presses 1
// for a callback and is hung up on; the task survives a restart; when an
// agent registers, the ACD hands them the task, Frontdesk rings them and
// then the customer through the trunk, and the task is done.
func TestE2EQueuedCallback(t *testing.T) {
	needSipp(t)
	t.Parallel()
	tport := freeSIPPort(t)
	short := map[Level]time.Duration{LevelVIP: time.Second, LevelRegular: time.Second, LevelNew: time.Second}
	h, got := trunkHarness(t, tport, func(c *Config) {
		c.Queues[1].MaxWait = short
		c.Callbacks.OfferTimeout = 6 * time.Second
	})
	over := filepath.Join(h.s.cfg.DataDir, "prompts", "100")
	for name, ms := range map[string]int{"callback_offer": 300, "callback_ok": 200} {
		os.WriteFile(filepath.Join(over, name+".wav"), EncodeWAV(tone(500, ms, 3000)), 0o644)
	}
	h.call("caller_callback", "+15550777", "100").wait(t)
	r := h.records(1)[0]
	if r.Outcome != OutcomeCallbackRequested || r.Queue != "support" || r.Direction != DirectionInbound || r.HangupBy != "server" {
		t.Fatalf("record %+v", r)
	}
	tasks, err := h.s.Callbacks(context.Background())
	if err != nil || len(tasks) != 1 {
		t.Fatalf("tasks %+v %v", tasks, err)
	}
	if tk := tasks[0]; tk.Number != "+15550777" || tk.Queue != "support" || tk.Skill != "support" || tk.State != TaskPending ||
		tk.Ticket != 0 || tk.RequestCall != r.ID || tk.Requested.IsZero() {
		t.Fatalf("task %+v", tk)
	}
	if q := h.s.QueueState()[1]; q.Callbacks != 1 || len(q.Waiting) != 0 {
		t.Fatalf("queue state %+v", q)
	}

	// An agent with the skill exists but is not registered: nobody to call.
	if err := h.s.AddAgent(context.Background(), "cb3@example.com", []string{"support"}, "agentpassword"); err != nil {
		t.Fatal(err)
	}
	// Restart on the same data directory: the task is still pending.
	cfg := h.s.cfg
	if err := h.s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	if tasks, err := s2.Callbacks(context.Background()); err != nil || len(tasks) != 1 || tasks[0].State != TaskPending {
		t.Fatalf("after restart %+v %v", tasks, err)
	}
	if err := s2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	udp, _ := s2.Addr()
	h2 := &harness{t: t, s: s2, sip: udp}

	trunk := h2.sipp("trunk_answer", tport, "-rtp_echo")
	aport := freeSIPPort(t)
	agent := h2.sipp("agent_answer", aport, "-rtp_echo")
	h2.register("cb3@example.com", aport) // the agent was stored before the restart
	trunk.wait(t)
	agent.wait(t)
	recs := h2.records(2)
	cb := recs[1]
	if cb.Direction != DirectionCallback || cb.Caller != "+15550777" || cb.Agent != "cb3@example.com" || cb.Queue != "support" ||
		cb.Outcome != OutcomeAnswered || cb.Talk < 2*time.Second || cb.CallerRTP.In == 0 || cb.AgentRTP.In == 0 {
		t.Fatalf("callback record %+v", cb)
	}
	tasks, err = s2.Callbacks(context.Background())
	if err != nil || len(tasks) != 1 {
		t.Fatalf("tasks %+v %v", tasks, err)
	}
	if tk := tasks[0]; tk.State != TaskDone || tk.Attempts != 1 || tk.Agent != "cb3@example.com" || len(tk.Calls) != 1 ||
		tk.Calls[0] != cb.ID || tk.LastOutcome != OutcomeAnswered {
		t.Fatalf("task after callback %+v", tk)
	}
	// The first server's OnRecord saw the request call.
	if on := got.wait(t, 1); len(on) < 1 || on[0].Outcome != OutcomeCallbackRequested {
		t.Fatalf("OnRecord %+v", on)
	}
}

// TestE2EQueuedCallbackRetry: a busy customer is tried again after
// RetryInterval and the task fails after MaxAttempts.
func TestE2EQueuedCallbackRetry(t *testing.T) {
	needSipp(t)
	t.Parallel()
	tport := freeSIPPort(t)
	h, _ := trunkHarness(t, tport, func(c *Config) {
		c.Callbacks.MaxAttempts = 2
		c.Callbacks.RetryInterval = 500 * time.Millisecond
	})
	trunk := h.sipp("trunk_busy", tport, "-m", "2")
	agent := h.addAgent("cb4@example.com", "agent_answer", "-m", "2")
	task, err := h.s.requestCallback("+15550888", h.s.queues["support"], "")
	if err != nil {
		t.Fatal(err)
	}
	// Asking again while pending does not add a second task.
	if again, err := h.s.requestCallback("+15550888", h.s.queues["support"], ""); err != nil || again.ID != task.ID {
		t.Fatalf("second request %+v %v", again, err)
	}
	trunk.wait(t)
	agent.wait(t)
	recs := h.records(2)
	for _, r := range recs {
		if r.Outcome != OutcomeBusy || r.Direction != DirectionCallback || r.Caller != "+15550888" {
			t.Fatalf("record %+v", r)
		}
	}
	if gap := recs[1].Start.Sub(recs[0].End); gap < 400*time.Millisecond {
		t.Fatalf("retried after %v", gap)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		tasks, err := h.s.Callbacks(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if tk := tasks[0]; tk.State == TaskFailed {
			if tk.Attempts != 2 || len(tk.Calls) != 2 || tk.LastOutcome != OutcomeBusy || len(tasks) != 1 {
				t.Fatalf("failed task %+v", tasks)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("task never failed: %+v", tasks)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if q := h.s.QueueState()[1]; q.Callbacks != 0 {
		t.Fatalf("queue state %+v", q)
	}
}

// TestE2ECallbackTrunkAuth: a trunk challenging with 401 WWW-Authenticate
// gets the digest (checked by sipp's verifyauth) and connects, and Close
// hangs up both legs of the live callback; wrong credentials against the
// 407 trunk end as "failed" with the agent hung up.
func TestE2ECallbackTrunkAuth(t *testing.T) {
	needSipp(t)
	t.Parallel()
	ctx := context.Background()
	t.Run("401 then close", func(t *testing.T) {
		t.Parallel()
		tport := freeSIPPort(t)
		h, got := trunkHarness(t, tport, nil)
		agent := h.addAgent("cb5@example.com", "agent_answer", "-rtp_echo")
		trunk := h.sipp("trunk_auth401", tport, "-rtp_echo")
		rec, err := h.s.Callback(ctx, CallbackRequest{Agent: "cb5@example.com", Number: "+15551235"})
		if err != nil || rec.Outcome != OutcomeAnswered {
			t.Fatalf("callback %+v %v", rec, err)
		}
		time.Sleep(time.Second)
		if err := h.s.Close(); err != nil {
			t.Fatal(err)
		}
		trunk.wait(t) // both phones got BYE
		agent.wait(t)
		on := got.wait(t, 1)
		if len(on) != 1 || on[0].HangupBy != "server" || on[0].Outcome != OutcomeAnswered || on[0].Talk < 500*time.Millisecond ||
			on[0].CallerRTP.In == 0 || on[0].AgentRTP.In == 0 {
			t.Fatalf("OnRecord %+v", on)
		}
	})
	t.Run("407 wrong password", func(t *testing.T) {
		t.Parallel()
		tport := freeSIPPort(t)
		h, _ := trunkHarness(t, tport, func(c *Config) { c.Trunk.Password = "wrong" })
		agent := h.addAgent("cb6@example.com", "agent_answer", "-rtp_echo")
		trunk := h.sipp("trunk_auth", tport)
		rec, err := h.s.Callback(ctx, CallbackRequest{Agent: "cb6@example.com", Number: "+15551234"})
		if !errors.Is(err, ErrNotConnected) || rec.Outcome != OutcomeFailed {
			t.Fatalf("callback %+v %v", rec, err)
		}
		trunk.wait(t)
		agent.wait(t)
	})
}
