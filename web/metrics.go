package web

import (
	"fmt"
	"net/http"
	"sync/atomic"

	"frontdesk/store"
)

// metrics are the counters of /metrics. Counters only grow while the
// process lives; the domain gauges are read from the store on each scrape.
type metrics struct {
	messages      atomic.Uint64 // messages added to mailboxes (deliveries, APPEND, COPY)
	logins        atomic.Uint64 // successful web logins
	loginFailures atomic.Uint64 // refused web logins (wrong or throttled)
	domainsAdded  atomic.Uint64 // domains added through the console
}

// metricsHandler serves the Prometheus text exposition format (0.0.4).
// It names counts, never addresses, so it is public like /healthz.
func (s *Server) metricsHandler(w http.ResponseWriter, r *http.Request) {
	active, pending := 0, 0
	ds, err := s.st.Domains(r.Context())
	if err != nil {
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	for _, d := range ds {
		if di, err := s.st.DomainInfo(r.Context(), d.Name); err == nil && di.State == store.DomainActive {
			active++
		} else {
			pending++
		}
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	counter := func(name, help string, v uint64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	counter("frontdesk_messages_stored_total", "Messages added to mailboxes since start (deliveries, APPEND, COPY).", s.metrics.messages.Load())
	counter("frontdesk_web_logins_total", "Successful web console logins since start.", s.metrics.logins.Load())
	counter("frontdesk_web_login_failures_total", "Refused web console logins since start.", s.metrics.loginFailures.Load())
	counter("frontdesk_domains_added_total", "Domains added through the web console since start.", s.metrics.domainsAdded.Load())
	fmt.Fprintf(w, "# HELP frontdesk_domains Local domains by DNS state.\n# TYPE frontdesk_domains gauge\n")
	fmt.Fprintf(w, "frontdesk_domains{state=\"active\"} %d\nfrontdesk_domains{state=\"pending\"} %d\n", active, pending)
	writeRuntimeMetrics(w)
}
