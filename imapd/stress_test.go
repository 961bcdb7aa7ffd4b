package imapd

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"frontdesk/authn"
)

// stressMailbox is the mailbox every stress client works in besides its
// own.
const stressMailbox = "Shared"

// stressClient is one client of the stress run and the state it expects:
// the messages it appended and kept, by mailbox, with their flags. In the
// shared mailbox it only touches its own messages, so the expected state
// of every mailbox is known at the end.
type stressClient struct {
	id   int
	c    *imapclient.Client
	rng  *rand.Rand
	own  string
	kept map[string]map[imap.UID]map[imap.Flag]bool // mailbox → UID → flags
	n    int                                        // messages appended
	sel  string                                     // selected mailbox
	err  error                                      // first failure
}

func (sc *stressClient) fail(op string, err error) {
	if sc.err == nil && err != nil {
		sc.err = fmt.Errorf("client %d: %s: %w", sc.id, op, err)
	}
}

func (sc *stressClient) selectBox(name string) {
	if sc.sel == name {
		return
	}
	_, err := sc.c.Select(name, nil).Wait()
	sc.fail("SELECT "+name, err)
	sc.sel = name
}

// pick returns up to n random UIDs the client has kept in mailbox.
func (sc *stressClient) pick(mailbox string, n int) imap.UIDSet {
	var set imap.UIDSet
	uids := make([]imap.UID, 0, len(sc.kept[mailbox]))
	for u := range sc.kept[mailbox] {
		uids = append(uids, u)
	}
	slices.Sort(uids)
	for range n {
		if len(uids) == 0 {
			break
		}
		set.AddNum(uids[sc.rng.IntN(len(uids))])
	}
	return set
}

// step runs one randomly chosen operation.
func (sc *stressClient) step() {
	mailbox := sc.own
	if sc.rng.IntN(2) == 0 {
		mailbox = stressMailbox
	}
	switch op := sc.rng.IntN(10); {
	case op < 3: // APPEND
		sc.n++
		body := msg(fmt.Sprintf("stress c%d m%d", sc.id, sc.n), fmt.Sprintf("c%d@example.org", sc.id), strings.Repeat("line of text\r\n", sc.rng.IntN(20)))
		cmd := sc.c.Append(mailbox, int64(len(body)), nil)
		if _, err := cmd.Write([]byte(body)); err != nil {
			sc.fail("APPEND write", err)
			return
		}
		if err := cmd.Close(); err != nil {
			sc.fail("APPEND close", err)
			return
		}
		d, err := cmd.Wait()
		if err != nil || d.UID == 0 {
			sc.fail("APPEND", fmt.Errorf("uid %v: %w", d, err))
			return
		}
		sc.kept[mailbox][d.UID] = map[imap.Flag]bool{}
	case op < 5: // FETCH: a flag resync, then a few messages in full
		sc.selectBox(mailbox)
		if _, err := sc.c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true}).Collect(); err != nil {
			sc.fail("FETCH 1:*", err)
			return
		}
		set := sc.pick(mailbox, 5)
		if len(set) == 0 {
			return
		}
		msgs, err := sc.c.Fetch(set, &imap.FetchOptions{
			UID: true, Flags: true, Envelope: true, RFC822Size: true,
			BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
			BodySection:   []*imap.FetchItemBodySection{{Peek: true}},
		}).Collect()
		if err != nil {
			sc.fail("UID FETCH", err)
			return
		}
		for _, m := range msgs {
			if len(m.Envelope.From) != 1 || m.Envelope.From[0].Mailbox != fmt.Sprintf("c%d", sc.id) {
				sc.fail("UID FETCH", fmt.Errorf("UID %d: envelope from %v", m.UID, m.Envelope.From))
			}
		}
	case op < 7: // STORE
		set := sc.pick(mailbox, 3)
		if len(set) == 0 {
			return
		}
		sc.selectBox(mailbox)
		flag := []imap.Flag{imap.FlagFlagged, imap.FlagAnswered, "$stress"}[sc.rng.IntN(3)]
		add := sc.rng.IntN(2) == 0
		sf := &imap.StoreFlags{Op: imap.StoreFlagsDel, Flags: []imap.Flag{flag}}
		if add {
			sf.Op = imap.StoreFlagsAdd
		}
		if _, err := sc.c.Store(set, sf, nil).Collect(); err != nil {
			sc.fail("STORE", err)
			return
		}
		for _, r := range set {
			for u := r.Start; u <= r.Stop; u++ {
				if add {
					sc.kept[mailbox][u][flag] = true
				} else {
					delete(sc.kept[mailbox][u], flag)
				}
			}
		}
	case op < 8: // SEARCH
		sc.selectBox(mailbox)
		d, err := sc.c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "From", Value: fmt.Sprintf("c%d@", sc.id)}}}, nil).Wait()
		if err != nil {
			sc.fail("SEARCH", err)
			return
		}
		// Its own messages are all there (others' are not its business).
		got, _ := d.All.(imap.UIDSet)
		for u := range sc.kept[mailbox] {
			if !got.Contains(u) {
				sc.fail("SEARCH", fmt.Errorf("%s: UID %d missing from %v", mailbox, u, got))
				return
			}
		}
	case op < 9: // STORE \Deleted + UID EXPUNGE of its own messages
		set := sc.pick(mailbox, 2)
		if len(set) == 0 {
			return
		}
		sc.selectBox(mailbox)
		if _, err := sc.c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Collect(); err != nil {
			sc.fail("STORE \\Deleted", err)
			return
		}
		if _, err := sc.c.UIDExpunge(set).Collect(); err != nil {
			sc.fail("UID EXPUNGE", err)
			return
		}
		for _, r := range set {
			for u := r.Start; u <= r.Stop; u++ {
				delete(sc.kept[mailbox], u)
			}
		}
	default: // IDLE a moment in the shared mailbox
		sc.selectBox(stressMailbox)
		idle, err := sc.c.Idle()
		if err != nil {
			sc.fail("IDLE", err)
			return
		}
		time.Sleep(time.Duration(sc.rng.IntN(20)) * time.Millisecond)
		sc.fail("IDLE close", idle.Close())
		sc.fail("IDLE", idle.Wait())
	}
}

// stressEnv is a test server whose log is kept, for lines that betray a
// server bug.
func stressEnv(tb testing.TB) (*testEnv, *lockedLog) {
	tb.Helper()
	e := newTestEnv(tb)
	logs := &lockedLog{}
	srv := New(e.st, authn.New(e.st), Config{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	tb.Cleanup(func() { srv.Close(); <-done })
	e.addr = l.Addr().String()
	return e, logs
}

// runStress runs clients concurrent clients until they have done ops
// operations between them, then checks every mailbox against what the
// clients expect. It returns how long the operations took, logins and
// checks left out.
func runStress(tb testing.TB, e *testEnv, logs *lockedLog, clients, ops int) time.Duration {
	tb.Helper()
	setup := e.login(tb, nil)
	if err := setup.Create(stressMailbox, nil).Wait(); err != nil && imapCode(err) != imap.ResponseCodeAlreadyExists {
		tb.Fatal(err)
	}
	scs := make([]*stressClient, clients)
	for i := range scs {
		sc := &stressClient{id: i, rng: rand.New(rand.NewPCG(uint64(i), 11)), own: fmt.Sprintf("Own%d", i)}
		sc.kept = map[string]map[imap.UID]map[imap.Flag]bool{sc.own: {}, stressMailbox: {}}
		// Unilateral EXPUNGE, FETCH and EXISTS from the others are
		// expected; imapclient checks their syntax.
		sc.c = e.login(tb, &imapclient.UnilateralDataHandler{})
		if err := sc.c.Create(sc.own, nil).Wait(); err != nil && imapCode(err) != imap.ResponseCodeAlreadyExists {
			tb.Fatal(err)
		}
		scs[i] = sc
	}
	var left atomic.Int64
	left.Store(int64(ops))
	start := time.Now()
	var wg sync.WaitGroup
	for _, sc := range scs {
		wg.Go(func() {
			for sc.err == nil && left.Add(-1) >= 0 {
				sc.step()
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	for _, sc := range scs {
		if sc.err != nil {
			tb.Error(sc.err)
		}
	}
	if tb.Failed() {
		tb.FailNow()
	}

	// The final state, read by a fresh client: each mailbox holds exactly
	// the messages its clients kept, with the flags they set.
	want := map[string]map[imap.UID]map[imap.Flag]bool{stressMailbox: {}}
	for _, sc := range scs {
		want[sc.own] = sc.kept[sc.own]
		for u, f := range sc.kept[stressMailbox] {
			want[stressMailbox][u] = f
		}
	}
	check := e.login(tb, nil)
	for mailbox, msgs := range want {
		mustSelect(tb, check, mailbox, true)
		got := map[imap.UID]map[imap.Flag]bool{}
		if len(msgs) > 0 {
			for _, m := range fetch(tb, check, imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true}) {
				fl := map[imap.Flag]bool{}
				for _, f := range m.Flags {
					// \Recent belongs to whichever session saw the
					// message first, not to what the clients did.
					if f != "\\Recent" {
						fl[f] = true
					}
				}
				got[m.UID] = fl
			}
		}
		if !equalFlagMaps(got, msgs) {
			tb.Errorf("%s: got %v, want %v", mailbox, got, msgs)
		}
	}
	if l := logs.String(); strings.Contains(l, "level=ERROR") || strings.Contains(l, "panic") {
		tb.Errorf("server log:\n%s", l)
	}
	return took
}

func equalFlagMaps(a, b map[imap.UID]map[imap.Flag]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for u, fa := range a {
		fb, ok := b[u]
		if !ok || len(fa) != len(fb) {
			return false
		}
		for f := range fa {
			if !fb[f] {
				return false
			}
		}
	}
	return true
}

// TestStress50Clients: 50 clients at once, in their own mailbox and a
// shared one, get no protocol error and leave the mailboxes as they
// expect.
func TestStress50Clients(t *testing.T) {
	e, logs := stressEnv(t)
	runStress(t, e, logs, 50, 1500)
}

// BenchmarkStress50Clients reports the operations per second of 50
// concurrent clients; one op is one IMAP operation of the stress mix.
func BenchmarkStress50Clients(b *testing.B) {
	e, logs := stressEnv(b)
	took := runStress(b, e, logs, 50, b.N)
	b.ReportMetric(float64(b.N)/took.Seconds(), "ops/s")
}
