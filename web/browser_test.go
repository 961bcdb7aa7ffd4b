package web

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"frontdesk/store"
)

// browser starts headless Chromium for a test. Without Chromium the test
// is skipped, or fails when CI is set (CI must run it).
func browser(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed (apt-get install chromium)")
		}
		t.Skip("chromium is not installed")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	}
	for _, f := range []string{"headless", "no-sandbox", "disable-gpu", "disable-quic", "no-first-run",
		"disable-background-networking", "disable-component-update", "disable-sync"} {
		opts = append(opts, chromedp.Flag(f, true))
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelB := chromedp.NewContext(actx)
	// The first call starts the browser and must not carry a timeout
	// (it would stop the browser); the steps after it do.
	if err := chromedp.Do(bctx); err != nil {
		cancelB()
		cancelA()
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancelT := context.WithTimeout(bctx, 2*time.Minute)
	t.Cleanup(func() { cancelT(); cancelB(); cancelA() })
	return ctx
}

// into runs a for its value and stores it in dst, as a step of Do.
func into[T any](dst *T, a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		v, err := a(ctx, t)
		*dst = v
		return chromedp.Void{}, err
	}
}

// shots saves full-page screenshots as test artifacts: in $ARTIFACTS
// when set, else in the test's temporary directory.
type shots struct {
	t   *testing.T
	dir string
	n   int
}

func newShots(t *testing.T) *shots {
	dir := os.Getenv("ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else {
		dir = filepath.Join(dir, t.Name())
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &shots{t: t, dir: dir}
}

func (s *shots) take(name string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		png, err := chromedp.FullScreenshot(100)(ctx, t)
		if err != nil {
			return chromedp.Void{}, err
		}
		s.n++
		path := filepath.Join(s.dir, fmt.Sprintf("%02d-%s.png", s.n, name))
		if err := os.WriteFile(path, png, 0o644); err != nil {
			return chromedp.Void{}, err
		}
		s.t.Logf("screenshot: %s", path)
		return chromedp.Void{}, nil
	}
}

type css = chromedp.CSS

const statesJS = `Array.from(document.querySelectorAll('table.records')[0].querySelectorAll('tr.rec')).map(r => r.dataset.type + ' ' + r.dataset.name + ' ' + r.dataset.state)`

// TestWizardInBrowser walks the domain wizard in headless Chromium: log
// in, add a domain, see every record missing, publish the zone snippet,
// Check now, see every record right and the domain active; then create a
// user of the domain and deliver mail to it.
func TestWizardInBrowser(t *testing.T) {
	e := newEnv(t, true)
	ctx := browser(t)
	sh := newShots(t)
	u := e.ts.URL
	var states []string
	var zone, copied string
	var domainState chromedp.AttributeResult
	err := chromedp.Do(ctx,
		chromedp.Navigate(u+"/domains"),
		chromedp.WaitVisible(css(`input[name=address]`)),
		chromedp.SendKeys(css(`input[name=address]`), adminAddr),
		chromedp.SendKeys(css(`input[name=password]`), adminPW),
		sh.take("login"),
		chromedp.Click(css(`#login`)),
		chromedp.WaitVisible(css(`#new-domain`)),
		chromedp.SendKeys(css(`#new-domain`), "acme.test"),
		sh.take("add-domain"),
		chromedp.Click(css(`#add-domain`)),
		chromedp.WaitVisible(css(`#domain-state`)),
		into(&states, chromedp.Evaluate[[]string](statesJS)),
		into(&domainState, chromedp.AttributeValue(css(`#domain-state`), "data-state")),
		into(&zone, chromedp.Text(css(`#zone`))),
		sh.take("records-missing"),
		// The copy button answers (clipboard API or its fallback).
		chromedp.Click(css(`button[data-copy-from=zone]`)),
		chromedp.Sleep(100*time.Millisecond),
		into(&copied, chromedp.Text(css(`button[data-copy-from=zone]`))),
	)
	if err != nil {
		t.Fatal(err)
	}
	if len(states) < 8 {
		t.Fatalf("records shown: %v", states)
	}
	for _, s := range states {
		if !strings.HasSuffix(s, " missing") {
			t.Errorf("before publishing: %s, want missing", s)
		}
	}
	if domainState.Value != "pending" {
		t.Errorf("new domain is %s, want pending", domainState.Value)
	}
	if copied != "Copied" && copied != "Select and copy" {
		t.Errorf("copy button says %q", copied)
	}

	n := e.publishZone(zone)
	e.publishServer()
	t.Logf("published %d records from the zone snippet shown in the page", n)

	var warnings []string
	err = chromedp.Do(ctx,
		chromedp.Click(css(`#check-now`)),
		chromedp.WaitVisible(css(`#domain-state[data-state=active]`)),
		into(&states, chromedp.Evaluate[[]string](statesJS)),
		into(&warnings, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('table.records')[1].querySelectorAll('tr.rec')).map(r => r.dataset.type + ' ' + r.dataset.state)`)),
		sh.take("records-ok"),
		chromedp.Navigate(u+"/domains"),
		chromedp.WaitVisible(css(`tr[data-domain="acme.test"][data-state=active]`)),
		sh.take("domain-list-active"),
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range append(states, warnings...) {
		if !strings.HasSuffix(s, " ok") {
			t.Errorf("after publishing: %s, want ok", s)
		}
	}
	if di, err := e.st.DomainInfo(context.Background(), "acme.test"); err != nil || di.State != store.DomainActive {
		t.Fatalf("stored state %+v %v, want active", di, err)
	}

	// A user of the new domain, made in the UI, receives mail.
	err = chromedp.Do(ctx,
		chromedp.Navigate(u+"/users"),
		chromedp.WaitVisible(css(`#new-address`)),
		chromedp.SendKeys(css(`#new-address`), "alice@acme.test"),
		chromedp.SendKeys(css(`#new-password`), "alice-password"),
		chromedp.SetValue(css(`#new-role`), "user"),
		chromedp.Click(css(`#create-user`)),
		chromedp.WaitVisible(css(`tr[data-address="alice@acme.test"]`)),
		sh.take("user-created"),
	)
	if err != nil {
		t.Fatal(err)
	}
	ctxb := context.Background()
	acct, err := e.st.ResolveRecipient(ctxb, "Alice@ACME.test")
	if err != nil {
		t.Fatal(err)
	}
	msg := "From: bob@example.org\r\nTo: alice@acme.test\r\nSubject: welcome\r\n\r\nHello Alice.\r\n"
	if _, err := e.st.Deliver(ctxb, []byte(msg), time.Now(), store.Delivery{Account: acct.ID, Mailbox: "INBOX"}); err != nil {
		t.Fatal(err)
	}
	mb, err := e.st.MailboxByName(ctxb, acct.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	_, msgs, err := e.st.Messages(ctxb, acct.ID, mb.ID)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("INBOX of alice: %d messages, %v", len(msgs), err)
	}
	data, err := e.st.ReadMessage(acct.ID, msgs[0])
	if err != nil || !strings.Contains(string(data), "Hello Alice.") {
		t.Fatalf("message: %q %v", data, err)
	}
	// And she can log in to see her client settings.
	err = chromedp.Do(ctx,
		chromedp.Navigate(u+"/login"),
		chromedp.WaitVisible(css(`form.who button`)),
		chromedp.Click(css(`form.who button`)),
		chromedp.WaitVisible(css(`input[name=address]`)),
		chromedp.SendKeys(css(`input[name=address]`), "alice@acme.test"),
		chromedp.SendKeys(css(`input[name=password]`), "alice-password"),
		chromedp.Click(css(`#login`)),
		chromedp.WaitVisible(css(`table.settings`)),
		sh.take("user-client-settings"),
	)
	if err != nil {
		t.Fatal(err)
	}
}
