package search

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"frontdesk/store"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if corpus.dir != "" {
		corpus.ix.Close()
		corpus.st.Close()
		os.RemoveAll(corpus.dir)
	}
	os.Exit(code)
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newStore opens a store in dir with one account.
func newStore(t testing.TB, dir string) (*store.Store, *store.Account) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddDomain(ctx, "example.com"); err != nil {
		t.Fatal(err)
	}
	a, err := st.AddAccount(ctx, "alice@example.com", "password123", store.RoleUser)
	if err != nil {
		t.Fatal(err)
	}
	return st, a
}

func mailboxID(t testing.TB, st *store.Store, acct uint64, name string) uint64 {
	t.Helper()
	mb, err := st.MailboxByName(context.Background(), acct, name)
	if err != nil {
		t.Fatal(err)
	}
	return mb.ID
}

// deliverAll delivers msgs to INBOX with a few concurrent writers, so the
// store's group commit takes them in batches.
func deliverAll(t testing.TB, st *store.Store, acct uint64, msgs [][]byte) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	next := make(chan []byte)
	for range 16 {
		wg.Go(func() {
			for m := range next {
				if _, err := st.Deliver(context.Background(), m, time.Time{}, store.Delivery{Account: acct, Mailbox: "INBOX"}); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
				}
			}
		})
	}
	for _, m := range msgs {
		next <- m
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
}

// corpus is the 2,000-message mailbox shared by the tests of the package,
// built once.
var corpus struct {
	once  sync.Once
	dir   string
	st    *store.Store
	acct  uint64
	inbox uint64
	ix    *Index
	docs  map[uint32]Doc // Extract of each stored message, by UID
	took  time.Duration
}

const corpusSize = 2000

func sharedCorpus(t *testing.T) {
	t.Helper()
	corpus.once.Do(func() {
		dir, err := os.MkdirTemp("", "frontdesk-search-test")
		if err != nil {
			t.Fatal(err)
		}
		corpus.dir = dir
		st, a := newStore(t, filepath.Join(dir, "data"))
		corpus.st, corpus.acct = st, a.ID
		corpus.inbox = mailboxID(t, st, a.ID, "INBOX")
		msgs := make([][]byte, corpusSize)
		for i := range msgs {
			msgs[i] = genMessage(i, 0)
		}
		deliverAll(t, st, a.ID, msgs)
		start := time.Now()
		corpus.ix, err = Open(filepath.Join(dir, "data", "index"), st, quietLog())
		if err != nil {
			t.Fatal(err)
		}
		corpus.took = time.Since(start)
		_, stored, err := st.Messages(context.Background(), a.ID, corpus.inbox)
		if err != nil {
			t.Fatal(err)
		}
		corpus.docs = map[uint32]Doc{}
		for _, m := range stored {
			data, err := st.ReadMessage(a.ID, m)
			if err != nil {
				t.Fatal(err)
			}
			corpus.docs[m.UID] = Extract(data)
		}
	})
	if corpus.ix == nil {
		t.Fatal("corpus setup failed")
	}
}

// searchCase is one IMAP-style search; minHits guards the test itself: the
// corpus must hold that many exact matches for the case to prove anything.
type searchCase struct {
	field   Field
	text    string
	minHits int
}

var searchCases = []searchCase{
	{FieldBody, "quick brown", 50},
	{FieldBody, "ELLO WOR", 50},      // mixed case, inside words
	{FieldBody, "搜索引擎", 20},          // CJK
	{FieldBody, "索引的", 0},            // CJK substring that does not occur
	{FieldBody, "会議があ", 20},          // Japanese
	{FieldBody, "안녕하세", 20},          // Korean
	{FieldBody, "CRÈME BRÛ", 20},     // accents, case
	{FieldBody, "straße und", 20},    // ß
	{FieldBody, "ångström", 20},      // Å
	{FieldBody, "我们明天开会", 20},        // from GB2312 and UTF-8 parts
	{FieldBody, qpWord, 20},          // split by QP soft line breaks
	{FieldBody, "tmlonly7", 5},       // only in HTML parts
	{FieldBody, "café <tag>", 20},    // HTML entities
	{FieldBody, "color:red", 0},      // inside <style>: not text
	{FieldBody, "report-q3.pdf", 20}, // attachment name
	{FieldBody, "發票2024", 20},        // encoded attachment name
	{FieldBody, "inner forwarded", 20},
	{FieldBody, "no such string at all", 0},
	{FieldSubject, "invoice", 10},
	{FieldSubject, "café", 20}, // ISO-8859-1 encoded word
	{FieldSubject, "全文检索", 5},
	{FieldSubject, "ARTERLY REP", 0},
	{FieldFrom, "müller", 20},
	{FieldFrom, "exämple.de", 20},
	{FieldFrom, "张伟", 0}, // two runes: cannot narrow
	{FieldFrom, "user1", 20},
	{FieldTo, "ana lúcia", 20},
	{FieldCc, "carol3@", 10},
	{FieldBcc, "dave5@example", 5},
	{FieldText, "x-mailer: gen 3", 50},
	{FieldText, ".gen@example.com", 1000},
	{FieldText, "lazy dog", 50},
	{FieldText, "inner@example.org", 20}, // header of an embedded message
	{FieldBody, "ab", 0},
	{FieldBody, "a", 0},
	{FieldSubject, "", 0},
}

func TestCandidatesExact(t *testing.T) {
	sharedCorpus(t)
	t.Logf("indexed %d messages in %v (%.0f msgs/s, race detector may be on)", corpusSize, corpus.took,
		corpusSize/corpus.took.Seconds())
	ctx := context.Background()
	for _, c := range searchCases {
		want := map[uint32]bool{}
		needle := Fold(c.text)
		for uid, d := range corpus.docs {
			if strings.Contains(Fold(d.Field(c.field)), needle) {
				want[uid] = true
			}
		}
		got, ok, err := corpus.ix.Candidates(ctx, corpus.acct, corpus.inbox, c.field, c.text)
		if err != nil {
			t.Fatalf("%q: %v", c.text, err)
		}
		short := len([]rune(c.text)) < 3
		if ok == short {
			t.Errorf("field %d %q: ok=%v, want %v", c.field, c.text, ok, !short)
		}
		if !ok {
			continue
		}
		if len(want) < c.minHits {
			t.Errorf("field %d %q: corpus holds %d matches, test wants at least %d", c.field, c.text, len(want), c.minHits)
		}
		have := map[uint32]bool{}
		for _, u := range got {
			have[u] = true
		}
		for u := range want {
			if !have[u] {
				t.Errorf("field %d %q: UID %d matches but is no candidate", c.field, c.text, u)
			}
		}
		// Candidates beyond the exact answer are allowed (damaged messages,
		// grams that occur apart), but the index must narrow.
		if len(got) > len(want)+corpusSize/2 {
			t.Errorf("field %d %q: %d candidates for %d matches", c.field, c.text, len(got), len(want))
		}
		t.Logf("field %d %-24q exact %4d candidates %4d", c.field, c.text, len(want), len(got))
	}
}

func TestQPSplitsWords(t *testing.T) {
	// The corpus must really split the word in the raw message, or the
	// QP case above proves nothing.
	for i := range 200 {
		raw := genMessage(i, 0)
		d := Extract(raw)
		if strings.Contains(d.Body, qpWord) && !strings.Contains(string(raw), qpWord) {
			return
		}
	}
	t.Fatal("no generated message splits the QP word across a soft line break")
}

func TestExtract(t *testing.T) {
	raw := "From: =?utf-8?q?Jos=C3=A9?= <jose@example.org>\r\nSubject: =?gb2312?b?1tDOxA==?=\r\n" +
		"Content-Type: multipart/alternative; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain; charset=iso-8859-1\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=E9 ver=\r\nsion\r\n--x\r\nContent-Type: text/html\r\n\r\n" +
		"<p>A&amp;B<script>evil()</script></p>\r\n--x--\r\n"
	d := Extract([]byte(raw))
	for _, want := range []string{"café version", "A&B"} {
		if !strings.Contains(d.Body, want) {
			t.Errorf("body %q lacks %q", d.Body, want)
		}
	}
	if strings.Contains(d.Body, "evil") {
		t.Errorf("body %q holds script", d.Body)
	}
	if d.Subject != "中文" || d.From != "José <jose@example.org>" || d.Partial {
		t.Errorf("got subject %q from %q partial %v", d.Subject, d.From, d.Partial)
	}
	if d := Extract([]byte("no header at all\xff")); d.Body == "" || !d.Partial {
		t.Errorf("garbage: %+v", d)
	}
	if Fold("ΣΑΣ straße K") != "σασ straße k" || Fold("ς") != "σ" {
		t.Errorf("Fold: %q", Fold("ΣΑΣ straße K"))
	}
}
