package config

import "fmt"

// Tickets configures the ticket desk ([tickets] in the file).
type Tickets struct {
	// BaseURL is the web console's public address, used in rating links
	// and escalation mail. Default: http:// and listen.http.
	BaseURL string `toml:"base_url"`
	// Company signs the desk's mail. Default "Support".
	Company string `toml:"company"`
	// Supervisor receives escalations of breached SLAs. Default: nobody.
	Supervisor string `toml:"supervisor"`
	// DefaultGroup takes tickets no rule or classifier places. Default "support".
	DefaultGroup string `toml:"default_group"`
	// Triage takes tickets the classifier is unsure of. Default "triage".
	Triage string `toml:"triage"`
	// MinConfidence is the classifier's least confidence to place a
	// ticket itself. Default 0.6.
	MinConfidence float64 `toml:"min_confidence"`
	// AckPerHour caps acknowledgements to one sender per hour. Default 3.
	AckPerHour int `toml:"ack_per_hour"`
	// Templates are files overriding the mail texts (Go text/template).
	Templates TicketTemplates `toml:"templates"`
	// Rules place new tickets in groups before the classifier is asked.
	Rules []TicketRule `toml:"rules"`
	// SLA sets business hours and the targets per priority.
	SLA SLA `toml:"sla"`
}

// TicketTemplates name template files; empty keeps the built-in text.
type TicketTemplates struct {
	Ack    string `toml:"ack"`
	Reply  string `toml:"reply"`
	Solved string `toml:"solved"`
}

// TicketRule sends tickets to Group when they came to one of Addresses
// or mention one of Keywords (whole words, any case). First match wins.
type TicketRule struct {
	Group     string   `toml:"group"`
	Addresses []string `toml:"addresses"`
	Keywords  []string `toml:"keywords"`
}

// SLA is the service-level clock: business hours and due times.
type SLA struct {
	// Timezone of the business hours. Default "UTC".
	Timezone string `toml:"timezone"`
	// Hours like "mon-fri 09:00-17:00". Default: around the clock.
	Hours []string `toml:"hours"`
	// Holidays are whole days off, "2026-12-25".
	Holidays []string `toml:"holidays"`
	// FirstResponse and Resolution map a priority (urgent, high, normal,
	// low) to business time. Defaults: the sla package's policy.
	FirstResponse map[string]Duration `toml:"first_response"`
	Resolution    map[string]Duration `toml:"resolution"`
}

func (t Tickets) validate() error {
	for i, r := range t.Rules {
		if r.Group == "" {
			return fmt.Errorf("tickets.rules[%d]: group is required", i)
		}
		if len(r.Addresses) == 0 && len(r.Keywords) == 0 {
			return fmt.Errorf("tickets.rules[%d]: give addresses or keywords", i)
		}
	}
	if t.MinConfidence < 0 || t.MinConfidence > 1 {
		return fmt.Errorf("tickets.min_confidence %v: must be between 0 and 1", t.MinConfidence)
	}
	for _, m := range []map[string]Duration{t.SLA.FirstResponse, t.SLA.Resolution} {
		for p := range m {
			switch p {
			case "urgent", "high", "normal", "low":
			default:
				return fmt.Errorf("tickets.sla: unknown priority %q (urgent, high, normal, low)", p)
			}
		}
	}
	return nil
}
