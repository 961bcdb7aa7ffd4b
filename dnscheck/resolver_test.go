package dnscheck

import (
	"context"
	"strings"
	"testing"
	"time"

	"frontdesk/dnscheck/dnstest"
)

func TestResolver(t *testing.T) {
	srv := dnstest.New(t)
	long := strings.Repeat("k", 400) // split into several strings, joined on read
	srv.MustAdd(t,
		`example.test. 300 IN MX 20 backup.example.test.`,
		`example.test. 300 IN MX 10 mx.example.test.`,
		`example.test. 300 IN TXT "v=spf1 " "mx -all"`,
		`sel._domainkey.example.test. 300 IN TXT "`+long[:255]+`" "`+long[255:]+`"`,
		`mx.example.test. 300 IN A 192.0.2.10`,
		`mx.example.test. 300 IN AAAA 2001:db8::10`,
		`10.2.0.192.in-addr.arpa. 300 IN PTR mx.example.test.`,
	)
	srv.ServFail("broken.test")
	srv.Silence("slow.test")
	r, err := NewResolver(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	r = r.WithTimeout(300 * time.Millisecond)
	ctx := context.Background()

	mxs, err := r.LookupMX(ctx, "example.test")
	if err != nil || len(mxs) != 2 || mxs[0].Host != "mx.example.test." || mxs[0].Pref != 10 {
		t.Errorf("LookupMX = %v, %v", mxs, err)
	}
	txt, err := r.LookupTXT(ctx, "example.test")
	if err != nil || len(txt) != 1 || txt[0] != "v=spf1 mx -all" {
		t.Errorf("LookupTXT = %q, %v", txt, err)
	}
	if txt, err := r.LookupTXT(ctx, "sel._domainkey.example.test"); err != nil || txt[0] != long {
		t.Errorf("long TXT: %d bytes, %v", len(txt), err)
	}
	ips, err := r.LookupIPAddr(ctx, "mx.example.test")
	if err != nil || len(ips) != 2 {
		t.Errorf("LookupIPAddr = %v, %v", ips, err)
	}
	names, err := r.LookupAddr(ctx, "192.0.2.10")
	if err != nil || len(names) != 1 || names[0] != "mx.example.test." {
		t.Errorf("LookupAddr = %v, %v", names, err)
	}
	if _, err := r.LookupTXT(ctx, "nothing.test"); !IsNotFound(err) {
		t.Errorf("NXDOMAIN: err = %v, want not found", err)
	}
	if _, err := r.LookupMX(ctx, "mx.example.test"); !IsNotFound(err) {
		t.Errorf("no MX at a name with A: err = %v, want not found", err)
	}
	if _, err := r.LookupTXT(ctx, "broken.test"); !IsTemporary(err) {
		t.Errorf("SERVFAIL: err = %v, want temporary", err)
	}
	if _, err := r.LookupTXT(ctx, "slow.test"); !IsTemporary(err) {
		t.Errorf("no answer: err = %v, want temporary (timeout)", err)
	}
}
