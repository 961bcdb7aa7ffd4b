package e2e

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sipp runs one sipp scenario of the telephony package's testdata against
// the server and waits for it to succeed.
func sipp(t *testing.T, target, scenario string, args ...string) string {
	t.Helper()
	return startSipp(t, target, scenario, freeUDPPort(t), args...).wait(t)
}

// sippRun is a sipp running in the background: a phone that waits for a
// call, or a caller.
type sippRun struct {
	scenario string
	done     chan struct{}
	out      bytes.Buffer
	err      error
}

// startSipp starts sipp with scenario on the local SIP port; it runs one
// call and gives up after 60 s.
func startSipp(t *testing.T, target, scenario string, port int, args ...string) *sippRun {
	t.Helper()
	bin := needTool(t, "sipp")
	sf, err := filepath.Abs(filepath.Join("..", "telephony", "testdata", scenario+".xml"))
	if err != nil {
		t.Fatal(err)
	}
	all := append([]string{target, "-sf", sf, "-m", "1", "-i", "127.0.0.1", "-p", fmt.Sprint(port),
		"-mi", "127.0.0.1", "-mp", fmt.Sprint(freeUDPPort(t)), "-nostdin", "-timeout", "60s", "-timeout_error"}, args...)
	cmd := exec.Command(bin, all...)
	cmd.Dir = t.TempDir()
	r := &sippRun{scenario: scenario, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &r.out, &r.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.err = cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-r.done
	})
	return r
}

// wait waits for sipp to end and fails the test unless its call passed.
func (r *sippRun) wait(t *testing.T) string {
	t.Helper()
	<-r.done
	if r.err != nil {
		t.Fatalf("sipp %s: %v\n%s", r.scenario, r.err, tailOf(r.out.String()))
	}
	return r.out.String()
}

// freeUDPPort asks the kernel for a free port: sipp needs explicit ports.
func freeUDPPort(t *testing.T) int {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

func tailOf(s string) string {
	if len(s) > 3000 {
		return s[len(s)-3000:]
	}
	return s
}

// TestHotlineThroughTheBinary: an admin makes alice an agent while the
// server runs; her softphone registers with digest auth; a caller who dials
// an unknown number gets 404; a caller who hangs up in the demo IVR is
// recorded as abandoned; `calls list` shows it.
func TestHotlineThroughTheBinary(t *testing.T) {
	srv := newAliceServer(t)
	sip := srv.addr("sip")
	out := mustFrontdesk(t, "agent secret 1\n", "agent", "add", "alice@example.test", "--skills", "support,sales", "--sip-password-stdin", "--data", srv.data)
	if !strings.Contains(out, "agent alice@example.test added") {
		t.Errorf("agent add printed %q", out)
	}
	if _, err := frontdesk(t, "pw\n", "agent", "add", "nobody@example.test", "--skills", "support", "--sip-password-stdin", "--data", srv.data); err == nil {
		t.Error("agent add accepted an address that is no account")
	}
	sipp(t, sip, "register", "-au", "alice@example.test", "-ap", "agent secret 1", "-key", "user", "alice@example.test", "-key", "contact_port", fmt.Sprint(freeUDPPort(t)))
	sipp(t, sip, "register_forbidden", "-au", "alice@example.test", "-ap", "wrong", "-key", "user", "alice@example.test", "-key", "contact_port", fmt.Sprint(freeUDPPort(t)))

	sipp(t, sip, "caller_404", "-s", "999", "-key", "caller", "+15550404")
	sipp(t, sip, "caller_ivr_hangup", "-s", "100", "-key", "caller", "+15550201")

	var calls string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		calls = mustFrontdesk(t, "", "calls", "list", "--data", srv.data)
		if strings.Contains(calls, "+15550201") {
			break
		}
	}
	if !strings.Contains(calls, "+15550201") || !strings.Contains(calls, "abandoned") || !strings.Contains(calls, "100") {
		t.Errorf("calls list lacks the abandoned call to 100:\n%s", calls)
	}
	out = mustFrontdesk(t, "", "calls", "queues", "--data", srv.data)
	if !strings.Contains(out, "queue support") || !strings.Contains(out, "agent alice@example.test") {
		t.Errorf("calls queues:\n%s", out)
	}
}
