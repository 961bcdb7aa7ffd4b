package search

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"
)

// docsVocab is the filler of generated tickets: none of the words the
// tests look for.
var docsVocab = strings.Fields(`printer network laptop screen password reset
	account order delivery parcel warehouse shipment invoice receipt monday
	tuesday morning evening office branch modem cable keyboard mouse license
	renewal contract upgrade downgrade schedule meeting calendar reminder`)

var docsNames = strings.Fields(`Olivia Liam Emma Noah Ava Elijah Sophia Lucas Mia Mason
	Harper Logan Evelyn Ethan Abigail Jacob Emily Oliver Ella Aiden`)

// genTicket is generated ticket i: filler words, a contact with a
// unique e-mail address and phone number.
func genTicket(i int) map[string]string {
	r := rand.New(rand.NewPCG(uint64(i), 7))
	words := func(n int) string {
		w := make([]string, n)
		for j := range w {
			w[j] = docsVocab[r.IntN(len(docsVocab))]
		}
		return strings.Join(w, " ")
	}
	name := docsNames[i%len(docsNames)]
	return map[string]string{
		"subject":       words(5),
		"body":          words(40) + ".\n\n" + words(20),
		"notes":         words(8),
		"contact_name":  fmt.Sprintf("%s Gen%d", name, i),
		"contact_email": fmt.Sprintf("%s.gen%d@example.com", strings.ToLower(name), i),
		"contact_phone": fmt.Sprintf("+44 20 7946 %04d", i),
	}
}

func genTicketID(i int) string { return fmt.Sprintf("T%05d", i) }

// plantedTickets are the documents the tests look for, among the
// generated ones.
var plantedTickets = map[string]map[string]string{
	"billing": {
		"subject":       "Billing question",
		"body":          "I was billed twice for the same order last month.",
		"contact_name":  "Zoë Quartermain",
		"contact_email": "Zoe.Quartermain@Example.org",
		"contact_phone": "+15550100199",
	},
	"phrase": {
		"subject":       "Router trouble",
		"body":          "The red light is blinking on the router since the storm.",
		"contact_name":  "Priya Natarajan",
		"contact_email": "priya@natarajan.in",
		"contact_phone": "(555) 010-0142",
	},
	"reorder": { // the same words as "phrase", not in that order
		"subject": "Light question",
		"body":    "Blinking red? No, the light on the router is green.",
	},
	"cjk": {
		"subject":      "東京都の請求書について",
		"body":         "先月の請求書が二重に届きました。確認をお願いします。",
		"contact_name": "山田太郎",
	},
	"notes": {
		"subject": "Call back",
		"notes":   "Customer prefers Wednesday afternoons; xylophone shop owner.",
		"body":    "Please call back about the kiosk.",
	},
}

// newTestDocs opens Docs in a temporary directory with the generated and
// planted documents.
func newTestDocs(t testing.TB, n int) (*Docs, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "docs")
	d, err := OpenDocs(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if !d.Fresh() {
		t.Fatal("new index not Fresh")
	}
	batch := map[string]map[string]string{}
	for i := range n {
		batch[genTicketID(i)] = genTicket(i)
	}
	for id, f := range plantedTickets {
		batch[id] = f
	}
	if err := d.PutBatch(batch); err != nil {
		t.Fatal(err)
	}
	return d, dir
}

func hitIDs(hs []DocHit) []string {
	ids := make([]string, len(hs))
	for i, h := range hs {
		ids[i] = h.ID
	}
	return ids
}

func queryIDs(t *testing.T, d *Docs, q string) []string {
	t.Helper()
	hs, err := d.Query(context.Background(), q, 50)
	if err != nil {
		t.Fatalf("Query(%q): %v", q, err)
	}
	return hitIDs(hs)
}

func TestDocsQuery(t *testing.T) {
	d, _ := newTestDocs(t, 250)
	if n, err := d.Count(); err != nil || n != uint64(250+len(plantedTickets)) {
		t.Fatalf("Count = %d, %v", n, err)
	}
	cases := []struct {
		name, q string
		want    []string // exactly these, in any order; nil: none
	}{
		{"word", "xylophone", []string{"notes"}},
		{"word case", "XYLOPHONE", []string{"notes"}},
		{"stem billing finds billed", "billing", []string{"billing"}},
		{"stem billed finds billing", "bills", []string{"billing"}},
		{"words are ANDed", "billed storm", nil},
		{"words in different fields", "billing zoë", []string{"billing"}},
		{"phrase", `"red light is blinking"`, []string{"phrase"}},
		{"phrase stop words as holes", `"red light was blinking"`, []string{"phrase"}},
		{"words not phrase", "red light blinking", []string{"phrase", "reorder"}},
		{"email whole", "zoe.quartermain@example.org", []string{"billing"}},
		{"email case", "Zoe.Quartermain@EXAMPLE.org", []string{"billing"}},
		{"email in brackets", "<priya@natarajan.in>", []string{"phrase"}},
		{"phone spaced", "+1 555 010 0199", []string{"billing"}},
		{"phone dashed", "555-010-0199", []string{"billing"}},
		{"phone parens", "+1 (555) 010-0199", []string{"billing"}},
		{"phone stored formatted", "+15550100142", []string{"phrase"}},
		{"phone stored formatted, typed national", "5550100142", []string{"phrase"}},
		{"phone generated", "+442079460123", []string{genTicketID(123)}},
		{"phone national trunk zero", "020 7946 0123", []string{genTicketID(123)}},
		{"phone and word", "+1 555 010 0199 billing", []string{"billing"}},
		{"phone and wrong word", "+1 555 010 0199 router", nil},
		{"cjk", "請求書", []string{"cjk"}},
		{"cjk bigram", "東京", []string{"cjk"}},
		{"cjk name", "山田", []string{"cjk"}},
		{"field", "subject:router", []string{"phrase"}},
		{"field other", "body:router", []string{"phrase", "reorder"}},
		{"field phrase", `body:"red light"`, []string{"phrase"}},
		{"field email", "contact_email:priya@natarajan.in", []string{"phrase"}},
		{"field phone", "contact_phone:+1 555 010 0199", []string{"billing"}},
		{"field wrong", "subject:xylophone", nil},
		{"unknown field is words", "nosuch:xylophone", nil},
		{"unknown field is words 2", "kiosk:back", []string{"notes"}},
		{"negation", "router -green", []string{"phrase"}},
		{"prefix last word", "xyloph", []string{"notes"}},
		{"prefix with word", "kiosk wednes", []string{"notes"}},
		{"no prefix after space", "xyloph ", nil},
		{"unique name", "Gen77", []string{genTicketID(77)}},
		{"generated email", "mia.gen8@example.com", []string{genTicketID(8)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := queryIDs(t, d, c.q)
			slices.Sort(got)
			want := slices.Clone(c.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("Query(%q) = %v, want %v", c.q, got, want)
			}
		})
	}
}

func TestDocsQueryRankingAndFragments(t *testing.T) {
	d, _ := newTestDocs(t, 200)
	ctx := context.Background()
	hs, err := d.Query(ctx, "printer", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) < 20 {
		t.Fatalf("printer: %d hits", len(hs))
	}
	for i := 1; i < len(hs); i++ {
		a, b := hs[i-1], hs[i]
		if a.Score < b.Score || a.Score == b.Score && a.ID >= b.ID {
			t.Fatalf("hits out of order at %d: %+v then %+v", i, a, b)
		}
	}
	if hs, err := d.Query(ctx, "printer", 5); err != nil || len(hs) != 5 {
		t.Fatalf("limit 5: %d hits, %v", len(hs), err)
	}
	for q, want := range map[string]string{
		"blinking":           "<mark>blinking</mark>",
		"billing":            "<mark>billed</mark>",
		"xyloph":             "<mark>xylophone</mark>",
		"+1 555 010 0199":    "<mark>+15550100199</mark>",
		"5550100142":         "<mark>(555) 010-0142</mark>",
		"priya@natarajan.in": "<mark>priya@natarajan.in</mark>",
		"請求書":                "<mark>請求書</mark>",
	} {
		hs, err := d.Query(ctx, q, 5)
		if err != nil || len(hs) == 0 {
			t.Errorf("Query(%q): %v, %v", q, hs, err)
			continue
		}
		if !strings.Contains(strings.ToLower(hs[0].Fragment), want) {
			t.Errorf("Query(%q) fragment %q, want it to hold %q", q, hs[0].Fragment, want)
		}
	}
	// HTML in documents is escaped.
	if err := d.Put("html", map[string]string{"body": "<script>alert(1)</script> zanzibar"}); err != nil {
		t.Fatal(err)
	}
	hs, err = d.Query(ctx, "zanzibar", 5)
	if err != nil || len(hs) != 1 || strings.Contains(hs[0].Fragment, "<script>") || !strings.Contains(hs[0].Fragment, "&lt;script&gt;") {
		t.Fatalf("html: %+v, %v", hs, err)
	}
}

func TestDocsReplaceDelete(t *testing.T) {
	d, _ := newTestDocs(t, 200)
	ctx := context.Background()
	n0, _ := d.Count()
	if got := queryIDs(t, d, "xylophone"); !slices.Equal(got, []string{"notes"}) {
		t.Fatalf("before: %v", got)
	}
	f := maps2(plantedTickets["notes"])
	f["notes"] = "Customer now sells marimbas."
	if err := d.Put("notes", f); err != nil {
		t.Fatal(err)
	}
	if got := queryIDs(t, d, "xylophone"); len(got) != 0 {
		t.Fatalf("old text still found: %v", got)
	}
	hs, err := d.Query(ctx, "marimba", 10)
	if err != nil || len(hs) != 1 || hs[0].ID != "notes" || !strings.Contains(hs[0].Fragment, "<mark>marimbas</mark>") {
		t.Fatalf("new text: %+v, %v", hs, err)
	}
	if n, _ := d.Count(); n != n0 {
		t.Fatalf("Count %d after replace, want %d", n, n0)
	}
	if err := d.Delete("notes"); err != nil {
		t.Fatal(err)
	}
	if got := queryIDs(t, d, "marimba"); len(got) != 0 {
		t.Fatalf("deleted document found: %v", got)
	}
	if n, _ := d.Count(); n != n0-1 {
		t.Fatalf("Count %d after delete, want %d", n, n0-1)
	}
	if err := d.Delete("no such id"); err != nil {
		t.Fatalf("delete unknown: %v", err)
	}
	// A nil field map in a batch deletes.
	if err := d.PutBatch(map[string]map[string]string{"billing": nil, "new": {"subject": "quokka"}}); err != nil {
		t.Fatal(err)
	}
	if got := queryIDs(t, d, "billing"); len(got) != 0 {
		t.Fatalf("batch delete: %v", got)
	}
	if got := queryIDs(t, d, "quokka"); !slices.Equal(got, []string{"new"}) {
		t.Fatalf("batch put: %v", got)
	}
	for _, bad := range []map[string]string{{"": "x"}, {"Subject": "x"}, {"a.kw": "x"}, {"_raw": "x"}, {"a b": "x"}} {
		if err := d.Put("bad", bad); err == nil {
			t.Errorf("Put(%v) accepted", bad)
		}
	}
	if err := d.Put("", map[string]string{"subject": "x"}); err == nil {
		t.Error("empty id accepted")
	}
}

func maps2(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestDocsReopen(t *testing.T) {
	d, dir := newTestDocs(t, 200)
	n0, _ := d.Count()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d, err := OpenDocs(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Fresh() {
		t.Fatal("reopened index is Fresh")
	}
	if n, _ := d.Count(); n != n0 {
		t.Fatalf("Count %d after reopen, want %d", n, n0)
	}
	// The known fields come back with the index: field: queries work.
	if got := queryIDs(t, d, "subject:router"); !slices.Equal(got, []string{"phrase"}) {
		t.Fatalf("after reopen: %v", got)
	}
	if got := queryIDs(t, d, "+1 555 010 0199"); !slices.Equal(got, []string{"billing"}) {
		t.Fatalf("phone after reopen: %v", got)
	}
}

func TestDocsCorrupt(t *testing.T) {
	t.Run("garbage files", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "index_meta.json"), []byte("{not json"), 0o600)
		os.WriteFile(filepath.Join(dir, "root.bolt"), []byte("garbage garbage"), 0o600)
		os.WriteFile(filepath.Join(dir, "junk"), make([]byte, 5000), 0o600)
		checkRecreated(t, dir)
	})
	t.Run("empty dir", func(t *testing.T) { checkRecreated(t, t.TempDir()) })
	t.Run("a file", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "docs")
		os.WriteFile(p, []byte("hello"), 0o600)
		checkRecreated(t, p)
	})
	t.Run("truncated segments", func(t *testing.T) {
		d, dir := newTestDocs(t, 200)
		d.Close()
		n := 0
		filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".zap") {
				os.WriteFile(p, []byte("truncated"), 0o600)
				n++
			}
			return nil
		})
		if n == 0 {
			t.Fatal("no segment files")
		}
		checkRecreated(t, dir)
	})
	t.Run("other schema", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "docs")
		d, err := OpenDocs(dir)
		if err != nil {
			t.Fatal(err)
		}
		d.Put("a", map[string]string{"subject": "x"})
		d.bi.SetInternal(keyDocsSchema, []byte("frontdesk-docs-0"))
		d.Close()
		checkRecreated(t, dir)
	})
}

func checkRecreated(t *testing.T, dir string) {
	t.Helper()
	d, err := OpenDocs(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if !d.Fresh() {
		t.Fatal("not Fresh")
	}
	if n, err := d.Count(); err != nil || n != 0 {
		t.Fatalf("Count = %d, %v", n, err)
	}
	if err := d.Put("a", map[string]string{"subject": "recovered"}); err != nil {
		t.Fatal(err)
	}
	if got := queryIDs(t, d, "recovered"); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("after recreate: %v", got)
	}
}

func TestDocsLocked(t *testing.T) {
	defer func(old string) { docsLockTimeout = old }(docsLockTimeout)
	docsLockTimeout = "100ms"
	dir := filepath.Join(t.TempDir(), "docs")
	d, err := OpenDocs(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Put("a", map[string]string{"subject": "kept"}); err != nil {
		t.Fatal(err)
	}
	d2, err := OpenDocs(dir)
	if err == nil {
		d2.Close()
		t.Fatal("second OpenDocs of an open index succeeded")
	}
	t.Log(err)
	// ... and left the index alone.
	if got := queryIDs(t, d, "kept"); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("after refused open: %v", got)
	}
}

func TestDocsEmptyQuery(t *testing.T) {
	d, _ := newTestDocs(t, 0)
	for _, q := range []string{"", "   ", "\t\n", "the ", "a an", "an", `""`, "-router", "!!! ,,"} {
		if _, err := d.Query(context.Background(), q, 10); !errors.Is(err, ErrEmptyQuery) {
			t.Errorf("Query(%q) err = %v, want ErrEmptyQuery", q, err)
		}
	}
	empty, err := OpenDocs(filepath.Join(t.TempDir(), "e"))
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Close()
	if _, err := empty.Query(context.Background(), "", 10); !errors.Is(err, ErrEmptyQuery) {
		t.Errorf("empty index, empty query: %v", err)
	}
	if hs, err := empty.Query(context.Background(), "router", 10); err != nil || len(hs) != 0 {
		t.Errorf("empty index: %v, %v", hs, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Query(ctx, "router", 10); err == nil {
		t.Error("cancelled context: no error")
	}
}

func TestDocsConcurrent(t *testing.T) {
	d, _ := newTestDocs(t, 200)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w := range 3 {
		wg.Go(func() {
			for i := range 12 {
				id := fmt.Sprintf("c%d-%d", w, i)
				if err := d.Put(id, map[string]string{"subject": "concurrent walrus", "field" + fmt.Sprint(w): "x"}); err != nil {
					errs <- err
				}
				if i%4 == 3 {
					if err := d.Delete(id); err != nil {
						errs <- err
					}
				}
			}
		})
	}
	for range 3 {
		wg.Go(func() {
			deadline := time.Now().Add(time.Second)
			for time.Now().Before(deadline) {
				for _, q := range []string{"walrus", "printer router", "+1 555 010 0199", "field1:x", "walr"} {
					if _, err := d.Query(ctx, q, 10); err != nil {
						errs <- fmt.Errorf("%q: %w", q, err)
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := queryIDs(t, d, "walrus"); len(got) != 3*9 {
		t.Fatalf("walrus: %d hits, want %d", len(got), 3*9)
	}
}

func TestDocsPhones(t *testing.T) {
	for in, want := range map[string]string{
		"+1 555 010 0199":  "15550100199",
		"+15550100199":     "15550100199",
		"(555) 010-0199":   "5550100199",
		"555.010.0199":     "5550100199",
		"020 7946 0958":    "02079460958",
		"12345":            "",
		"555 010 0199 ext": "",
		"":                 "",
	} {
		if got := NormalizePhone(in); got != want {
			t.Errorf("NormalizePhone(%q) = %q, want %q", in, got, want)
		}
	}
	text := "Call +1 (555) 010-0199 or 0044 20 7946 0958, not abc1234567 nor 1234."
	var got []string
	for _, p := range phonesOf(text) {
		got = append(got, p.digits+"="+text[p.start:p.end])
	}
	want := []string{"15550100199=+1 (555) 010-0199", "00442079460958=0044 20 7946 0958"}
	if !slices.Equal(got, want) {
		t.Errorf("phonesOf = %q, want %q", got, want)
	}
}

// BenchmarkDocsQuery builds an index of 100,000 small tickets (once: the
// function body runs once per -count with b.Loop) and measures Query over
// a mix of searches: words, phrase, field, e-mail, phone, prefix.
func BenchmarkDocsQuery(b *testing.B) {
	const n = 100_000
	dir := filepath.Join(b.TempDir(), "docs")
	if v := os.Getenv("TMPBENCHDIR"); v != "" {
		dir = v
	}
	d, err := OpenDocs(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	start := time.Now()
	batch := map[string]map[string]string{}
	vocab := benchVocab(5000)
	for i := range n {
		if !d.Fresh() {
			break
		}
		batch[genTicketID(i)] = benchTicket(i, vocab)
		if len(batch) == 5000 || i == n-1 {
			if err := d.PutBatch(batch); err != nil {
				b.Fatal(err)
			}
			clear(batch)
		}
	}
	b.Logf("indexed %d docs in %v (%.0f docs/s), %d MB", n, time.Since(start).Round(time.Millisecond),
		float64(n)/time.Since(start).Seconds(), dirSize(dir)>>20)
	// Common words first (each in a few percent to a third of the
	// documents), then rare ones, then the exact look-ups.
	queries := []string{
		vocab[0], vocab[1] + " " + vocab[5], `"` + vocab[2] + " " + vocab[3] + `"`, "subject:" + vocab[4],
		vocab[50], vocab[300] + " " + vocab[20], vocab[1000], vocab[30] + " " + vocab[7][:3],
		vocab[10] + " -" + vocab[11], "emma " + vocab[40],
		"olivia.gen40@example.com", "+44 20 7946 1234", "Gen777",
	}
	ctx := context.Background()
	for _, q := range queries {
		dq, err := parseDocsQuery(q, d.knownFields())
		if err != nil {
			b.Fatal(err)
		}
		res, err := d.bi.Search(bleve.NewSearchRequestOptions(dq.q, 0, 0, false))
		if err != nil || res.Total == 0 {
			b.Fatalf("Query(%q): %v, %v", q, res, err)
		}
		b.Logf("%-30q %6d matches", q, res.Total)
	}
	var lat []time.Duration
	i := 0
	for b.Loop() {
		q := queries[i%len(queries)]
		i++
		t0 := time.Now()
		hs, err := d.Query(ctx, q, 20)
		lat = append(lat, time.Since(t0))
		if err != nil || len(hs) == 0 {
			b.Fatalf("Query(%q): %d hits, %v", q, len(hs), err)
		}
	}
	if os.Getenv("TMPBENCHDIR") != "" {
		for _, q := range queries {
			t0 := time.Now()
			for range 20 {
				d.Query(ctx, q, 20)
			}
			fmt.Fprintf(os.Stderr, "%-30q %v\n", q, time.Since(t0)/20)
		}
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(int(float64(len(lat))*p), len(lat)-1)].Microseconds())
	}
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}

// benchVocab makes n pronounceable pseudo-words, the most common first.
func benchVocab(n int) []string {
	r := rand.New(rand.NewPCG(1, 2))
	cons, vow := "bcdfghklmnprstvz", "aeiou"
	seen := map[string]bool{}
	var out []string
	for len(out) < n {
		var b strings.Builder
		for range 2 + r.IntN(3) {
			b.WriteByte(cons[r.IntN(len(cons))])
			b.WriteByte(vow[r.IntN(len(vow))])
		}
		if w := b.String(); !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

// benchTicket is a small ticket: Zipf-distributed words (a subject of 6,
// a body of 30, notes of 8) and a generated contact.
func benchTicket(i int, vocab []string) map[string]string {
	r := rand.New(rand.NewPCG(uint64(i), 9))
	z := rand.NewZipf(r, 1.1, 10, uint64(len(vocab)-1))
	words := func(n int) string {
		w := make([]string, n)
		for j := range w {
			w[j] = vocab[z.Uint64()]
		}
		return strings.Join(w, " ")
	}
	f := genTicket(i)
	f["subject"], f["body"], f["notes"] = words(6), words(30), words(8)
	return f
}
