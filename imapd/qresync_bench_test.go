package imapd

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"frontdesk/store"
)

// BenchmarkQResync100k measures a phone coming back to a 100,000 message
// INBOX it last saw before 10 changes (5 flag changes, 5 expunges):
// SELECT INBOX (QRESYNC (uidvalidity modseq)) until its OK, and the same
// catch-up by UID FETCH 1:* (FLAGS) (CHANGEDSINCE modseq VANISHED).
func BenchmarkQResync100k(b *testing.B) {
	const n = 100000
	e := newTestEnv(b)
	ctx := context.Background()
	var wg sync.WaitGroup
	jobs := make(chan int)
	for w := 0; w < 64; w++ { // concurrent deliveries share group commits
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				data := fmt.Sprintf("From: s%d@example.org\r\nSubject: %d\r\n\r\nhi\r\n", i, i)
				if _, err := e.st.Deliver(ctx, []byte(data), time.Now(), deliveryTo(e, "INBOX")); err != nil {
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

	mb, err := e.st.MailboxByName(ctx, e.acct.ID, "INBOX")
	if err != nil {
		b.Fatal(err)
	}
	since := mb.HighestModSeq
	for _, uid := range []uint32{10, 20000, 40000, 60000, 99990} {
		if _, err := e.st.SetFlags(ctx, e.acct.ID, mb.ID, []uint32{uid}, store.FlagsAdd, []string{store.FlagFlagged}); err != nil {
			b.Fatal(err)
		}
	}
	gone := []uint32{5, 15000, 35000, 55000, 99999}
	if _, err := e.st.SetFlags(ctx, e.acct.ID, mb.ID, gone, store.FlagsAdd, []string{store.FlagDeleted}); err != nil {
		b.Fatal(err)
	}
	if _, err := e.st.Expunge(ctx, e.acct.ID, mb.ID, gone); err != nil {
		b.Fatal(err)
	}

	conn, err := net.Dial("tcp", e.addr)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	tag := 0
	run := func(tb testing.TB, cmd string) []string {
		tag++
		t := fmt.Sprintf("b%d", tag)
		fmt.Fprintf(conn, "%s %s\r\n", t, cmd)
		var lines []string
		for {
			ln, err := r.ReadString('\n')
			if err != nil {
				tb.Fatal(err)
			}
			if strings.HasPrefix(ln, t+" ") {
				if !strings.HasPrefix(ln, t+" OK") {
					tb.Fatalf("%s: %s", cmd, ln)
				}
				return lines
			}
			lines = append(lines, ln)
		}
	}
	if _, err := r.ReadString('\n'); err != nil {
		b.Fatal(err)
	}
	run(b, fmt.Sprintf("LOGIN %s %q", testUser, testPass))
	run(b, "ENABLE QRESYNC")
	// Both answers: the 5 expunged UIDs as VANISHED (EARLIER), the 5
	// flagged messages as FETCH.
	check := func(tb testing.TB, lines []string) {
		var vanished, fetches int
		for _, ln := range lines {
			switch {
			case strings.HasPrefix(ln, "* VANISHED (EARLIER) "):
				vanished++
				if want := "* VANISHED (EARLIER) 5,15000,35000,55000,99999\r\n"; ln != want {
					tb.Fatalf("got %q, want %q", ln, want)
				}
			case strings.Contains(ln, " FETCH ("):
				fetches++
			}
		}
		if vanished != 1 || fetches != 5 {
			tb.Fatalf("%d VANISHED and %d FETCH, want 1 and 5:\n%s", vanished, fetches, strings.Join(lines, ""))
		}
	}
	// The setup above runs once; sub-benchmarks repeat only the command.
	// (A b.N loop: b.Loop here trips an internal compiler error in Go 1.26.)
	b.Run("SELECT_QRESYNC", func(b *testing.B) {
		cmd := fmt.Sprintf("SELECT INBOX (QRESYNC (%d %d))", mb.UIDValidity, since)
		for i := 0; i < b.N; i++ {
			check(b, run(b, cmd))
		}
	})
	b.Run("UID_FETCH_CHANGEDSINCE", func(b *testing.B) {
		cmd := fmt.Sprintf("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)", since)
		for i := 0; i < b.N; i++ {
			check(b, run(b, cmd))
		}
	})
}
