package telephony

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// sipExchange sends raw to the server over network and returns the status
// line of the first response ("" if none within the deadline).
func sipExchange(t *testing.T, network, addr string, build func(local string) string) string {
	t.Helper()
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write([]byte(build(c.LocalAddr().String()))); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line)
}

func optionsReq(network, local string) string {
	return fmt.Sprintf("OPTIONS sip:100@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/%s %s;branch=z9hG4bK%d\r\n"+
		"From: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:100@127.0.0.1>\r\nCall-ID: probe-%d\r\nCSeq: 1 OPTIONS\r\n"+
		"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n", strings.ToUpper(network), local, time.Now().UnixNano(), time.Now().UnixNano())
}

func openFDs() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	return len(ents)
}

// settle waits for goroutines and descriptors to fall back to a baseline.
func settle(t *testing.T, goroutines, fds int) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for {
		g, f := runtime.NumGoroutine(), openFDs()
		if g <= goroutines && f <= fds {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("leak: %d goroutines (baseline %d), %d fds (baseline %d)\n%s", g, goroutines, f, fds, tail(string(buf[:n])))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestE2EBadInput(t *testing.T) {
	needSipp(t)
	h := newHarness(t, nil)
	ctx := context.Background()
	if err := h.s.AddAgent(ctx, "agent3@example.com", []string{"support"}, "agentpassword"); err != nil {
		t.Fatal(err)
	}
	udp, tcp := h.s.Addr()
	if got := sipExchange(t, "udp", udp, func(l string) string { return optionsReq("udp", l) }); !strings.HasPrefix(got, "SIP/2.0 200") {
		t.Fatalf("OPTIONS over UDP: %q", got)
	}
	if got := sipExchange(t, "tcp", tcp, func(l string) string { return optionsReq("tcp", l) }); !strings.HasPrefix(got, "SIP/2.0 200") {
		t.Fatalf("OPTIONS over TCP: %q", got)
	}
	time.Sleep(500 * time.Millisecond)
	baseG, baseF := runtime.NumGoroutine(), openFDs()

	for round := 0; round < 2; round++ {
		// Malformed SIP: garbage, and a request without CSeq (400 per RFC 3261 section 8.2 / 16.3).
		c, _ := net.Dial("udp", udp)
		c.Write([]byte("\x00\x01garbage\r\n\r\n"))
		c.Write([]byte("INVITE sip:100@127.0.0.1 SIP/2.0\r\nContent-Length: 5\r\n\r\nab"))
		c.Close()
		noCSeq := func(l string) string { return strings.Replace(optionsReq("udp", l), "CSeq: 1 OPTIONS\r\n", "", 1) }
		if got := sipExchange(t, "udp", udp, noCSeq); !strings.HasPrefix(got, "SIP/2.0 400") {
			t.Fatalf("request without CSeq: %q", got)
		}
		tc, _ := net.Dial("tcp", tcp)
		tc.Write([]byte("NOT SIP AT ALL\r\n\r\n"))
		tc.Close()

		// Wrong digest: 403; unknown number: 404.
		h.sipp("register_forbidden", freeSIPPort(t), "-au", "agent3@example.com", "-ap", "wrongpassword",
			"-key", "user", "agent3@example.com", "-key", "contact_port", "5999").wait(t)
		h.call("caller_404", "+15550404", "999").wait(t)

		// A caller hanging up in the IVR, one in the queue while RTP garbage hits every media port.
		ivr := h.call("caller_ivr_hangup", "+15550201", "100")
		queued := h.call("caller_queue_hangup", "+15550202", "100")
		h.waitWaiting(1, queued, ivr)
		g, _ := net.Dial("udp", "127.0.0.1:9")
		g.Close()
		for p := h.s.cfg.RTPPortMin; p <= h.s.cfg.RTPPortMax; p++ {
			if c, err := net.DialUDP("udp", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p}); err == nil {
				c.Write([]byte("\x80\x63garbage-not-rtp"))
				c.Write([]byte{0xff, 0xff})
				c.Close()
			}
		}
		ivr.wait(t)
		queued.wait(t)
	}
	recs := h.records(4)
	var abandonedIVR, abandonedQueue int
	for _, r := range recs {
		if r.Outcome != OutcomeAbandoned || r.HangupBy != "caller" {
			t.Fatalf("record %+v", r)
		}
		switch {
		case r.Queue == "" && r.IVRPath == "":
			abandonedIVR++
		case r.Queue == "support" && r.IVRPath == "2" && r.Wait > 0:
			abandonedQueue++
		}
	}
	if abandonedIVR != 2 || abandonedQueue != 2 {
		t.Fatalf("records %+v", recs)
	}
	if st := h.s.QueueState(); len(st[1].Waiting) != 0 {
		t.Fatalf("callers left in queue: %+v", st)
	}
	// Still serving, and nothing leaked (slack for the runtime's own goroutines).
	if got := sipExchange(t, "udp", udp, func(l string) string { return optionsReq("udp", l) }); !strings.HasPrefix(got, "SIP/2.0 200") {
		t.Fatalf("OPTIONS after abuse: %q", got)
	}
	settle(t, baseG+2, baseF)
}
