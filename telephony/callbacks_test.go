package telephony

import (
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// A queued callback gets a free agent only when no live caller of its
// queue is waiting for them, however long ago it was asked for.
func TestACDCallbackAfterLiveCallers(t *testing.T) {
	t0 := time.Unix(1000, 0)
	a := newACD()
	task := &waiter{id: 1, caller: "+1555", queue: "support", skill: "support", level: LevelNew, enq: t0.Add(-time.Hour), task: 7}
	live := &waiter{id: 2, caller: "n", queue: "support", skill: "support", level: LevelNew, enq: t0}
	a.enqueue(task)
	a.enqueue(live)
	if a.position(live) != 1 {
		t.Fatalf("live caller at %d", a.position(live))
	}
	a.register("x@x", []string{"support"}, t0.Add(time.Hour), t0)
	as := a.next(t0)
	if len(as) != 1 || as[0].w != live {
		t.Fatalf("assignments %+v", as)
	}
	a.answered(live, "x@x")
	a.hungUp("x@x", 0, t0)
	if as = a.next(t0); len(as) != 1 || as[0].w != task || as[0].agent != "x@x" {
		t.Fatalf("then %+v", as)
	}
	// reserve refuses an agent who is ringing, and takes an idle one.
	if _, ok := a.reserve("x@x"); ok {
		t.Fatal("reserved a ringing agent")
	}
	a.ringFailed(task, "x@x", t0)
	if away, ok := a.reserve("x@x"); !ok || away || a.agents["x@x"].state != StateOnCall {
		t.Fatal("reserve")
	}
	if _, ok := a.reserve("nobody@x"); ok {
		t.Fatal("reserved an unknown agent")
	}
}

func TestValidNumber(t *testing.T) {
	for n, want := range map[string]bool{"+15550100": true, "100": true, "*21": true, "": false, "+": false,
		"1+2": false, "12 3": false, "1@x": false, "#1": false, "1;x=y": false, "123456789012345678901234567890123": false} {
		if validNumber(n) != want {
			t.Errorf("validNumber(%q) = %v", n, !want)
		}
	}
}

// FuzzValidNumber: whatever validNumber accepts makes a Request-URI that
// parses back to the same user part, so a number can never inject URI
// parameters or headers.
func FuzzValidNumber(f *testing.F) {
	for _, s := range []string{"+15550100", "*21", "1@x", "1;transport=tcp", "1?x=y", "1>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, n string) {
		if !validNumber(n) {
			return
		}
		var u sip.Uri
		if err := sip.ParseUri("sip:"+n+"@trunk.example", &u); err != nil {
			t.Fatalf("%q: %v", n, err)
		}
		if u.User != n || u.Host != "trunk.example" || (u.UriParams != nil && u.UriParams.Length() != 0) || u.String() != "sip:"+n+"@trunk.example" {
			t.Fatalf("%q parsed as %+v", n, u)
		}
	})
}
