package search

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

func TestQuery(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, a := newStore(t, filepath.Join(dir, "data"))
	defer st.Close()
	var msgs [][]byte
	add := func(subject, body string) {
		msgs = append(msgs, fmt.Appendf(nil, "From: Bob <bob@example.org>\r\nSubject: %s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n", subject, body))
	}
	add("morning run", "I run every day before work.")
	add("marathon", "She was running the Boston marathon & won.")
	add("搜索", "我们明天开会讨论搜索引擎的性能问题")
	add("其他", "今天天气很好")
	for i := range 25 {
		add(fmt.Sprintf("invoice %d", i), fmt.Sprintf("Please pay invoice number %d <soon>.", i))
	}
	deliverAll(t, st, a.ID, msgs)
	ix, err := Open(filepath.Join(dir, "data", "index"), st, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()

	res, err := ix.Query(ctx, a.ID, "Running", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != 2 {
		t.Fatalf("running: total %d, hits %+v", res.Total, res.Hits)
	}
	for _, h := range res.Hits {
		if len(h.Fragments) == 0 || !strings.Contains(strings.Join(h.Fragments, " "), "<mark>") {
			t.Errorf("no highlight in %+v", h)
		}
		if h.From != "Bob <bob@example.org>" || h.Date.IsZero() {
			t.Errorf("hit fields: %+v", h)
		}
	}

	res, err = ix.Query(ctx, a.ID, "搜索引擎", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != 1 || !strings.Contains(strings.Join(res.Hits[0].Fragments, ""), "<mark>搜索引擎</mark>") {
		t.Fatalf("chinese: %+v", res)
	}
	if res, _ := ix.Query(ctx, a.ID, "天气", 0, 10); res.Total != 1 {
		t.Fatalf("天气: %+v", res)
	}

	// Paging, and escaping of what is around the marks.
	seen := map[uint32]bool{}
	for from := 0; from < 30; from += 10 {
		res, err := ix.Query(ctx, a.ID, "invoices", from, 10)
		if err != nil {
			t.Fatal(err)
		}
		if res.Total != 25 {
			t.Fatalf("invoices: total %d", res.Total)
		}
		for _, h := range res.Hits {
			if seen[h.UID] {
				t.Fatalf("UID %d on two pages", h.UID)
			}
			seen[h.UID] = true
			if f := strings.Join(h.Fragments, " "); !strings.Contains(f, "&lt;soon&gt;") && !strings.Contains(f, "invoice</mark> number") {
				t.Errorf("fragments %q", h.Fragments)
			}
		}
	}
	if len(seen) != 25 {
		t.Fatalf("pages gave %d hits", len(seen))
	}
	if res, _ := ix.Query(ctx, a.ID+1, "invoice", 0, 10); res.Total != 0 {
		t.Fatalf("other account sees %d", res.Total)
	}
	if res, _ := ix.Query(ctx, a.ID, "the", 0, 10); res.Total != 0 {
		t.Fatalf("stop word: %d", res.Total)
	}
}
