package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"frontdesk/store"
	"frontdesk/web/webtest"
)

type css = chromedp.CSS

const statesJS = `Array.from(document.querySelectorAll('table.records')[0].querySelectorAll('tr.rec')).map(r => r.dataset.type + ' ' + r.dataset.name + ' ' + r.dataset.state)`

// TestWizardInBrowser walks the domain wizard in headless Chromium: log
// in, add a domain, see every record missing, publish the zone snippet,
// Check now, see every record right and the domain active; then create a
// user of the domain and deliver mail to it.
func TestWizardInBrowser(t *testing.T) {
	e := newEnv(t, true)
	ctx := webtest.Browser(t, 2*time.Minute)
	sh := webtest.NewShots(t)
	u := e.ts.URL
	var states []string
	var zone, copied string
	var domainState chromedp.AttributeResult
	err := chromedp.Do(ctx,
		chromedp.Navigate(u+"/domains"),
		chromedp.WaitVisible(css(`input[name=address]`)),
		chromedp.SendKeys(css(`input[name=address]`), adminAddr),
		chromedp.SendKeys(css(`input[name=password]`), adminPW),
		sh.Take("login"),
		chromedp.Click(css(`#login`)),
		chromedp.WaitVisible(css(`#new-domain`)),
		chromedp.SendKeys(css(`#new-domain`), "acme.test"),
		sh.Take("add-domain"),
		chromedp.Click(css(`#add-domain`)),
		chromedp.WaitVisible(css(`#domain-state`)),
		webtest.Into(&states, chromedp.Evaluate[[]string](statesJS)),
		webtest.Into(&domainState, chromedp.AttributeValue(css(`#domain-state`), "data-state")),
		webtest.Into(&zone, chromedp.Text(css(`#zone`))),
		sh.Take("records-missing"),
		// The copy button answers (clipboard API or its fallback).
		chromedp.Click(css(`button[data-copy-from=zone]`)),
		chromedp.Sleep(100*time.Millisecond),
		webtest.Into(&copied, chromedp.Text(css(`button[data-copy-from=zone]`))),
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
		webtest.Into(&states, chromedp.Evaluate[[]string](statesJS)),
		webtest.Into(&warnings, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('table.records')[1].querySelectorAll('tr.rec')).map(r => r.dataset.type + ' ' + r.dataset.state)`)),
		sh.Take("records-ok"),
		chromedp.Navigate(u+"/domains"),
		chromedp.WaitVisible(css(`tr[data-domain="acme.test"][data-state=active]`)),
		sh.Take("domain-list-active"),
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
		sh.Take("user-created"),
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
		sh.Take("user-client-settings"),
	)
	if err != nil {
		t.Fatal(err)
	}
}
