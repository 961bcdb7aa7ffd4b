package imapd

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

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

// fillSortMailbox fills INBOX with n messages for the SORT and THREAD
// benchmarks: distinct ones, concurrently delivered, then copies of them
// (hard links, so setting up 100,000 takes seconds, not minutes). Every
// message has its own sent date, subject, sender and place in a thread of
// ten.
func fillSortMailbox(b *testing.B, e *testEnv, n, distinct int) {
	b.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	jobs := make(chan int)
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				sent := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration((i*7919)%distinct) * time.Minute)
				refs := ""
				if i%10 != 0 {
					refs = fmt.Sprintf("References: <%d@example.org>\r\n", i-i%10)
				}
				data := fmt.Sprintf("From: Sender %d <s%d@example.org>\r\nTo: alice@example.com\r\nSubject: %stopic %d\r\n"+
					"Date: %s\r\nMessage-ID: <%d@example.org>\r\n%s\r\nbody\r\n",
					i%97, i%97, map[bool]string{true: "Re: "}[i%10 != 0], i/10, sent.Format(time.RFC1123Z), i, refs)
				if _, err := e.st.Deliver(ctx, []byte(data), time.Now(), store.Delivery{Account: e.acct.ID, Mailbox: "INBOX"}); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for i := 0; i < distinct; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	mb, err := e.st.MailboxByName(ctx, e.acct.ID, "INBOX")
	if err != nil {
		b.Fatal(err)
	}
	uids := make([]uint32, distinct)
	for i := range uids {
		uids[i] = uint32(i + 1)
	}
	for have := distinct; have < n; have += distinct {
		if _, err := e.st.Copy(ctx, e.acct.ID, mb.ID, uids[:min(distinct, n-have)], "INBOX"); err != nil {
			b.Fatal(err)
		}
	}
}

func benchmarkSort(b *testing.B, run func(c *imapclient.Client) (int, error)) {
	const n = 100000
	e := newTestEnv(b)
	fillSortMailbox(b, e, n, 10000)
	c := e.login(b, nil)
	if d := mustSelect(b, c, "INBOX", true); d.NumMessages != n {
		b.Fatalf("%d messages, want %d", d.NumMessages, n)
	}
	for b.Loop() {
		got, err := run(c)
		if err != nil {
			b.Fatal(err)
		}
		if got != n {
			b.Fatalf("%d messages in the answer, want %d", got, n)
		}
	}
}

// BenchmarkSortDate100k: SORT (DATE) UTF-8 ALL over 100,000 messages,
// over the wire with go-imap's client.
func BenchmarkSortDate100k(b *testing.B) {
	benchmarkSort(b, func(c *imapclient.Client) (int, error) {
		nums, err := c.Sort(&imapclient.SortOptions{SearchCriteria: &imap.SearchCriteria{},
			SortCriteria: []imapclient.SortCriterion{{Key: imapclient.SortKeyDate}}}).Wait()
		return len(nums), err
	})
}

// BenchmarkSortSubject100k: SORT (SUBJECT) UTF-8 ALL over 100,000
// messages: base subjects are extracted on every SORT.
func BenchmarkSortSubject100k(b *testing.B) {
	benchmarkSort(b, func(c *imapclient.Client) (int, error) {
		nums, err := c.Sort(&imapclient.SortOptions{SearchCriteria: &imap.SearchCriteria{},
			SortCriteria: []imapclient.SortCriterion{{Key: imapclient.SortKeySubject}}}).Wait()
		return len(nums), err
	})
}

// BenchmarkThreadReferences100k: THREAD REFERENCES UTF-8 ALL over 100,000
// messages.
func BenchmarkThreadReferences100k(b *testing.B) {
	benchmarkSort(b, func(c *imapclient.Client) (int, error) {
		threads, err := c.Thread(&imapclient.ThreadOptions{Algorithm: imap.ThreadReferences, SearchCriteria: &imap.SearchCriteria{}}).Wait()
		count := 0
		var walk func(t imapclient.ThreadData)
		walk = func(t imapclient.ThreadData) {
			count += len(t.Chain)
			for _, s := range t.SubThreads {
				walk(s)
			}
		}
		for _, t := range threads {
			walk(t)
		}
		return count, err
	})
}
