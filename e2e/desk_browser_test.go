package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"frontdesk/web/webtest"
)

// deskTOML is a.test's hotline for the desk's browser test: 100, digit 2
// to a recorded support queue where callers wait 2 s before voicemail,
// and a trunk on loopback (sipp plays it, with the customer behind it).
const deskTOML = `
[[telephony.queue]]
name = "support"
max_wait = { vip = "2s", regular = "2s", new = "2s" }
ring_timeout = "10s"
record = true

[[telephony.hotline]]
number = "100"
operator_queue = "support"
[telephony.hotline.menu]
prompts = ["greeting", "menu"]
options = { "2" = { action = "queue", queue = "support" } }

[telephony.trunk]
proxy = "127.0.0.1:%d"
username = "trunkuser"
password = "trunkpass"
caller_id = "5550100"
ring_timeout = "10s"
`

const (
	bossPass      = "supervisor password here"
	agentSIPPass  = "agent sip secret"
	customerPhone = "+15550177"
)

// timelineHas is a page condition: the open ticket's timeline contains s.
func timelineHas(s string) string {
	return fmt.Sprintf(`(document.querySelector('#timeline') || {innerText: ''}).innerText.includes(%q)`, s)
}

// TestDeskInBrowser is the desk as its people use it, through the binary
// and real clients: a customer's smtplib mail opens a ticket that appears
// in the agent's open inbox without a reload; the agent answers in the
// browser; the customer's answer with only References threads in; a sipp
// call from the customer's number leaves a voicemail on the same ticket,
// playable in the page; "Call back" rings the agent's sipp phone and then
// the customer's behind a sipp trunk; the supervisor's wallboard moves.
func TestDeskInBrowser(t *testing.T) {
	needTool(t, "sipp")
	trunkPort := freeUDPPort(t)
	w := newWorldConfig(t, fmt.Sprintf(deskTOML, trunkPort))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("a:\n%s", tailOf(w.a.Log()))
		}
	})
	setupSupport(t, w)
	mustFrontdesk(t, agentSIPPass+"\n", "agent", "add", "agent@a.test", "--skills", "support", "--sip-password-stdin", "--data", w.aData)
	mustFrontdesk(t, bossPass+"\n", "user", "add", "boss@a.test", "--password-stdin", "--role", "supervisor", "--data", w.aData)
	web := "http://" + w.a.addr("http")
	sip := w.a.addr("sip")

	// The supervisor's wall, in a browser of its own (its own cookies).
	wall := webtest.Browser(t, 4*time.Minute)
	offered := func() int {
		t.Helper()
		var v string
		if err := chromedp.Do(wall, webtest.Into(&v, chromedp.Text(css(`[data-figure="offered"] .value`)))); err != nil {
			t.Fatalf("wallboard: %v", err)
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			t.Fatalf("calls offered %q", v)
		}
		return n
	}
	if err := chromedp.Do(wall, login(web+"/wallboard", "boss@a.test", bossPass), chromedp.WaitVisible(css(`#board`))); err != nil {
		t.Fatalf("supervisor login: %v", err)
	}
	if n := offered(); n != 0 {
		t.Fatalf("calls offered before any call: %d", n)
	}

	ctx := webtest.Browser(t, 4*time.Minute)
	sh := webtest.NewShots(t)
	if err := chromedp.Do(ctx,
		login(web+"/tickets", "agent@a.test", agentPass),
		chromedp.WaitVisible(css(`#ticket-list`)),
		until(`document.body.dataset.live === "on"`),
		sh.Take("empty-inbox"),
	); err != nil {
		t.Fatalf("agent login: %v", err)
	}

	// 1. The customer's mail appears in the open inbox.
	sent := time.Now()
	customerSend(t, w.a.addr("smtp"), "bob@b.test", "support@a.test",
		"From: Bob <bob@b.test>\nTo: support@a.test\nSubject: Printer on fire\nMessage-ID: <b1@b.test>\n\nIt smokes since this morning.\n")
	var subject string
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(css(`tr[data-number="1"]`)),
		webtest.Into(&subject, chromedp.Text(css(`tr[data-number="1"] td.subject`))),
		sh.Take("ticket-arrived"),
	); err != nil {
		t.Fatalf("the new ticket never showed in the open inbox: %v", err)
	}
	t.Logf("mail sent to row shown without reload: %v (smtplib's whole session included)", time.Since(sent).Round(time.Millisecond))
	if !strings.Contains(subject, "Printer on fire") {
		t.Errorf("row subject %q", subject)
	}

	// 2. The agent answers from the ticket page.
	if err := chromedp.Do(ctx,
		chromedp.Click(css(`tr[data-number="1"] td.subject a`)),
		chromedp.WaitVisible(css(`#reply-text`)),
		chromedp.SendKeys(css(`#reply-text`), "Please switch it off first."),
		chromedp.SetValue(css(`#reply-status`), "pending"),
		chromedp.Click(css(`#send-reply`)),
		until(timelineHas("Please switch it off first.")),
		sh.Take("replied"),
	); err != nil {
		t.Fatalf("reply in the browser: %v", err)
	}
	reply := waitMail(t, w.b.addr("imap"), "bob@b.test", bobPass, "INBOX", "Re: Printer on fire [#1]")
	if !strings.Contains(reply, "Please switch it off first.") || !strings.Contains(reply, "dkim=pass") {
		t.Fatalf("the reply as bob got it:\n%s", reply)
	}

	// 3. Bob answers with References only; the open page shows it.
	customerSend(t, w.a.addr("smtp"), "bob@b.test", "support@a.test",
		"From: Bob <bob@b.test>\nTo: support@a.test\nSubject: still smoking\nMessage-ID: <b2@b.test>\nReferences: "+
			headerValue(reply, "Message-ID")+"\n\nIt is off, still smoking.\n")
	var status string
	if err := chromedp.Do(ctx,
		until(timelineHas("It is off, still smoking.")),
		webtest.Into(&status, chromedp.Text(css(`#ticket-status`))),
	); err != nil {
		t.Fatalf("bob's answer never showed on the open ticket: %v", err)
	}
	if status != "open" {
		t.Errorf("status after the customer's answer: %q", status)
	}

	// 4. The agent adds Bob's phone; Bob calls and leaves a voicemail.
	if err := chromedp.Do(ctx,
		chromedp.Click(css(`#contact summary`)),
		chromedp.SendKeys(css(`#contact-form input[name=phone]`), customerPhone),
		chromedp.Submit(css(`#contact-form`)),
		until(fmt.Sprintf(`document.querySelector('#contact').innerText.includes(%q)`, customerPhone)),
	); err != nil {
		t.Fatalf("add the phone number: %v", err)
	}
	sipp(t, sip, "caller_voicemail_offer", "-s", "100", "-key", "caller", customerPhone)
	var played struct {
		Type     string  `json:"type"`
		Riff     bool    `json:"riff"`
		Bytes    int     `json:"bytes"`
		Duration float64 `json:"duration"`
	}
	if err := chromedp.Do(ctx,
		until(`document.querySelector('#timeline [data-kind="voicemail"] audio') !== null`),
		sh.Take("voicemail"),
		// The player's source is the decrypted WAV; the browser loads it.
		webtest.Into(&played, chromedp.Evaluate[struct {
			Type     string  `json:"type"`
			Riff     bool    `json:"riff"`
			Bytes    int     `json:"bytes"`
			Duration float64 `json:"duration"`
		}](`(async () => {
			const a = document.querySelector('#timeline [data-kind="voicemail"] audio');
			const r = await fetch(a.src);
			const b = new Uint8Array(await r.arrayBuffer());
			a.preload = "auto";
			const d = await new Promise((ok, fail) => {
				a.addEventListener("loadedmetadata", () => ok(a.duration));
				a.addEventListener("error", () => fail(new Error("audio error " + (a.error && a.error.code))));
				a.load();
			});
			return {type: r.headers.get("Content-Type"), riff: String.fromCharCode(...b.slice(0, 4)) === "RIFF", bytes: b.length, duration: d};
		})()`, chromedp.EvalAwaitPromise)),
	); err != nil {
		t.Fatalf("voicemail on the ticket: %v", err)
	}
	if played.Type != "audio/wav" || !played.Riff || played.Duration < 1 {
		t.Errorf("the voicemail as the browser loaded it: %+v", played)
	}

	// 5. Call back: the agent's phone rings first, then the customer's
	// through the trunk; both echo audio until the customer hangs up.
	phonePort := freeUDPPort(t)
	phone := startSipp(t, sip, "agent_answer", phonePort, "-rtp_echo")
	sipp(t, sip, "register", "-au", "agent@a.test", "-ap", agentSIPPass, "-key", "user", "agent@a.test", "-key", "contact_port", fmt.Sprint(phonePort))
	trunk := startSipp(t, sip, "trunk_answer", trunkPort, "-rtp_echo")
	var flash string
	if err := chromedp.Do(ctx,
		chromedp.Click(css(`#call-back`)),
		// The click posts a form: the page before it may still show an
		// older flash, so wait for the new page's own.
		until(`(document.querySelector('.flash')?.textContent ?? '').includes('answered')`),
		webtest.Into(&flash, chromedp.Text(css(`.flash`))),
	); err != nil {
		t.Fatalf("call back: %v", err)
	}
	if !strings.Contains(flash, "answered") {
		t.Errorf("after call back the page says %q", flash)
	}
	trunk.wait(t)
	phone.wait(t)
	if err := chromedp.Do(ctx,
		until(`document.querySelector('#timeline [data-kind="callback"]') !== null`),
		sh.Take("called-back"),
	); err != nil {
		t.Fatalf("the callback is not on the timeline: %v", err)
	}
	if err := chromedp.Do(ctx, until(`document.querySelector('#timeline [data-kind="callback"] audio') !== null`)); err != nil {
		t.Errorf("the agent's own recorded callback has no player: %v", err)
	}
	show := mustFrontdesk(t, "", "tickets", "show", "1", "--data", w.aData)
	for _, want := range []string{"voicemail", "callback", "It is off, still smoking."} {
		if !strings.Contains(show, want) {
			t.Errorf("tickets show 1 lacks %q:\n%s", want, show)
		}
	}
	if list := mustFrontdesk(t, "", "tickets", "list", "--status", "all", "--data", w.aData); strings.Count(strings.TrimSpace(list), "\n") != 1 {
		t.Errorf("mail and calls split into several tickets:\n%s", list)
	}

	// 6. The wall has counted the voicemail call (it refreshes itself).
	deadline := time.Now().Add(20 * time.Second)
	for offered() < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the wallboard still shows no call offered")
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err := chromedp.Do(wall, webtest.NewShots(t).Take("wallboard")); err != nil {
		t.Error(err)
	}
}

type css = chromedp.CSS

// until waits, up to 30 s, for a JavaScript condition to hold on the
// page; it keeps asking across the navigation a form's submit causes.
func until(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		deadline := time.Now().Add(30 * time.Second)
		for {
			ok, err := chromedp.Evaluate[bool](expr)(ctx, tg)
			if err == nil && ok {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("after 30 s, still not %s (last error: %v)", expr, err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
}

// login opens url, is sent to the login page and logs in.
func login(url, user, pass string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Navigate(url),
		chromedp.WaitVisible(css(`input[name=address]`)),
		chromedp.SendKeys(css(`input[name=address]`), user),
		chromedp.SendKeys(css(`input[name=password]`), pass),
		chromedp.Click(css(`#login`)),
	)
}
