package smtpd

import (
	"context"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// recordJudge remembers what the MX judged each message on.
type recordJudge struct {
	mu  sync.Mutex
	ins []JudgeInput
}

func (j *recordJudge) Judge(_ context.Context, in JudgeInput) Judgement {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.ins = append(j.ins, in)
	return Judgement{}
}

func (j *recordJudge) last(t *testing.T) JudgeInput {
	t.Helper()
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.ins) == 0 {
		t.Fatal("nothing judged")
	}
	return j.ins[len(j.ins)-1]
}

type stubResolver map[string]string

func (r stubResolver) LookupAddr(_ context.Context, addr string) ([]string, error) {
	if n, ok := r[addr]; ok {
		return []string{n + "."}, nil
	}
	return nil, nil
}

func xclientEnv(t *testing.T, hosts ...string) (*env, *recordJudge) {
	j := &recordJudge{}
	e := newEnv(t, MX, func(c *Config) {
		c.Judge = j
		c.Resolver = stubResolver{"2001:db8::7": "v6.client.example"}
		for _, h := range hosts {
			c.XClientHosts = append(c.XClientHosts, netip.MustParsePrefix(h))
		}
	})
	return e, j
}

func sendOne(r *raw, body string) {
	r.cmd("MAIL FROM:<bob@remote.test>", 250, "")
	r.cmd("RCPT TO:<alice@example.test>", 250, "")
	r.cmd("DATA", 354, "")
	r.send(body + ".\r\n")
	r.expect(250, "2.0.0")
}

func TestXClientAllowedHost(t *testing.T) {
	e, j := xclientEnv(t, "127.0.0.0/8")
	r := dialRaw(t, e.addr)
	if msg := r.cmd("EHLO tester.example", 250, ""); !strings.Contains(msg, "\nXCLIENT ADDR NAME PORT PROTO HELO\n") {
		t.Errorf("EHLO to a test host lacks XCLIENT:\n%s", msg)
	}
	r.cmd("XCLIENT ADDR=192.0.2.7 NAME=client.example.org HELO=helo+2Eexample PROTO=ESMTP", 220, testHost+" ESMTP")
	// No EHLO again: the XCLIENT HELO stands.
	sendOne(r, "Subject: one\r\n\r\nXCLIENT ADDR=10.9.9.9\r\n")
	in := j.last(t)
	if in.IP.String() != "192.0.2.7" || in.Helo != "helo.example" {
		t.Errorf("judged on %s helo %q, want 192.0.2.7 helo.example", in.IP, in.Helo)
	}
	msgs := e.inbox()
	hdr, rest := splitReceived(t, msgs[0])
	if !strings.HasPrefix(hdr, "Received: from helo.example (client.example.org [192.0.2.7])") {
		t.Errorf("Received = %q", hdr)
	}
	// A line that looks like XCLIENT inside DATA is message text.
	if !strings.Contains(string(rest), "XCLIENT ADDR=10.9.9.9\r\n") {
		t.Errorf("body lost its XCLIENT line: %q", rest)
	}

	// A new EHLO replaces the XCLIENT HELO; a new ADDR without NAME gets
	// its own reverse name.
	r.cmd("XCLIENT ADDR=IPV6:2001:db8::7 PORT=4000", 220, "")
	r.cmd("EHLO second.example", 250, "XCLIENT")
	sendOne(r, "Subject: two\r\n\r\nx\r\n")
	in = j.last(t)
	if in.IP.String() != "2001:db8::7" || in.Helo != "second.example" {
		t.Errorf("judged on %s helo %q", in.IP, in.Helo)
	}
	if hdr, _ := splitReceived(t, e.inbox()[1]); !strings.HasPrefix(hdr, "Received: from second.example (v6.client.example [IPv6:2001:db8::7])") {
		t.Errorf("Received = %q", hdr)
	}

	r.cmd("MAIL FROM:<bob@remote.test>", 250, "")
	r.cmd("XCLIENT ADDR=192.0.2.8", 503, "5.5.1")
	r.cmd("RSET", 250, "")
	for line, want := range map[string]string{
		"XCLIENT":                  "5.5.4 Syntax",
		"XCLIENT ADDR":             "5.5.4 Syntax",
		"XCLIENT ADDR=300.1.1.1":   "Bad ADDR",
		"XCLIENT PORT=70000":       "Bad PORT",
		"XCLIENT NAME=a;b":         "Bad NAME",
		"XCLIENT PROTO=LMTP":       "Bad PROTO",
		"XCLIENT LOGIN=alice":      "attribute name: LOGIN",
		"XCLIENT HELO=+zz":         "xtext",
		"XCLIENT HELO=a+2":         "xtext",
		"XCLIENT DESTADDR=1.2.3.4": "attribute name",
	} {
		r.cmd(line, 501, want)
	}
	r.cmd("XCLIENT ADDR=[UNAVAILABLE] NAME=[UNAVAILABLE]", 220, "")
	r.cmd("EHLO third.example", 250, "")
	sendOne(r, "Subject: three\r\n\r\nx\r\n")
	if in := j.last(t); in.IP.String() != "127.0.0.1" {
		t.Errorf("ADDR=[UNAVAILABLE] judged on %s, want the connection's own", in.IP)
	}
	r.cmd("QUIT", 221, "")
	if logs := e.logs.String(); !regexp.MustCompile(`msg=xclient .*remote=127\.0\.0\.1:\d+ addr=192\.0\.2\.7:\d+ name=client\.example\.org`).MatchString(logs) {
		t.Errorf("no xclient log line:\n%s", logs)
	}
}

func TestXClientRefusedHost(t *testing.T) {
	e, j := xclientEnv(t, "192.0.2.0/24")
	pl := newPipeListener()
	go e.srv.Serve(pl)
	for _, from := range []string{"198.51.100.9", "127.0.0.1"} {
		r := newRaw(t, pl.dial(from))
		if msg := r.cmd("EHLO tester.example", 250, ""); strings.Contains(msg, "XCLIENT") {
			t.Errorf("EHLO to %s advertises XCLIENT:\n%s", from, msg)
		}
		r.cmd("XCLIENT ADDR=192.0.2.7", 550, "5.7.0")
		sendOne(r, "Subject: s\r\n\r\nx\r\n")
		if in := j.last(t); in.IP.String() != from {
			t.Errorf("judged on %s, want %s", in.IP, from)
		}
		r.cmd("QUIT", 221, "")
	}

	// From an allowed address through the pipe: the command works.
	r := newRaw(t, pl.dial("192.0.2.1"))
	r.cmd("EHLO tester.example", 250, "XCLIENT")
	r.cmd("XCLIENT ADDR=203.0.113.5", 220, "")
}

func TestXClientOff(t *testing.T) {
	e, _ := xclientEnv(t)
	r := dialRaw(t, e.addr)
	if msg := r.cmd("EHLO tester.example", 250, ""); strings.Contains(msg, "XCLIENT") {
		t.Errorf("EHLO advertises XCLIENT with no xclient hosts:\n%s", msg)
	}
	// go-smtp's own answer to a command it does not know.
	r.cmd("XCLIENT ADDR=192.0.2.7", 501, "5.5.2")
}

// FuzzXClient feeds arbitrary XCLIENT arguments: the answer is a greeting
// or a 501, never a panic, and an accepted ADDR is an IP address.
func FuzzXClient(f *testing.F) {
	for _, s := range []string{"ADDR=192.0.2.7 NAME=a.example HELO=h PROTO=ESMTP", "ADDR=IPV6:2001:db8::1 PORT=25",
		"NAME=[UNAVAILABLE] ADDR=[TEMPUNAVAIL]", "HELO=a+20b", "HELO=+", "LOGIN=x", "="} {
		f.Add(s)
	}
	srv := &Server{cfg: Config{Hostname: testHost}}
	f.Fuzz(func(t *testing.T, arg string) {
		c := &conn{Conn: addrConn{nil, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}}, srv: srv, log: discardLogger()}
		reply := c.xclientCommand(true, arg)
		switch {
		case strings.HasPrefix(reply, "220 "):
			if remoteIP(c.RemoteAddr()) == nil {
				t.Fatalf("%q accepted with address %v", arg, c.RemoteAddr())
			}
		case strings.HasPrefix(reply, "501 5.5.4 "):
		default:
			t.Fatalf("%q: reply %q", arg, reply)
		}
	})
}
