package loadgen

import (
	"strings"
	"testing"
)

func samplesOf(rss ...uint64) []SoakSample {
	var ss []SoakSample
	for i, r := range rss {
		ss = append(ss, SoakSample{Elapsed: float64(60 * (i + 1)), RSS: r, RSSAnon: r / 2, Heap: r / 4, HeapAlloc: r / 3, Goroutines: 50, OpenFiles: 30,
			Ops: map[string]OpFigures{OpSMTPIn: {OK: 300, P50: 3, P95: 8, P99: 12}}})
	}
	return ss
}

// TestSoakVerdict: noise within the allowance is flat; memory that keeps
// climbing is not, and the verdict names it; failures are always counted.
func TestSoakVerdict(t *testing.T) {
	const mib = 1 << 20
	flat := &SoakReport{Samples: samplesOf(100*mib, 130*mib, 101*mib, 104*mib, 99*mib, 103*mib), Totals: map[string]OpFigures{}}
	flat.judge()
	if !flat.Flat || !strings.HasPrefix(flat.Verdict, "flat") {
		t.Errorf("noisy but level memory judged %q", flat.Verdict)
	}
	leak := &SoakReport{Samples: samplesOf(100*mib, 110*mib, 140*mib, 170*mib, 200*mib, 230*mib),
		Totals: map[string]OpFigures{OpSIPCall: {OK: 5, Errors: 2, LastError: "INVITE answered 503"}}}
	leak.judge()
	if leak.Flat || !strings.Contains(leak.Verdict, "NOT FLAT: rss, rss_anon, heap") || !strings.Contains(leak.Verdict, "2 operations failed") {
		t.Errorf("growing memory with failures judged %q", leak.Verdict)
	}
	var b strings.Builder
	leak.print(&b, false, false)
	for _, want := range []string{"rss ", "GROWING", "sip_call     ok=5 errors=2", `last_error="INVITE answered 503"`, "verdict: NOT FLAT"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
	short := &SoakReport{Samples: samplesOf(1, 2), Totals: map[string]OpFigures{}}
	short.judge()
	if short.Flat || !strings.HasPrefix(short.Verdict, "too short") {
		t.Errorf("two samples judged %q", short.Verdict)
	}
}

// TestSoakLine: a text line names every gauge and every kind of operation.
func TestSoakLine(t *testing.T) {
	s := samplesOf(42 << 20)[0]
	var b strings.Builder
	s.print(&b, false)
	line := b.String()
	for _, want := range []string{"60s", "rss=42.0MiB", "rss_anon=21.0MiB", "heap=10.5MiB", "heap_alloc=14.0MiB", "goroutines=50", "files=30", "smtp_in ok=300 err=0 p50=3.0ms p95=8.0ms p99=12.0ms"} {
		if !strings.Contains(line, want) {
			t.Errorf("line lacks %q: %s", want, line)
		}
	}
	for _, k := range OpKinds {
		if !strings.Contains(line, "| "+k+" ok=") {
			t.Errorf("line lacks %s: %s", k, line)
		}
	}
}
