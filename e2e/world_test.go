package e2e

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"frontdesk/dkim"
	"frontdesk/dnscheck/dnstest"
)

const bobPass = "bob's long password"

// world is two Frontdesk instances, a.test and b.test, sharing one
// in-process DNS server, as two companies on the Internet.
type world struct {
	dns        *dnstest.Server
	a, b       *server
	aData      string
	bData      string
	bSMTPPort  string
	configFile string
}

// publishDomain puts a domain's MX, SPF, DKIM and DMARC records in the DNS.
func publishDomain(t testing.TB, dns *dnstest.Server, data, domain, dmarcPolicy string) {
	t.Helper()
	dns.MustAdd(t,
		domain+". 300 IN MX 10 mx."+domain+".",
		"mx."+domain+". 300 IN A 127.0.0.1",
		domain+`. 300 IN TXT "v=spf1 ip4:127.0.0.1 -all"`,
		"_dmarc."+domain+`. 300 IN TXT "v=DMARC1; p=`+dmarcPolicy+`"`,
	)
	keys, err := dkim.OpenKeyring(filepath.Join(data, "keys", "dkim"))
	if err != nil {
		t.Fatal(err)
	}
	all := keys.All(domain)
	if len(all) != 2 {
		t.Fatalf("%s has %d DKIM keys after domain add, want 2 (RSA and Ed25519)", domain, len(all))
	}
	for _, k := range all {
		dns.MustAdd(t, k.ZoneLine())
	}
}

func newWorld(t testing.TB, extraA ...string) *world {
	t.Helper()
	return newWorldConfig(t, "", extraA...)
}

// newWorldConfig is newWorld with more TOML in a.test's config file.
func newWorldConfig(t testing.TB, toml string, extraA ...string) *world {
	t.Helper()
	w := &world{dns: dnstest.New(t)}
	w.bData = filepath.Join(t.TempDir(), "b")
	w.b = startServerDNS(t, w.bData, w.dns, "mx.b.test")
	mustFrontdesk(t, "", "domain", "add", "b.test", "--data", w.bData)
	mustFrontdesk(t, bobPass+"\n", "user", "add", "bob@b.test", "--password-stdin", "--data", w.bData)
	publishDomain(t, w.dns, w.bData, "b.test", "reject")
	_, w.bSMTPPort, _ = net.SplitHostPort(w.b.addr("smtp"))

	// Retries in a fraction of a second, so a deferral shows in a test.
	w.configFile = filepath.Join(t.TempDir(), "a.toml")
	os.WriteFile(w.configFile, []byte("[queue]\nretry = [\"200ms\", \"400ms\"]\n"+toml), 0o600)
	w.aData = filepath.Join(t.TempDir(), "a")
	w.a = startServerDNS(t, w.aData, w.dns, "mx.a.test",
		append([]string{"--config", w.configFile, "--outbound-port", w.bSMTPPort}, extraA...)...)
	mustFrontdesk(t, "", "domain", "add", "a.test", "--data", w.aData)
	mustFrontdesk(t, alicePass+"\n", "user", "add", "alice@a.test", "--password-stdin", "--data", w.aData)
	publishDomain(t, w.dns, w.aData, "a.test", "reject")
	return w
}

// waitMail polls an account's mailbox until a message with subject is
// there, and returns it whole.
func waitMail(t testing.TB, imapAddr, user, pass, mailbox, subject string) string {
	t.Helper()
	msg, _ := waitMailIn(t, imapAddr, user, pass, subject, mailbox)
	return msg
}

// waitMailIn polls several mailboxes for a message with subject and
// returns it and the mailbox it is in.
func waitMailIn(t testing.TB, imapAddr, user, pass, subject string, mailboxes ...string) (string, string) {
	t.Helper()
	c := imapLogin(t, imapAddr, user, pass, "")
	bs := &imap.FetchItemBodySection{Peek: true}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		for _, mailbox := range mailboxes {
			if _, err := c.Select(mailbox, nil).Wait(); err != nil {
				t.Fatal(err)
			}
			var all imap.SeqSet
			all.AddRange(1, 0)
			msgs, err := c.Fetch(all, &imap.FetchOptions{Envelope: true, BodySection: []*imap.FetchItemBodySection{bs}}).Collect()
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				if m.Envelope.Subject == subject {
					return string(m.FindBodySection(bs)), mailbox
				}
			}
		}
	}
	t.Fatalf("no message %q in %v of %s", subject, mailboxes, user)
	return "", ""
}

// TestTwoServersOneWorld: alice@a.test sends to bob@b.test through
// submission; the queue delivers it to b's MX; bob reads it with
// spf=pass dkim=pass dmarc=pass.
func TestTwoServersOneWorld(t *testing.T) {
	w := newWorld(t)
	submitAs(t, w.a.addr("submission"), "alice@a.test", alicePass, "bob@b.test", "Across the Internet")
	got := waitMail(t, w.b.addr("imap"), "bob@b.test", bobPass, "INBOX", "Across the Internet")
	ar := headerValue(got, "Authentication-Results")
	for _, want := range []string{"mx.b.test", "spf=pass", "dkim=pass", "dmarc=pass", "header.d=a.test", "header.a=rsa-sha256", "header.a=ed25519-sha256"} {
		if !strings.Contains(ar, want) {
			t.Errorf("Authentication-Results lacks %q:\n%s", want, ar)
		}
	}
	if n := strings.Count(got, "DKIM-Signature:"); n != 2 {
		t.Errorf("%d DKIM signatures, want 2 (RSA and Ed25519)", n)
	}
	// a logs the delivery after committing it, which may come after bob
	// already sees the message.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(w.a.Log(), "result=delivered") && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(w.a.Log(), "result=delivered") {
		t.Errorf("a logged no delivery line:\n%s", w.a.Log())
	}
	out := mustFrontdesk(t, "", "queue", "list", "--data", w.aData)
	if !strings.Contains(out, "queue is empty") {
		t.Errorf("queue after delivery: %s", out)
	}
}

// TestDMARCActions: b judges mail that claims to be from domains whose
// SPF does not cover the sender and that have no DKIM signature.
func TestDMARCActions(t *testing.T) {
	w := newWorld(t)
	for domain, policy := range map[string]string{"strict.test": "reject", "careful.test": "quarantine", "relaxed.test": "none"} {
		w.dns.MustAdd(t, domain+`. 300 IN TXT "v=spf1 ip4:192.0.2.1 -all"`, "_dmarc."+domain+`. 300 IN TXT "v=DMARC1; p=`+policy+`"`)
	}
	send := func(domain string) error {
		c, err := smtp.Dial(w.b.addr("smtp"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Hello("forger.test")
		msg := "From: boss@" + domain + "\r\nTo: bob@b.test\r\nSubject: from " + domain + "\r\n\r\nwire money\r\n"
		return c.SendMail("boss@"+domain, []string{"bob@b.test"}, strings.NewReader(msg))
	}
	err := send("strict.test")
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 550 || se.EnhancedCode != (smtp.EnhancedCode{5, 7, 1}) {
		t.Errorf("DMARC p=reject: err = %#v, want 550 5.7.1", err)
	}
	if err := send("careful.test"); err != nil {
		t.Fatalf("DMARC p=quarantine: %v", err)
	}
	got := waitMail(t, w.b.addr("imap"), "bob@b.test", bobPass, "Junk", "from careful.test")
	if ar := headerValue(got, "Authentication-Results"); !strings.Contains(ar, "spf=fail") || !strings.Contains(ar, "dmarc=fail") {
		t.Errorf("quarantined message's Authentication-Results: %s", ar)
	}
	if err := send("relaxed.test"); err != nil {
		t.Fatalf("DMARC p=none: %v", err)
	}
	waitMail(t, w.b.addr("imap"), "bob@b.test", bobPass, "INBOX", "from relaxed.test")
}

// TestQueueSurvivesKill: b is down, a queues; a is killed with SIGKILL;
// b comes back, a restarts and delivers.
func TestQueueSurvivesKill(t *testing.T) {
	w := newWorld(t)
	w.b.stop()
	submitAs(t, w.a.addr("submission"), "alice@a.test", alicePass, "bob@b.test", "Held in the queue")
	out := mustFrontdesk(t, "", "queue", "list", "--data", w.aData)
	if !strings.Contains(out, "bob@b.test") || !strings.Contains(out, "queued") {
		t.Fatalf("queue list while b is down:\n%s", out)
	}
	w.a.kill()

	// b restarts on the same port a was told about.
	w.b = startServerDNS(t, w.bData, w.dns, "mx.b.test", "--smtp", "127.0.0.1:"+w.bSMTPPort)
	w.a = startServerDNS(t, w.aData, w.dns, "mx.a.test", "--config", w.configFile, "--outbound-port", w.bSMTPPort)
	got := waitMail(t, w.b.addr("imap"), "bob@b.test", bobPass, "INBOX", "Held in the queue")
	if !strings.Contains(headerValue(got, "Authentication-Results"), "dkim=pass") {
		t.Errorf("delivered after restart without dkim=pass:\n%s", got)
	}
}

// headerValue returns a header field (unfolded) of a raw message.
func headerValue(msg, name string) string {
	lines := strings.Split(msg, "\r\n")
	for i, l := range lines {
		if l == "" {
			break
		}
		if strings.HasPrefix(strings.ToLower(l), strings.ToLower(name)+":") {
			v := l
			for j := i + 1; j < len(lines) && (strings.HasPrefix(lines[j], " ") || strings.HasPrefix(lines[j], "\t")); j++ {
				v += " " + strings.TrimSpace(lines[j])
			}
			return v
		}
	}
	return ""
}

// BenchmarkSubmitToDelivery measures end to end: submission on a.test
// (AUTH, DKIM signing with both keys, durable queueing), delivery by the
// queue to b.test's MX (SPF, DKIM and DMARC checks, durable storage),
// until bob's INBOX holds every message. Eight submitting connections.
//
//	go test -run '^$' -bench SubmitToDelivery -benchtime 2000x ./e2e/
func BenchmarkSubmitToDelivery(b *testing.B) {
	var extra []string
	if p := os.Getenv("FRONTDESK_BENCH_PROFILE"); p != "" {
		extra = append(extra, "--cpuprofile", p) // of a.test, the sending side
	}
	w := newWorld(b, extra...)
	const conns = 8
	body := strings.Repeat("The quick brown fox jumps over the lazy dog, again and again.\r\n", 128) // ~8 KB
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	errs := make(chan error, conns)
	for c := 0; c < conns; c++ {
		go func(c int) {
			cl, err := smtp.Dial(w.a.addr("submission"))
			if err == nil {
				err = cl.Auth(sasl.NewPlainClient("", "alice@a.test", alicePass))
			}
			for i := c; err == nil && i < b.N; i += conns {
				msg := fmt.Sprintf("From: alice@a.test\r\nTo: bob@b.test\r\nSubject: bench %d\r\nMessage-ID: <bench-%d@a.test>\r\n\r\n%s", i, i, body)
				err = cl.SendMail("alice@a.test", []string{"bob@b.test"}, strings.NewReader(msg))
			}
			if cl != nil {
				cl.Close()
			}
			errs <- err
		}(c)
	}
	for c := 0; c < conns; c++ {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	submitted := b.Elapsed()
	c := imapLogin(b, w.b.addr("imap"), "bob@b.test", bobPass, "")
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
		if err != nil {
			b.Fatal(err)
		}
		if int(*st.NumMessages) >= b.N {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d messages delivered after 5 minutes", *st.NumMessages, b.N)
		}
	}
	b.ReportMetric(float64(b.N)/submitted.Seconds(), "submitted/s")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "delivered/s")
}
