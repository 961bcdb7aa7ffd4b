package imapd

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"frontdesk/store"
)

// BenchmarkFetchEnvelopes10k measures what a client does on opening a big
// folder: FETCH 1:* (FLAGS UID RFC822.SIZE ENVELOPE) over 10,000 messages.
func BenchmarkFetchEnvelopes10k(b *testing.B) {
	const n = 10000
	e := newTestEnv(b)
	body := strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n", 30) // ~1.8 KB
	var wg sync.WaitGroup
	jobs := make(chan int)
	for w := 0; w < 64; w++ { // concurrent deliveries share group commits
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				data := fmt.Sprintf("From: Sender %d <s%d@example.org>\r\nTo: alice@example.com\r\nSubject: message number %d\r\n"+
					"Date: Sun, 10 Mar 2024 12:00:00 +0000\r\nMessage-ID: <%d@example.org>\r\n\r\n%s", i, i, i, i, body)
				if _, err := e.st.Deliver(context.Background(), []byte(data), time.Now(),
					store.Delivery{Account: e.acct.ID, Mailbox: "INBOX"}); err != nil {
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

	c := e.login(b, nil)
	mustSelect(b, c, "INBOX", false)
	opts := &imap.FetchOptions{Flags: true, UID: true, RFC822Size: true, Envelope: true}
	all := imap.SeqSet{{Start: 1, Stop: 0}}
	for b.Loop() {
		msgs, err := c.Fetch(all, opts).Collect()
		if err != nil {
			b.Fatal(err)
		}
		if len(msgs) != n {
			b.Fatalf("got %d messages, want %d", len(msgs), n)
		}
	}
}
