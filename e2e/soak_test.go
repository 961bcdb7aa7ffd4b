package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestBenchSoak runs `bench soak` for a few seconds with a short interval:
// every line carries the server's memory, goroutines and open files and
// each kind of operation's figures; every kind succeeded and none failed;
// neither server logged an error; the mail submitted reached the second
// server; the summary gives a verdict.
func TestBenchSoak(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "bench", "soak", "--duration", "3500ms", "--every", "1s", "--json",
		"--smtp-rate", "10", "--keep", "5", "--hold", "300ms", "--dir", t.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		// The lines below say which operations or server errors made it fail.
		t.Errorf("bench soak: %v\nstderr:\n%s", err, stderr.String())
	}

	kinds := []string{"smtp_in", "submit", "imap_fetch", "imap_store", "imap_search", "imap_expunge", "sip_call"}
	var samples int
	var summary map[string]any
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("line is not JSON: %q: %v", sc.Text(), err)
		}
		if e, ok := line["server_errors"]; ok {
			t.Errorf("the servers logged errors: %v", e)
			continue
		}
		if s, ok := line["summary"].(map[string]any); ok {
			summary = s
			continue
		}
		samples++
		if e, ok := line["scrape_error"]; ok {
			t.Errorf("sample %d could not read the server: %v", samples, e)
		}
		for _, f := range []string{"elapsed_s", "rss_bytes", "rss_anon_bytes", "heap_bytes", "heap_alloc_bytes", "goroutines", "open_files", "stored"} {
			if v, _ := line[f].(float64); v <= 0 {
				t.Errorf("sample %d: %s = %v, want a positive figure: %s", samples, f, line[f], sc.Text())
			}
		}
		ops, _ := line["ops"].(map[string]any)
		for _, k := range kinds {
			op, ok := ops[k].(map[string]any)
			if !ok {
				t.Errorf("sample %d lacks %s: %s", samples, k, sc.Text())
				continue
			}
			for _, f := range []string{"ok", "errors", "p50_ms", "p95_ms", "p99_ms"} {
				if _, ok := op[f]; !ok {
					t.Errorf("sample %d: %s lacks %s", samples, k, f)
				}
			}
		}
	}
	if samples != 3 {
		t.Errorf("%d samples in 3.5s every 1s, want 3:\n%s", samples, out)
	}
	if summary == nil {
		t.Fatalf("no summary line:\n%s", out)
	}
	totals, _ := summary["totals"].(map[string]any)
	for _, k := range kinds {
		op, _ := totals[k].(map[string]any)
		if ok, _ := op["ok"].(float64); ok == 0 {
			t.Errorf("no %s succeeded: %v", k, op)
		}
		if n, _ := op["errors"].(float64); n != 0 {
			t.Errorf("%s failed %v times: %v", k, n, op["last_error"])
		}
	}
	if summary["submitted"] != summary["remote_stored"] {
		t.Errorf("submitted %v messages, the second server stored %v", summary["submitted"], summary["remote_stored"])
	}
	if v, _ := summary["verdict"].(string); !strings.HasPrefix(v, "flat") && !strings.HasPrefix(v, "NOT FLAT") {
		t.Errorf("verdict %q", v)
	}
	if trends, _ := summary["trends"].([]any); len(trends) != 5 {
		t.Errorf("trends for %d gauges, want rss, rss_anon, heap, goroutines, open files: %v", len(trends), trends)
	}
}
