package dmarc

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/authres"

	"frontdesk/dnscheck"
	"frontdesk/spf"
)

// FuzzDMARCRecord serves each input as the TXT record at _dmarc of the
// From domain, through the in-process DNS server, and evaluates a message
// against it: whatever the record, the verdict is one RFC 7489 knows, a
// record not starting with v=DMARC1 is no record, and the
// Authentication-Results text stays one header line.
func FuzzDMARCRecord(f *testing.F) {
	for _, s := range []string{
		"v=DMARC1; p=reject",
		"v=DMARC1; p=quarantine; pct=50; sp=none; aspf=s; adkim=r; rua=mailto:r@fuzz.test; ruf=mailto:f@fuzz.test; fo=1:d:s; rf=afrf; ri=3600",
		"v=DMARC1; p=bogus",
		"v=DMARC1;p=none;pct=-1",
		"v=DMARC1; p=reject; pct=1000000000000000000000",
		"v = DMARC1 ; p = reject",
		"p=reject; v=DMARC1",
		"v=DMARC1; p=reject\r\nX-Injected: yes",
		"v=DMARC1; p=\"reject\"; rua=mailto:a@b,mailto:c@d!10m",
		"v=DMARC1",
		"",
	} {
		f.Add(s, true)
	}
	srv := newDNSServer(f)
	r, err := dnscheck.NewResolver(srv.Addr)
	if err != nil {
		f.Fatal(err)
	}
	e := NewEvaluatorWithOptions(r.WithTimeout(time.Second), Options{})
	f.Fuzz(func(t *testing.T, record string, spfPass bool) {
		if len(record) > 4096 {
			return // past what one DNS answer carries in practice
		}
		srv.SetTXT("_dmarc.fuzz.test", record)
		in := Input{FromDomain: "fuzz.test", SPF: spf.Fail, SPFDomain: "fuzz.test"}
		if spfPass {
			in.SPF = spf.Pass
		}
		v := e.Evaluate(context.Background(), in)
		switch v.Result {
		case None, Pass, Fail, TempError, PermError:
		default:
			t.Fatalf("result %q for %q", v.Result, record)
		}
		switch v.Policy {
		case "", PolicyNone, PolicyQuarantine, PolicyReject:
		default:
			t.Fatalf("policy %q for %q", v.Policy, record)
		}
		if !isDMARCRecord(record) && v.Result != None {
			t.Fatalf("%q is no DMARC record, yet the result is %q", record, v.Result)
		}
		if v.Result == Pass && !spfPass {
			t.Fatalf("pass without an aligned identifier for %q", record)
		}
		h := authres.Format("mx.fuzz.test", []authres.Result{v.AuthResult()})
		if strings.ContainsAny(h, "\r\n") {
			t.Fatalf("Authentication-Results for %q spans lines: %q", record, h)
		}
	})
}
