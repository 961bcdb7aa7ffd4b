package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"frontdesk/store"
)

// adminEnv is what an admin command runs with, in the server (over the
// control socket) or in this process.
type adminEnv struct {
	store  *store.Store
	svc    *services
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

type adminFunc func(ctx context.Context, e *adminEnv, args []string) error

// adminCommands are keyed by their first two words.
var adminCommands = map[string]adminFunc{
	"domain add":      domainAdd,
	"domain list":     domainList,
	"domain records":  domainRecords,
	"domain check":    domainCheck,
	"dkim rotate":     dkimRotate,
	"user add":        userAdd,
	"user list":       userList,
	"user password":   userPassword,
	"queue list":      queueList,
	"queue retry":     queueRetry,
	"queue drop":      queueDrop,
	"spam train":      spamTrain,
	"spam classify":   spamClassify,
	"agent add":       agentAdd,
	"calls list":      callsList,
	"calls queues":    callsQueues,
	"calls recording": callsRecording,
	// The client turns `backup DIR` into `backup into ABSDIR`, so the
	// server, whose working directory is not the admin's, writes where
	// the admin meant.
	"backup into": backupInto,
}

func lookupAdmin(args []string) (adminFunc, bool) {
	if len(args) < 2 {
		return nil, false
	}
	f, ok := adminCommands[args[0]+" "+args[1]]
	return f, ok
}

// newFlags makes a FlagSet whose errors come back as errUsage.
func newFlags(name string, e *adminEnv) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs
}

// parse accepts flags before and after positional arguments, as admins type them.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func userAdd(ctx context.Context, e *adminEnv, args []string) error {
	fs := newFlags("user add", e)
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	roleName := fs.String("role", "user", "admin, supervisor, agent or user")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: user add ADDRESS [--password-stdin] [--role ROLE]", errUsage)
	}
	role, err := store.ParseRole(*roleName)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	password, generated, err := readPassword(e.stdin, *fromStdin)
	if err != nil {
		return err
	}
	a, err := e.store.AddAccount(ctx, pos[0], password, role)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "user %s added (role %s)\n", a.Address, a.Role)
	if generated {
		fmt.Fprintf(e.stdout, "password: %s\n", password)
	}
	return nil
}

func userPassword(ctx context.Context, e *adminEnv, args []string) error {
	fs := newFlags("user password", e)
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: user password ADDRESS [--password-stdin]", errUsage)
	}
	password, generated, err := readPassword(e.stdin, *fromStdin)
	if err != nil {
		return err
	}
	if err := e.store.SetPassword(ctx, pos[0], password); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "password of %s changed\n", pos[0])
	if generated {
		fmt.Fprintf(e.stdout, "password: %s\n", password)
	}
	return nil
}

func userList(ctx context.Context, e *adminEnv, args []string) error {
	as, err := e.store.Accounts(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tROLE\tCREATED")
	for _, a := range as {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", a.Address, a.Role, a.Created.Format("2006-01-02"))
	}
	return tw.Flush()
}

// readPassword reads the first line of stdin, or makes a strong random
// password when the admin did not give one.
func readPassword(stdin io.Reader, fromStdin bool) (pw string, generated bool, err error) {
	if !fromStdin {
		b := make([]byte, 15)
		rand.Read(b)
		return strings.ToLower(base32.StdEncoding.EncodeToString(b)), true, nil
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", false, fmt.Errorf("read password: %w", err)
	}
	pw = strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", false, errors.New("no password on standard input")
	}
	return pw, false, nil
}
