package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"frontdesk/dnscheck/dnstest"
	"frontdesk/store"
)

// runCmd runs the CLI in this process (no server runs on data, so admin
// commands open the store directly).
func runCmd(t *testing.T, data string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), append(args, "--data", data), strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestDomainOnboarding(t *testing.T) {
	data := t.TempDir()
	st, err := store.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := rememberServer(context.Background(), st, "mail.example.test", ""); err != nil {
		t.Fatal(err)
	}
	st.Close()

	// domain add: keys on disk, records printed.
	code, out, errOut := runCmd(t, data, "domain", "add", "Example.TEST")
	if code != 0 {
		t.Fatalf("domain add: %d %s", code, errOut)
	}
	for _, want := range []string{"MX", "10 mail.example.test", "v=spf1 mx -all", "._domainkey.example.test",
		"v=DKIM1; k=rsa; p=", "v=DKIM1; k=ed25519; p=", "_dmarc.example.test", "frontdesk domain check example.test"} {
		if !strings.Contains(out, want) {
			t.Errorf("domain add output lacks %q:\n%s", want, out)
		}
	}
	pems, _ := filepath.Glob(filepath.Join(data, "keys", "dkim", "example.test", "*.pem"))
	if len(pems) != 2 {
		t.Fatalf("key files: %v", pems)
	}
	for _, f := range pems {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want 0600", f, fi.Mode(), err)
		}
	}
	if code, _, errOut := runCmd(t, data, "domain", "add", "example.test"); code != 1 || !strings.Contains(errOut, "already exists") {
		t.Errorf("second domain add: %d %s", code, errOut)
	}
	if code, _, errOut := runCmd(t, data, "domain", "records", "other.test"); code != 1 || !strings.Contains(errOut, "not served here") {
		t.Errorf("records of a foreign domain: %d %s", code, errOut)
	}

	// domain records --zone: BIND lines that parse.
	code, zone, errOut := runCmd(t, data, "domain", "records", "example.test", "--zone")
	if code != 0 {
		t.Fatalf("domain records --zone: %d %s", code, errOut)
	}
	rrs := parseZone(t, zone)
	if len(rrs) != 13 {
		t.Errorf("zone has %d records, want 13:\n%s", len(rrs), zone)
	}

	// domain check: nothing published → 1; the zone published → 0.
	srv := dnstest.New(t)
	srv.MustAdd(t, `mail.example.test. 300 IN A 192.0.2.10`, `10.2.0.192.in-addr.arpa. 300 IN PTR mail.example.test.`)
	code, out, errOut = runCmd(t, data, "domain", "check", "example.test", "--dns", srv.Addr)
	if code != 1 || !strings.Contains(errOut, "5 of 5 required records not right") || !strings.Contains(out, "missing") {
		t.Errorf("check before publishing: %d\n%s\n%s", code, out, errOut)
	}
	for _, rr := range rrs {
		srv.MustAdd(t, rr.String())
	}
	code, out, errOut = runCmd(t, data, "domain", "check", "--dns", srv.Addr, "example.test")
	if code != 0 || !strings.Contains(out, "all 5 required records are right") {
		t.Errorf("check after publishing: %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(out, "missing") || strings.Contains(out, "wrong") {
		t.Errorf("check after publishing reports problems:\n%s", out)
	}

	// dkim rotate: new selectors beside the old; until they are published
	// the check fails on them alone.
	code, out, errOut = runCmd(t, data, "dkim", "rotate", "example.test")
	if code != 0 || strings.Count(out, "._domainkey.example.test") != 2 || !strings.Contains(out, "old selectors") {
		t.Fatalf("dkim rotate: %d\n%s\n%s", code, out, errOut)
	}
	pems, _ = filepath.Glob(filepath.Join(data, "keys", "dkim", "example.test", "*.pem"))
	if len(pems) != 4 {
		t.Errorf("key files after rotate: %v", pems)
	}
	code, _, errOut = runCmd(t, data, "domain", "check", "example.test", "--dns", srv.Addr)
	if code != 1 || !strings.Contains(errOut, "2 of 7 required records not right: DKIM fd") {
		t.Errorf("check after rotate: %d %s", code, errOut)
	}
	_, zone, _ = runCmd(t, data, "domain", "records", "example.test", "--zone")
	for _, rr := range parseZone(t, zone) {
		if strings.Contains(rr.Header().Name, "_domainkey") {
			srv.Remove(rr.Header().Name, dns.TypeTXT)
			srv.MustAdd(t, rr.String())
		}
	}
	if code, out, errOut := runCmd(t, data, "domain", "check", "example.test", "--dns", srv.Addr); code != 0 {
		t.Errorf("check after publishing the new keys: %d\n%s\n%s", code, out, errOut)
	}
}

func TestDomainCommandUsage(t *testing.T) {
	data := t.TempDir()
	for _, args := range [][]string{
		{"domain", "add"},
		{"domain", "add", "not a domain"},
		{"domain", "records"},
		{"domain", "check", "a.test", "--dns", "nocolon"},
		{"dkim", "rotate"},
	} {
		if code, _, errOut := runCmd(t, data, args...); code == 0 || errOut == "" {
			t.Errorf("%q: exit %d, stderr %q", args, code, errOut)
		}
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

// TestDomainCommandsOverSocket runs the commands in a running server,
// through its control socket: --dns travels with the arguments, and the
// server's keyring (the one it signs with) gets the keys.
func TestDomainCommandsOverSocket(t *testing.T) {
	data := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	var serveLog bytes.Buffer
	any0 := "127.0.0.1:0"
	go func() {
		served <- serve(ctx, []string{"--data", data, "--hostname", "mail.example.test", "--smtp", any0,
			"--submission", any0, "--imap", any0, "--http", any0, "--sip", any0}, &serveLog)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serve: %v\n%s", err, serveLog.String())
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(data, socketName)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not start:\n%s", serveLog.String())
		}
	}

	if code, out, errOut := runCmd(t, data, "domain", "add", "example.test"); code != 0 || !strings.Contains(out, "10 mail.example.test") {
		t.Fatalf("domain add: %d\n%s\n%s", code, out, errOut)
	}
	srv := dnstest.New(t)
	srv.MustAdd(t, `mail.example.test. 300 IN A 192.0.2.10`)
	if code, _, errOut := runCmd(t, data, "domain", "check", "example.test", "--dns", srv.Addr); code != 1 || !strings.Contains(errOut, "5 of 5") {
		t.Errorf("check before publishing: %d %s", code, errOut)
	}
	_, zone, _ := runCmd(t, data, "domain", "records", "--zone", "example.test")
	for _, rr := range parseZone(t, zone) {
		srv.MustAdd(t, rr.String())
	}
	if code, out, errOut := runCmd(t, data, "domain", "check", "example.test", "--dns", srv.Addr); code != 0 {
		t.Errorf("check after publishing: %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := runCmd(t, data, "dkim", "rotate", "example.test"); code != 0 || !strings.Contains(out, "old selectors") {
		t.Errorf("dkim rotate: %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(serveLog.String(), `cmd="dkim rotate" code=0`) {
		t.Errorf("rotate did not run in the server:\n%s", serveLog.String())
	}
}
