// Command frontdesk is the Frontdesk server and its admin tool: one binary
// that serves mail for a company's own domains and manages them.
//
// Admin subcommands talk to a running server over its control socket, and
// open the data directory directly when no server runs (only one process
// may hold the store).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `Frontdesk: mail and a hotline for your own domains, in one binary.

Usage:
  frontdesk serve [--config FILE] [--data DIR] [--smtp ADDR] [--submission ADDR]
                  [--imap ADDR] [--imaps ADDR] [--http ADDR] [--https ADDR] [--sip ADDR] [--dns ADDR]
                  [--outbound-port PORT] [--hostname NAME] [--cpuprofile FILE]

  frontdesk domain add DOMAIN                    # makes DKIM keys, prints the records to publish
  frontdesk domain list
  frontdesk domain records DOMAIN [--zone]       # --zone: BIND zone-file lines
  frontdesk domain check DOMAIN [--dns ADDR]     # exit 0 only when every required record is right
  frontdesk dkim rotate DOMAIN                   # new selectors published beside the old
  frontdesk dkim verify [--dns ADDR] [--at UNIXTIME] < message
  frontdesk check spf --ip IP --helo NAME --from ADDR [--dns ADDR]

  frontdesk user add ADDRESS [--password-stdin] [--role admin|supervisor|agent|user]
  frontdesk user list
  frontdesk user password ADDRESS [--password-stdin]

  frontdesk queue list | queue retry ID | queue drop ID

  frontdesk spam train --ham DIR --spam DIR
  frontdesk spam classify < message              # prints: spam|unsure|ham SCORE
  frontdesk spam eval --ham DIR --spam DIR [--folds 10] [--corpus-artefacts]

  frontdesk agent add ADDRESS --skills support,sales [--sip-password-stdin]
  frontdesk calls list                           # call records, newest last
  frontdesk calls queues                         # who waits, which agent is free
  frontdesk calls recording ID > call.wav

  frontdesk support add|remove ADDRESS           # an account or alias whose mail becomes tickets
  frontdesk support list
  frontdesk tickets list [--status S|all] [--assignee ADDR] [--group G] [--limit N]
  frontdesk tickets show N                       # the ticket and its timeline
  frontdesk tickets reply N --as AGENT [--status pending|solved] < text

  frontdesk backup DIR                           # consistent copy, also while serve runs; DIR new or empty
  frontdesk restore DIR --data DATA [--force]    # server stopped; --force replaces a non-empty DATA

  frontdesk bench --user ADDR --password PW [--smtp ADDR] [--imap ADDR] [--messages N] [--concurrency C]
  frontdesk bench soak [--duration 30m] [--every 1m] [--json]   # mixed load on two servers it starts; memory, goroutines, files, latency

Every subcommand takes --data DIR (default ./data). With no config file,
serve listens on loopback: SMTP 2525, submission 2587, IMAP 2143,
HTTP 8080, SIP 5060.
`

// errUsage marks a command line that is wrong; it exits 2.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], stderr)
	case "bench":
		err = bench(ctx, args[1:], stdout)
	case "check":
		err = checkCmd(ctx, args[1:], stdout, stderr)
	case "backup":
		return backupCommand(ctx, args[1:], stdin, stdout, stderr)
	case "restore":
		err = restore(ctx, args[1:], stdout, stderr)
	case "spam":
		if len(args) > 1 && args[1] == "eval" {
			err = spamEval(args[2:], stdout, stderr)
			break
		}
		if _, ok := lookupAdmin(args); !ok {
			fmt.Fprintf(stderr, "frontdesk: unknown command %q\n\n%s", joinWords(args, 2), usage)
			return 2
		}
		return runAdmin(ctx, args, stdin, stdout, stderr)
	case "dkim":
		if len(args) > 1 && args[1] == "verify" {
			err = dkimVerify(ctx, args[2:], stdin, stdout, stderr)
			break
		}
		if _, ok := lookupAdmin(args); !ok {
			fmt.Fprintf(stderr, "frontdesk: unknown command %q\n\n%s", joinWords(args, 2), usage)
			return 2
		}
		return runAdmin(ctx, args, stdin, stdout, stderr)
	default:
		if _, ok := lookupAdmin(args); !ok {
			fmt.Fprintf(stderr, "frontdesk: unknown command %q\n\n%s", joinWords(args, 2), usage)
			return 2
		}
		return runAdmin(ctx, args, stdin, stdout, stderr)
	}
	return exitCode(err, stderr)
}

func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err == errSilent:
		return 1
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "frontdesk: %v\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "frontdesk: %v\n", err)
		return 1
	}
}

func joinWords(args []string, n int) string {
	s := ""
	for i, a := range args {
		if i == n {
			break
		}
		if i > 0 {
			s += " "
		}
		s += a
	}
	return s
}
