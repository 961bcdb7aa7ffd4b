package imapd

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

// BenchmarkNewMailRecent measures what a selected IMAP4rev1 session pays
// for \Recent when mail arrives: one delivery, then the NOOP that reports
// EXISTS and RECENT and claims the new message in the store. The mailbox
// holds 10,000 messages.
// IMAP4rev2 sessions, which claim nothing, give the cost without it.
func BenchmarkNewMailRecent(b *testing.B) {
	for _, rev2 := range []bool{false, true} {
		name := "IMAP4rev1"
		if rev2 {
			name = "IMAP4rev2"
		}
		b.Run(name, func(b *testing.B) {
			e := newTestEnv(b)
			deliverMany(b, e, 10000)
			c := e.login(b, nil)
			if rev2 {
				if _, err := c.Enable(imap.CapIMAP4rev2).Wait(); err != nil {
					b.Fatal(err)
				}
			}
			mustSelect(b, c, "INBOX", false)
			data := []byte(msg("new", "bob@example.org", "x"))
			for b.Loop() {
				if _, err := e.st.Deliver(context.Background(), data, time.Now(), deliveryTo(e, "INBOX")); err != nil {
					b.Fatal(err)
				}
				if err := c.Noop().Wait(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkListSubscribedRecursive measures LIST (SUBSCRIBED
// RECURSIVEMATCH) "" "%" over 500 mailboxes in 50 folders, every other
// one subscribed.
func BenchmarkListSubscribedRecursive(b *testing.B) {
	e := newTestEnv(b)
	ctx := context.Background()
	for i := 0; i < 500; i++ {
		name := fmt.Sprintf("Folder%02d/Box%03d", i%50, i)
		if _, err := e.st.CreateMailbox(ctx, e.acct.ID, name, ""); err != nil {
			b.Fatal(err)
		}
		if i%2 == 0 {
			if err := e.st.SetSubscribed(ctx, e.acct.ID, name, true); err != nil {
				b.Fatal(err)
			}
		}
	}
	c := e.login(b, nil)
	opts := &imap.ListOptions{SelectSubscribed: true, SelectRecursiveMatch: true}
	for b.Loop() {
		l, err := c.List("", "%", opts).Collect()
		if err != nil {
			b.Fatal(err)
		}
		if len(l) != 6+25 { // the default mailboxes, and 25 folders with a subscribed child
			b.Fatalf("got %d mailboxes", len(l))
		}
	}
}

// deliverMany fills INBOX with n small messages, concurrently so that
// deliveries share group commits.
func deliverMany(b *testing.B, e *testEnv, n int) {
	var wg sync.WaitGroup
	jobs := make(chan int)
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if _, err := e.st.Deliver(context.Background(), []byte(msg(fmt.Sprint("m", i), "bob@example.org", "x")),
					time.Now(), deliveryTo(e, "INBOX")); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
}
