package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"frontdesk/loadgen"
)

// bench drives a running server over loopback with loadgen and prints
// messages/s and latency.
func bench(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "soak" {
		return benchSoak(ctx, args[1:], stdout, os.Stderr)
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	o := loadgen.Options{Out: stdout}
	fs.StringVar(&o.SMTPAddr, "smtp", "127.0.0.1:2525", "SMTP (MX) address")
	fs.StringVar(&o.IMAPAddr, "imap", "127.0.0.1:2143", "IMAP address")
	fs.StringVar(&o.User, "user", "", "IMAP user that receives the load")
	fs.StringVar(&o.Password, "password", "", "its password")
	fs.StringVar(&o.Rcpt, "rcpt", "", "recipient (default: --user)")
	fs.IntVar(&o.Messages, "messages", 5000, "messages to send")
	fs.IntVar(&o.Concurrency, "concurrency", 8, "SMTP connections")
	fs.IntVar(&o.Size, "size", 8192, "message size in bytes")
	fs.Int64Var(&o.Seed, "seed", 1, "seed of the generated messages")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if o.User == "" || o.Password == "" {
		return fmt.Errorf("%w: bench needs --user and --password", errUsage)
	}
	if o.Rcpt == "" {
		o.Rcpt = o.User
	}
	_, err := loadgen.Run(ctx, o)
	return err
}
