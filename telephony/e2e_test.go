package telephony

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// End-to-end tests drive the server with real sipp (Debian sip-tester)
// processes on 127.0.0.1.

func needSipp(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("sipp"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("sipp (sip-tester) is required in CI")
		}
		t.Skip("sipp not installed")
	}
	if _, err := os.Stat("/usr/share/sip-tester/dtmf_2833_2.pcap"); err != nil {
		t.Fatal("sip-tester pcaps missing: ", err)
	}
}

var rtpBase atomic.Int32

type harness struct {
	t   *testing.T
	s   *Server
	sip string // UDP address
}

// newHarness starts a server with short prompts and timers. mod adjusts
// the config before New.
func newHarness(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	dir := t.TempDir()
	log := &lockedBuffer{}
	// Short prompts for "100" through the per-hotline override directory.
	over := filepath.Join(dir, "prompts", "100")
	os.MkdirAll(over, 0o755)
	for name, ms := range map[string]int{"greeting": 300, "menu": 300, "queue": 100, "voicemail": 200, "n1": 50, "n2": 50, "n3": 50} {
		os.WriteFile(filepath.Join(over, name+".wav"), EncodeWAV(tone(600, ms, 3000)), 0o644)
	}
	// Media ports below the ephemeral range (32768 up), where sipp's own
	// ports come from, and above the binary's default 10000-20000.
	base := 20400 + int(rtpBase.Add(1)%60)*200
	support := QueueConfig{Name: "support", MaxWait: map[Level]time.Duration{LevelVIP: 20 * time.Second, LevelRegular: 20 * time.Second, LevelNew: 20 * time.Second}, RingTimeout: 3 * time.Second}
	cfg := Config{
		Addr: "127.0.0.1:0", DataDir: dir, RTPPortMin: base, RTPPortMax: base + 199,
		Queues:       []QueueConfig{{Name: "sales"}, support},
		Logger:       slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		MediaTimeout: 30 * time.Second,
	}
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", tail(log.String()))
		}
	})
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	udp, _ := s.Addr()
	return &harness{t: t, s: s, sip: udp}
}

// freePort returns an even UDP port whose +1..+3 are also free (sipp's
// media and echo ports).
func freePort(t *testing.T) int {
	t.Helper()
	for i := 0; i < 50; i++ {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		p := c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
		if p%2 != 0 || p > 65000 {
			continue
		}
		ok := true
		for d := 1; d <= 3; d++ {
			c2, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p + d})
			if err != nil {
				ok = false
				break
			}
			c2.Close()
		}
		if ok {
			return p
		}
	}
	t.Fatal("no free port")
	return 0
}

// sippRun is one sipp process.
type sippRun struct {
	name string
	cmd  *exec.Cmd
	out  bytes.Buffer
	done chan error
}

// sipp starts sipp with scenario (a file in testdata) against the harness.
// It always runs one call and gives up after 60 s.
func (h *harness) sipp(scenario string, sipPort int, extra ...string) *sippRun {
	h.t.Helper()
	calls := "1"
	for i, a := range extra {
		if a == "-m" && i+1 < len(extra) {
			calls = extra[i+1]
			extra = append(extra[:i:i], extra[i+2:]...)
			break
		}
	}
	args := []string{h.sip, "-sf", filepath.Join("testdata", scenario+".xml"), "-m", calls,
		"-i", "127.0.0.1", "-p", fmt.Sprint(sipPort), "-mi", "127.0.0.1", "-mp", fmt.Sprint(freePort(h.t)),
		"-nostdin", "-timeout", "60s", "-timeout_error", "-max_recv_loops", "1000"}
	args = append(args, extra...)
	r := &sippRun{name: scenario, done: make(chan error, 1)}
	r.cmd = exec.Command("sipp", args...)
	r.cmd.Dir = h.t.TempDir()
	r.cmd.Args[3] = filepath.Join(mustAbs(h.t, "testdata"), scenario+".xml")
	r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.out
	if err := r.cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { r.done <- r.cmd.Wait(); close(exited) }()
	h.t.Cleanup(func() {
		r.cmd.Process.Kill()
		<-exited
	})
	return r
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// wait waits for sipp to exit and fails the test if it failed.
func (r *sippRun) wait(t *testing.T) {
	t.Helper()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("sipp %s: %v\n%s", r.name, err, tail(r.out.String()))
		}
	case <-time.After(90 * time.Second):
		r.cmd.Process.Kill()
		t.Fatalf("sipp %s did not finish\n%s", r.name, tail(r.out.String()))
	}
}

// lockedBuffer collects the server's log for a failing test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func tail(s string) string {
	if len(s) > 3000 {
		return s[len(s)-3000:]
	}
	return s
}

// register registers agent (password "agentpassword") with contact port cport.
func (h *harness) register(agent string, cport int) {
	h.t.Helper()
	r := h.sipp("register", freeSIPPort(h.t), "-au", agent, "-ap", "agentpassword", "-key", "user", agent, "-key", "contact_port", fmt.Sprint(cport))
	r.wait(h.t)
}

func freeSIPPort(t *testing.T) int {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

func (h *harness) call(scenario, caller, service string) *sippRun {
	return h.sipp(scenario, freeSIPPort(h.t), "-s", service, "-key", "caller", caller)
}

// records waits until n call records exist and returns them.
func (h *harness) records(n int) []CallRecord {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		recs, err := h.s.Calls(context.Background())
		if err != nil {
			h.t.Fatal(err)
		}
		if len(recs) >= n {
			return recs
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%d call records, want %d: %+v", len(recs), n, recs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestE2EWholeCall(t *testing.T) {
	needSipp(t)
	got := &onRecords{}
	h := newHarness(t, func(c *Config) { c.OnRecord = got.add })
	if err := h.s.AddAgent(context.Background(), "agent1@example.com", []string{"support"}, "agentpassword"); err != nil {
		t.Fatal(err)
	}
	aport := freeSIPPort(t)
	agent := h.sipp("agent_answer", aport, "-rtp_echo")
	h.register("agent1@example.com", aport)
	if st := h.s.QueueState(); len(st[1].Agents) != 1 || st[1].Agents[0].State != StateAvailable {
		t.Fatalf("queue state after register: %+v", st)
	}
	caller := h.call("caller_talk", "+15550001", "100")
	caller.wait(t)
	agent.wait(t)
	r := h.records(1)[0]
	t.Logf("record: %+v", r)
	if r.IVRPath != "2" || r.Queue != "support" || r.Agent != "agent1@example.com" || r.Outcome != OutcomeAnswered || r.HangupBy != "caller" {
		t.Fatalf("record %+v", r)
	}
	if r.Talk < 5*time.Second || r.Wait <= 0 || r.Wait > 5*time.Second || r.Dialled != "100" || r.Caller != "+15550001" {
		t.Fatalf("times/numbers %+v", r)
	}
	if r.DTMFSource != "rfc4733" || r.Codec != "PCMA" {
		t.Fatalf("media %+v", r)
	}
	// The caller heard prompts (>1 s of RTP before the bridge) and audio
	// went both ways through Frontdesk: the agent's echo came back.
	if r.CallerRTP.Out < 100 || r.CallerRTP.In < 200 || r.AgentRTP.Out < 100 || r.AgentRTP.In < 100 {
		t.Fatalf("RTP counts caller %+v agent %+v", r.CallerRTP, r.AgentRTP)
	}
	if st := h.s.QueueState(); st[1].Agents[0].State != StateAvailable || len(st[1].Waiting) != 0 {
		t.Fatalf("queue state after call: %+v", st)
	}
	// The ticket desk hears of the stored record.
	if on := got.wait(t, 1); len(on) != 1 || on[0].Seq != r.Seq || on[0].Direction != DirectionInbound || on[0].Agent != r.Agent {
		t.Fatalf("OnRecord got %+v", on)
	}
}

// waitWaiting waits until queue support has n callers waiting.
// waitWaiting waits until the support queue has n callers; if it never
// does, it shows what the callers in runs saw and the call records.
func (h *harness) waitWaiting(n int, runs ...*sippRun) QueueState {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		for _, q := range h.s.QueueState() {
			if q.Name == "support" && len(q.Waiting) == n {
				return q
			}
		}
		if time.Now().After(deadline) {
			var seen strings.Builder
			for _, r := range runs {
				r.cmd.Process.Kill()
				fmt.Fprintf(&seen, "sipp %s: %v\n%s\n", r.name, <-r.done, tail(r.out.String()))
			}
			recs, _ := h.s.Calls(context.Background())
			h.t.Fatalf("queue never had %d waiting: %+v\ncall records: %+v\n%s", n, h.s.QueueState(), recs, seen.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestE2EVIPFirst(t *testing.T) {
	needSipp(t)
	contacts := NewMemoryContacts(map[string]Level{"+15550011": LevelRegular, "+15550012": LevelRegular, "+15559999": LevelVIP})
	h := newHarness(t, func(c *Config) { c.Contacts = contacts })
	if err := h.s.AddAgent(context.Background(), "agent2@example.com", []string{"support", "sales"}, "agentpassword"); err != nil {
		t.Fatal(err)
	}
	r1 := h.call("caller_wait", "+15550011", "100")
	h.waitWaiting(1)
	r2 := h.call("caller_wait", "+15550012", "100")
	h.waitWaiting(2)
	vip := h.call("caller_wait", "+15559999", "100")
	q := h.waitWaiting(3)
	if q.Waiting[0].Caller != "+15559999" || q.Waiting[0].Level != LevelVIP || q.Waiting[1].Caller != "+15550011" {
		t.Fatalf("queue order %+v", q.Waiting)
	}
	aport := freeSIPPort(t)
	agent := h.sipp("agent_hangup", aport, "-m", "3")
	h.register("agent2@example.com", aport)
	for _, r := range []*sippRun{vip, r1, r2, agent} {
		r.wait(t)
	}
	recs := h.records(3)
	var order []string
	for _, r := range recs {
		if r.Outcome != OutcomeAnswered || r.Agent != "agent2@example.com" || r.HangupBy != "agent" {
			t.Fatalf("record %+v", r)
		}
		order = append(order, r.Caller)
	}
	// Records are stored as calls end; each call ends before the next is answered.
	if strings.Join(order, ",") != "+15559999,+15550011,+15550012" {
		t.Fatalf("answer order %v", order)
	}
	if !recs[0].Answered.Before(recs[1].Answered) || recs[0].Wait >= recs[1].Wait {
		t.Fatalf("VIP not first: %+v", recs)
	}
}

// pcapAudio returns the decoded RTP audio of a sip-tester pcap.
func pcapAudio(t *testing.T, path string) []int16 {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []int16
	for off := 24; off+16 <= len(b); {
		incl := int(uint32(b[off+8]) | uint32(b[off+9])<<8 | uint32(b[off+10])<<16 | uint32(b[off+11])<<24)
		pkt := b[off+16 : off+16+incl]
		off += 16 + incl
		rtpb := pkt[42:] // Ethernet, IPv4, UDP
		out = decodeG711(out, rtpb[1]&0x7F, rtpb[12:])
	}
	return out
}

func TestE2EVoicemail(t *testing.T) {
	needSipp(t)
	onRec := &onRecords{}
	h := newHarness(t, func(c *Config) {
		c.Queues[1].MaxWait = map[Level]time.Duration{LevelVIP: 1500 * time.Millisecond, LevelRegular: 1500 * time.Millisecond, LevelNew: 1500 * time.Millisecond}
		c.OnRecord = onRec.add
	})
	h.call("caller_voicemail", "+15550100", "100").wait(t)
	r := h.records(1)[0]
	if r.Outcome != OutcomeVoicemail || r.Queue != "support" || r.Recording == "" || r.Wait < 1500*time.Millisecond ||
		r.Direction != DirectionInbound {
		t.Fatalf("record %+v", r)
	}
	if on := onRec.wait(t, 1); len(on) != 1 || on[0].Recording != r.Recording || on[0].Outcome != OutcomeVoicemail {
		t.Fatalf("OnRecord got %+v", on)
	}
	rc, err := h.s.Recording(context.Background(), r.Recording)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := ReadWAV(rc)
	if err != nil {
		t.Fatal(err)
	}
	sent := pcapAudio(t, "/usr/share/sip-tester/g711a.pcap")
	if len(got) < len(sent) {
		t.Fatalf("recording has %d samples, sent %d", len(got), len(sent))
	}
	if !bytes.Contains(EncodeWAV(got)[44:], EncodeWAV(sent)[44:]) {
		t.Fatal("recording does not contain the audio sent")
	}
	// At rest the file is sealed: no WAV header on disk.
	raw, err := os.ReadFile(filepath.Join(h.s.cfg.DataDir, "recordings", r.Recording+".wav.enc"))
	if err != nil || bytes.Contains(raw, []byte("RIFF")) {
		t.Fatalf("recording not encrypted at rest (%v)", err)
	}
}
