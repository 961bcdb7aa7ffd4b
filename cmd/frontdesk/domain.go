package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"frontdesk/dkim"
	"frontdesk/dnscheck"
	"frontdesk/store"
)

// Settings that serve records at startup so admin commands, which get only
// the store, build the same records as the server (see rememberServer).
const (
	settingHostname = "hostname" // config Hostname: the MailHost of every record
	settingDNS      = "dns"      // config DNS: the resolver domain check uses by default
)

// checkTimeout bounds one "domain check": every lookup, retries included.
const checkTimeout = time.Minute

// rememberServer stores what admin commands need to know about the
// server's configuration. serve calls it after opening the store.
func rememberServer(ctx context.Context, st *store.Store, hostname, dns string) error {
	if err := st.SetSetting(ctx, settingHostname, []byte(hostname)); err != nil {
		return fmt.Errorf("remember hostname: %w", err)
	}
	if err := st.SetSetting(ctx, settingDNS, []byte(dns)); err != nil {
		return fmt.Errorf("remember dns server: %w", err)
	}
	return nil
}

// serverHostname is the host name serve last ran with, or this machine's.
func serverHostname(ctx context.Context, st *store.Store) string {
	if v, err := st.Setting(ctx, settingHostname); err == nil && len(v) > 0 {
		return string(v)
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "localhost"
}

// openKeyring returns the keyring the server signs with (DATA/keys/dkim):
// in the running server its own instance, so a rotation takes effect at once.
func openKeyring(e *adminEnv) (*dkim.Keyring, error) {
	if e.svc != nil {
		return e.svc.Keyring()
	}
	return dkim.OpenKeyring(filepath.Join(e.store.Dir(), "keys", "dkim"))
}

// domainArg parses a command that takes one local domain, and returns it
// with the DKIM keyring.
func domainArg(ctx context.Context, e *adminEnv, fs *flag.FlagSet, args []string, usage string) (string, *dkim.Keyring, error) {
	pos, err := parse(fs, args)
	if err != nil {
		return "", nil, err
	}
	if len(pos) != 1 {
		return "", nil, fmt.Errorf("%w: %s", errUsage, usage)
	}
	name, err := localDomain(ctx, e, pos[0])
	if err != nil {
		return "", nil, err
	}
	kr, err := openKeyring(e)
	if err != nil {
		return "", nil, err
	}
	return name, kr, nil
}

// localDomain normalizes name and checks the domain is served here.
func localDomain(ctx context.Context, e *adminEnv, name string) (string, error) {
	name = store.NormalizeDomain(name)
	ok, err := e.store.IsLocalDomain(ctx, name)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("domain %s is not served here (frontdesk domain add %s)", name, name)
	}
	return name, nil
}

// domainParams is what dnscheck needs to know about a local domain: every
// published DKIM selector, old ones included until they are removed.
func domainParams(ctx context.Context, e *adminEnv, kr *dkim.Keyring, domain string) dnscheck.Params {
	p := dnscheck.Params{Domain: domain, MailHost: serverHostname(ctx, e.store)}
	for _, k := range kr.All(domain) {
		p.DKIM = append(p.DKIM, dkimRecord(k))
	}
	return p
}

func dkimRecord(k *dkim.Key) dnscheck.Record {
	return dnscheck.Record{Type: "TXT", Name: k.RecordName(), Value: k.RecordValue(), Required: true,
		Purpose: "DKIM key " + k.Selector + " (" + k.Algorithm + ")"}
}

// domainAdd adds a domain, makes its DKIM keys and prints the records to
// publish. Keys come first: if adding the domain then fails, running the
// command again reuses them, so nothing is left half-made.
func domainAdd(ctx context.Context, e *adminEnv, args []string) error {
	fs := newFlags("domain add", e)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: domain add DOMAIN", errUsage)
	}
	name := store.NormalizeDomain(pos[0])
	if !store.ValidDomain(name) {
		return fmt.Errorf("%w: invalid domain name %q (write international names as xn-- A-labels)", errUsage, pos[0])
	}
	if ok, err := e.store.IsLocalDomain(ctx, name); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("domain %s: %w", name, store.ErrExists)
	}
	kr, err := openKeyring(e)
	if err != nil {
		return err
	}
	if _, err := kr.Generate(name); err != nil && !errors.Is(err, dkim.ErrHasKeys) {
		return err
	}
	d, err := e.store.AddDomain(ctx, name)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "domain %s added, DKIM keys made\n\n", d.Name)
	p := domainParams(ctx, e, kr, d.Name)
	if err := printRecords(e.stdout, p); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\nnext: publish these records, then run: frontdesk domain check %s\n", d.Name)
	fmt.Fprintf(e.stdout, "      frontdesk user add postmaster@%s --password-stdin\n", d.Name)
	return nil
}

func domainList(ctx context.Context, e *adminEnv, args []string) error {
	ds, err := e.store.Domains(ctx)
	if err != nil {
		return err
	}
	for _, d := range ds {
		fmt.Fprintln(e.stdout, d.Name)
	}
	return nil
}

// domainRecords prints the records a domain needs: a table, or with
// --zone BIND zone-file lines.
func domainRecords(ctx context.Context, e *adminEnv, args []string) error {
	fs := newFlags("domain records", e)
	zone := fs.Bool("zone", false, "print BIND zone-file lines")
	name, kr, err := domainArg(ctx, e, fs, args, "domain records DOMAIN [--zone]")
	if err != nil {
		return err
	}
	p := domainParams(ctx, e, kr, name)
	if *zone {
		_, err := io.WriteString(e.stdout, dnscheck.Zone(p, dnscheck.Records(p)))
		return err
	}
	return printRecords(e.stdout, p)
}

// printRecords prints the required and the recommended records, and the
// MTA-STS policy the web server serves.
func printRecords(w io.Writer, p dnscheck.Params) error {
	rs := dnscheck.Records(p)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, required := range []bool{true, false} {
		if required {
			fmt.Fprintln(tw, "Required: mail does not work, or is junked, without these")
		} else {
			fmt.Fprintln(tw, "\nRecommended: TLS protection and automatic client setup")
		}
		fmt.Fprintln(tw, "TYPE\tNAME\tVALUE")
		for _, r := range rs {
			if r.Required == required {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Type, r.Name, r.Value)
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if !strings.Contains(p.MailHost, ".") {
		fmt.Fprintf(w, "\nnote: this server's host name %q is not a full DNS name: run serve with --hostname (e.g. mail.%s)\n", p.MailHost, p.Domain)
	}
	if len(p.DKIM) == 0 {
		fmt.Fprintf(w, "\n%s has no DKIM keys yet: run frontdesk dkim rotate %s\n", p.Domain, p.Domain)
	}
	fmt.Fprintf(w, "\nThe MTA-STS policy, served at https://mta-sts.%s/.well-known/mta-sts.txt:\n%s", p.Domain, dnscheck.MTASTSPolicy(p))
	return nil
}

// domainCheck looks the records up live and exits 0 only when every
// required record is right.
func domainCheck(ctx context.Context, e *adminEnv, args []string) error {
	fs := newFlags("domain check", e)
	server := fs.String("dns", "", "DNS server to ask, host:port (default: the server's, else the system's)")
	name, kr, err := domainArg(ctx, e, fs, args, "domain check DOMAIN [--dns ADDR]")
	if err != nil {
		return err
	}
	if *server == "" && e.svc != nil {
		*server = e.svc.dns
	}
	if *server == "" {
		if v, err := e.store.Setting(ctx, settingDNS); err == nil {
			*server = string(v)
		}
	}
	r, err := dnscheck.NewResolver(*server)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	p := domainParams(ctx, e, kr, name)
	cctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	rep := dnscheck.Check(cctx, r, p)

	for _, res := range rep.Results {
		printResult(e.stdout, res)
	}
	fmt.Fprintf(e.stdout, "\nThis server (%s):\n", p.MailHost)
	for _, res := range rep.ServerWarnings {
		printResult(e.stdout, res)
	}
	var bad, recommended []string
	required := 0
	for _, res := range rep.Results {
		switch ok := res.State == dnscheck.StateOK || res.State == dnscheck.StateWarning; {
		case res.Record.Required:
			required++
			if !ok {
				bad = append(bad, label(res.Record, name)+" "+string(res.State))
			}
		case !ok:
			recommended = append(recommended, label(res.Record, name))
		}
	}
	if !rep.AllRequiredOK {
		return fmt.Errorf("%s: %d of %d required records not right: %s", name, len(bad), required, strings.Join(bad, ", "))
	}
	// Every DKIM record is seen, the rotated pair's too: it may sign now.
	if len(kr.Pending(name)) > 0 {
		keys, err := kr.Activate(name)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "\n%s: now signing with the rotated keys %s and %s; the old selectors can be removed once mail signed with them has been delivered\n",
			name, keys[0].Selector, keys[1].Selector)
	}
	fmt.Fprintf(e.stdout, "\n%s: all %d required records are right", name, required)
	if len(recommended) > 0 {
		fmt.Fprintf(e.stdout, "; %d recommended not yet (%s)", len(recommended), strings.Join(recommended, ", "))
	}
	fmt.Fprintln(e.stdout)
	return nil
}

func printResult(w io.Writer, res dnscheck.Result) {
	rec := res.Record
	fmt.Fprintf(w, "%-11s %-6s %s", res.State, rec.Type, rec.Name)
	if res.Detail != "" {
		fmt.Fprintf(w, ": %s", res.Detail)
	}
	fmt.Fprintln(w)
	if res.State == dnscheck.StateOK || res.State == dnscheck.StateUnknown {
		return
	}
	for _, f := range res.Found {
		fmt.Fprintf(w, "            found:    %s\n", f)
	}
	if res.Expected != "" {
		fmt.Fprintf(w, "            expected: %s\n", res.Expected)
	}
}

// label names a record in the summary line: "MX", "SPF", "DKIM fd202605r".
func label(r dnscheck.Record, domain string) string {
	switch {
	case r.Type == "MX":
		return "MX"
	case r.Type != "TXT":
		return r.Type + " " + r.Name
	case r.Name == domain:
		return "SPF"
	case strings.HasPrefix(r.Name, "_dmarc."):
		return "DMARC"
	case strings.Contains(r.Name, "._domainkey."):
		return "DKIM " + r.Name[:strings.Index(r.Name, ".")]
	}
	return "TXT " + r.Name
}

// dkimRotate makes a new key pair under new selectors and prints their
// records. The old selectors stay in the keyring and in "domain records"
// so their records stay published while mail signed with them is in
// flight. A domain without keys (added before "domain add" made them)
// gets its first pair.
func dkimRotate(ctx context.Context, e *adminEnv, args []string) error {
	fs := newFlags("dkim rotate", e)
	name, kr, err := domainArg(ctx, e, fs, args, "dkim rotate DOMAIN")
	if err != nil {
		return err
	}
	old := kr.All(name)
	keys, err := kr.Rotate(name)
	if errors.Is(err, dkim.ErrNoKeys) {
		keys, err = kr.Generate(name)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "new DKIM keys for %s: publish these records; mail is signed with them once `frontdesk domain check` (or the web console's check) sees them\n\n", name)
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tNAME\tVALUE")
	for _, k := range keys {
		fmt.Fprintf(tw, "TXT\t%s\t%s\n", k.RecordName(), k.RecordValue())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(old) > 0 {
		var sels []string
		for _, k := range old {
			sels = append(sels, k.Selector)
		}
		fmt.Fprintf(e.stdout, "\nkeep the records of the old selectors (%s) published for a few days, so mail signed with them still verifies\n",
			strings.Join(sels, ", "))
	}
	fmt.Fprintf(e.stdout, "then run: frontdesk domain check %s\n", name)
	return nil
}
