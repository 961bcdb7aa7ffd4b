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

// BenchmarkSelectQResync100k measures a phone coming back to a 100,000
// message INBOX it last saw before 10 changes (5 flag changes, 5
// expunges): SELECT INBOX (QRESYNC (uidvalidity modseq)) until its OK.
func BenchmarkSelectQResync100k(b *testing.B) {
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
	run := func(cmd string) []string {
		tag++
		t := fmt.Sprintf("b%d", tag)
		fmt.Fprintf(conn, "%s %s\r\n", t, cmd)
		var lines []string
		for {
			ln, err := r.ReadString('\n')
			if err != nil {
				b.Fatal(err)
			}
			if strings.HasPrefix(ln, t+" ") {
				if !strings.HasPrefix(ln, t+" OK") {
					b.Fatalf("%s: %s", cmd, ln)
				}
				return lines
			}
			lines = append(lines, ln)
		}
	}
	if _, err := r.ReadString('\n'); err != nil {
		b.Fatal(err)
	}
	run(fmt.Sprintf("LOGIN %s %q", testUser, testPass))
	run("ENABLE QRESYNC")
	cmd := fmt.Sprintf("SELECT INBOX (QRESYNC (%d %d))", mb.UIDValidity, since)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		lines := run(cmd)
		var vanished, fetches int
		for _, ln := range lines {
			switch {
			case strings.HasPrefix(ln, "* VANISHED (EARLIER) "):
				vanished++
				if want := "* VANISHED (EARLIER) 5,15000,35000,55000,99999\r\n"; ln != want {
					b.Fatalf("got %q, want %q", ln, want)
				}
			case strings.Contains(ln, " FETCH ("):
				fetches++
			}
		}
		if vanished != 1 || fetches != 5 {
			b.Fatalf("%d VANISHED and %d FETCH, want 1 and 5:\n%s", vanished, fetches, strings.Join(lines, ""))
		}
	}
}
