package loadgen

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// OpFigures are one kind of operation's figures over an interval (or, in
// the totals, over the whole run, without latencies). Latencies are in
// milliseconds, over successful operations only.
type OpFigures struct {
	OK        int     `json:"ok"`
	Errors    int     `json:"errors"`
	P50       float64 `json:"p50_ms"`
	P95       float64 `json:"p95_ms"`
	P99       float64 `json:"p99_ms"`
	LastError string  `json:"last_error,omitempty"`
}

// SoakSample is one interval: the server's gauges at its end and what the
// load did during it.
type SoakSample struct {
	Elapsed      float64              `json:"elapsed_s"`
	RSS          uint64               `json:"rss_bytes"`        // resident memory, pages of the mapped files included
	RSSAnon      uint64               `json:"rss_anon_bytes"`   // resident anonymous memory: the process's own
	Heap         uint64               `json:"heap_bytes"`       // live heap at the last garbage collection
	HeapAlloc    uint64               `json:"heap_alloc_bytes"` // heap objects, uncollected garbage included
	Goroutines   uint64               `json:"goroutines"`
	OpenFiles    uint64               `json:"open_files"`
	Stored       uint64               `json:"stored"`                  // messages the server stored since it started
	RemoteStored uint64               `json:"remote_stored,omitempty"` // submitted messages the remote server stored so far
	ScrapeError  string               `json:"scrape_error,omitempty"`
	Ops          map[string]OpFigures `json:"ops"`
}

// Gauge names, as the summary calls them.
const (
	GaugeRSS        = "rss"
	GaugeRSSAnon    = "rss_anon"
	GaugeHeap       = "heap"
	GaugeGoroutines = "goroutines"
	GaugeOpenFiles  = "open_files"
)

// Trend compares a gauge's median over the last third of the samples with
// its median over the first third.
type Trend struct {
	Gauge   string  `json:"gauge"`
	First   uint64  `json:"first"`
	Last    uint64  `json:"last"`
	Allowed uint64  `json:"allowed"` // the most Last may exceed First by and still count as flat
	Growth  float64 `json:"growth"`  // (Last-First)/First
	Flat    bool    `json:"flat"`
}

// flatness: a gauge is flat when the median of the last third of the
// samples exceeds the median of the first third by at most 20 %, or by a
// small absolute amount for gauges that start near zero. Medians keep a
// single GC cycle or a burst of connections from deciding the verdict.
var flatness = map[string]struct {
	share float64
	floor uint64
}{
	GaugeRSS:        {0.20, 16 << 20},
	GaugeRSSAnon:    {0.20, 16 << 20},
	GaugeHeap:       {0.20, 16 << 20},
	GaugeGoroutines: {0.20, 20},
	GaugeOpenFiles:  {0.20, 16},
}

// SoakReport is the whole run: its samples, the totals and the verdict.
type SoakReport struct {
	Every        time.Duration        `json:"-"`
	Samples      []SoakSample         `json:"-"`
	Totals       map[string]OpFigures `json:"totals"`
	Submitted    int64                `json:"submitted"`
	RemoteStored uint64               `json:"remote_stored"`
	Trends       []Trend              `json:"trends"`
	Flat         bool                 `json:"flat"`   // every gauge flat
	Errors       int                  `json:"errors"` // failed operations of every kind
	Verdict      string               `json:"verdict"`
}

func (r *SoakReport) judge() {
	var ok []SoakSample
	for _, s := range r.Samples {
		if s.ScrapeError == "" {
			ok = append(ok, s)
		}
	}
	for _, k := range OpKinds {
		r.Errors += r.Totals[k].Errors
	}
	if len(ok) < 3 {
		r.Verdict = fmt.Sprintf("too short to judge: %d samples of the server, at least 3 needed", len(ok))
		return
	}
	third := len(ok) / 3
	gauges := []struct {
		name string
		get  func(SoakSample) uint64
	}{
		{GaugeRSS, func(s SoakSample) uint64 { return s.RSS }},
		{GaugeRSSAnon, func(s SoakSample) uint64 { return s.RSSAnon }},
		{GaugeHeap, func(s SoakSample) uint64 { return s.Heap }},
		{GaugeGoroutines, func(s SoakSample) uint64 { return s.Goroutines }},
		{GaugeOpenFiles, func(s SoakSample) uint64 { return s.OpenFiles }},
	}
	r.Flat = true
	var grew []string
	for _, g := range gauges {
		first, last := median(ok[:third], g.get), median(ok[len(ok)-third:], g.get)
		f := flatness[g.name]
		t := Trend{Gauge: g.name, First: first, Last: last,
			Allowed: max(uint64(float64(first)*f.share), f.floor)}
		if first > 0 {
			t.Growth = (float64(last) - float64(first)) / float64(first)
		}
		t.Flat = last <= first+t.Allowed
		if !t.Flat {
			r.Flat = false
			grew = append(grew, g.name)
		}
		r.Trends = append(r.Trends, t)
	}
	if r.Flat {
		r.Verdict = "flat: memory, goroutines and open files stayed flat"
	} else {
		r.Verdict = "NOT FLAT: " + strings.Join(grew, ", ") + " grew beyond the allowance"
	}
	if r.Errors > 0 {
		r.Verdict += fmt.Sprintf("; %d operations failed", r.Errors)
	}
}

func median(ss []SoakSample, get func(SoakSample) uint64) uint64 {
	vs := make([]uint64, len(ss))
	for i, s := range ss {
		vs[i] = get(s)
	}
	slices.Sort(vs)
	return vs[len(vs)/2]
}

func (r *SoakReport) print(w io.Writer, asJSON, remote bool) {
	if asJSON {
		b, _ := json.Marshal(struct {
			Summary *SoakReport `json:"summary"`
		}{r})
		fmt.Fprintf(w, "%s\n", b)
		return
	}
	n := len(r.Samples)
	third := n / 3
	fmt.Fprintf(w, "summary: %d samples every %s; flat means the median of the last third (%d samples) exceeds the median of the first third by at most 20%% (or 16 MiB, 20 goroutines, 16 files)\n",
		n, r.Every, third)
	for _, t := range r.Trends {
		verdict := "flat"
		if !t.Flat {
			verdict = "GROWING"
		}
		first, last := strconv.FormatUint(t.First, 10), strconv.FormatUint(t.Last, 10)
		if t.Gauge == GaugeRSS || t.Gauge == GaugeRSSAnon || t.Gauge == GaugeHeap {
			first, last = mib(t.First), mib(t.Last)
		}
		fmt.Fprintf(w, "  %-10s first third %s, last third %s (%+.1f%%): %s\n", t.Gauge, first, last, 100*t.Growth, verdict)
	}
	for _, k := range OpKinds {
		f := r.Totals[k]
		line := fmt.Sprintf("  %-12s ok=%d errors=%d", k, f.OK, f.Errors)
		if f.LastError != "" {
			line += fmt.Sprintf(" last_error=%q", f.LastError)
		}
		fmt.Fprintln(w, line)
	}
	if remote {
		fmt.Fprintf(w, "  submitted %d messages; the remote server stored %d of them\n", r.Submitted, r.RemoteStored)
	}
	fmt.Fprintf(w, "verdict: %s\n", r.Verdict)
}

// scrape reads the plain (unlabelled) samples of a Prometheus text page.
func scrape(ctx context.Context, url string) (map[string]uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	m := map[string]uint64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			m[name] = n
		}
	}
	return m, sc.Err()
}

func scrapeCounter(ctx context.Context, url, name string) (uint64, error) {
	if url == "" {
		return 0, nil
	}
	m, err := scrape(ctx, url)
	return m[name], err
}

// waitCounter polls a counter until it reaches want or wait passes, and
// returns the last value read.
func waitCounter(ctx context.Context, url, name string, want uint64, wait time.Duration) uint64 {
	deadline := time.Now().Add(wait)
	for {
		v, _ := scrapeCounter(ctx, url, name)
		if v >= want || time.Now().After(deadline) || ctx.Err() != nil {
			return v
		}
		sleepCtx(ctx, 200*time.Millisecond)
	}
}
