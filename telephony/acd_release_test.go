package telephony

import (
	"testing"
	"time"
)

// TestACDReleaseThenLateFailure: a caller leaves while agent x rings for
// them; x is released and at once rung for a second caller. The first
// ring's late failure (its CANCEL completing) or a late answer being hung
// up must not make x available while x rings for the second caller, or x
// would be rung for a third caller too.
func TestACDReleaseThenLateFailure(t *testing.T) {
	now := time.Unix(1000, 0)
	a := newACD()
	w1 := &waiter{id: 1, caller: "c1", queue: "support", skill: "support", level: LevelNew, enq: now}
	w2 := &waiter{id: 2, caller: "c2", queue: "support", skill: "support", level: LevelNew, enq: now.Add(time.Second)}
	w3 := &waiter{id: 3, caller: "c3", queue: "support", skill: "support", level: LevelNew, enq: now.Add(2 * time.Second)}
	a.enqueue(w1)
	a.register("x@x", []string{"support"}, now.Add(time.Hour), now)
	if as := a.next(now); len(as) != 1 || as[0].w != w1 {
		t.Fatalf("first ring %+v", as)
	}
	// w1 leaves (Server.leaveQueue): removed, agent released, offer dropped.
	a.remove(w1)
	a.release(w1.offering)
	w1.offering = ""
	a.enqueue(w2)
	if as := a.next(now); len(as) != 1 || as[0].w != w2 || as[0].agent != "x@x" {
		t.Fatalf("second ring %+v", as)
	}
	a.ringFailed(w1, "x@x", now) // the cancelled ring for w1 ends
	a.hungUp("x@x", 0, now)      // or: x had answered w1 just too late
	if st := a.agents["x@x"].state; st != StateRinging {
		t.Fatalf("x is %s while ringing for c2", st)
	}
	a.enqueue(w3)
	if as := a.next(now); len(as) != 0 {
		t.Fatalf("x rung twice: %+v", as)
	}
	// The ring for w2 failing frees x for w3.
	a.ringFailed(w2, "x@x", now)
	if as := a.next(now); len(as) != 1 || as[0].w != w3 {
		t.Fatalf("after w2's ring failed %+v", as)
	}
}
