package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"text/tabwriter"
	"time"

	"frontdesk/dkim"
	"frontdesk/dnscheck"
	"frontdesk/spf"
)

func queueList(ctx context.Context, e *adminEnv, args []string) error {
	q, err := e.svc.Queue(e)
	if err != nil {
		return err
	}
	items, err := q.List(ctx)
	if err != nil {
		return err
	}
	if len(items) == 0 {
		fmt.Fprintln(e.stdout, "queue is empty")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tFROM\tRECIPIENT\tSTATUS\tATTEMPTS\tNEXT\tLAST ERROR")
	for _, it := range items {
		from := it.From
		if from == "" {
			from = "<>"
		}
		for _, r := range it.Recipients {
			next := "-"
			if r.Status == "queued" {
				next = r.NextAttempt.Local().Format(time.DateTime)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", it.ID, from, r.Addr, r.Status, r.Attempts, next, r.LastError)
		}
	}
	return tw.Flush()
}

func queueRetry(ctx context.Context, e *adminEnv, args []string) error {
	return queueOne(ctx, e, args, "retry", func(ctx context.Context, id string) error {
		q, err := e.svc.Queue(e)
		if err != nil {
			return err
		}
		return q.Retry(ctx, id)
	})
}

func queueDrop(ctx context.Context, e *adminEnv, args []string) error {
	return queueOne(ctx, e, args, "drop", func(ctx context.Context, id string) error {
		q, err := e.svc.Queue(e)
		if err != nil {
			return err
		}
		return q.Drop(ctx, id)
	})
}

func queueOne(ctx context.Context, e *adminEnv, args []string, verb string, f func(context.Context, string) error) error {
	if len(args) != 1 {
		return fmt.Errorf("%w: queue %s ID", errUsage, verb)
	}
	if err := f(ctx, args[0]); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: %s done\n", args[0], verb)
	return nil
}

// checkCmd runs `frontdesk check spf`: no data directory needed.
func checkCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	// --data is accepted as by every subcommand; the check reads nothing there.
	_, args, err := takeDataFlag(args)
	if err != nil {
		return err
	}
	if len(args) == 0 || args[0] != "spf" {
		return fmt.Errorf("%w: check spf --ip IP --helo NAME --from ADDR [--dns ADDR]", errUsage)
	}
	fs := flag.NewFlagSet("check spf", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ipStr := fs.String("ip", "", "client IP address")
	helo := fs.String("helo", "", "HELO/EHLO name")
	from := fs.String("from", "", "MAIL FROM address (empty: null sender)")
	dns := fs.String("dns", "", "DNS server host:port (default: the system's)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	ip := net.ParseIP(*ipStr)
	if ip == nil {
		return fmt.Errorf("%w: --ip %q is not an IP address", errUsage, *ipStr)
	}
	if *helo == "" {
		return fmt.Errorf("%w: --helo is required", errUsage)
	}
	r, err := dnscheck.NewResolver(*dns)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	v := spf.NewChecker(r).CheckSMTP(ctx, ip, *helo, *from) // as the MX judges (HELO first)
	fmt.Fprintln(stdout, v.Result)
	switch {
	case v.Explanation != "":
		fmt.Fprintf(stdout, "explanation: %s\n", v.Explanation)
	case v.Err != nil:
		fmt.Fprintf(stdout, "explanation: %v\n", v.Err)
	default:
		fmt.Fprintf(stdout, "explanation: %s %s for %s (%s %s)\n", v.Domain, describeSPF(v.Result), ip, v.Identity, v.Sender)
	}
	return nil
}

func describeSPF(r spf.Result) string {
	switch r {
	case spf.Pass:
		return "authorizes"
	case spf.Fail:
		return "does not authorize"
	case spf.SoftFail:
		return "probably does not authorize"
	case spf.None:
		return "publishes no SPF policy"
	}
	return "makes no assertion"
}

// dkimVerify runs `frontdesk dkim verify < message`; `dkim rotate` is an
// admin command handled elsewhere.
func dkimVerify(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	// --data is accepted as by every subcommand; verifying reads nothing there.
	_, args, err := takeDataFlag(args)
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("dkim verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dns := fs.String("dns", "", "DNS server host:port (default: the system's)")
	atStr := fs.String("at", "", "judge x= expiry and t= at this time, in seconds since 1970 (default: now)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: dkim verify [--dns ADDR] [--at UNIXTIME] < message", errUsage)
	}
	at := time.Now()
	if *atStr != "" {
		sec, err := strconv.ParseInt(*atStr, 10, 64)
		if err != nil || sec < 0 {
			return fmt.Errorf("%w: --at %q is not a time in seconds since 1970 (date +%%s)", errUsage, *atStr)
		}
		at = time.Unix(sec, 0)
	}
	r, err := dnscheck.NewResolver(*dns)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	msg, err := io.ReadAll(io.LimitReader(stdin, 64<<20))
	if err != nil {
		return fmt.Errorf("read message: %w", err)
	}
	results, err := dkim.NewVerifier(r).VerifyAt(ctx, msg, at)
	if err != nil {
		return err
	}
	if len(results) == 0 {
		fmt.Fprintln(stdout, "no DKIM signature")
		return errSilent
	}
	passed := false
	for _, res := range results {
		line := fmt.Sprintf("d=%s s=%s a=%s i=%s: %s", res.Domain, res.Selector, res.Algorithm, res.Identifier, res.Status)
		if res.Err != nil && res.Status != dkim.StatusPass {
			line += " (" + res.Err.Error() + ")"
		}
		fmt.Fprintln(stdout, line)
		passed = passed || res.Status == dkim.StatusPass
	}
	if !passed {
		return errSilent
	}
	return nil
}

// errSilent exits 1 without a message: the output already said why.
var errSilent = errors.New("")
