package route

import (
	"fmt"
	"path/filepath"
	"testing"

	"frontdesk/tickets"
)

func TestRules(t *testing.T) {
	rules := Rules{
		{Group: "billing", Addresses: []string{"billing@example.com"}, Keywords: []string{"invoice", "refund"}},
		{Group: "security", Keywords: []string{"password reset", "2FA"}},
		{Group: "sales", Addresses: []string{"Sales@Example.com"}},
	}
	tests := []struct {
		support, subject, body string
		want                   string
	}{
		{"billing@example.com", "hello", "anything", "billing"},
		{"help@example.com", "Invoice #12 is wrong", "", "billing"},
		{"help@example.com", "question", "Could I get a REFUND?", "billing"},
		{"help@example.com", "invoices", "my invoicing is off", ""}, // whole words only
		{"help@example.com", "help", "I need a password\nreset please", "security"},
		{"help@example.com", "password", "the reset button", ""}, // words apart
		{"help@example.com", "lost my 2fa device", "", "security"},
		{"sales@example.com", "quote", "", "sales"},                        // address in any case
		{"help@example.com", "refund after password reset", "", "billing"}, // first match wins
		{"help@example.com", "hello", "", ""},
	}
	for _, tt := range tests {
		got, ok := rules.Match(tt.support, tt.subject, tt.body)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("Match(%q, %q, %q) = %q, %v; want %q", tt.support, tt.subject, tt.body, got, ok, tt.want)
		}
	}
}

func openClassifier(t *testing.T) (*Classifier, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "route.db")
	c, err := OpenClassifier(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, path
}

var (
	billingTexts = []string{
		"Invoice overcharged\nMy invoice for March charged my credit card twice, please refund the payment.",
		"Refund request\nI cancelled the subscription but the payment was taken from my card again.",
		"Wrong VAT on invoice\nThe invoice shows the wrong VAT number for our company billing address.",
		"Payment failed\nMy credit card payment failed but the subscription invoice still says due.",
		"Billing address change\nPlease change the billing address printed on our next invoice.",
		"Double charge\nWe see a double charge on the card statement, please refund one payment.",
	}
	techTexts = []string{
		"Cannot log in\nThe app crashes with an error after login on my phone since the update.",
		"Sync error\nThe desktop app shows a sync error and the server connection times out.",
		"Crash on start\nAfter the update the app crashes at start with error code 500 from the server.",
		"Slow server\nThe server is very slow and the app times out when I upload files.",
		"Login loop\nThe login page loops back after the update, the app shows a connection error.",
		"Upload broken\nUploading files fails with a server error and the app crashes afterwards.",
	}
)

func train(t *testing.T, c *Classifier) {
	t.Helper()
	n := uint64(1)
	for i := range billingTexts {
		for _, x := range []struct{ text, group string }{{billingTexts[i], "billing"}, {techTexts[i], "tech"}} {
			if err := c.TrainTicket(n, x.text, x.group); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
}

func TestClassifier(t *testing.T) {
	c, path := openClassifier(t)
	if g, _, err := c.Classify("refund", "invoice"); err != nil || g != "" {
		t.Fatalf("untrained classifier guessed %q, %v", g, err)
	}
	train(t, c)
	for _, tt := range []struct{ subject, body, want string }{
		{"Charged twice", "Please refund the second payment on my credit card invoice.", "billing"},
		{"App error", "The app crashes with a server error after the update.", "tech"},
	} {
		g, conf, err := c.Classify(tt.subject, tt.body)
		if err != nil || g != tt.want || conf < 0.9 {
			t.Errorf("Classify(%q) = %q %.3f, %v; want %q with confidence ≥ 0.9", tt.subject, g, conf, err, tt.want)
		}
	}
	// Words it never learned tell it nothing: the guess is no better than the prior.
	if _, conf, _ := c.Classify("Bonjour", "Quelle heure est-il?"); conf > 0.6 {
		t.Errorf("confidence %.3f on unknown words, want about 0.5", conf)
	}

	// The classifier keeps what it learned.
	c.Close()
	c2, err := OpenClassifier(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if g, _, _ := c2.Classify("Refund", "credit card payment invoice"); g != "billing" {
		t.Errorf("after reopening: %q, want billing", g)
	}
	groups, err := c2.Groups()
	if err != nil || groups["billing"] != 6 || groups["tech"] != 6 {
		t.Errorf("Groups() = %v, %v; want 6 lessons each", groups, err)
	}
}

// A ticket solved again in another group takes back its first lesson.
func TestRetrainReplacesLesson(t *testing.T) {
	c, _ := openClassifier(t)
	train(t, c)
	before, _ := c.Groups()
	// Ticket 1 was billing; it is moved to tech and solved again, twice.
	for range 2 {
		if err := c.TrainTicket(1, billingTexts[0], "tech"); err != nil {
			t.Fatal(err)
		}
	}
	after, _ := c.Groups()
	if after["billing"] != before["billing"]-1 || after["tech"] != before["tech"]+1 {
		t.Errorf("groups %v → %v; want one lesson moved from billing to tech", before, after)
	}
	// Training a ticket back restores the counts exactly.
	if err := c.TrainTicket(1, billingTexts[0], "billing"); err != nil {
		t.Fatal(err)
	}
	if again, _ := c.Groups(); fmt.Sprint(again) != fmt.Sprint(before) {
		t.Errorf("groups %v after restoring, want %v", again, before)
	}
	if err := c.TrainTicket(99, "x\ny", ""); err == nil {
		t.Error("training an empty group succeeded")
	}
}

func TestRouter(t *testing.T) {
	c, _ := openClassifier(t)
	train(t, c)
	r := &Router{
		Rules:         Rules{{Group: "sales", Keywords: []string{"quote"}}},
		Classifier:    c,
		MinConfidence: 0.6,
		Triage:        "triage",
	}
	tests := []struct {
		subject, body string
		want          tickets.Routing
	}{
		{"Need a quote", "for 20 seats", tickets.Routing{Group: "sales", Confidence: 1, Source: "rule"}},
		{"Refund", "please refund my credit card payment", tickets.Routing{Group: "billing", Source: "classifier"}},
		{"Bonjour", "quelle heure est-il", tickets.Routing{Group: "triage", Source: "triage"}},
	}
	for _, tt := range tests {
		got := r.Route("help@example.com", tt.subject, tt.body)
		if got.Group != tt.want.Group || got.Source != tt.want.Source {
			t.Errorf("Route(%q) = %+v, want %+v", tt.subject, got, tt.want)
		}
		if got.Source == "classifier" && got.Confidence < r.MinConfidence || got.Source == "triage" && got.Confidence >= r.MinConfidence {
			t.Errorf("Route(%q): confidence %.3f does not fit source %s", tt.subject, got.Confidence, got.Source)
		}
	}
	// Without triage an unsure guess stays in the desk's default group.
	r.Triage = ""
	if got := r.Route("help@example.com", "Bonjour", "quelle heure"); got.Group != "" {
		t.Errorf("without triage: %+v, want the default group", got)
	}
	if got := (&Router{}).Route("help@example.com", "x", "y"); got.Group != "" {
		t.Errorf("empty router: %+v", got)
	}
}
