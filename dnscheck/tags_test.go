package dnscheck

import (
	"strings"
	"testing"
)

// RFC 7489 §6.4 allows spaces around "=": such a DMARC record is found.
func TestHasTagSpaces(t *testing.T) {
	for rec, want := range map[string]bool{
		"v = DMARC1; p=reject":  true,
		"v=DMARC1;p=none":       true,
		"v=spf1 mx -all":        true,
		"v=spf1mx -all":         false,
		"v=DMARC2; p=none":      false,
		"p=reject; v=DMARC1":    false,
		"v=DKIM1 ; k=rsa; p=AB": true,
	} {
		var got bool
		switch {
		case strings.Contains(rec, "spf"):
			got = hasTag(rec, "v", "spf1")
		case strings.Contains(rec, "DKIM"):
			got = hasTag(rec, "v", "DKIM1")
		default:
			got = hasTag(rec, "v", "DMARC1")
		}
		if got != want {
			t.Errorf("hasTag(%q) = %v, want %v", rec, got, want)
		}
	}
}
