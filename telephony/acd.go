package telephony

import (
	"slices"
	"strings"
	"time"
)

// The ACD (automatic call distribution) is pure bookkeeping: who waits in
// which queue in what order, which agents are free and since when. The
// server calls it with its mutex held and acts on the assignments it hands
// out; it never blocks or does I/O.

// Agent states.
const (
	StateAvailable = "available"
	StateRinging   = "ringing"
	StateOnCall    = "on call"
	StateWrapUp    = "wrap-up"
	StateAway      = "away"
)

// waiter is one caller in a queue.
type waiter struct {
	id     uint64
	caller string
	queue  string
	skill  string
	level  Level
	enq    time.Time
	// offering is the agent being rung for this caller, "" if none.
	offering string
	tried    map[string]bool // agents that did not answer this caller
	// task is the ID of the queued callback this entry stands for; 0 for
	// a live caller. Callbacks are served after every live caller.
	task uint64
}

type agentSt struct {
	addr      string
	skills    []string
	state     string
	idleSince time.Time
	wrapUntil time.Time
	expires   time.Time // registration expiry; zero = not registered
}

// assignment is "ring agent for waiter".
type assignment struct {
	w     *waiter
	agent string
}

type acd struct {
	waiting []*waiter // service order maintained by sort
	agents  map[string]*agentSt
}

func newACD() *acd { return &acd{agents: map[string]*agentSt{}} }

func (a *acd) sort() {
	slices.SortStableFunc(a.waiting, func(x, y *waiter) int {
		if (x.task != 0) != (y.task != 0) {
			if x.task != 0 {
				return 1
			}
			return -1
		}
		if d := x.level.rank() - y.level.rank(); d != 0 {
			return d
		}
		if c := x.enq.Compare(y.enq); c != 0 {
			return c
		}
		return int(x.id) - int(y.id)
	})
}

func (a *acd) enqueue(w *waiter) {
	w.tried = map[string]bool{}
	a.waiting = append(a.waiting, w)
	a.sort()
}

func (a *acd) remove(w *waiter) {
	a.waiting = slices.DeleteFunc(a.waiting, func(x *waiter) bool { return x == w })
}

// position is w's 1-based place among callers of its queue, 0 if gone.
func (a *acd) position(w *waiter) int {
	n := 0
	for _, x := range a.waiting {
		if x.queue == w.queue {
			n++
		}
		if x == w {
			return n
		}
	}
	return 0
}

// register records an agent's registration; an agent coming back from
// away is available, idle from now.
func (a *acd) register(addr string, skills []string, expires, now time.Time) {
	ag := a.agents[addr]
	if ag == nil {
		ag = &agentSt{addr: addr, state: StateAway}
		a.agents[addr] = ag
	}
	ag.skills = skills
	ag.expires = expires
	if !expires.After(now) {
		ag.expires = time.Time{}
		if ag.state == StateAvailable {
			ag.state = StateAway
		}
		return
	}
	if ag.state == StateAway {
		ag.state, ag.idleSince = StateAvailable, now
	}
}

// refresh applies registration expiry and the end of wrap-up.
func (a *acd) refresh(now time.Time) {
	for _, ag := range a.agents {
		if ag.state == StateWrapUp && !now.Before(ag.wrapUntil) {
			ag.state, ag.idleSince = StateAvailable, ag.wrapUntil
		}
		if !ag.expires.IsZero() && !now.Before(ag.expires) {
			ag.expires = time.Time{}
		}
		if ag.expires.IsZero() && ag.state == StateAvailable {
			ag.state = StateAway
		}
	}
}

// next hands out rings: for each caller in service order (VIP first, then
// by arrival) not already being offered, the longest-idle available,
// registered agent with the skill who has not yet failed this caller.
func (a *acd) next(now time.Time) []assignment {
	a.refresh(now)
	var out []assignment
	for _, w := range a.waiting {
		if w.offering != "" {
			continue
		}
		var best *agentSt
		for _, ag := range a.agents {
			if ag.state != StateAvailable || w.tried[ag.addr] || !slices.Contains(ag.skills, w.skill) {
				continue
			}
			if best == nil || ag.idleSince.Before(best.idleSince) ||
				(ag.idleSince.Equal(best.idleSince) && strings.Compare(ag.addr, best.addr) < 0) {
				best = ag
			}
		}
		if best == nil {
			continue
		}
		best.state = StateRinging
		w.offering = best.addr
		out = append(out, assignment{w: w, agent: best.addr})
	}
	return out
}

// ringFailed: the agent did not answer w (timeout, busy, error). The agent
// is free again but not for w, and goes to the back of the idle order.
// If w no longer holds the offer (the caller left and the agent was
// released), the agent is left alone: they may be ringing for another
// caller by now.
func (a *acd) ringFailed(w *waiter, agent string, now time.Time) {
	w.tried[agent] = true
	if w.offering != agent {
		return
	}
	w.offering = ""
	if ag := a.agents[agent]; ag != nil && ag.state == StateRinging {
		ag.state, ag.idleSince = StateAvailable, now
	}
}

// answered: the agent took w, who leaves the queue.
func (a *acd) answered(w *waiter, agent string) {
	a.remove(w)
	if ag := a.agents[agent]; ag != nil {
		ag.state = StateOnCall
	}
}

// release: a ring was abandoned because the caller left; the agent is
// free, keeping their place in the idle order. The caller must then drop
// its offer (waiter.offering), see ringFailed.
func (a *acd) release(agent string) {
	if ag := a.agents[agent]; ag != nil && ag.state == StateRinging {
		ag.state = StateAvailable
	}
}

// hungUp: the agent's call ended; wrap-up, then available.
// An agent who answered just as their caller left was released while
// ringing and may already be ringing for another caller: that ring
// decides their state, not this hang-up.
func (a *acd) hungUp(agent string, wrap time.Duration, now time.Time) {
	ag := a.agents[agent]
	if ag == nil || ag.state == StateRinging {
		return
	}
	if wrap > 0 {
		ag.state, ag.wrapUntil = StateWrapUp, now.Add(wrap)
	} else {
		ag.state, ag.idleSince = StateAvailable, now
	}
}

// reserve takes a registered agent for a call the ACD did not hand out
// (a callback an agent asked for): they are on a call until hungUp. It
// fails if they are ringing or on a call; wasAway tells whether they were
// on a break, to put them back on it afterwards.
func (a *acd) reserve(agent string) (wasAway, ok bool) {
	ag := a.agents[agent]
	if ag == nil || ag.state == StateRinging || ag.state == StateOnCall {
		return false, false
	}
	wasAway = ag.state == StateAway
	ag.state = StateOnCall
	return wasAway, true
}

// setAway toggles an agent's away state (a break, or back).
func (a *acd) setAway(agent string, away bool, now time.Time) bool {
	ag := a.agents[agent]
	if ag == nil {
		return false
	}
	switch {
	case away && ag.state == StateAvailable:
		ag.state = StateAway
	case !away && ag.state == StateAway && !ag.expires.IsZero():
		ag.state, ag.idleSince = StateAvailable, now
	}
	return true
}
