package search

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/document"
)

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// bareIndex is an Index with no store behind it, for building benchmark
// indexes directly from generated messages.
func bareIndex(tb testing.TB, dir string, log *slog.Logger) *Index {
	bi, err := createBleve(dir)
	if err != nil {
		tb.Fatal(err)
	}
	ix := &Index{dir: dir, bi: bi, log: log}
	ix.healthy.Store(true)
	return ix
}

// indexGenerated indexes n generated messages of about size bytes into
// mailbox 1/1, UIDs 1..n.
func indexGenerated(ix *Index, n, size int, msg func(int) []byte, progress bool) error {
	return indexDocs(context.Background(), ix, n, func(i int) *document.Document {
		d := Extract(msg(i))
		return docFor(msgKey{1, 1, uint32(i + 1)}, &d, time.Time{})
	}, nil, progress)
}

// BenchmarkIndex measures decoding and indexing ~4 KB messages (no store
// I/O): msgs/s, and the index's size per message.
func BenchmarkIndex(b *testing.B) {
	const n = 5000
	msgs := make([][]byte, n)
	var raw int
	for i := range msgs {
		msgs[i] = genMessage(i, 4000)
		raw += len(msgs[i])
	}
	b.ResetTimer()
	var took time.Duration
	var size int64
	for range b.N {
		dir := filepath.Join(b.TempDir(), "index")
		start := time.Now()
		ix := bareIndex(b, dir, quietLog())
		if err := indexGenerated(ix, n, 4000, func(i int) []byte { return msgs[i] }, false); err != nil {
			b.Fatal(err)
		}
		if err := ix.Close(); err != nil {
			b.Fatal(err)
		}
		took += time.Since(start)
		size = dirSize(dir)
	}
	b.ReportMetric(float64(n*b.N)/took.Seconds(), "msgs/s")
	b.ReportMetric(float64(size)/n, "index-B/msg")
	b.ReportMetric(float64(raw)/n, "raw-B/msg")
}

const benchDocs = 100_000

// benchIndex returns the 100,000-message index, built once and kept in
// the temporary directory across runs (rebuilt when the schema changes).
func benchIndex(b *testing.B) *Index {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("frontdesk-search-bench-%s-%d", schemaVersion, benchDocs))
	done := filepath.Join(dir, "complete")
	if _, err := os.Stat(done); err == nil {
		bi, err := bleve.OpenUsing(filepath.Join(dir, "index"), runtimeConfig())
		if err == nil {
			ix := &Index{dir: dir, bi: bi, log: quietLog()}
			ix.healthy.Store(true)
			return ix
		}
	}
	os.RemoveAll(dir)
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ix := bareIndex(b, filepath.Join(dir, "index"), log)
	start := time.Now()
	if err := indexGenerated(ix, benchDocs, 4000, func(i int) []byte { return genMessage(i, 4000) }, true); err != nil {
		b.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		b.Fatal(err)
	}
	b.Logf("built %d messages in %v", benchDocs, time.Since(start))
	if err := os.WriteFile(done, nil, 0o600); err != nil {
		b.Fatal(err)
	}
	return benchIndex(b)
}

// BenchmarkCandidates measures Candidates on one mailbox of 100,000
// messages, per kind of search, as p50/p99 in milliseconds.
func BenchmarkCandidates(b *testing.B) {
	ix := benchIndex(b)
	defer ix.Close()
	kinds := []struct {
		name  string
		field Field
		text  string
	}{
		{"absent", FieldBody, "no such string here"},
		{"rare-from", FieldFrom, "user7@exämple.de"},
		{"subject", FieldSubject, "invoice"},
		{"cjk", FieldBody, "搜索引擎"},
		{"phrase", FieldBody, "quarterly report"},
		{"long", FieldBody, "the quick brown fox jumps over the lazy dog"},
		{"text", FieldText, "lazy dog"},
		{"common", FieldBody, "the"},
	}
	ctx := context.Background()
	times := make([][]time.Duration, len(kinds))
	counts := make([]int, len(kinds))
	b.ResetTimer()
	for i := range b.N {
		k := i % len(kinds)
		start := time.Now()
		uids, ok, err := ix.Candidates(ctx, 1, 1, kinds[k].field, kinds[k].text)
		times[k] = append(times[k], time.Since(start))
		if err != nil || !ok {
			b.Fatalf("%s: ok=%v err=%v", kinds[k].name, ok, err)
		}
		counts[k] = len(uids)
	}
	b.StopTimer()
	var all []time.Duration
	for k, ts := range times {
		if len(ts) == 0 {
			continue
		}
		all = append(all, ts...)
		slices.Sort(ts)
		b.ReportMetric(ms(ts[len(ts)/2]), kinds[k].name+"-p50-ms")
		b.ReportMetric(ms(ts[len(ts)*99/100]), kinds[k].name+"-p99-ms")
		if b.N >= len(kinds)*10 {
			b.Logf("%-10s %6d candidates  p50 %6.2f ms  p99 %6.2f ms", kinds[k].name, counts[k], ms(ts[len(ts)/2]), ms(ts[len(ts)*99/100]))
		}
	}
	slices.Sort(all)
	b.ReportMetric(ms(all[len(all)/2]), "all-p50-ms")
	b.ReportMetric(ms(all[len(all)*99/100]), "all-p99-ms")
	b.ReportMetric(float64(dirSize(filepath.Join(ix.dir, "index")))/benchDocs, "index-B/msg")

	// What Open pays on every start to reconcile with the store.
	start := time.Now()
	ids, err := ix.indexedIDs()
	if err != nil || len(ids) != benchDocs {
		b.Fatalf("indexedIDs: %d, %v", len(ids), err)
	}
	b.ReportMetric(ms(time.Since(start)), "list-ids-ms")
	b.ReportMetric(0, "ns/op")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
