package authn

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"frontdesk/store"
)

func TestThrottle(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	st.AddDomain(ctx, "example.test")
	st.AddAccount(ctx, "alice@example.test", "password123", store.RoleUser)
	a := New(st)
	now := time.Unix(1_800_000_000, 0)
	a.now = func() time.Time { return now }
	attacker := &net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 4000}
	other := &net.TCPAddr{IP: net.ParseIP("198.51.100.9"), Port: 4000}

	if _, err := a.Check(ctx, attacker, "alice@example.test", "password123"); err != nil {
		t.Fatalf("right password: %v", err)
	}
	for i := 0; i < MaxFailures; i++ {
		if _, err := a.Check(ctx, attacker, "ALICE@example.test", "nope"); !errors.Is(err, ErrFailed) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	if _, err := a.Check(ctx, attacker, "alice@example.test", "password123"); !errors.Is(err, ErrRateLimited) {
		t.Errorf("11th attempt: err = %v, want ErrRateLimited", err)
	}
	// The account is throttled from everywhere, whatever the spelling.
	if _, err := a.Check(ctx, other, "Alice@Example.test", "password123"); !errors.Is(err, ErrRateLimited) {
		t.Errorf("same account from another address: err = %v, want ErrRateLimited", err)
	}
	now = now.Add(Window + time.Second)
	if _, err := a.Check(ctx, attacker, "alice@example.test", "password123"); err != nil {
		t.Errorf("after the window: %v", err)
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:1": true, "[::1]:1": true, "192.0.2.1:1": false, "[2001:db8::1]:1": false} {
		a, _ := net.ResolveTCPAddr("tcp", addr)
		if got := IsLoopback(a); got != want {
			t.Errorf("IsLoopback(%s) = %v", addr, got)
		}
	}
}
