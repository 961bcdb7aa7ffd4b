package imapd

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"frontdesk/authn"
	"frontdesk/search"
	"frontdesk/store"
)

// searchFixture is the generated mailbox served twice over one store: by
// a server whose SEARCH TEXT and BODY are narrowed by the index, and by
// one that scans every message.
type searchFixture struct {
	*testEnv
	ix      *search.Index
	inbox   uint64   // mailbox ID of INBOX
	uids    []uint32 // UID of generated message i
	indexed string   // address of the server with the index
}

// newSearchFixture builds the store and both servers. Most messages are
// there before the index opens (Open catches up with them); the last ones
// come while Run follows the store.
func newSearchFixture(tb testing.TB) *searchFixture {
	tb.Helper()
	ctx := context.Background()
	e := newTestEnv(tb) // the scanning server
	msgs := generated()
	mb, err := e.st.MailboxByName(ctx, e.acct.ID, "INBOX")
	if err != nil {
		tb.Fatal(err)
	}
	f := &searchFixture{testEnv: e, inbox: mb.ID, uids: make([]uint32, len(msgs))}
	const live = 100
	f.deliver(tb, mb.ID, 0, len(msgs)-live)

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ix, err := search.Open(filepath.Join(tb.TempDir(), "index"), e.st, quiet)
	if err != nil {
		tb.Fatal(err)
	}
	f.ix = ix
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- ix.Run(runCtx) }()
	tb.Cleanup(func() {
		stop()
		if err := <-ran; err != nil && runCtx.Err() == nil {
			tb.Errorf("index Run: %v", err)
		}
		ix.Close()
	})
	srv := New(e.st, authn.New(e.st), Config{Logger: quiet, Index: ix})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	f.indexed = l.Addr().String()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	tb.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil {
			tb.Errorf("Serve: %v", err)
		}
	})

	f.deliver(tb, mb.ID, len(msgs)-live, len(msgs))
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := ix.Sync(sctx); err != nil {
		tb.Fatalf("index Sync: %v", err)
	}
	return f
}

// deliver stores generated messages lo..hi-1 in INBOX (mailbox) with
// concurrent writers, which share the store's group commits, then sets
// their flags.
func (f *searchFixture) deliver(tb testing.TB, mailbox uint64, lo, hi int) {
	tb.Helper()
	ctx := context.Background()
	msgs := generated()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	next := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range next {
				d, err := f.st.Deliver(ctx, msgs[i].data, msgs[i].internal, store.Delivery{Account: f.acct.ID, Mailbox: "INBOX"})
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				} else if err == nil {
					f.uids[i] = d[0].UID
				}
				mu.Unlock()
			}
		})
	}
	for i := lo; i < hi; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		tb.Fatal(firstErr)
	}
	byFlag := map[string][]uint32{}
	for i := lo; i < hi; i++ {
		for _, fl := range msgs[i].flags {
			byFlag[fl] = append(byFlag[fl], f.uids[i])
		}
	}
	for fl, uids := range byFlag {
		if _, err := f.st.SetFlags(ctx, f.acct.ID, mailbox, uids, store.FlagsAdd, []string{fl}); err != nil {
			tb.Fatal(err)
		}
	}
}

// examine logs in to the server at addr and opens INBOX read-only.
func examine(tb testing.TB, addr string) *imapclient.Client {
	tb.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	if err := c.Login(testUser, testPass).Wait(); err != nil {
		tb.Fatalf("login: %v", err)
	}
	mustSelect(tb, c, "INBOX", true)
	return c
}

func uidSearch(tb testing.TB, c *imapclient.Client, cr *imap.SearchCriteria) []imap.UID {
	tb.Helper()
	d, err := c.UIDSearch(cr, nil).Wait()
	if err != nil {
		tb.Fatalf("UID SEARCH: %v", err)
	}
	return d.AllUIDs()
}

func utcDay(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func crText(s ...string) imap.SearchCriteria { return imap.SearchCriteria{Text: s} }
func crBody(s ...string) imap.SearchCriteria { return imap.SearchCriteria{Body: s} }
func crHeader(key, v string) imap.SearchCriteria {
	return imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: key, Value: v}}}
}

// crAnd merges criteria into one. (SearchCriteria.And would drop a
// SMALLER when merging criteria without one.)
func crAnd(cs ...imap.SearchCriteria) imap.SearchCriteria {
	var out imap.SearchCriteria
	for _, c := range cs {
		smaller := out.Smaller
		if smaller == 0 || (c.Smaller != 0 && c.Smaller < smaller) {
			smaller = c.Smaller
		}
		out.And(&c)
		out.Smaller = smaller
	}
	return out
}

func crOr(a, b imap.SearchCriteria) imap.SearchCriteria {
	return imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{a, b}}}
}

func crNot(c imap.SearchCriteria) imap.SearchCriteria {
	return imap.SearchCriteria{Not: []imap.SearchCriteria{c}}
}

func crFlag(f ...imap.Flag) imap.SearchCriteria    { return imap.SearchCriteria{Flag: f} }
func crNotFlag(f ...imap.Flag) imap.SearchCriteria { return imap.SearchCriteria{NotFlag: f} }

func hasGenFlag(g genMsg, f string) bool { return slices.Contains(g.flags, f) }

// exactCases is the table of TestSearchExact. want, when set, says from
// the generator which messages match, to check the scan itself.
var exactCases = []struct {
	name     string
	cr       imap.SearchCriteria
	nonEmpty bool
	empty    bool
	want     func(i int, g genMsg) bool
}{
	{name: "all", cr: imap.SearchCriteria{}, nonEmpty: true, want: func(int, genMsg) bool { return true }},
	{name: "text common word", cr: crText("meeting"), nonEmpty: true},
	{name: "text rare word", cr: crText(genRare), nonEmpty: true, want: func(_ int, g genMsg) bool { return g.rare }},
	{name: "text mixed case", cr: crText("qUeTzAlCoAtL"), want: func(_ int, g genMsg) bool { return g.rare }},
	{name: "text inner substring", cr: crText("etzalco"), want: func(_ int, g genMsg) bool { return g.rare }},
	{name: "body word", cr: crBody("invoice"), nonEmpty: true},
	{name: "body substring", cr: crBody("nvoic")},
	{name: "body phrase", cr: crBody("quarterly report")},
	{name: "text two keys", cr: crText("meeting", "budget"), nonEmpty: true},
	{name: "text and body", cr: crAnd(crText("Project"), crBody("launch"))},
	{name: "text CJK", cr: crText("全文检索"), nonEmpty: true},
	{name: "body CJK", cr: crBody("搜索引擎的性能"), nonEmpty: true},
	{name: "text CJK two runes", cr: crText("发票")},
	{name: "body CJK one rune", cr: crBody("邮")},
	{name: "text one letter", cr: crText("Q")},
	{name: "text two letters", cr: crText("zy")},
	{name: "text empty", cr: crText("")},
	{name: "text HTML only", cr: crText(genHTMLOnly), nonEmpty: true, want: func(_ int, g genMsg) bool { return g.html }},
	{name: "body HTML entity", cr: crBody("café <tag>"), want: func(_ int, g genMsg) bool { return g.html }},
	{name: "body attachment name", cr: crBody(genAttName), nonEmpty: true, want: func(_ int, g genMsg) bool { return g.attach }},
	{name: "text attachment CJK name", cr: crText("發票清單"), want: func(_ int, g genMsg) bool { return g.attach }},
	{name: "body attachment bytes", cr: crBody("xyzzyattachmentbytes")},
	{name: "body quoted-printable word", cr: crBody(genQPWord), nonEmpty: true},
	{name: "text accented upper", cr: crText("CAFÉ CRÈME"), nonEmpty: true},
	{name: "text unaccented", cr: crText("cafe")},
	{name: "text sharp s", cr: crText("STRASSE")},
	{name: "text header only", cr: crText("1234.gen@example.com"), want: func(i int, _ genMsg) bool { return i == 1234 }},
	{name: "text header field", cr: crText("genmailer 3")},
	{name: "text absent", cr: crText("nonexistentzzq"), empty: true},
	{name: "body absent CJK", cr: crBody("不存在的词语"), empty: true},
	{name: "subject word", cr: crHeader("Subject", "budget")},
	{name: "subject CJK", cr: crHeader("Subject", "开会讨论")},
	{name: "subject encoded accent", cr: crHeader("Subject", "café")},
	{name: "subject absent", cr: crHeader("Subject", "zzzabsent"), empty: true},
	{name: "from name", cr: crHeader("From", "müller")},
	{name: "from CJK name", cr: crHeader("From", "张伟")},
	{name: "from domain", cr: crHeader("From", "@example.org")},
	{name: "to", cr: crHeader("To", "bob3")},
	{name: "cc", cr: crHeader("Cc", "carol")},
	{name: "bcc", cr: crHeader("Bcc", "dave")},
	{name: "seen and text", cr: crAnd(crFlag(imap.FlagSeen), crText("meeting")), nonEmpty: true},
	{name: "unseen and body", cr: crAnd(crNotFlag(imap.FlagSeen), crBody("invoice"))},
	{name: "flagged", cr: crFlag(imap.FlagFlagged), want: func(_ int, g genMsg) bool { return hasGenFlag(g, store.FlagFlagged) }},
	{name: "deleted and text", cr: crAnd(crFlag(imap.FlagDeleted), crText("the"))},
	{name: "keyword", cr: crFlag("$Important"), want: func(_ int, g genMsg) bool { return hasGenFlag(g, "$Important") }},
	{name: "not keyword and CJK", cr: crAnd(crNotFlag("project-x"), crText("客户支持"))},
	{name: "answered or flagged", cr: crOr(crFlag(imap.FlagAnswered), crFlag(imap.FlagFlagged))},
	{name: "since and text", cr: crAnd(imap.SearchCriteria{Since: utcDay(2024, 6, 1)}, crText("brown fox")), nonEmpty: true},
	{name: "before", cr: imap.SearchCriteria{Before: utcDay(2024, 3, 1)}},
	{name: "on", cr: imap.SearchCriteria{Since: utcDay(2024, 5, 5), Before: utcDay(2024, 5, 6)}, nonEmpty: true},
	{name: "sentsince and body", cr: crAnd(imap.SearchCriteria{SentSince: utcDay(2024, 9, 1)}, crBody("payment"))},
	{name: "sentbefore", cr: imap.SearchCriteria{SentBefore: utcDay(2024, 2, 1)}},
	{name: "larger and text", cr: crAnd(imap.SearchCriteria{Larger: 20000}, crText("meeting"))},
	{name: "smaller", cr: imap.SearchCriteria{Smaller: 2000}},
	{name: "larger and smaller and CJK", cr: crAnd(imap.SearchCriteria{Larger: 5000, Smaller: 15000}, crBody("附件"))},
	{name: "uid range and text", cr: crAnd(imap.SearchCriteria{UID: []imap.UIDSet{{{Start: 1, Stop: 500}}}}, crText("meeting"))},
	{name: "uid to star and CJK", cr: crAnd(imap.SearchCriteria{UID: []imap.UIDSet{{{Start: 1500, Stop: 0}}}}, crBody("中华人民"))},
	{name: "seq range and body", cr: crAnd(imap.SearchCriteria{SeqNum: []imap.SeqSet{{{Start: 100, Stop: 300}}}}, crBody("report"))},
	{name: "or text", cr: crOr(crText(genRare), crText(genHTMLOnly)), want: func(_ int, g genMsg) bool { return g.rare || g.html }},
	{name: "not text", cr: crNot(crText("meeting")), nonEmpty: true},
	{name: "not body CJK and flagged", cr: crAnd(crNot(crBody("全文")), crFlag(imap.FlagFlagged))},
	{name: "or subject body, unseen", cr: crAnd(crOr(crHeader("Subject", "hello"), crBody(genQPWord)), crNotFlag(imap.FlagSeen))},
	{name: "nested or not", cr: crOr(crOr(crText("Ångström"), crText("São Paulo")), crNot(crHeader("From", "user1")))},
	{name: "text with or inside", cr: crAnd(crText("meeting"), crOr(crBody("发票"), crFlag(imap.FlagFlagged)))},
}

// TestSearchExact: every SEARCH of the table answers the same UIDs with
// the index as by scanning every message, on 2,000 generated messages.
func TestSearchExact(t *testing.T) {
	start := time.Now()
	f := newSearchFixture(t)
	t.Logf("fixture: %d messages delivered and indexed in %v", genCount, time.Since(start).Round(time.Millisecond))
	msgs := generated()
	// Two cases run at once, each on a pair of connections of its own.
	pairs := make(chan [2]*imapclient.Client, 2)
	for range cap(pairs) {
		pairs <- [2]*imapclient.Client{examine(t, f.indexed), examine(t, f.addr)}
	}
	lo, hi, total := len(msgs[0].data), 0, 0
	for _, g := range msgs {
		lo, hi, total = min(lo, len(g.data)), max(hi, len(g.data)), total+len(g.data)
	}
	t.Logf("sizes %d..%d bytes, %d in all", lo, hi, total)
	if lo < 500 || hi > 40<<10 {
		t.Errorf("generated sizes %d..%d, want within 500 B..40 KB", lo, hi)
	}
	// The index does narrow: a rare word has few candidates, all its
	// matches among them.
	cands, ok, err := f.ix.Candidates(context.Background(), f.acct.ID, f.inbox, search.FieldText, genRare)
	if err != nil || !ok || len(cands) > 50 {
		t.Fatalf("Candidates(%s): %d, ok %v, err %v; want a few", genRare, len(cands), ok, err)
	}
	for i, g := range msgs {
		if g.rare && !slices.Contains(cands, f.uids[i]) {
			t.Errorf("Candidates(%s) lacks UID %d", genRare, f.uids[i])
		}
	}
	if len(exactCases) < 40 {
		t.Fatalf("only %d cases", len(exactCases))
	}
	t.Run("cases", func(t *testing.T) {
		for _, tc := range exactCases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				pair := <-pairs
				defer func() { pairs <- pair }()
				ci, cs := pair[0], pair[1]
				// The two servers search at once: the scan is the slow one.
				var scan []imap.UID
				var err error
				done := make(chan struct{})
				go func() {
					defer close(done)
					cr := tc.cr
					var d *imap.SearchData
					if d, err = cs.UIDSearch(&cr, nil).Wait(); err == nil {
						scan = d.AllUIDs()
					}
				}()
				cr := tc.cr
				got := uidSearch(t, ci, &cr)
				<-done
				if err != nil {
					t.Fatalf("UID SEARCH, scanning: %v", err)
				}
				if !slices.Equal(got, scan) {
					t.Fatalf("indexed: %d UIDs, scan: %d UIDs\nonly indexed: %v\nonly scan: %v",
						len(got), len(scan), minus(got, scan), minus(scan, got))
				}
				t.Logf("%d matches", len(got))
				if tc.nonEmpty && len(got) == 0 {
					t.Errorf("no match, want some")
				}
				if tc.empty && len(got) != 0 {
					t.Errorf("%d matches, want none", len(got))
				}
				if tc.want != nil {
					var want []imap.UID
					for i, g := range msgs {
						if tc.want(i, g) {
							want = append(want, imap.UID(f.uids[i]))
						}
					}
					slices.Sort(want)
					if !slices.Equal(got, want) {
						t.Errorf("got %d UIDs, generator says %d\nextra: %v\nmissing: %v",
							len(got), len(want), minus(got, want), minus(want, got))
					}
				}
			})
		}
	})
	t.Logf("total %v", time.Since(start).Round(time.Millisecond))
}

// minus returns the UIDs of a not in b, at most 10 of them.
func minus(a, b []imap.UID) []imap.UID {
	var out []imap.UID
	for _, u := range a {
		if !slices.Contains(b, u) {
			out = append(out, u)
			if len(out) == 10 {
				break
			}
		}
	}
	return out
}

// BenchmarkSearchTextIMAP measures UID SEARCH TEXT through a client on
// the 2,000 generated messages with the index, for a rare word (14
// messages) and a common one (most messages), and reports the median and
// 99th percentile latency.
func BenchmarkSearchTextIMAP(b *testing.B) {
	f := newSearchFixture(b)
	c := examine(b, f.indexed)
	for _, bc := range []struct{ name, word string }{{"rare", genRare}, {"common", "meeting"}} {
		b.Run(bc.name, func(b *testing.B) {
			var took []time.Duration
			hits := 0
			for b.Loop() {
				start := time.Now()
				hits = len(uidSearch(b, c, &imap.SearchCriteria{Text: []string{bc.word}}))
				took = append(took, time.Since(start))
			}
			slices.Sort(took)
			ms := func(q float64) float64 {
				return float64(took[int(q*float64(len(took)-1))]) / float64(time.Millisecond)
			}
			b.ReportMetric(ms(0.50), "p50-ms")
			b.ReportMetric(ms(0.99), "p99-ms")
			b.ReportMetric(float64(hits), "hits")
		})
	}
}
