package spf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"gopkg.in/yaml.v3"

	"frontdesk/dnscheck"
	"frontdesk/dnscheck/dnstest"
)

// The openspf/pyspf conformance suites (see ../../shared/conformance/README.md).
const conformanceDir = "../../shared/conformance/spf/"

// knownFailures are the suite cases we still get wrong, by file and test
// name, with the reason. Each is run anyway: one that starts passing fails
// the test, so the list stays honest.
var knownFailures = map[string]string{}

// suiteTest is one case: a check_host() call and the acceptable results.
type suiteTest struct {
	Helo        string
	Host        string
	MailFrom    string `yaml:"mailfrom"`
	Result      words
	Explanation string
}

// words is a YAML scalar or sequence of scalars.
type words []string

func (w *words) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*w = words{n.Value}
		return nil
	}
	var l []string
	err := n.Decode(&l)
	*w = l
	return err
}

type scenario struct {
	Description string
	Tests       map[string]suiteTest
	ZoneData    map[string][]yaml.Node `yaml:"zonedata"`
}

func loadSuite(t *testing.T, file string) []scenario {
	t.Helper()
	f, err := os.Open(conformanceDir + file)
	if err != nil {
		// CI has shared/ beside the checkout: there a missing suite is a
		// broken setup, not a reason to pass.
		if os.Getenv("CI") != "" {
			t.Fatalf("conformance suite not available: %v", err)
		}
		t.Skipf("conformance suite not available: %v", err)
	}
	defer f.Close()
	var out []scenario
	dec := yaml.NewDecoder(f)
	for {
		var s scenario
		err := dec.Decode(&s)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		out = append(out, s)
	}
}

// zoneRecord is one entry of a zonedata list.
type zoneRecord struct {
	typ     string   // A, AAAA, MX, TXT, SPF, PTR, CNAME, TIMEOUT
	values  []string // for TXT/SPF: the strings of one record
	mxPref  uint16
	txtNone bool // "TXT: NONE": no TXT data, but a TXT entry
}

func parseZoneRecord(n yaml.Node) (zoneRecord, error) {
	if n.Kind == yaml.ScalarNode {
		return zoneRecord{typ: n.Value}, nil
	}
	if n.Kind != yaml.MappingNode || len(n.Content) != 2 {
		return zoneRecord{}, fmt.Errorf("line %d: unexpected record", n.Line)
	}
	r := zoneRecord{typ: n.Content[0].Value}
	v := n.Content[1]
	switch {
	case r.typ == "MX":
		var pair []string
		if err := v.Decode(&pair); err != nil || len(pair) != 2 {
			return r, fmt.Errorf("line %d: bad MX", n.Line)
		}
		var pref int
		fmt.Sscan(pair[0], &pref)
		r.mxPref, r.values = uint16(pref), []string{pair[1]}
	case v.Kind == yaml.ScalarNode:
		r.values = []string{v.Value}
		r.txtNone = r.typ == "TXT" && v.Value == "NONE"
	default:
		if err := v.Decode(&r.values); err != nil {
			return r, fmt.Errorf("line %d: %v", n.Line, err)
		}
	}
	return r, nil
}

// serveZone loads a scenario's zonedata into srv. SPF-type records are
// served as TXT when the name has no TXT entry ("TXT: NONE" counts, which
// keeps the "Record lookup" scenario's spfonly case right); CNAMEs are
// flattened, since dnstest does not chase them; TIMEOUT silences a name
// that has no TXT data (the only type whose timeout the suite tests where
// other data exists).
func serveZone(t *testing.T, srv *dnstest.Server, zone map[string][]yaml.Node) {
	recs := map[string][]zoneRecord{}
	for name, nodes := range zone {
		name = strings.ToLower(strings.TrimSuffix(name, "."))
		for _, n := range nodes {
			r, err := parseZoneRecord(n)
			if err != nil {
				t.Fatalf("zone %s: %v", name, err)
			}
			recs[name] = append(recs[name], r)
		}
	}
	flat := map[string][]zoneRecord{}
	for name := range recs {
		target, seen := name, map[string]bool{}
		for !seen[target] {
			seen[target] = true
			i := slices.IndexFunc(recs[target], func(r zoneRecord) bool { return r.typ == "CNAME" })
			if i < 0 {
				break
			}
			target = strings.ToLower(strings.TrimSuffix(recs[target][i].values[0], "."))
		}
		flat[name] = recs[name]
		if target != name && !slices.ContainsFunc(recs[target], func(r zoneRecord) bool { return r.typ == "CNAME" }) {
			flat[name] = append(slices.Clone(recs[name]), recs[target]...)
		}
	}
	for name, rs := range flat {
		fqdn := dns.Fqdn(name)
		hdr := func(typ uint16) dns.RR_Header {
			return dns.RR_Header{Name: fqdn, Rrtype: typ, Class: dns.ClassINET, Ttl: 300}
		}
		hasTXT := slices.ContainsFunc(rs, func(r zoneRecord) bool { return r.typ == "TXT" })
		hasTXTData := slices.ContainsFunc(rs, func(r zoneRecord) bool { return r.typ == "TXT" && !r.txtNone })
		var rrs []dns.RR
		for _, r := range rs {
			switch r.typ {
			case "TIMEOUT":
				if !hasTXTData {
					srv.Silence(name)
				}
			case "TXT", "SPF":
				if r.txtNone || (r.typ == "SPF" && hasTXT) || len(r.values) == 0 {
					continue
				}
				rrs = append(rrs, &dns.TXT{Hdr: hdr(dns.TypeTXT), Txt: escapeTXT(r.values)})
			case "A":
				for _, v := range r.values {
					rrs = append(rrs, &dns.A{Hdr: hdr(dns.TypeA), A: net.ParseIP(v)})
				}
			case "AAAA":
				for _, v := range r.values {
					rrs = append(rrs, &dns.AAAA{Hdr: hdr(dns.TypeAAAA), AAAA: net.ParseIP(v)})
				}
			case "MX":
				rrs = append(rrs, &dns.MX{Hdr: hdr(dns.TypeMX), Preference: r.mxPref, Mx: dns.Fqdn(r.values[0])})
			case "PTR":
				for _, v := range r.values {
					rrs = append(rrs, &dns.PTR{Hdr: hdr(dns.TypePTR), Ptr: dns.Fqdn(v)})
				}
			case "CNAME":
				rrs = append(rrs, &dns.CNAME{Hdr: hdr(dns.TypeCNAME), Target: dns.Fqdn(r.values[0])})
			default:
				t.Fatalf("zone %s: unknown record type %q", name, r.typ)
			}
		}
		for _, rr := range rrs {
			if err := srv.Add(rr.String()); err != nil {
				t.Logf("zone %s: cannot serve %v: %v", name, rr, err)
			}
		}
	}
}

// escapeTXT turns raw strings into the escaped form miekg/dns keeps in
// dns.TXT (so rr.String() round-trips through the zone parser).
func escapeTXT(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		var b strings.Builder
		for _, c := range []byte(s) {
			switch {
			case c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c < 0x20 || c > 0x7e:
				fmt.Fprintf(&b, "\\%03d", c)
			default:
				b.WriteByte(c)
			}
		}
		out[i] = b.String()
	}
	return out
}

func runConformance(t *testing.T, file, key string, want int) {
	scenarios := loadSuite(t, file)
	var total, passed, known int
	var failedNames []string
	for _, sc := range scenarios {
		srv := newDNSServer(t)
		serveZone(t, srv, sc.ZoneData)
		r, err := dnscheck.NewResolver(srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		c := NewChecker(r.WithTimeout(150 * time.Millisecond))
		names := make([]string, 0, len(sc.Tests))
		for name := range sc.Tests {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			tc := sc.Tests[name]
			total++
			ip := net.ParseIP(tc.Host)
			v := c.Check(context.Background(), ip, tc.Helo, tc.MailFrom)
			ok := slices.Contains(tc.Result, string(v.Result))
			if ok && v.Result == Fail && tc.Explanation != "" && tc.Explanation != "DEFAULT" &&
				v.Explanation != tc.Explanation {
				ok = false
				v.Err = fmt.Errorf("explanation %q, want %q (%v)", v.Explanation, tc.Explanation, v.Err)
			}
			id := key + "/" + name
			reason, isKnown := knownFailures[id]
			switch {
			case ok && isKnown:
				t.Errorf("%s passes now: remove it from knownFailures (%s)", id, reason)
			case ok:
				passed++
			case isKnown:
				known++
				t.Logf("known failure %s: got %s, want %v: %s", id, v.Result, tc.Result, reason)
			default:
				failedNames = append(failedNames, id)
				t.Errorf("%s (%s): check(%s, helo %q, from %q) = %s (%v), want %v",
					id, sc.Description, tc.Host, tc.Helo, tc.MailFrom, v.Result, v.Err, tc.Result)
			}
		}
	}
	t.Logf("%s: %d of %d cases pass, %d known failures, %d unexpected failures",
		file, passed, total, known, len(failedNames))
	if total != want {
		t.Errorf("%s: %d cases, want %d (a changed copy of the suite?)", file, total, want)
	}
}

func TestConformanceRFC7208(t *testing.T) { runConformance(t, "rfc7208-tests.yml", "rfc7208", 203) }

func TestConformanceRFC4408(t *testing.T) { runConformance(t, "rfc4408-tests.yml", "rfc4408", 191) }

// newDNSServer starts a dnstest server, retrying when the random UDP
// port it picked is taken for TCP.
func newDNSServer(t testing.TB) *dnstest.Server {
	t.Helper()
	var err error
	for range 10 {
		var srv *dnstest.Server
		if srv, err = dnstest.Start(); err == nil {
			t.Cleanup(srv.Close)
			return srv
		}
	}
	t.Fatal(err)
	return nil
}
