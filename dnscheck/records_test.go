package dnscheck_test

import (
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"

	"frontdesk/dkim"
	"frontdesk/dnscheck"
)

var (
	keysOnce sync.Once
	testKeys []*dkim.Key
)

// dkimRecords makes one RSA and one Ed25519 key (once per test binary:
// RSA generation is slow) and returns their records.
func dkimRecords(t *testing.T) []dnscheck.Record {
	t.Helper()
	keysOnce.Do(func() {
		kr, err := dkim.OpenKeyring(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if testKeys, err = kr.Generate("example.test"); err != nil {
			t.Fatal(err)
		}
	})
	var out []dnscheck.Record
	for _, k := range testKeys {
		out = append(out, dnscheck.Record{Name: k.RecordName(), Value: k.RecordValue()})
	}
	return out
}

func testParams(t *testing.T) dnscheck.Params {
	return dnscheck.Params{Domain: "Example.TEST.", MailHost: "mail.example.test", DKIM: dkimRecords(t)}
}

func TestRecords(t *testing.T) {
	p := testParams(t)
	id := dnscheck.MTASTSID(p)
	want := []dnscheck.Record{
		{Type: "MX", Name: "example.test", Value: "10 mail.example.test", Required: true},
		{Type: "TXT", Name: "example.test", Value: "v=spf1 mx -all", Required: true},
		{Type: "TXT", Name: p.DKIM[0].Name, Value: p.DKIM[0].Value, Required: true},
		{Type: "TXT", Name: p.DKIM[1].Name, Value: p.DKIM[1].Value, Required: true},
		{Type: "TXT", Name: "_dmarc.example.test", Value: "v=DMARC1; p=quarantine; pct=100; rua=mailto:dmarc-reports@example.test", Required: true},
		{Type: "TXT", Name: "_mta-sts.example.test", Value: "v=STSv1; id=" + id},
		{Type: "CNAME", Name: "mta-sts.example.test", Value: "mail.example.test"},
		{Type: "TXT", Name: "_smtp._tls.example.test", Value: "v=TLSRPTv1; rua=mailto:dmarc-reports@example.test"},
		{Type: "CNAME", Name: "autoconfig.example.test", Value: "mail.example.test"},
		{Type: "CNAME", Name: "autodiscover.example.test", Value: "mail.example.test"},
		{Type: "SRV", Name: "_submission._tcp.example.test", Value: "0 1 587 mail.example.test"},
		{Type: "SRV", Name: "_imaps._tcp.example.test", Value: "0 1 993 mail.example.test"},
		{Type: "SRV", Name: "_imap._tcp.example.test", Value: "10 1 143 mail.example.test"},
	}
	got := dnscheck.Records(p)
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Type != w.Type || g.Name != w.Name || g.Value != w.Value || g.Required != w.Required {
			t.Errorf("record %d = %s %s %q required=%v, want %s %s %q required=%v",
				i, g.Type, g.Name, g.Value, g.Required, w.Type, w.Name, w.Value, w.Required)
		}
		if g.Purpose == "" {
			t.Errorf("record %d (%s %s) has no purpose", i, g.Type, g.Name)
		}
	}
	if !strings.HasPrefix(p.DKIM[0].Value, "v=DKIM1; k=rsa; p=") || len(p.DKIM[0].Value) < 300 {
		t.Errorf("unexpected RSA record %q", p.DKIM[0].Value)
	}
}

func TestRecordsOptions(t *testing.T) {
	p := dnscheck.Params{Domain: "example.test", MailHost: "mx.example.test",
		IPs:           []net.IP{net.ParseIP("192.0.2.10"), net.ParseIP("2001:db8::10")},
		ReportAddress: "reports@example.test", MTASTSID: "20260101000000"}
	p.Ports.Submission, p.Ports.IMAPS, p.Ports.IMAP = 2587, 2993, 2143
	byName := map[string]string{}
	for _, r := range dnscheck.Records(p) {
		byName[r.Type+" "+r.Name] = r.Value
	}
	for k, v := range map[string]string{
		"TXT example.test":                  "v=spf1 mx ip4:192.0.2.10 ip6:2001:db8::10 -all",
		"TXT _dmarc.example.test":           "v=DMARC1; p=quarantine; pct=100; rua=mailto:reports@example.test",
		"TXT _smtp._tls.example.test":       "v=TLSRPTv1; rua=mailto:reports@example.test",
		"TXT _mta-sts.example.test":         "v=STSv1; id=20260101000000",
		"SRV _submission._tcp.example.test": "0 1 2587 mx.example.test",
		"SRV _imaps._tcp.example.test":      "0 1 2993 mx.example.test",
		"SRV _imap._tcp.example.test":       "10 1 2143 mx.example.test",
	} {
		if byName[k] != v {
			t.Errorf("%s = %q, want %q", k, byName[k], v)
		}
	}
}

func TestMTASTSPolicy(t *testing.T) {
	p := dnscheck.Params{Domain: "example.test", MailHost: "Mail.Example.Test."}
	want := "version: STSv1\nmode: testing\nmx: mail.example.test\nmax_age: 604800\n"
	if got := dnscheck.MTASTSPolicy(p); got != want {
		t.Errorf("policy = %q, want %q", got, want)
	}
	id := dnscheck.MTASTSID(p)
	if len(id) == 0 || len(id) > 32 || strings.Trim(id, "0123456789abcdef") != "" {
		t.Errorf("id %q is not 1-32 alphanumerics", id)
	}
	if id != dnscheck.MTASTSID(p) {
		t.Error("id is not stable")
	}
	p.MTASTSMode = dnscheck.MTASTSEnforce
	if !strings.Contains(dnscheck.MTASTSPolicy(p), "mode: enforce\n") {
		t.Errorf("enforce policy = %q", dnscheck.MTASTSPolicy(p))
	}
	if dnscheck.MTASTSID(p) == id {
		t.Error("id did not change with the policy")
	}
}

// TestZoneParses reads the zone snippet back with miekg/dns and finds
// every record with its exact value.
func TestZoneParses(t *testing.T) {
	p := testParams(t)
	p.ReportAddress = `odd"quote@example.test` // must survive quoting
	rs := dnscheck.Records(p)
	zone := dnscheck.Zone(p, rs)
	if !strings.HasPrefix(zone, "$ORIGIN example.test.\n") {
		t.Errorf("zone does not start with $ORIGIN:\n%s", zone)
	}
	rrs := parseZone(t, zone)
	if len(rrs) != len(rs) {
		t.Fatalf("zone has %d records, want %d:\n%s", len(rrs), len(rs), zone)
	}
	for i, rr := range rrs {
		r := rs[i]
		h := rr.Header()
		if h.Name != r.Name+"." || dns.TypeToString[h.Rrtype] != r.Type || h.Ttl != 3600 {
			t.Errorf("record %d: %s, want %s %s", i, rr, r.Name, r.Type)
			continue
		}
		var got string
		switch v := rr.(type) {
		case *dns.TXT:
			for _, s := range v.Txt {
				if len(s) > 255 && !strings.Contains(s, `\`) {
					t.Errorf("record %d: TXT string of %d bytes", i, len(s))
				}
			}
			got = strings.ReplaceAll(strings.Join(v.Txt, ""), `\"`, `"`)
		case *dns.MX:
			got = strings.TrimSuffix(strings.TrimPrefix(v.String(), v.Hdr.String()), ".")
		case *dns.CNAME:
			got = strings.TrimSuffix(v.Target, ".")
		case *dns.SRV:
			got = strings.TrimSuffix(strings.TrimPrefix(v.String(), v.Hdr.String()), ".")
		}
		if got != r.Value {
			t.Errorf("record %d (%s %s): parsed %q, want %q", i, r.Type, r.Name, got, r.Value)
		}
	}
	// The RSA key does not fit one string: it must have been split.
	if txt := rrs[2].(*dns.TXT); len(txt.Txt) < 2 {
		t.Errorf("RSA key record not split: %d strings", len(txt.Txt))
	}
}

func parseZone(t *testing.T, zone string) []dns.RR {
	t.Helper()
	zp := dns.NewZoneParser(strings.NewReader(zone), "", "")
	var rrs []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		t.Fatalf("zone does not parse: %v\n%s", err, zone)
	}
	return rrs
}
