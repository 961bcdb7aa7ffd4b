package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"frontdesk/config"
	"frontdesk/tickets"
	"frontdesk/tickets/route"
	"frontdesk/tickets/sla"
)

// routing is where new tickets go and when they are due.
type routing struct {
	router  tickets.Router
	learner tickets.Learner
	sla     tickets.SLA
	close   func()
}

func newRouting(cfg config.Config, log *slog.Logger) (*routing, error) {
	tc := cfg.Tickets
	cal, err := sla.ParseCalendar(tc.SLA.Timezone, tc.SLA.Hours, tc.SLA.Holidays)
	if err != nil {
		return nil, fmt.Errorf("tickets.%w", err)
	}
	policy := &sla.Policy{
		Calendar:      cal,
		FirstResponse: targets(tc.SLA.FirstResponse, sla.DefaultFirstResponse),
		Resolution:    targets(tc.SLA.Resolution, sla.DefaultResolution),
	}

	dir := filepath.Join(cfg.Data, "tickets")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	cls, err := route.OpenClassifier(filepath.Join(dir, "route.db"))
	if err != nil {
		return nil, err
	}
	rules := make(route.Rules, len(tc.Rules))
	for i, r := range tc.Rules {
		rules[i] = route.Rule{Group: r.Group, Addresses: r.Addresses, Keywords: r.Keywords}
	}
	router := &route.Router{
		Rules:         rules,
		Classifier:    cls,
		MinConfidence: tc.MinConfidence,
		Triage:        tc.Triage,
		Logger:        log,
	}
	if router.MinConfidence == 0 {
		router.MinConfidence = 0.6
	}
	if router.Triage == "" {
		router.Triage = "triage"
	}
	return &routing{
		router:  router,
		learner: cls,
		sla:     policy,
		close:   func() { cls.Close() },
	}, nil
}

// targets is the configured map over the defaults: naming one priority
// keeps the defaults of the others.
func targets(cfg map[string]config.Duration, defaults map[tickets.Priority]time.Duration) map[tickets.Priority]time.Duration {
	out := make(map[tickets.Priority]time.Duration, len(defaults))
	for p, d := range defaults {
		out[p] = d
	}
	for p, d := range cfg {
		out[tickets.Priority(p)] = d.Duration
	}
	return out
}
