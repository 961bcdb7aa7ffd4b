package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func TestResolveRecipient(t *testing.T) {
	s, alice := newTestStore(t)
	ctx := context.Background()
	dom := DomainOf(alice.Address)
	bob, err := s.AddAccount(ctx, "bob@"+dom, "password-bob", RoleUser)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddAlias(ctx, "Sales@"+dom, bob.Address); err != nil {
		t.Fatal(err)
	}
	resolve := func(addr string) string {
		t.Helper()
		a, err := s.ResolveRecipient(ctx, addr)
		if errors.Is(err, ErrNotFound) {
			return ""
		}
		if err != nil {
			t.Fatal(err)
		}
		if a.Password != "" {
			t.Error("ResolveRecipient leaks the password hash")
		}
		return a.Address
	}
	for addr, want := range map[string]string{
		alice.Address:               alice.Address,
		"ALICE@" + dom:              alice.Address,
		"sales@" + dom:              bob.Address,
		"nobody@" + dom:             "",
		"alice@elsewhere.test":      "",
		"sales@" + "elsewhere.test": "",
	} {
		if got := resolve(addr); got != want {
			t.Errorf("resolve %s = %q, want %q", addr, got, want)
		}
	}
	if err := s.SetCatchAll(ctx, dom, alice.Address); err != nil {
		t.Fatal(err)
	}
	if got := resolve("nobody@" + dom); got != alice.Address {
		t.Errorf("catch-all: %q", got)
	}
	if got := resolve("sales@" + dom); got != bob.Address {
		t.Errorf("an alias wins over the catch-all: %q", got)
	}
	if err := s.SetCatchAll(ctx, dom, "ghost@"+dom); !errors.Is(err, ErrNotFound) {
		t.Errorf("catch-all to a missing account: %v", err)
	}
	// Aliases may not shadow accounts or point nowhere.
	if _, err := s.AddAlias(ctx, alice.Address, bob.Address); !errors.Is(err, ErrExists) {
		t.Errorf("alias over an account: %v", err)
	}
	if _, err := s.AddAlias(ctx, "x@"+dom, "ghost@"+dom); !errors.Is(err, ErrNotFound) {
		t.Errorf("alias to nobody: %v", err)
	}
	if _, err := s.AddAlias(ctx, "x@elsewhere.test", bob.Address); !errors.Is(err, ErrNotFound) {
		t.Errorf("alias in a foreign domain: %v", err)
	}
}

func TestSupportAndDomainState(t *testing.T) {
	s, alice := newTestStore(t)
	ctx := context.Background()
	dom := DomainOf(alice.Address)
	if err := s.SetSupport(ctx, "help@"+dom, true); !errors.Is(err, ErrNotFound) {
		t.Errorf("support mark on nothing: %v", err)
	}
	if _, err := s.AddAlias(ctx, "help@"+dom, alice.Address); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSupport(ctx, "help@"+dom, true); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.IsSupportAddress(ctx, "HELP@"+dom); !ok {
		t.Error("help@ is not a support address")
	}
	if err := s.RemoveAlias(ctx, "help@"+dom); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.IsSupportAddress(ctx, "help@"+dom); ok {
		t.Error("a removed alias stays a support address")
	}

	di, err := s.DomainInfo(ctx, dom)
	if err != nil || di.State != DomainPending || !di.Checked.IsZero() {
		t.Fatalf("new domain: %+v %v", di, err)
	}
	now := time.Now()
	if err := s.SetDomainState(ctx, dom, DomainActive, now); err != nil {
		t.Fatal(err)
	}
	if di, _ := s.DomainInfo(ctx, dom); di.State != DomainActive || !di.Checked.Equal(now.UTC()) {
		t.Errorf("after check: %+v", di)
	}
	if err := s.SetDomainState(ctx, "elsewhere.test", DomainActive, now); !errors.Is(err, ErrNotFound) {
		t.Errorf("state of an unknown domain: %v", err)
	}
	if err := s.SetDomainState(ctx, dom, "green", now); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad state: %v", err)
	}
}

func TestDeleteAccount(t *testing.T) {
	s, alice := newTestStore(t)
	ctx := context.Background()
	dom := DomainOf(alice.Address)
	bob, err := s.AddAccount(ctx, "bob@"+dom, "password-bob", RoleUser)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Deliver(ctx, []byte("Subject: hi\r\n\r\nhi\r\n"), time.Time{}, Delivery{Account: bob.ID, Mailbox: "INBOX"},
		Delivery{Account: alice.ID, Mailbox: "INBOX"}); err != nil {
		t.Fatal(err)
	}
	s.AddAlias(ctx, "sales@"+dom, bob.Address)
	s.SetSupport(ctx, "sales@"+dom, true)
	s.SetSupport(ctx, bob.Address, true)
	s.SetCatchAll(ctx, dom, bob.Address)

	if err := s.DeleteAccount(ctx, bob.Address); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{bob.Address, "sales@" + dom, "anyone@" + dom} {
		if _, err := s.ResolveRecipient(ctx, addr); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s resolves after delete: %v", addr, err)
		}
	}
	if sup, _ := s.SupportAddresses(ctx); len(sup) != 0 {
		t.Errorf("support addresses left: %v", sup)
	}
	if _, err := s.Authenticate(ctx, bob.Address, "password-bob"); err == nil {
		t.Error("a deleted account still logs in")
	}
	id := strconv.FormatUint(bob.ID, 10)
	for _, p := range []string{filepath.Join(s.Dir(), "accounts", id+".db"), filepath.Join(s.Dir(), "msg", id)} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left behind: %v", p, err)
		}
	}
	// Alice's copy (a hard link of the same file) is intact.
	mb := inbox(t, s, alice)
	_, msgs, err := s.Messages(ctx, alice.ID, mb.ID)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("alice's inbox: %d %v", len(msgs), err)
	}
	if _, err := s.ReadMessage(alice.ID, msgs[0]); err != nil {
		t.Error(err)
	}
	if err := s.DeleteAccount(ctx, bob.Address); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	// The address can be used again, with a fresh mailbox set.
	if _, err := s.AddAccount(ctx, bob.Address, "password-bob2", RoleUser); err != nil {
		t.Fatal(err)
	}
}

func TestWebSessions(t *testing.T) {
	s, alice := newTestStore(t)
	ctx := context.Background()
	now := time.Now()
	if _, err := s.WebSession(ctx, "k1", now); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing session: %v", err)
	}
	s.PutWebSession(ctx, "k1", &WebSession{Account: alice.ID, CSRF: "c", Created: now, Expires: now.Add(time.Hour)})
	s.PutWebSession(ctx, "k2", &WebSession{Account: alice.ID, CSRF: "c", Created: now, Expires: now.Add(-time.Second)})
	if ws, err := s.WebSession(ctx, "k1", now); err != nil || ws.Account != alice.ID || ws.CSRF != "c" {
		t.Errorf("k1: %+v %v", ws, err)
	}
	if _, err := s.WebSession(ctx, "k2", now); !errors.Is(err, ErrNotFound) {
		t.Errorf("expired session: %v", err)
	}
	if n, err := s.ExpireWebSessions(ctx, now); n != 1 || err != nil {
		t.Errorf("expire: %d %v", n, err)
	}
	s.DeleteWebSession(ctx, "k1")
	if _, err := s.WebSession(ctx, "k1", now); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted session: %v", err)
	}
}
