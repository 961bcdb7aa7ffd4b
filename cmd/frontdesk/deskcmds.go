package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"frontdesk/store"
	"frontdesk/tickets"
)

func init() {
	adminCommands["support add"] = supportAdd
	adminCommands["support remove"] = supportRemove
	adminCommands["support list"] = supportList
	adminCommands["tickets list"] = ticketsList
	adminCommands["tickets show"] = ticketsShow
	adminCommands["tickets reply"] = ticketsReply
}

// supportAdd marks an existing account or alias as a support address:
// its mail becomes tickets.
func supportAdd(ctx context.Context, e *adminEnv, args []string) error {
	return supportMark(ctx, e, args, true)
}

func supportRemove(ctx context.Context, e *adminEnv, args []string) error {
	return supportMark(ctx, e, args, false)
}

func supportMark(ctx context.Context, e *adminEnv, args []string, on bool) error {
	verb := map[bool]string{true: "add", false: "remove"}[on]
	if len(args) != 1 {
		return fmt.Errorf("%w: support %s ADDRESS", errUsage, verb)
	}
	addr, err := store.NormalizeAddress(args[0])
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if on {
		if _, err := e.store.ResolveRecipient(ctx, addr); errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%s is neither an account nor an alias: add it first (frontdesk user add, or an alias in the web console)", addr)
		}
	}
	if err := e.store.SetSupport(ctx, addr, on); err != nil {
		return err
	}
	if on {
		fmt.Fprintf(e.stdout, "%s is a support address: its mail opens and threads tickets.\n", addr)
	} else {
		fmt.Fprintf(e.stdout, "%s is no longer a support address.\n", addr)
	}
	return nil
}

func supportList(ctx context.Context, e *adminEnv, args []string) error {
	if len(args) != 0 {
		return fmt.Errorf("%w: support list takes no arguments", errUsage)
	}
	addrs, err := e.store.SupportAddresses(ctx)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		fmt.Fprintln(e.stdout, a)
	}
	return nil
}

// ticketsList prints tickets, newest change first.
func ticketsList(ctx context.Context, e *adminEnv, args []string) error {
	fs := flag.NewFlagSet("tickets list", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	status := fs.String("status", "", "only this status (new, open, pending, solved, closed; all for every one)")
	assignee := fs.String("assignee", "", "only this agent's tickets")
	group := fs.String("group", "", "only this group")
	limit := fs.Int("limit", 50, "at most this many")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	desk, err := e.svc.Desk(e)
	if err != nil {
		return err
	}
	o := tickets.ListOptions{Assignee: *assignee, Limit: *limit}
	switch *status {
	case "":
	case "all":
		o.AllStatus = true
	default:
		s, err := tickets.ParseStatus(*status)
		if err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		o.Statuses = []tickets.Status{s}
	}
	if *group != "" {
		o.Groups = []string{*group}
	}
	list, total := desk.List(ctx, o)
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tSTATUS\tPRIORITY\tGROUP\tASSIGNEE\tUPDATED\tSUBJECT")
	for _, t := range list {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Number, t.Status, t.Priority, t.Group, dash(t.Assignee),
			t.Updated.Local().Format("2006-01-02 15:04"), t.Subject)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if total > len(list) {
		fmt.Fprintf(e.stdout, "(%d of %d shown; --limit for more)\n", len(list), total)
	}
	return nil
}

func ticketNumber(cmd string, args []string) (uint64, []string, error) {
	if len(args) < 1 {
		return 0, nil, fmt.Errorf("%w: tickets %s N", errUsage, cmd)
	}
	n, err := strconv.ParseUint(strings.TrimPrefix(args[0], "#"), 10, 64)
	if err != nil || n == 0 {
		return 0, nil, fmt.Errorf("%w: %q is not a ticket number", errUsage, args[0])
	}
	return n, args[1:], nil
}

// ticketsShow prints a ticket and its timeline.
func ticketsShow(ctx context.Context, e *adminEnv, args []string) error {
	n, rest, err := ticketNumber("show", args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("%w: tickets show N takes nothing else", errUsage)
	}
	desk, err := e.svc.Desk(e)
	if err != nil {
		return err
	}
	t, err := desk.Ticket(ctx, n)
	if errors.Is(err, tickets.ErrNotFound) {
		return fmt.Errorf("there is no ticket #%d", n)
	}
	if err != nil {
		return err
	}
	c, _ := desk.Contact(ctx, t.Contact)
	fmt.Fprintf(e.stdout, "Ticket %s %s\n", t.Token(), t.Subject)
	fmt.Fprintf(e.stdout, "Status %s, priority %s, group %s, assignee %s\n", t.Status, t.Priority, t.Group, dash(t.Assignee))
	switch t.Routing {
	case "classifier", "triage":
		fmt.Fprintf(e.stdout, "Routed by %s, confidence %.0f%%\n", t.Routing, 100*t.Confidence)
	case "":
	default:
		fmt.Fprintf(e.stdout, "Routed by %s\n", t.Routing)
	}
	if c != nil {
		fmt.Fprintf(e.stdout, "Contact %s %s %s (%s)\n", c.Name, strings.Join(c.Emails, ", "), strings.Join(c.Phones, ", "), c.Level)
	}
	if !t.FirstResponseDue.IsZero() {
		fmt.Fprintf(e.stdout, "Due: first response %s, resolution %s\n", t.FirstResponseDue.Local().Format(dueLayout), t.ResolutionDue.Local().Format(dueLayout))
	}
	if t.MergedInto != 0 {
		fmt.Fprintf(e.stdout, "Merged into #%d\n", t.MergedInto)
	}
	tl, err := desk.Timeline(ctx, n)
	if err != nil {
		return err
	}
	for _, en := range tl {
		printEntry(e.stdout, en)
	}
	return nil
}

func printEntry(w io.Writer, en tickets.Entry) {
	fmt.Fprintf(w, "\n--- %s  %s  %s\n", en.At.Local().Format("2006-01-02 15:04:05"), en.Kind, en.Author)
	if en.Subject != "" {
		fmt.Fprintf(w, "Subject: %s\n", en.Subject)
	}
	if en.Call != nil {
		c := en.Call
		fmt.Fprintf(w, "Call %s %s queue=%s agent=%s wait=%s talk=%s outcome=%s", c.Direction, c.Number, c.Queue, dash(c.Agent),
			c.Wait.Round(time.Second), c.Talk.Round(time.Second), c.Outcome)
		if c.Recording != "" {
			fmt.Fprintf(w, " recording=%s (frontdesk calls recording %s)", c.Recording, c.Recording)
		}
		fmt.Fprintln(w)
		return
	}
	if en.Text != "" {
		fmt.Fprintln(w, strings.TrimRight(en.Text, "\n"))
	}
}

// ticketsReply mails a reply, read from standard input, to the ticket's
// customer, as --as (an agent's address).
func ticketsReply(ctx context.Context, e *adminEnv, args []string) error {
	n, rest, err := ticketNumber("reply", args)
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("tickets reply", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	as := fs.String("as", "", "the agent's address the reply is from (required)")
	status := fs.String("status", "", "status after the reply: open, pending or solved")
	if err := fs.Parse(rest); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *as == "" {
		return fmt.Errorf("%w: tickets reply N --as AGENT < text", errUsage)
	}
	in := tickets.ReplyInput{Agent: strings.ToLower(*as)}
	if *status != "" {
		s, err := tickets.ParseStatus(*status)
		if err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		in.Status = s
	}
	if _, err := e.store.Account(ctx, in.Agent); err != nil {
		return fmt.Errorf("%s is not an account: %w", in.Agent, err)
	}
	text, err := io.ReadAll(io.LimitReader(e.stdin, maxControlStdin))
	if err != nil {
		return err
	}
	in.Text = string(text)
	desk, err := e.svc.Desk(e)
	if err != nil {
		return err
	}
	en, err := desk.Reply(ctx, n, in)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Reply to #%d queued (%s), Message-ID <%s>\n", n, en.Queued, en.MessageID)
	return nil
}

// dueLayout shows due times in local time with the offset, so scripts in
// other zones read them right.
const dueLayout = "2006-01-02 15:04:05 -0700"
