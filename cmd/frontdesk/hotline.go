package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"text/tabwriter"
	"time"

	"frontdesk/config"
	"frontdesk/store"
	"frontdesk/telephony"
	"frontdesk/web"
)

// telephonyConfig turns the [telephony] section into the hotline's config.
func telephonyConfig(cfg config.Config, st *store.Store, log *slog.Logger) (telephony.Config, error) {
	t := cfg.Telephony
	tc := telephony.Config{
		Addr: cfg.Listen.SIP, RTPPortMin: t.RTPPortMin, RTPPortMax: t.RTPPortMax,
		Realm: t.Realm, DataDir: cfg.Data, Accounts: st, Logger: log,
		TCPIdleTimeout: t.TCPIdleTimeout.Duration,
	}
	if t.PublicIP != "" {
		if tc.PublicIP = net.ParseIP(t.PublicIP); tc.PublicIP == nil {
			return tc, fmt.Errorf("telephony.public_ip: %q is not an IP address", t.PublicIP)
		}
	}
	if t.Contacts != "" {
		c, err := telephony.LoadContactsFile(t.Contacts)
		if err != nil {
			return tc, fmt.Errorf("telephony.contacts: %w", err)
		}
		tc.Contacts = c
	}
	for _, q := range t.Queues {
		qc := telephony.QueueConfig{Name: q.Name, Skill: q.Skill, RingTimeout: q.RingTimeout.Duration, WrapUp: q.WrapUp.Duration, Record: q.Record}
		if len(q.MaxWait) > 0 {
			qc.MaxWait = map[telephony.Level]time.Duration{}
			for level, d := range q.MaxWait {
				l, err := telephony.ParseLevel(level)
				if err != nil {
					return tc, fmt.Errorf("telephony.queue %s: %w", q.Name, err)
				}
				qc.MaxWait[l] = d.Duration
			}
		}
		tc.Queues = append(tc.Queues, qc)
	}
	for _, h := range t.Hotlines {
		tc.Hotlines = append(tc.Hotlines, telephony.Hotline{Number: h.Number, OperatorQueue: h.OperatorQueue, Menu: menuOf(h.Menu)})
	}
	if tr := t.Trunk; tr != nil {
		tc.Trunk = &telephony.TrunkConfig{Proxy: tr.Proxy, Username: tr.Username, Password: tr.Password,
			CallerID: tr.CallerID, Domain: tr.Domain, RingTimeout: tr.RingTimeout.Duration}
	}
	tc.Callbacks = telephony.CallbackConfig{MaxAttempts: t.Callbacks.MaxAttempts, RetryInterval: t.Callbacks.RetryInterval.Duration}
	return tc, nil
}

func menuOf(m *config.SIPMenu) *telephony.Menu {
	if m == nil {
		return nil
	}
	out := &telephony.Menu{Prompts: m.Prompts, DigitTimeout: m.DigitTimeout.Duration, MaxRetries: m.MaxRetries, Options: map[string]telephony.Option{}}
	for key, o := range m.Options {
		out.Options[key] = optionOf(o)
	}
	if m.Fallback != nil {
		out.Fallback = optionOf(*m.Fallback)
	}
	return out
}

func optionOf(o config.SIPMenuOption) telephony.Option {
	return telephony.Option{Action: telephony.ActionKind(o.Action), Queue: o.Queue, Menu: menuOf(o.Menu)}
}

// callsList prints the call records, newest last.
func callsList(ctx context.Context, e *adminEnv, args []string) error {
	tel, err := e.svc.Telephony(e)
	if err != nil {
		return err
	}
	calls, err := tel.Calls(ctx)
	if err != nil {
		return err
	}
	if len(calls) == 0 {
		fmt.Fprintln(e.stdout, "no calls yet")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "START\tCALLER\tDIALLED\tIVR\tQUEUE\tWAIT\tTALK\tAGENT\tOUTCOME\tRECORDING")
	for _, c := range calls {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Start.Local().Format(time.DateTime), c.Caller, c.Dialled,
			dash(c.IVRPath), dash(c.Queue), c.Wait.Round(time.Second), c.Talk.Round(time.Second), dash(c.Agent), c.Outcome, dash(c.Recording))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// callsQueues prints the live queue state of the running server.
func callsQueues(ctx context.Context, e *adminEnv, args []string) error {
	tel, err := e.svc.Telephony(e)
	if err != nil {
		return err
	}
	for _, q := range tel.QueueState() {
		fmt.Fprintf(e.stdout, "queue %s: %d waiting\n", q.Name, len(q.Waiting))
		for _, w := range q.Waiting {
			fmt.Fprintf(e.stdout, "  %d. %s (%s) waiting %s\n", w.Position, w.Caller, w.Level, w.Wait.Round(time.Second))
		}
		for _, a := range q.Agents {
			fmt.Fprintf(e.stdout, "  agent %s: %s\n", a.Address, a.State)
		}
	}
	return nil
}

// callsRecording writes a decrypted recording (WAV) to standard output.
func callsRecording(ctx context.Context, e *adminEnv, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("%w: calls recording ID > file.wav", errUsage)
	}
	tel, err := e.svc.Telephony(e)
	if err != nil {
		return err
	}
	r, err := tel.Recording(ctx, args[0])
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = io.Copy(e.stdout, r)
	return err
}

// agentAdd makes an account a hotline agent with skills and a SIP
// password (digest authentication needs a secret of its own).
func agentAdd(ctx context.Context, e *adminEnv, args []string) error {
	fs := newFlags("agent add", e)
	skills := fs.String("skills", "", "comma-separated skills (queue names), e.g. support,sales")
	fromStdin := fs.Bool("sip-password-stdin", false, "read the SIP password from the first line of standard input")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *skills == "" {
		return fmt.Errorf("%w: agent add ADDRESS --skills a,b [--sip-password-stdin]", errUsage)
	}
	password, generated, err := readPassword(e.stdin, *fromStdin)
	if err != nil {
		return err
	}
	tel, err := e.svc.Telephony(e)
	if err != nil {
		return err
	}
	var list []string
	for _, s := range strings.Split(*skills, ",") {
		if s = strings.TrimSpace(s); s != "" {
			list = append(list, s)
		}
	}
	if err := tel.AddAgent(ctx, pos[0], list, password); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "agent %s added with skills %s; SIP user name %s\n", pos[0], strings.Join(list, ","), pos[0])
	if generated {
		fmt.Fprintf(e.stdout, "SIP password: %s\n", password)
	}
	return nil
}

// hotlineView shows the telephony server in the web console.
type hotlineView struct {
	tel *telephony.Server
}

func (h hotlineView) Queues() []web.QueueView {
	var out []web.QueueView
	for _, q := range h.tel.QueueState() {
		v := web.QueueView{Name: q.Name}
		for _, w := range q.Waiting {
			v.Waiting = append(v.Waiting, web.WaitingCaller{Position: w.Position, Caller: w.Caller, Level: string(w.Level), Wait: w.Wait, Ringing: w.Ringing})
		}
		for _, a := range q.Agents {
			v.Agents = append(v.Agents, web.AgentView{Address: a.Address, State: a.State, Registered: a.Registered})
		}
		out = append(out, v)
	}
	return out
}

func (h hotlineView) Calls(ctx context.Context) ([]web.CallView, error) {
	calls, err := h.tel.Calls(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]web.CallView, len(calls))
	for i, c := range calls {
		out[i] = web.CallView{Start: c.Start, Caller: c.Caller, Dialled: c.Dialled, IVRPath: c.IVRPath, Queue: c.Queue,
			Agent: c.Agent, Wait: c.Wait, Talk: c.Talk, Outcome: string(c.Outcome)}
	}
	return out, nil
}
