package dnscheck

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/miekg/dns"

	"frontdesk/dnscheck/dnstest"
)

// Fuzz targets for the record parsers (tags.go) and the comparison of a
// published record with ours (check.go). Seeds live in
// testdata/fuzz/<FuzzName>; run one with e.g.
//
//	go test ./dnscheck -run '^$' -fuzz '^FuzzParseTags$' -fuzztime 30s

var versions = []string{"spf1", "DKIM1", "DMARC1", "STSv1", "TLSRPTv1"}

// FuzzParseTags: a tag=value list parses to trimmed, lower-case names
// holding the first value of each, nothing dropped; the map written back
// parses to itself; a record starting with a version tag is recognized
// whatever follows it; and the verdicts on DMARC, MTA-STS and TLS-RPT tags
// say why whenever they are not ok.
func FuzzParseTags(f *testing.F) {
	f.Add("v=DMARC1; p=quarantine; pct=100; rua=mailto:dmarc-reports@example.test")
	f.Fuzz(func(t *testing.T, record string) {
		tags := parseTags(record)
		for k, v := range tags {
			if k != strings.ToLower(strings.TrimSpace(k)) || strings.ContainsAny(k, ";=") ||
				v != strings.TrimSpace(v) || strings.Contains(v, ";") {
				t.Fatalf("tag %q = %q", k, v)
			}
		}
		first := map[string]string{}
		for _, part := range strings.Split(record, ";") {
			if name, value, ok := strings.Cut(part, "="); ok {
				name = strings.ToLower(strings.TrimSpace(name))
				if _, dup := first[name]; !dup {
					first[name] = strings.TrimSpace(value)
				}
			}
		}
		if !maps.Equal(tags, first) {
			t.Fatalf("parseTags(%q) = %q, want %q", record, tags, first)
		}
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(tags)) {
			parts = append(parts, k+"="+tags[k])
		}
		if back := parseTags(strings.Join(parts, "; ")); !maps.Equal(back, tags) {
			t.Fatalf("parseTags(%q) = %q; written back, %q", record, tags, back)
		}

		for _, v := range versions {
			// Only SPF ends its first term at a space; tag=value records
			// end it at ";" and allow spaces around "=".
			seps := []string{";", "; "}
			if strings.EqualFold(v, "spf1") {
				seps = append(seps, " ", "\t")
			}
			for _, sep := range seps {
				if r := " v=" + v + sep + record; !hasTag(r, "v", v) {
					t.Fatalf("hasTag(%q, v, %s) = false", r, v)
				}
			}
			first := strings.ToLower(strings.TrimSpace(record))
			if !strings.EqualFold(v, "spf1") {
				first = stripSpace(first)
			}
			if hasTag(record, "v", v) && !strings.HasPrefix(first, "v="+strings.ToLower(v)) {
				t.Fatalf("hasTag(%q, v, %s) = true", record, v)
			}
		}

		s := stripSpace(record)
		if strings.ContainsAny(s, " \t\r\n") || !utf8.ValidString(s) {
			t.Fatalf("stripSpace(%q) = %q", record, s)
		}
		if utf8.ValidString(record) && s != strings.NewReplacer(" ", "", "\t", "", "\r", "", "\n", "").Replace(record) {
			t.Fatalf("stripSpace(%q) = %q: lost more than white space", record, s)
		}

		if id := tags["id"]; validSTSID(id) != (id != "" && len(id) <= 32 && strings.Trim(id, alnum) == "") {
			t.Fatalf("validSTSID(%q) = %v", id, validSTSID(id))
		}
		if der, err := base64.StdEncoding.DecodeString(tags["p"]); parses("ed25519", tags["p"]) != (err == nil && len(der) == 32) {
			t.Fatalf("parses(ed25519, %q) = %v", tags["p"], parses("ed25519", tags["p"]))
		}
		parses("rsa", tags["p"])

		c := &checker{}
		for name, judge := range map[string]func(*Result, map[string]string){"dmarc": c.dmarc, "mta-sts": c.mtaSTS, "tls-rpt": c.tlsRPT} {
			res := Result{Record: Record{Value: "v=STSv1; id=20240101"}}
			judge(&res, tags)
			switch res.State {
			case "":
			case StateWarning, StateWrong:
				if res.Detail == "" {
					t.Fatalf("%s: %s without a reason for %q", name, res.State, record)
				}
			default:
				t.Fatalf("%s: state %q", name, res.State)
			}
		}
	})
}

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// fuzzEnv is a DNS server publishing every record of fuzzParams, and a
// checker pointed at it, once per fuzz worker.
type fuzzEnv struct {
	srv  *dnstest.Server
	r    *Resolver
	c    *checker
	txts []Record // the TXT records of Records(p)
}

var (
	fuzzKeysOnce sync.Once
	fuzzDKIM     []Record
)

func newFuzzEnv(tb testing.TB) *fuzzEnv {
	fuzzKeysOnce.Do(func() {
		rk, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			tb.Fatal(err)
		}
		der, err := x509.MarshalPKIXPublicKey(&rk.PublicKey)
		if err != nil {
			tb.Fatal(err)
		}
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		fuzzDKIM = []Record{
			{Name: "fr2024r._domainkey.example.test", Value: "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)},
			{Name: "fr2024e._domainkey.example.test", Value: "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)},
		}
	})
	p := Params{Domain: "example.test", MailHost: "mail.example.test", DKIM: fuzzDKIM}.withDefaults()
	srv := dnstest.New(tb)
	srv.MustAdd(tb, `mail.example.test. 300 IN A 192.0.2.10`, `10.2.0.192.in-addr.arpa. 300 IN PTR mail.example.test.`)
	zp := dns.NewZoneParser(strings.NewReader(Zone(p, Records(p))), "", "")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		srv.MustAdd(tb, rr.String())
	}
	if err := zp.Err(); err != nil {
		tb.Fatal(err)
	}
	r, err := NewResolver(srv.Addr)
	if err != nil {
		tb.Fatal(err)
	}
	r = r.WithTimeout(2 * time.Second)
	e := &fuzzEnv{srv: srv, r: r, c: &checker{r: r, p: p}}
	e.c.server(context.Background())
	for _, rec := range Records(p) {
		if rec.Type == "TXT" {
			e.txts = append(e.txts, rec)
		}
	}
	return e
}

// publish replaces the TXT record at name with text, written as Zone
// writes it.
func (e *fuzzEnv) publish(t *testing.T, name, text string) {
	t.Helper()
	e.srv.Remove(name, dns.TypeTXT)
	if err := e.srv.Add(name + ". 300 IN TXT " + quoteTXT(text)); err != nil {
		t.Fatalf("zone line for %q does not parse: %v", text, err)
	}
}

// check publishes text at rec's name and checks rec: the text comes back
// from DNS byte for byte, and a verdict that is not ok says why.
func (e *fuzzEnv) check(t *testing.T, rec Record, text string) Result {
	t.Helper()
	e.publish(t, rec.Name, text)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, err := e.r.LookupTXT(ctx, rec.Name)
	if err != nil || len(got) != 1 || got[0] != text {
		t.Fatalf("published %q, LookupTXT gives %q, %v", text, got, err)
	}
	res := e.c.check(ctx, rec)
	switch res.State {
	case StateOK:
	case StateMissing, StateWrong, StateConflicting, StateWarning, StateUnknown:
		if res.Detail == "" {
			t.Fatalf("%s for %q without a reason", res.State, text)
		}
	default:
		t.Fatalf("state %q", res.State)
	}
	return res
}

// FuzzCheckTXT publishes arbitrary text in place of one of our TXT records
// (SPF, the two DKIM keys, DMARC, MTA-STS, TLS-RPT) and checks it. Every
// text survives the zone file and DNS unchanged, no text makes the check
// fail to give a reason, our own record is ok however it is split into
// strings and spaced where the RFCs allow (after ";", inside DKIM's p=), and
// our DKIM record cut short is called truncated or revoked.
func FuzzCheckTXT(f *testing.F) {
	e := newFuzzEnv(f)
	f.Add(uint8(3), "v=DMARC1; p=none", uint16(0), []byte{})
	f.Fuzz(func(t *testing.T, which uint8, text string, cut uint16, spaces []byte) {
		if len(text) > 4000 {
			text = text[:4000]
		}
		rec := e.txts[int(which)%len(e.txts)]
		res := e.check(t, rec, text)
		if text == rec.Value && res.State != StateOK {
			t.Fatalf("our own record: %s, %s", res.State, res.Detail)
		}
		if version := strings.TrimSuffix(strings.TrimPrefix(strings.Fields(rec.Value)[0], "v="), ";"); version != "DKIM1" {
			if found := len(res.Found) == 1 && res.Found[0] == text; found != hasTag(text, "v", version) {
				t.Fatalf("%q: found %q", text, res.Found)
			}
		}

		// Ours, spaced where allowed: FWS after ";" (RFC 6376 §3.2, RFC
		// 7489 §6.4, RFC 8461 §3.1, RFC 8460 §3) and inside DKIM's
		// base64 p= (RFC 6376 §3.6.1).
		if strings.HasPrefix(rec.Value, "v=spf1") {
			return
		}
		isDKIM := strings.HasPrefix(rec.Value, "v=DKIM1")
		var b strings.Builder
		pAt := strings.Index(rec.Value, "p=") + 2
		for i := 0; i < len(rec.Value); i++ {
			b.WriteByte(rec.Value[i])
			sp := i < len(spaces) && spaces[i]&1 == 1
			if sp && (rec.Value[i] == ';' || isDKIM && i >= pAt && i < len(rec.Value)-1) {
				b.WriteString([]string{" ", "\t", "  ", " \t"}[spaces[i]>>1&3])
			}
		}
		spaced := b.String()
		if res := e.check(t, rec, spaced); res.State != StateOK {
			t.Fatalf("ours spaced as %q: %s, %s", spaced, res.State, res.Detail)
		}
		if !isDKIM {
			return
		}
		k := int(cut) % len(rec.Value)
		if k < pAt {
			return
		}
		res = e.check(t, rec, rec.Value[:k])
		if res.State != StateWrong || !strings.Contains(res.Detail, "truncated") && !strings.Contains(res.Detail, "revoked") {
			t.Fatalf("ours cut to %d of %d bytes: %s, %s", k, len(rec.Value), res.State, res.Detail)
		}
	})
}
