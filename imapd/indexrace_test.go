package imapd

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"frontdesk/authn"
	"frontdesk/search"
	"frontdesk/store"
)

// lockedLog is a log sink shared by the server and the index.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestIndexExpungeWhileIndexing delivers bursts of mail and expunges half
// of each burst over IMAP while the index is reading it: the index logs no
// read failure, and SEARCH BODY answers exactly the messages kept.
func TestIndexExpungeWhileIndexing(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	var logs lockedLog
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	ix, err := search.Open(filepath.Join(t.TempDir(), "index"), e.st, logger)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- ix.Run(runCtx) }()
	defer func() {
		stop()
		<-ran
		ix.Close()
	}()
	srv := New(e.st, authn.New(e.st), Config{Logger: logger, Index: ix})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	defer func() { srv.Close(); <-served }()
	e.addr = l.Addr().String()

	c := e.login(t, nil)
	mustSelect(t, c, "INBOX", false)
	var kept imap.UIDSet
	const rounds, burst = 6, 120
	for r := range rounds {
		var uids []uint32
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range burst {
			wg.Go(func() {
				d, err := e.st.Deliver(ctx, []byte(msg(fmt.Sprintf("ripple %d %d", r, i), "bob@example.org", "ripple body")),
					time.Now(), store.Delivery{Account: e.acct.ID, Mailbox: "INBOX"})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				uids = append(uids, d[0].UID)
				mu.Unlock()
			})
		}
		wg.Wait()
		slices.Sort(uids)
		// Ask the index to index now, and expunge while it does.
		synced := make(chan error, 1)
		go func() { synced <- ix.Sync(ctx) }()
		if err := c.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
		var doomed imap.UIDSet
		for i, u := range uids {
			if i%2 == 0 {
				doomed.AddNum(imap.UID(u))
			} else {
				kept.AddNum(imap.UID(u))
			}
		}
		if err := c.Store(doomed, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
			t.Fatal(err)
		}
		if err := c.UIDExpunge(doomed).Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-synced; err != nil {
			t.Fatal(err)
		}
	}
	d, err := c.UIDSearch(&imap.SearchCriteria{Body: []string{"ripple"}}, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := d.All.(imap.UIDSet)
	if got.String() != kept.String() {
		t.Errorf("SEARCH BODY ripple = %v, want the messages kept %v", got, kept)
	}
	// And the index itself holds no document of an expunged message.
	if err := ix.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	mb, err := e.st.MailboxByName(ctx, e.acct.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	cands, ok, err := ix.Candidates(ctx, e.acct.ID, mb.ID, search.FieldBody, "ripple")
	if err != nil || !ok {
		t.Fatalf("Candidates: ok=%v err=%v", ok, err)
	}
	slices.Sort(cands)
	var indexed imap.UIDSet
	for _, u := range cands {
		indexed.AddNum(imap.UID(u))
	}
	if indexed.String() != kept.String() {
		t.Errorf("index candidates = %v, want the messages kept %v", indexed, kept)
	}
	if strings.Contains(logs.String(), "cannot read message") {
		t.Errorf("log has a read failure for expunged messages:\n%s", logs.String())
	}
}
