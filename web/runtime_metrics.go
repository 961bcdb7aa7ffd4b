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
	s := []rtmetrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	rtmetrics.Read(s)
	if s[0].Value.Kind() == rtmetrics.KindUint64 {
		gauge("go_memstats_heap_alloc_bytes", "Bytes of allocated heap objects.", s[0].Value.Uint64())
	}
	gauge("go_goroutines", "Goroutines that currently exist.", uint64(runtime.NumGoroutine()))
	// /proc exists on Linux only; elsewhere these two are left out.
	if rss, ok := residentBytes(); ok {
		gauge("process_resident_memory_bytes", "Resident memory size in bytes.", rss)
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		gauge("process_open_fds", "Open file descriptors.", uint64(len(fds)))
	}
}

// residentBytes reads VmRSS from /proc/self/status.
func residentBytes() (uint64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(b)) {
		v, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		return kb * 1024, err == nil
	}
	return 0, false
}
