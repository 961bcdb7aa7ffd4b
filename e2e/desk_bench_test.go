package e2e

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/emersion/go-smtp"

	"frontdesk/web/webtest"
)

// BenchmarkMailToInbox measures what an agent waits for: from a
// customer's mail being handed to the MX (before DATA) until its ticket's
// row is in the DOM of the agent's open inbox in Chromium, pushed by the
// server (no reload). One mail at a time; p50 and p99 over b.N mails.
//
//	go test -run '^$' -bench MailToInbox -benchtime 100x ./e2e/
func BenchmarkMailToInbox(b *testing.B) {
	data := filepath.Join(b.TempDir(), "data")
	srv := startServer(b, data)
	mustFrontdesk(b, "", "domain", "add", "example.test", "--data", data)
	mustFrontdesk(b, "support pw here\n", "user", "add", "help@example.test", "--password-stdin", "--data", data)
	mustFrontdesk(b, "", "support", "add", "help@example.test", "--data", data)
	mustFrontdesk(b, agentPass+"\n", "user", "add", "agent@example.test", "--password-stdin", "--role", "agent", "--data", data)
	mustFrontdesk(b, agentSIPPass+"\n", "agent", "add", "agent@example.test", "--skills", "support", "--sip-password-stdin", "--data", data)

	ctx := webtest.Browser(b, 30*time.Minute)
	if err := chromedp.Do(ctx, login("http://"+srv.addr("http")+"/tickets", "agent@example.test", agentPass),
		until(`document.body.dataset.live === "on"`)); err != nil {
		b.Fatal(err)
	}
	cl, err := smtp.Dial(srv.addr("smtp"))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	if err := cl.Hello("mx.outside.test"); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		from := fmt.Sprintf("customer%d@outside.test", i)
		msg := fmt.Sprintf("From: %s\r\nTo: help@example.test\r\nSubject: question %d\r\nMessage-ID: <q%d@outside.test>\r\n\r\nHello, question %d.\r\n", from, i, i, i)
		start := time.Now()
		if err := cl.SendMail(from, []string{"help@example.test"}, strings.NewReader(msg)); err != nil {
			b.Fatal(err)
		}
		var shown bool
		if err := chromedp.Do(ctx, webtest.Into(&shown, chromedp.Poll[bool](fmt.Sprintf(`document.querySelector('tr[data-number="%d"]') !== null`, i),
			chromedp.WithPollingInterval(5*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second)))); err != nil {
			b.Fatalf("ticket %d never showed: %v", i, err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds())/1000, "p99-ms")
}
