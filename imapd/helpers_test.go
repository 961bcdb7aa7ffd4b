package imapd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"frontdesk/authn"
	"frontdesk/store"
)

const (
	testUser = "alice@example.com"
	testPass = "correct horse"
)

type testEnv struct {
	st   *store.Store
	acct *store.Account
	srv  *Server
	addr string
}

func newTestEnv(tb testing.TB) *testEnv {
	tb.Helper()
	ctx := context.Background()
	st, err := store.Open(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := st.AddDomain(ctx, "example.com"); err != nil {
		tb.Fatal(err)
	}
	acct, err := st.AddAccount(ctx, testUser, testPass, "")
	if err != nil {
		tb.Fatal(err)
	}
	srv := New(st, authn.New(st), Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	tb.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil {
			tb.Errorf("Serve: %v", err)
		}
		st.Close()
	})
	return &testEnv{st: st, acct: acct, srv: srv, addr: l.Addr().String()}
}

// deliver stores a message and returns its UID.
func (e *testEnv) deliver(tb testing.TB, mailbox, data string, flags ...string) uint32 {
	tb.Helper()
	d, err := e.st.Deliver(context.Background(), []byte(data), time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC),
		store.Delivery{Account: e.acct.ID, Mailbox: mailbox, Flags: flags})
	if err != nil {
		tb.Fatal(err)
	}
	return d[0].UID
}

func (e *testEnv) dial(tb testing.TB, h *imapclient.UnilateralDataHandler) *imapclient.Client {
	tb.Helper()
	c, err := imapclient.DialInsecure(e.addr, &imapclient.Options{UnilateralDataHandler: h})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

func (e *testEnv) login(tb testing.TB, h *imapclient.UnilateralDataHandler) *imapclient.Client {
	tb.Helper()
	c := e.dial(tb, h)
	if err := c.Login(testUser, testPass).Wait(); err != nil {
		tb.Fatalf("login: %v", err)
	}
	return c
}

func mustSelect(tb testing.TB, c *imapclient.Client, name string, readOnly bool) *imap.SelectData {
	tb.Helper()
	d, err := c.Select(name, &imap.SelectOptions{ReadOnly: readOnly}).Wait()
	if err != nil {
		tb.Fatalf("select %s: %v", name, err)
	}
	return d
}

func fetch(tb testing.TB, c *imapclient.Client, set imap.NumSet, opts *imap.FetchOptions) []*imapclient.FetchMessageBuffer {
	tb.Helper()
	msgs, err := c.Fetch(set, opts).Collect()
	if err != nil {
		tb.Fatalf("fetch: %v", err)
	}
	return msgs
}

func msg(subject, from, body string) string {
	return fmt.Sprintf("From: %s\r\nTo: alice@example.com\r\nSubject: %s\r\nDate: Sun, 10 Mar 2024 12:00:00 +0000\r\nMessage-ID: <%s@example.org>\r\n\r\n%s\r\n",
		from, subject, strings.ReplaceAll(subject, " ", "."), body)
}

func imapCode(err error) imap.ResponseCode {
	if e, ok := err.(*imap.Error); ok {
		return e.Code
	}
	return ""
}

func hasFlag(flags []imap.Flag, f imap.Flag) bool {
	for _, x := range flags {
		if strings.EqualFold(string(x), string(f)) {
			return true
		}
	}
	return false
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func deliveryTo(e *testEnv, mailbox string) store.Delivery {
	return store.Delivery{Account: e.acct.ID, Mailbox: mailbox}
}
