package web

import (
	"fmt"
	"io"
	"os"
	"runtime"
	rtmetrics "runtime/metrics"
	"strconv"
	"strings"
)

// writeRuntimeMetrics adds the process gauges under their usual
// Prometheus names, so that a soak run (or any scraper) can tell a leak
// from a steady state: heap, resident memory, goroutines, open files.
func writeRuntimeMetrics(w io.Writer) {
	gauge := func(name, help string, v uint64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %d\n", name, help, name, name, v)
	}
	// runtime/metrics reads without stopping the world, unlike ReadMemStats.
	s := []rtmetrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}
	rtmetrics.Read(s)
	if s[0].Value.Kind() == rtmetrics.KindUint64 {
		gauge("go_memstats_heap_alloc_bytes", "Bytes of allocated heap objects, garbage not yet collected included.", s[0].Value.Uint64())
	}
	// The live heap is what the last collection kept: the figure a leak
	// moves, without the sawtooth of garbage between collections.
	if s[1].Value.Kind() == rtmetrics.KindUint64 {
		gauge("go_gc_heap_live_bytes", "Heap memory occupied by live objects at the last garbage collection.", s[1].Value.Uint64())
	}
	gauge("go_goroutines", "Goroutines that currently exist.", uint64(runtime.NumGoroutine()))
	// /proc exists on Linux only; elsewhere these two are left out.
	if rss, anon, ok := residentBytes(); ok {
		gauge("process_resident_memory_bytes", "Resident memory size in bytes.", rss)
		// Resident memory also counts the pages of the memory-mapped
		// databases and index that were read, which grow with the data;
		// anonymous memory is the process's own.
		gauge("process_resident_memory_anon_bytes", "Resident anonymous memory (not file-backed) in bytes.", anon)
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		gauge("process_open_fds", "Open file descriptors.", uint64(len(fds)))
	}
}

// residentBytes reads VmRSS and RssAnon from /proc/self/status.
func residentBytes() (rss, anon uint64, ok bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0, false
	}
	kb := func(v string) uint64 {
		n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		return n * 1024
	}
	for line := range strings.Lines(string(b)) {
		if v, found := strings.CutPrefix(line, "VmRSS:"); found {
			rss, ok = kb(v), true
		} else if v, found := strings.CutPrefix(line, "RssAnon:"); found {
			anon = kb(v)
		}
	}
	return rss, anon, ok
}
