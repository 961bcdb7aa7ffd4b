package telephony

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// More end-to-end tests with sipp: call recording, DTMF by SIP INFO, a
// call over TCP, overload, a busy agent and a cancelled ring.

// scenarioWith copies testdata/name.xml to a temporary file with old
// replaced by new and returns a scenario name for harness.sipp (a path
// relative to testdata). sipp reads play_pcap_audio files when it loads
// the scenario, with no keyword substitution, so generated pcaps need this.
func scenarioWith(t *testing.T, name, old, new string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".xml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s.xml has no %q", name, old)
	}
	p := filepath.Join(t.TempDir(), name+".xml")
	if err := os.WriteFile(p, bytes.ReplaceAll(b, []byte(old), []byte(new)), 0o644); err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(mustAbs(t, "testdata"), p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(rel, ".xml")
}

// callWith is harness.call with extra sipp arguments.
func (h *harness) callWith(scenario, caller, service string, extra ...string) *sippRun {
	return h.sipp(scenario, freeSIPPort(h.t), append([]string{"-s", service, "-key", "caller", caller}, extra...)...)
}

// writeTonePcap writes a pcap (Ethernet, IPv4, UDP, RTP) of ms milliseconds
// of a freq Hz sine in G.711 payload type pt, 20 ms a packet, as sipp's
// play_pcap_audio reads it.
func writeTonePcap(t *testing.T, path string, freq float64, ms int, amp float64, pt uint8) {
	t.Helper()
	var b bytes.Buffer
	le := binary.LittleEndian
	hdr := make([]byte, 24)
	le.PutUint32(hdr[0:], 0xa1b2c3d4)
	le.PutUint16(hdr[4:], 2)
	le.PutUint16(hdr[6:], 4)
	le.PutUint32(hdr[16:], 65535)
	le.PutUint32(hdr[20:], 1) // LINKTYPE_ETHERNET
	b.Write(hdr)
	pcm := make([]int16, SampleRate*ms/1000)
	for i := range pcm {
		pcm[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(i)/SampleRate))
	}
	for n := 0; n*frameSamples < len(pcm); n++ {
		payload := encodeG711(nil, pt, pcm[n*frameSamples:min(len(pcm), (n+1)*frameSamples)])
		rtpb := make([]byte, 12, 12+len(payload))
		rtpb[0], rtpb[1] = 0x80, pt
		if n == 0 {
			rtpb[1] |= 0x80
		}
		binary.BigEndian.PutUint16(rtpb[2:], uint16(1000+n))
		binary.BigEndian.PutUint32(rtpb[4:], uint32(8000+n*frameSamples))
		binary.BigEndian.PutUint32(rtpb[8:], 0x5eed1234)
		rtpb = append(rtpb, payload...)
		udpLen := 8 + len(rtpb)
		pkt := make([]byte, 14+20+8, 14+20+udpLen)
		binary.BigEndian.PutUint16(pkt[12:], 0x0800)
		ip := pkt[14:34]
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(20+udpLen))
		ip[8], ip[9] = 64, 17
		copy(ip[12:], []byte{127, 0, 0, 1})
		copy(ip[16:], []byte{127, 0, 0, 1})
		var sum uint32
		for i := 0; i < 20; i += 2 {
			sum += uint32(binary.BigEndian.Uint16(ip[i:]))
		}
		for sum > 0xffff {
			sum = sum&0xffff + sum>>16
		}
		binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
		udp := pkt[34:42]
		binary.BigEndian.PutUint16(udp[0:], 6000)
		binary.BigEndian.PutUint16(udp[2:], 6002)
		binary.BigEndian.PutUint16(udp[4:], uint16(udpLen))
		pkt = append(pkt, rtpb...)
		rec := make([]byte, 16)
		usec := n * 20000
		le.PutUint32(rec[0:], uint32(1_600_000_000+usec/1_000_000))
		le.PutUint32(rec[4:], uint32(usec%1_000_000))
		le.PutUint32(rec[8:], uint32(len(pkt)))
		le.PutUint32(rec[12:], uint32(len(pkt)))
		b.Write(rec)
		b.Write(pkt)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// bestCorrelation slides win over x and returns the highest normalized
// cross-correlation and its offset.
func bestCorrelation(x, win []int16) (float64, int) {
	w := make([]float64, len(win))
	var ww float64
	for i, v := range win {
		w[i] = float64(v)
		ww += w[i] * w[i]
	}
	f := make([]float64, len(x))
	for i, v := range x {
		f[i] = float64(v)
	}
	best, at := 0.0, -1
	var xx float64 // energy of x[off:off+len(w)]
	for i := 0; i < len(w) && i < len(f); i++ {
		xx += f[i] * f[i]
	}
	for off := 0; off+len(w) <= len(f); off++ {
		if off > 0 {
			xx += f[off+len(w)-1]*f[off+len(w)-1] - f[off-1]*f[off-1]
		}
		if xx > 0 && ww > 0 {
			var dot float64
			seg := f[off : off+len(w)]
			for i, v := range w {
				dot += v * seg[i]
			}
			if c := dot / math.Sqrt(xx*ww); c > best {
				best, at = c, off
			}
		}
	}
	return best, at
}

// toneFrames counts 20 ms frames of pcm that are mostly a freq Hz tone
// (Goertzel power against the frame's energy) and not near-silent.
func toneFrames(pcm []int16, freq float64) int {
	n := 0
	coef := 2 * math.Cos(2*math.Pi*freq/SampleRate)
	for off := 0; off+frameSamples <= len(pcm); off += frameSamples {
		var s1, s2, energy float64
		for _, v := range pcm[off : off+frameSamples] {
			x := float64(v)
			energy += x * x
			s1, s2 = x+coef*s1-s2, s1
		}
		power := s1*s1 + s2*s2 - coef*s1*s2 // |X(f)|^2
		// A pure tone of N samples has |X|^2 = energy*N/2.
		if energy > frameSamples*500*500 && power > 0.7*energy*frameSamples/2 {
			n++
		}
	}
	return n
}

// loudestWindow returns the n-sample window of pcm, starting at or after
// from, with the most energy.
func loudestWindow(pcm []int16, from, n int) []int16 {
	best, at := -1.0, from
	for off := from; off+n <= len(pcm); off += frameSamples {
		var e float64
		for _, v := range pcm[off : off+n] {
			e += float64(v) * float64(v)
		}
		if e > best {
			best, at = e, off
		}
	}
	return pcm[at : at+n]
}

func TestE2ERecording(t *testing.T) {
	needSipp(t)
	h := newHarness(t, func(c *Config) { c.Queues[1].Record = true })
	if err := h.s.AddAgent(context.Background(), "agent4@example.com", []string{"support"}, "agentpassword"); err != nil {
		t.Fatal(err)
	}
	// The agent says a 1 kHz tone for 1.5 s on answering; the caller plays
	// g711a.pcap (speech) 1.5 s after being answered, so the two overlap
	// at the start of the bridge and the caller talks alone afterwards.
	pcap := filepath.Join(t.TempDir(), "tone1k.pcap")
	writeTonePcap(t, pcap, 1000, 1500, 6000, ptPCMU)
	aport := freeSIPPort(t)
	agent := h.sipp(scenarioWith(t, "agent_talk", "AGENT_PCAP", pcap), aport)
	h.register("agent4@example.com", aport)
	h.call("caller_talk", "+15550400", "100").wait(t)
	agent.wait(t)
	r := h.records(1)[0]
	if r.Outcome != OutcomeAnswered || r.Agent != "agent4@example.com" || r.Recording == "" || r.HangupBy != "caller" {
		t.Fatalf("record %+v", r)
	}
	rc, err := h.s.Recording(context.Background(), r.Recording)
	if err != nil {
		t.Fatal(err)
	}
	wav, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(wav) < 44 || string(wav[0:4]) != "RIFF" || string(wav[8:12]) != "WAVE" ||
		binary.LittleEndian.Uint16(wav[22:]) != 1 || binary.LittleEndian.Uint32(wav[24:]) != 8000 {
		t.Fatalf("not an 8 kHz mono WAV: % x", wav[:min(len(wav), 44)])
	}
	got, err := ReadWAV(bytes.NewReader(wav))
	if err != nil {
		t.Fatal(err)
	}
	sent := pcapAudio(t, "/usr/share/sip-tester/g711a.pcap")
	// The recording spans the bridge: at least the caller's speech, at
	// most the talk time (it ends with the last audio received).
	if len(got) < len(sent) || time.Duration(len(got))*time.Second/SampleRate > r.Talk+time.Second {
		t.Fatalf("recording %v long, caller spoke %v, talk %v", time.Duration(len(got))*time.Second/SampleRate,
			time.Duration(len(sent))*time.Second/SampleRate, r.Talk)
	}
	// The caller's voice: a loud 250 ms stretch of their speech from its
	// second half must be in the recording nearly undistorted.
	win := loudestWindow(sent, len(sent)/2, SampleRate/4)
	c, at := bestCorrelation(got, win)
	t.Logf("caller speech correlates %.3f at %v", c, time.Duration(at)*time.Second/SampleRate)
	if c < 0.9 {
		t.Fatalf("caller's audio not found in the recording (best correlation %.3f)", c)
	}
	// The agent's voice: the 1 kHz tone, in most of its 75 frames.
	if n := toneFrames(got, 1000); n < 40 {
		t.Fatalf("agent's tone in %d frames of the recording, want >= 40", n)
	}
	if n := toneFrames(sent, 1000); n > 5 {
		t.Fatalf("caller's speech looks like a 1 kHz tone in %d frames; the check is meaningless", n)
	}
	// Sealed at rest: no WAV structure on disk, and it does not decode.
	raw, err := os.ReadFile(filepath.Join(h.s.cfg.DataDir, "recordings", r.Recording+".wav.enc"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("RIFF")) || bytes.Contains(raw, []byte("WAVE")) || bytes.Contains(raw, []byte("fmt ")) {
		t.Fatal("recording not encrypted at rest")
	}
	if _, err := ReadWAV(bytes.NewReader(raw)); err == nil {
		t.Fatal("the file on disk decodes as WAV")
	}
	if len(raw) < len(wav) {
		t.Fatalf("sealed file %d bytes, plain %d", len(raw), len(wav))
	}
}

func TestE2EDTMFInfo(t *testing.T) {
	needSipp(t)
	h := newHarness(t, nil)
	h.call("caller_info", "+15550500", "100").wait(t)
	r := h.records(1)[0]
	if r.IVRPath != "2" || r.Queue != "support" || r.DTMFSource != "info" || r.Outcome != OutcomeAbandoned ||
		r.HangupBy != "caller" || r.Wait <= 0 {
		t.Fatalf("record %+v", r)
	}
}

func TestE2ETCP(t *testing.T) {
	needSipp(t)
	h := newHarness(t, nil)
	if err := h.s.AddAgent(context.Background(), "agent5@example.com", []string{"support"}, "agentpassword"); err != nil {
		t.Fatal(err)
	}
	aport := freeSIPPort(t)
	agent := h.sipp("agent_hangup", aport) // the agent's phone is on UDP
	h.register("agent5@example.com", aport)
	// The caller is on TCP (RFC 3261 section 18): INVITE, ACK and the
	// server's BYE when the agent hangs up all go over TCP.
	caller := h.callWith("caller_wait", "+15550600", "100", "-t", "t1")
	caller.wait(t)
	agent.wait(t)
	r := h.records(1)[0]
	if r.IVRPath != "2" || r.Queue != "support" || r.Agent != "agent5@example.com" || r.Outcome != OutcomeAnswered ||
		r.HangupBy != "agent" || r.DTMFSource != "rfc4733" || r.Recording != "" {
		t.Fatalf("record %+v", r)
	}
	if r.CallerRTP.In == 0 || r.CallerRTP.Out == 0 || r.AgentRTP.Out == 0 {
		t.Fatalf("RTP caller %+v agent %+v", r.CallerRTP, r.AgentRTP)
	}
}

func TestE2EOverload(t *testing.T) {
	needSipp(t)
	h := newHarness(t, func(c *Config) { c.MaxCalls = 1 })
	first := h.callWith("caller_hold", "+15550701", "100", "-d", "2500")
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.s.mu.Lock()
		n := h.s.active
		h.s.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("first call never became active")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The second concurrent caller is refused with 503 and Retry-After.
	h.call("caller_503", "+15550702", "100").wait(t)
	first.wait(t)
	// Once the first call is over, the slot is free again.
	h.call("caller_ivr_hangup", "+15550703", "100").wait(t)
	recs := h.records(2)
	if len(recs) != 2 || recs[0].Caller != "+15550701" || recs[1].Caller != "+15550703" {
		t.Fatalf("records %+v", recs)
	}
}

// TestE2EAgentBusy: an agent's phone answering 486 Busy Here is passed
// over for the next agent (RFC 3261 section 21.4.24: busy at this end
// system; the ACD tries elsewhere), who takes the call.
func TestE2EAgentBusy(t *testing.T) {
	needSipp(t)
	h := newHarness(t, nil)
	ctx := context.Background()
	for _, a := range []string{"busy@example.com", "free@example.com"} {
		if err := h.s.AddAgent(ctx, a, []string{"support"}, "agentpassword"); err != nil {
			t.Fatal(err)
		}
	}
	// busy@ registers first, so is idle longest and is rung first.
	bport, fport := freeSIPPort(t), freeSIPPort(t)
	busy := h.sipp("agent_busy", bport)
	h.register("busy@example.com", bport)
	time.Sleep(20 * time.Millisecond)
	free := h.sipp("agent_hangup", fport)
	h.register("free@example.com", fport)
	caller := h.call("caller_wait", "+15550800", "100")
	busy.wait(t)
	caller.wait(t)
	free.wait(t)
	r := h.records(1)[0]
	if r.Agent != "free@example.com" || r.Outcome != OutcomeAnswered || r.HangupBy != "agent" || r.Wait > 3*time.Second {
		t.Fatalf("record %+v", r)
	}
	for _, a := range h.s.QueueState()[1].Agents {
		if a.State != StateAvailable {
			t.Fatalf("agent states %+v", h.s.QueueState()[1].Agents)
		}
	}
}

// TestE2ECancelAgent: the caller hangs up while an agent's phone rings;
// the server CANCELs the INVITE (RFC 3261 section 9.1), the phone answers
// 200 and 487, the agent is free again and the call is abandoned.
func TestE2ECancelAgent(t *testing.T) {
	needSipp(t)
	h := newHarness(t, func(c *Config) { c.Queues[1].RingTimeout = 10 * time.Second })
	if err := h.s.AddAgent(context.Background(), "agent9@example.com", []string{"support"}, "agentpassword"); err != nil {
		t.Fatal(err)
	}
	aport := freeSIPPort(t)
	agent := h.sipp("agent_cancel", aport)
	h.register("agent9@example.com", aport)
	caller := h.call("caller_queue_hangup", "+15550900", "100")
	caller.wait(t)
	agent.wait(t)
	r := h.records(1)[0]
	if r.Outcome != OutcomeAbandoned || r.Queue != "support" || r.Agent != "" || r.HangupBy != "caller" || r.Recording != "" {
		t.Fatalf("record %+v", r)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := h.s.QueueState()[1]
		if len(st.Waiting) == 0 && len(st.Agents) == 1 && st.Agents[0].State == StateAvailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue after cancel: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	h.s.mu.Lock()
	rings := len(h.s.rings)
	h.s.mu.Unlock()
	if rings != 0 {
		t.Fatalf("%d rings left", rings)
	}
}

// TestE2ECancelCrossesAnswer: the agent's 200 crosses our CANCEL (the
// caller hung up as the agent picked up). The 200 opens a dialog that
// nobody wants: we must ACK it and send BYE (RFC 3261 sections 9.1, 15),
// or the agent's phone is left in a silent call.
func TestE2ECancelCrossesAnswer(t *testing.T) {
	needSipp(t)
	h := newHarness(t, func(c *Config) { c.Queues[1].RingTimeout = 10 * time.Second })
	if err := h.s.AddAgent(context.Background(), "agent10@example.com", []string{"support"}, "agentpassword"); err != nil {
		t.Fatal(err)
	}
	aport := freeSIPPort(t)
	agent := h.sipp("agent_cancel_late", aport)
	h.register("agent10@example.com", aport)
	h.call("caller_queue_hangup", "+15551000", "100").wait(t)
	agent.wait(t)
	r := h.records(1)[0]
	if r.Outcome != OutcomeAbandoned || r.Agent != "" || r.HangupBy != "caller" {
		t.Fatalf("record %+v", r)
	}
}
