package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"frontdesk/dnscheck/dnstest"
)

// faultWorkPy is one round of what users do, each step printed as ACK
// once the server acknowledged it: two mails in over SMTP, an IMAP MOVE of
// the first, STORE \Deleted and EXPUNGE of the second, a submission to a
// remote recipient (queued), a mail to the support address (a ticket).
// It stops at the first failure: the server died.
const faultWorkPy = `
import imaplib, smtplib, sys
smtp_addr, sub_addr, imap_addr, m1, m2, m3, m4 = sys.argv[1:8]
def hp(a):
    h, p = a.rsplit(":", 1)
    return h, int(p)
step = "deliver1"
try:
    with smtplib.SMTP(*hp(smtp_addr), local_hostname="mx.outside.test", timeout=20) as s:
        s.sendmail("carol@outside.test", ["alice@example.test"], m1.encode())
        print("ACK deliver1", flush=True)
        step = "deliver2"
        s.sendmail("carol@outside.test", ["alice@example.test"], m2.encode())
        print("ACK deliver2", flush=True)
    step = "move"
    im = imaplib.IMAP4(*hp(imap_addr), timeout=20)
    im.login("alice@example.test", sys.argv[8])
    im.select("INBOX")
    def uid_of(n):
        typ, d = im.uid("SEARCH", None, "SUBJECT", n)
        if typ != "OK" or not d[0]:
            raise Exception("no message " + n)
        return d[0].split()[0].decode()
    typ, d = im.uid("MOVE", uid_of("fault-m1"), "Archive")
    if typ != "OK":
        raise Exception("MOVE %s %s" % (typ, d))
    print("ACK move", flush=True)
    step = "expunge"
    u = uid_of("fault-m2")
    typ, d = im.uid("STORE", u, "+FLAGS.SILENT", "(\\Deleted)")
    if typ != "OK":
        raise Exception("STORE %s %s" % (typ, d))
    print("ACK store", flush=True)
    typ, d = im.expunge()
    if typ != "OK":
        raise Exception("EXPUNGE %s %s" % (typ, d))
    print("ACK expunge", flush=True)
    im.logout()
    step = "submit"
    with smtplib.SMTP(*hp(sub_addr), local_hostname="laptop.example.test", timeout=20) as s:
        s.login("alice@example.test", sys.argv[8])
        s.sendmail("alice@example.test", ["bob@remote.test"], m3.encode())
    print("ACK submit", flush=True)
    step = "ticket"
    with smtplib.SMTP(*hp(smtp_addr), local_hostname="mx.outside.test", timeout=20) as s:
        s.sendmail("dave@remote.test", ["help@example.test"], m4.encode())
    print("ACK ticket", flush=True)
except Exception as e:
    print("FAIL %s %r" % (step, e), flush=True)
`

// faultMsg is message n of the sweep's round, as the clients send it.
func faultMsg(n, from, to string) string {
	return fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: fault-%s\r\nMessage-ID: <fault-%s@outside.test>\r\n\r\nBody of %s.\r\n", from, to, n, n, n)
}

const faultCaller = "+15550777"

var faultPointRE = regexp.MustCompile(`faultinject: point (\d+) (\S+)`)

// buildFaultBinary builds frontdesk with -tags faultinject, once.
func buildFaultBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "frontdesk-faultinject")
	args := []string{"build", "-tags", "faultinject", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, "frontdesk/cmd/frontdesk")...).CombinedOutput()
	if err != nil {
		t.Fatalf("build with -tags faultinject: %v\n%s", err, out)
	}
	return bin
}

// faultRig is what every round of the sweep shares.
type faultRig struct {
	bin      string // the faultinject build
	dns      *dnstest.Server
	template string // data directory with the accounts, before any round
	deadPort string // remote MX port where nothing listens
}

func newFaultRig(t *testing.T) *faultRig {
	needTool(t, "python3")
	needTool(t, "sipp")
	r := &faultRig{bin: buildFaultBinary(t), dns: dnstest.New(t)}
	r.dns.MustAdd(t, "remote.test. 300 IN MX 10 mx.remote.test.", "mx.remote.test. 300 IN A 127.0.0.1")
	// Remote mail stays queued: nothing listens on the remote MX port.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, r.deadPort, _ = net.SplitHostPort(l.Addr().String())
	l.Close()
	r.template = filepath.Join(t.TempDir(), "template")
	srv := startServerDNS(t, r.template, r.dns, "mx.example.test", "--outbound-port", r.deadPort)
	mustFrontdesk(t, "", "domain", "add", "example.test", "--data", r.template)
	mustFrontdesk(t, alicePass+"\n", "user", "add", "alice@example.test", "--password-stdin", "--data", r.template)
	mustFrontdesk(t, "help desk password\n", "user", "add", "help@example.test", "--password-stdin", "--data", r.template)
	mustFrontdesk(t, "", "support", "add", "help@example.test", "--data", r.template)
	srv.stop()
	return r
}

// faultRound is what one round saw: the steps acknowledged, and the
// point the server died at (0: it did not).
type faultRound struct {
	acked  map[string]bool
	died   int      // the point the server was killed at, 0 if it was not
	diedAt string   // its name
	points []string // with FRONTDESK_FAULT_LOG: every point's name, in order
	log    string
}

// run copies the template to data and runs one round on the faultinject
// build with env, until the round ends or the server dies.
func (r *faultRig) run(t *testing.T, data string, env ...string) faultRound {
	t.Helper()
	if out, err := exec.Command("cp", "-a", r.template, data).CombinedOutput(); err != nil {
		t.Fatalf("copy template: %v %s", err, out)
	}
	srv := startServerBin(t, r.bin, env, data, r.dns, "mx.example.test", "--outbound-port", r.deadPort)
	res := faultRound{acked: map[string]bool{}}
	out, _ := python(t, faultWorkPy, srv.addr("smtp"), srv.addr("submission"), srv.addr("imap"),
		faultMsg("m1", "carol@outside.test", "alice@example.test"),
		faultMsg("m2", "carol@outside.test", "alice@example.test"),
		faultMsg("m3", "alice@example.test", "bob@remote.test"),
		faultMsg("m4", "Dave <dave@remote.test>", "help@example.test"), alicePass)
	for _, line := range strings.Split(out, "\n") {
		if step, ok := strings.CutPrefix(line, "ACK "); ok {
			res.acked[step] = true
		}
	}
	if res.acked["ticket"] {
		// A caller hangs up in the IVR: the call was answered, so it
		// must leave a record. sipp is stopped once the server is gone.
		call := startSipp(t, srv.addr("sip"), "caller_ivr_hangup", freeUDPPort(t), "-s", "100", "-key", "caller", faultCaller)
		select {
		case <-call.done:
		case <-srv.done:
			select {
			case <-call.done:
			case <-time.After(time.Second):
			}
		}
		select {
		case <-call.done:
			res.acked["call"] = call.err == nil
		default:
		}
	}
	// Background writes (queue attempts, the call's ticket) may still
	// come; a server that lives on is killed as a crash would.
	select {
	case <-srv.done:
	case <-time.After(2 * time.Second):
		srv.kill()
	}
	res.log = srv.Log()
	for _, m := range faultPointRE.FindAllStringSubmatch(res.log, -1) {
		res.points = append(res.points, m[2])
	}
	if m := faultPointRE.FindStringSubmatch(res.log); m != nil && len(res.points) == 1 {
		// Without FRONTDESK_FAULT_LOG only the kill is logged.
		res.died, _ = strconv.Atoi(m[1])
		res.diedAt = m[2]
	}
	return res
}

// check restarts a normal build on data and checks every invariant: what
// was acknowledged is there exactly once, whole; what was not is there at
// most once; every database opens; the server serves again.
func (r *faultRig) check(t *testing.T, data string, round faultRound) {
	t.Helper()
	srv := startServerDNS(t, data, r.dns, "mx.example.test", "--outbound-port", r.deadPort)
	defer srv.kill()
	acked := round.acked

	// Messages by Message-ID over IMAP, in every mailbox, byte for byte.
	want := map[string]string{
		"fault-m1@outside.test": faultMsg("m1", "carol@outside.test", "alice@example.test"),
		"fault-m2@outside.test": faultMsg("m2", "carol@outside.test", "alice@example.test"),
		"fault-m4@outside.test": faultMsg("m4", "Dave <dave@remote.test>", "help@example.test"),
	}
	found := map[string][]string{} // Message-ID → mailboxes
	total := 0
	for _, who := range [][2]string{{"alice@example.test", alicePass}, {"help@example.test", "help desk password"}} {
		c := imapLogin(t, srv.addr("imap"), who[0], who[1], "")
		boxes, err := c.List("", "*", nil).Collect()
		if err != nil {
			t.Fatal(err)
		}
		for _, mb := range boxes {
			sel, err := c.Select(mb.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
			if err != nil {
				t.Fatalf("SELECT %s: %v", mb.Mailbox, err)
			}
			if sel.NumMessages == 0 {
				continue
			}
			bs := &imap.FetchItemBodySection{Peek: true}
			var all imap.SeqSet
			all.AddRange(1, 0)
			msgs, err := c.Fetch(all, &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{bs}}).Collect()
			if err != nil {
				t.Fatalf("FETCH %s: %v", mb.Mailbox, err)
			}
			total += len(msgs)
			for _, m := range msgs {
				body := string(bodyBelowTrace(m.FindBodySection(bs)))
				id := strings.Trim(strings.TrimSpace(strings.TrimPrefix(headerValue(body, "Message-ID"), "Message-ID:")), "<>")
				if w, ok := want[id]; !ok || body != w {
					t.Errorf("%s %s seq %d is no message sent whole (partial or corrupt):\n%q", who[0], mb.Mailbox, m.SeqNum, body)
					continue
				}
				found[id] = append(found[id], mb.Mailbox)
			}
		}
	}
	m1, m2, m4 := found["fault-m1@outside.test"], found["fault-m2@outside.test"], found["fault-m4@outside.test"]
	switch {
	case len(m1) > 1:
		t.Errorf("m1 is in %v: more than once", m1)
	case acked["deliver1"] && len(m1) == 0:
		t.Errorf("m1 got 250 but is gone")
	case acked["move"] && (len(m1) != 1 || m1[0] != "Archive"):
		t.Errorf("m1 was moved (OK) but is in %v", m1)
	}
	switch {
	case len(m2) > 1:
		t.Errorf("m2 is in %v: more than once", m2)
	case acked["expunge"] && len(m2) != 0:
		t.Errorf("m2 was expunged (OK) but is in %v", m2)
	case acked["deliver2"] && !acked["store"] && len(m2) != 1:
		// Once \Deleted is set, an EXPUNGE without its OK may or may
		// not have taken it.
		t.Errorf("m2 got 250 but is in %v", m2)
	}
	if len(m4) > 1 || acked["ticket"] && len(m4) != 1 {
		t.Errorf("the support mail is in %v", m4)
	}

	// The submission, in the queue.
	queue := mustFrontdesk(t, "", "queue", "list", "--data", data)
	queued := strings.Count(queue, "bob@remote.test")
	if queued > 1 || acked["submit"] && queued != 1 {
		t.Errorf("the submission to bob@remote.test is queued %d times", queued)
	}
	// Nothing half-written stays behind: one file per message (the two
	// accounts open by now), one per queued item.
	if files := countFiles(t, filepath.Join(data, "msg")); files != total {
		t.Errorf("%d message files for %d messages: a crash left files behind", files, total)
	}
	ids := map[string]bool{}
	for _, line := range strings.Split(queue, "\n")[1:] {
		if f := strings.Fields(line); len(f) > 0 {
			ids[f[0]] = true
		}
	}
	if files := countFiles(t, filepath.Join(data, "queue", "msg")); files != len(ids) {
		t.Errorf("%d queue files for %d queued items:\n%s", files, len(ids), queue)
	}
	// The support mail, on a ticket, acknowledged to its sender.
	tickets := mustFrontdesk(t, "", "tickets", "list", "--status", "all", "--data", data)
	if n := strings.Count(tickets, "fault-m4"); n > 1 || acked["ticket"] && n != 1 {
		t.Errorf("the support mail is on %d tickets:\n%s", n, tickets)
	}
	if n := strings.Count(queue, "dave@remote.test"); n > 1 || acked["ticket"] && n != 1 {
		t.Errorf("the support mail's acknowledgement is queued %d times:\n%s", n, queue)
	}
	// The call, in the call records and on a ticket.
	calls := mustFrontdesk(t, "", "calls", "list", "--data", data)
	if n := strings.Count(calls, faultCaller); n > 1 || acked["call"] && n != 1 {
		t.Errorf("the answered call has %d records:\n%s", n, calls)
	}
	if n := strings.Count(tickets, "Call from "+faultCaller); n > 1 || acked["call"] && n != 1 {
		t.Errorf("the answered call is on %d tickets:\n%s", n, tickets)
	}
	for _, bad := range []string{"message file missing", "panic"} {
		if strings.Contains(srv.Log(), bad) {
			t.Errorf("restarted server logged %q:\n%s", bad, srv.Log())
		}
	}
	// It serves again.
	deliver(t, srv.addr("smtp"), "after the crash")
	waitMail(t, srv.addr("imap"), "alice@example.test", alicePass, "INBOX", "after the crash")
	if !acked["ticket"] {
		// The sender's server retries what got no 250: the mail is on
		// one ticket and its sender acknowledged (twice at worst, when
		// the crash fell between queueing the acknowledgement and
		// noting it).
		if out, err := python(t, sendPy, srv.addr("smtp"), "dave@remote.test", "help@example.test",
			faultMsg("m4", "Dave <dave@remote.test>", "help@example.test")); err != nil || !strings.Contains(out, "sent") {
			t.Fatalf("retry of the support mail: %v\n%s", err, out)
		}
		tickets := mustFrontdesk(t, "", "tickets", "list", "--status", "all", "--data", data)
		if n := strings.Count(tickets, "fault-m4"); n != 1 {
			t.Errorf("after the retry the support mail is on %d tickets:\n%s", n, tickets)
		}
		queue := mustFrontdesk(t, "", "queue", "list", "--data", data)
		if n := strings.Count(queue, "dave@remote.test"); n < 1 || n > 2 {
			t.Errorf("after the retry the acknowledgement is queued %d times:\n%s", n, queue)
		}
	}
}

// countFiles counts the regular files under dir.
func countFiles(t *testing.T, dir string) int {
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCrashEverywhere kills the server (SIGKILL from inside, through the
// faultinject build) just before its Nth durable write, for N over every
// write of a round of delivery, IMAP MOVE and EXPUNGE, submission to a
// remote recipient, mail to a support address and a hotline call; then
// restarts it and checks that every acknowledged item is there exactly
// once, nothing partial shows, and the server serves again.
func TestCrashEverywhere(t *testing.T) {
	// A -race build sleeps a second at exit by default, and this test
	// runs the CLI a hundred times.
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	r := newFaultRig(t)
	dir := t.TempDir()
	dry := r.run(t, filepath.Join(dir, "dry"), "FRONTDESK_FAULT_LOG=1")
	for _, step := range []string{"deliver1", "deliver2", "move", "store", "expunge", "submit", "ticket", "call"} {
		if !dry.acked[step] {
			t.Fatalf("the round without a fault did not get %s acknowledged:\n%s", step, dry.log)
		}
	}
	t.Logf("a round makes %d durable writes: %s", len(dry.points), strings.Join(dry.points, " "))
	r.check(t, filepath.Join(dir, "dry"), dry)
	t.Run("sweep", func(t *testing.T) {
		// Rounds mostly wait (on fsync, process start, the clients): four
		// at a time. (Not t.Parallel, which -parallel caps at GOMAXPROCS.)
		sem := make(chan struct{}, 4)
		var wg sync.WaitGroup
		spawn := func(name string, f func(t *testing.T)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				t.Run(name, f)
			}()
		}
		for _, n := range faultSample(len(dry.points)) {
			spawn(fmt.Sprint("N=", n), func(t *testing.T) {
				data := filepath.Join(dir, fmt.Sprint("n", n))
				round := r.run(t, data, "FRONTDESK_FAULT_AT="+fmt.Sprint(n))
				t.Logf("killed before write %d (%s in the dry round, %s here); acknowledged: %v", n, dry.points[n-1], round.diedAt, round.acked)
				r.check(t, data, round)
			})
		}
		// FRONTDESK_FAULT_POINT counts one kind of write only.
		spawn("calls.commit", func(t *testing.T) {
			data := filepath.Join(dir, "calls")
			round := r.run(t, data, "FRONTDESK_FAULT_POINT=calls", "FRONTDESK_FAULT_AT=2")
			if round.died != 2 || round.diedAt != "calls.commit" {
				t.Errorf("with FRONTDESK_FAULT_POINT=calls the server died at %d %q, want the second calls.commit", round.died, round.diedAt)
			}
			r.check(t, data, round)
		})
		wg.Wait()
	})
}

// faultSample picks the Ns to kill at: every write of a round while they
// are at most FRONTDESK_FAULT_ROUNDS (default 30; 0: no limit), else an
// even stride over all of them.
func faultSample(total int) []int {
	budget := 30
	if v, err := strconv.Atoi(os.Getenv("FRONTDESK_FAULT_ROUNDS")); err == nil && v >= 0 {
		budget = v
	}
	stride := 1
	if budget > 0 && total > budget {
		stride = (total + budget - 1) / budget
	}
	var out []int
	for n := 1; n <= total; n += stride {
		out = append(out, n)
	}
	return out
}
