package e2e

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-smtp"
)

// TestCrashDuringBurst kills the server with SIGKILL in the middle of a
// burst of 1,000 messages over 8 connections. After a restart every
// message that got 250 must be there, intact, and nothing partial may be
// visible.
func TestCrashDuringBurst(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	srv := startServer(t, data)
	mustFrontdesk(t, "", "domain", "add", "example.test", "--data", data)
	mustFrontdesk(t, alicePass+"\n", "user", "add", "alice@example.test", "--password-stdin", "--data", data)

	const total, conns = 1000, 8
	msgs := make([][]byte, total)
	sums := map[[32]byte]int{}
	for i := range msgs {
		// Varied sizes up to ~40 KB, so a kill lands inside some writes.
		body := strings.Repeat(fmt.Sprintf("line %d of message %d, some padding text here\r\n", i%7, i), 10+(i*37)%800)
		msgs[i] = []byte(fmt.Sprintf("From: load@outside.test\r\nTo: alice@example.test\r\nSubject: burst %d\r\nMessage-ID: <burst-%d@outside.test>\r\n\r\n%s", i, i, body))
		sums[sha256.Sum256(msgs[i])] = i
	}

	var acked sync.Map // index → true once 250 was received
	var nacked atomic.Int64
	killed := make(chan struct{})
	var wg sync.WaitGroup
	mx := srv.addr("smtp")
	for c := 0; c < conns; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			cl, err := smtp.Dial(mx)
			if err != nil {
				return
			}
			defer cl.Close()
			if err := cl.Hello("outside.test"); err != nil {
				return
			}
			for i := c; i < total; i += conns {
				if err := cl.SendMail("load@outside.test", []string{"alice@example.test"}, bytes.NewReader(msgs[i])); err != nil {
					return // the kill: this one was not acknowledged
				}
				acked.Store(i, true)
				nacked.Add(1)
			}
		}(c)
	}
	go func() {
		defer close(killed)
		for nacked.Load() < total/3 {
			time.Sleep(time.Millisecond)
		}
		srv.kill()
	}()
	wg.Wait()
	<-killed
	n := int(nacked.Load())
	if n >= total {
		t.Fatalf("all %d messages were acknowledged before the kill; the crash tested nothing", n)
	}
	t.Logf("%d of %d messages acknowledged before SIGKILL", n, total)

	srv = startServer(t, data)
	c := imapLogin(t, srv.addr("imap"), "alice@example.test", alicePass, "INBOX")
	var all imap.SeqSet
	all.AddRange(1, 0)
	bs := &imap.FetchItemBodySection{Peek: true}
	res, err := c.Fetch(all, &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{bs}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	present := map[int]bool{}
	for _, m := range res {
		body := bodyBelowTrace(m.FindBodySection(bs))
		i, ok := sums[sha256.Sum256(body)]
		if !ok {
			t.Errorf("message seq %d is not any message sent whole (partial or corrupt): %d bytes", m.SeqNum, len(body))
			continue
		}
		if present[i] {
			t.Errorf("message %d stored twice", i)
		}
		present[i] = true
	}
	missing := 0
	acked.Range(func(k, _ any) bool {
		if !present[k.(int)] {
			missing++
			t.Errorf("message %d got 250 but is missing after the crash", k.(int))
		}
		return true
	})
	t.Logf("after restart: %d messages present, %d acknowledged, %d missing", len(res), n, missing)
	if len(res) < n {
		t.Errorf("%d messages present, fewer than the %d acknowledged", len(res), n)
	}
}
