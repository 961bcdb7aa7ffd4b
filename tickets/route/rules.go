// Package route places new tickets in groups: first by rules (the support
// address written to, keywords in the subject or body), then by a
// multi-class naive-Bayes classifier trained on solved tickets with the
// spam filter's tokenizer. A guess below the confidence floor goes to
// triage, where a person picks the group and so teaches the classifier.
package route

import (
	"log/slog"
	"strings"
	"unicode"

	"frontdesk/tickets"
)

// Rule sends a ticket to Group when it came to one of Addresses, or its
// subject or body contains one of Keywords as whole words, in any case.
// A keyword of several words matches them in sequence.
type Rule struct {
	Group     string
	Addresses []string
	Keywords  []string
}

// Rules are tried in order; the first match wins.
type Rules []Rule

// Match returns the group of the first rule that matches.
func (rs Rules) Match(support, subject, body string) (string, bool) {
	var words []string // split once, only if a rule has keywords
	for _, r := range rs {
		for _, a := range r.Addresses {
			if strings.EqualFold(tickets.BaseAddress(a), support) {
				return r.Group, true
			}
		}
		if len(r.Keywords) == 0 {
			continue
		}
		if words == nil {
			words = splitWords(subject + "\n" + body)
		}
		for _, k := range r.Keywords {
			if containsSeq(words, splitWords(k)) {
				return r.Group, true
			}
		}
	}
	return "", false
}

// splitWords lower-cases s and cuts it at everything that is not a letter
// or digit, so "Invoice#12" holds the word "invoice" but "invoices" does not.
func splitWords(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

func containsSeq(words, seq []string) bool {
	if len(seq) == 0 {
		return false
	}
outer:
	for i := 0; i+len(seq) <= len(words); i++ {
		for j, w := range seq {
			if words[i+j] != w {
				continue outer
			}
		}
		return true
	}
	return false
}

// Router picks a new ticket's group; it implements tickets.Router.
type Router struct {
	Rules Rules
	// Classifier guesses when no rule matches; nil leaves the ticket to
	// the desk's default group.
	Classifier *Classifier
	// MinConfidence is the least confidence at which the classifier's
	// guess is taken; below it the ticket goes to Triage.
	MinConfidence float64
	// Triage takes unsure guesses; "" keeps them in the default group.
	Triage string
	Logger *slog.Logger
}

// Route implements tickets.Router. An empty Group leaves the ticket in
// the desk's default group.
func (r *Router) Route(support, subject, body string) tickets.Routing {
	if g, ok := r.Rules.Match(support, subject, body); ok {
		return tickets.Routing{Group: g, Confidence: 1, Source: "rule"}
	}
	if r.Classifier == nil {
		return tickets.Routing{}
	}
	g, conf, err := r.Classifier.Classify(subject, body)
	if err != nil {
		if r.Logger != nil {
			r.Logger.Warn("ticket classifier failed; default group used", "err", err)
		}
		return tickets.Routing{}
	}
	switch {
	case g == "":
		return tickets.Routing{} // not trained enough to guess
	case conf >= r.MinConfidence:
		return tickets.Routing{Group: g, Confidence: conf, Source: "classifier"}
	case r.Triage != "":
		return tickets.Routing{Group: r.Triage, Confidence: conf, Source: "triage"}
	}
	return tickets.Routing{}
}
