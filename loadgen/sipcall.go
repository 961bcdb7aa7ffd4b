package loadgen

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// sipCall places one call to number at the SIP server addr over UDP, as a
// plain softphone would: INVITE, ACK, one DTMF digit by SIP INFO
// (application/dtmf-relay), hold, BYE. It returns the setup time, INVITE
// to 200 OK. The call fails unless every request gets its 200 and the
// server's audio reaches the media port.
func sipCall(ctx context.Context, addr, number, caller, digit string, hold time.Duration) (time.Duration, error) {
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return 0, err
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: raddr.IP})
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	media, err := net.ListenUDP("udp", &net.UDPAddr{IP: raddr.IP})
	if err != nil {
		return 0, err
	}
	defer media.Close()
	var rtp atomic.Int64
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := media.ReadFromUDP(buf); err != nil {
				return
			}
			rtp.Add(1)
		}
	}()

	d := &uacDialog{
		conn: conn, raddr: raddr, local: conn.LocalAddr().String(),
		callID: randHex(8) + "@loadgen.test", fromTag: randHex(4),
		uri: "sip:" + number + "@" + addr, caller: caller,
		resp: make(chan *sipMsg, 16), remoteBye: make(chan struct{}),
	}
	go d.read()
	defer context.AfterFunc(ctx, func() { conn.Close() })()

	mport := media.LocalAddr().(*net.UDPAddr).Port
	ip := raddr.IP.String()
	sdp := "v=0\r\no=loadgen 1 1 IN IP4 " + ip + "\r\ns=-\r\nc=IN IP4 " + ip + "\r\nt=0 0\r\n" +
		"m=audio " + strconv.Itoa(mport) + " RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\n" +
		"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n"
	t0 := time.Now()
	branch := d.branch()
	res, err := d.transact(1, "INVITE", branch, "Content-Type: application/sdp\r\n", sdp)
	if err != nil {
		return 0, err
	}
	setup := time.Since(t0)
	d.toTag = res.tag()
	if res.code != 200 {
		// A final error answer is acknowledged in the INVITE's own transaction.
		d.send(d.request(1, "ACK", branch, "", ""))
		return setup, fmt.Errorf("INVITE answered %d %s", res.code, res.reason)
	}
	d.send(d.request(1, "ACK", d.branch(), "", ""))

	res, err = d.transact(2, "INFO", d.branch(), "Content-Type: application/dtmf-relay\r\n", "Signal="+digit+"\r\nDuration=160\r\n")
	if err != nil {
		return setup, err
	}
	if res.code != 200 {
		return setup, fmt.Errorf("INFO (DTMF %s) answered %d %s", digit, res.code, res.reason)
	}
	select {
	case <-ctx.Done():
		return setup, ctx.Err()
	case <-d.remoteBye:
		return setup, errors.New("the server hung up during the call")
	case <-time.After(hold):
	}
	res, err = d.transact(3, "BYE", d.branch(), "", "")
	if err != nil {
		return setup, err
	}
	if res.code != 200 {
		return setup, fmt.Errorf("BYE answered %d %s", res.code, res.reason)
	}
	if rtp.Load() == 0 {
		return setup, errors.New("no RTP from the server during the call")
	}
	return setup, nil
}

// uacDialog is the caller's side of one call.
type uacDialog struct {
	conn                   *net.UDPConn
	raddr                  *net.UDPAddr
	local, callID, fromTag string
	uri, caller            string
	toTag                  string
	resp                   chan *sipMsg
	remoteBye              chan struct{}
}

func (d *uacDialog) branch() string { return "z9hG4bK" + randHex(8) }

func (d *uacDialog) request(cseq int, method, branch, extra, body string) string {
	to := "<" + d.uri + ">"
	if d.toTag != "" {
		to += ";tag=" + d.toTag
	}
	return method + " " + d.uri + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + d.local + ";branch=" + branch + ";rport\r\n" +
		"From: <sip:" + d.caller + "@" + d.local + ">;tag=" + d.fromTag + "\r\n" +
		"To: " + to + "\r\n" +
		"Call-ID: " + d.callID + "\r\n" +
		"CSeq: " + strconv.Itoa(cseq) + " " + method + "\r\n" +
		"Contact: <sip:" + d.caller + "@" + d.local + ">\r\n" +
		"Max-Forwards: 70\r\n" + extra +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

func (d *uacDialog) send(msg string) error {
	_, err := d.conn.WriteToUDP([]byte(msg), d.raddr)
	return err
}

// transact sends a request and waits for its final response, resending
// every 500 ms (RFC 3261 timer A, simplified) until the server answers.
func (d *uacDialog) transact(cseq int, method, branch, extra, body string) (*sipMsg, error) {
	msg := d.request(cseq, method, branch, extra, body)
	if err := d.send(msg); err != nil {
		return nil, err
	}
	want := strconv.Itoa(cseq) + " " + method
	answered := false
	retry := time.NewTicker(500 * time.Millisecond)
	defer retry.Stop()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case r, ok := <-d.resp:
			if !ok {
				return nil, fmt.Errorf("%s: connection closed", method)
			}
			if r.header("Call-ID") != d.callID || r.header("CSeq") != want {
				continue
			}
			answered = true
			if r.code >= 200 {
				return r, nil
			}
		case <-retry.C:
			if !answered {
				d.send(msg)
			}
		case <-deadline:
			return nil, fmt.Errorf("%s: no final answer within 20s", method)
		}
	}
}

// read hands responses to transact and answers the server's own requests
// (a BYE, an OPTIONS ping) with 200.
func (d *uacDialog) read() {
	defer close(d.resp)
	buf := make([]byte, 65535)
	byeSeen := false
	for {
		n, from, err := d.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		m, err := parseSIP(string(buf[:n]))
		if err != nil {
			continue
		}
		if m.code > 0 {
			select {
			case d.resp <- m:
			default: // retransmissions nobody waits for
			}
			continue
		}
		if m.method == "ACK" {
			continue
		}
		reply := "SIP/2.0 200 OK\r\n"
		for _, h := range []string{"Via", "From", "To", "Call-ID", "CSeq"} {
			for _, v := range m.all(h) {
				reply += h + ": " + v + "\r\n"
			}
		}
		d.conn.WriteToUDP([]byte(reply+"Content-Length: 0\r\n\r\n"), from)
		if m.method == "BYE" && !byeSeen {
			byeSeen = true
			close(d.remoteBye)
		}
	}
}

// sipMsg is a parsed SIP message: a request (method) or a response (code).
type sipMsg struct {
	method  string
	code    int
	reason  string
	headers [][2]string
}

// compact maps RFC 3261 §7.3.3 compact header names to full ones.
var compact = map[string]string{"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length", "c": "content-type"}

func parseSIP(s string) (*sipMsg, error) {
	head, _, _ := strings.Cut(s, "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	m := &sipMsg{}
	if rest, ok := strings.CutPrefix(lines[0], "SIP/2.0 "); ok {
		code, reason, _ := strings.Cut(rest, " ")
		c, err := strconv.Atoi(code)
		if err != nil {
			return nil, fmt.Errorf("bad status line %q", lines[0])
		}
		m.code, m.reason = c, reason
	} else {
		method, _, ok := strings.Cut(lines[0], " ")
		if !ok {
			return nil, fmt.Errorf("bad request line %q", lines[0])
		}
		m.method = method
	}
	for _, l := range lines[1:] {
		name, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		name = strings.ToLower(strings.TrimSpace(name))
		if full, ok := compact[name]; ok {
			name = full
		}
		m.headers = append(m.headers, [2]string{name, strings.TrimSpace(v)})
	}
	return m, nil
}

func (m *sipMsg) all(name string) []string {
	var vs []string
	for _, h := range m.headers {
		if h[0] == strings.ToLower(name) {
			vs = append(vs, h[1])
		}
	}
	return vs
}

func (m *sipMsg) header(name string) string {
	if vs := m.all(name); len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// tag returns the To tag the server gave its side of the dialog.
func (m *sipMsg) tag() string {
	_, rest, ok := strings.Cut(m.header("To"), ">")
	if !ok {
		return ""
	}
	for p := range strings.SplitSeq(rest, ";") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(p), "tag="); ok {
			return v
		}
	}
	return ""
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
