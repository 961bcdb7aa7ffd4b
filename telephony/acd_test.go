package telephony

import (
	"testing"
	"time"
)

func TestACDOrder(t *testing.T) {
	t0 := time.Unix(1000, 0)
	a := newACD()
	r1 := &waiter{id: 1, caller: "r1", queue: "support", skill: "support", level: LevelRegular, enq: t0}
	r2 := &waiter{id: 2, caller: "r2", queue: "support", skill: "support", level: LevelRegular, enq: t0.Add(time.Second)}
	n1 := &waiter{id: 3, caller: "n1", queue: "support", skill: "support", level: LevelNew, enq: t0.Add(-time.Minute)}
	v := &waiter{id: 4, caller: "v", queue: "support", skill: "support", level: LevelVIP, enq: t0.Add(2 * time.Second)}
	s := &waiter{id: 5, caller: "s", queue: "sales", skill: "sales", level: LevelRegular, enq: t0}
	for _, w := range []*waiter{r1, r2, n1, v, s} {
		a.enqueue(w)
	}
	if p := a.position(v); p != 1 {
		t.Fatalf("VIP position %d", p)
	}
	if a.position(r1) != 2 || a.position(r2) != 3 || a.position(n1) != 4 || a.position(s) != 1 {
		t.Fatalf("positions %d %d %d %d", a.position(r1), a.position(r2), a.position(n1), a.position(s))
	}
	now := t0.Add(10 * time.Second)
	// No agents: nothing to ring.
	if as := a.next(now); len(as) != 0 {
		t.Fatalf("rang %v", as)
	}
	// Two support agents; "old" has been idle longer.
	a.register("new@x", []string{"support"}, now.Add(time.Hour), now)
	a.register("old@x", []string{"support", "sales"}, now.Add(time.Hour), now.Add(-time.Minute))
	a.agents["old@x"].idleSince = now.Add(-time.Minute)
	as := a.next(now)
	if len(as) != 2 || as[0].w != v || as[0].agent != "old@x" || as[1].w != r1 || as[1].agent != "new@x" {
		t.Fatalf("assignments %+v", as)
	}
	if a.agents["old@x"].state != StateRinging {
		t.Fatal("agent not ringing")
	}
	// old@x does not answer the VIP: the next round must not ring them for v
	// again; the earliest regular caller with a matching skill (s, in sales) gets them.
	a.ringFailed(v, "old@x", now)
	as = a.next(now)
	if len(as) != 1 || as[0].w != s || as[0].agent != "old@x" {
		t.Fatalf("after no answer %+v %s", as, as[0].w.caller)
	}
	// new@x answers r1; on hang-up with wrap-up they are not rung until it ends.
	a.answered(r1, "new@x")
	if a.position(r1) != 0 || a.agents["new@x"].state != StateOnCall {
		t.Fatal("answer bookkeeping")
	}
	a.hungUp("new@x", 5*time.Second, now)
	if as := a.next(now.Add(time.Second)); len(as) != 0 {
		t.Fatalf("rang during wrap-up: %+v", as)
	}
	as = a.next(now.Add(6 * time.Second))
	if len(as) != 1 || as[0].w != v || as[0].agent != "new@x" {
		t.Fatalf("after wrap-up %+v", as)
	}
	// Registration expiry takes an agent away.
	a.release("new@x")
	v.offering = ""
	if as := a.next(now.Add(2 * time.Hour)); len(as) != 0 || a.agents["new@x"].state != StateAway {
		t.Fatalf("expired agent rung: %+v", as)
	}
}
