package queue

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// This is a small SMTP client of our own rather than go-smtp's: go-smtp
// v0.25 can STARTTLS only after an EHLO sent as "localhost" (its StartTLS
// is unexported and NewClientStartTLS greets before Hello can set the
// name), while RFC 5321 §4.1.1.1 wants our own FQDN in EHLO and receivers
// do reject "localhost". We also need each RCPT reply separately and a
// deadline on every phase (RFC 5321 §4.5.3.2).

// smtpReply is a reply from the remote server (RFC 5321 §4.2).
type smtpReply struct {
	code int
	text string // lines joined with "\n", codes stripped
}

func (r *smtpReply) Error() string {
	return strconv.Itoa(r.code) + " " + strings.ReplaceAll(r.text, "\n", " ")
}

// enhanced returns the RFC 3463 status code the reply starts with, or
// def when it has none.
func (r *smtpReply) enhanced(def string) string {
	f := strings.Fields(r.text)
	if len(f) > 0 {
		p := strings.Split(f[0], ".")
		if len(p) == 3 && len(p[0]) == 1 && p[0][0] == byte('0'+r.code/100) {
			if _, err := strconv.Atoi(p[1]); err == nil {
				if _, err := strconv.Atoi(p[2]); err == nil {
					return f[0]
				}
			}
		}
	}
	return def
}

// phaseError says in which phase a session failed, so the caller can tell
// a refusal of the whole message (MAIL) from one of the host (greeting).
type phaseError struct {
	phase string // connect, greeting, ehlo, starttls, tls, mail, data
	err   error
}

func (e *phaseError) Error() string { return e.phase + ": " + e.err.Error() }
func (e *phaseError) Unwrap() error { return e.err }

type smtpClient struct {
	conn    net.Conn
	text    *textproto.Conn
	ext     map[string]string
	tls     bool
	timeout time.Duration
	stop    func() bool
}

// dialSMTP connects to addr and reads the greeting. Cancelling ctx closes
// the connection, which ends any phase in progress.
func dialSMTP(ctx context.Context, addr string, timeout time.Duration) (*smtpClient, error) {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, &phaseError{"connect", err}
	}
	c := &smtpClient{conn: conn, text: textproto.NewConn(conn), timeout: timeout}
	c.stop = context.AfterFunc(ctx, func() { conn.Close() })
	if _, err := c.read(220); err != nil {
		c.close()
		return nil, &phaseError{"greeting", err}
	}
	return c, nil
}

func (c *smtpClient) close() {
	c.stop()
	c.conn.Close()
}

// read reads one reply; a reply of another class than want/100 is an
// *smtpReply error.
func (c *smtpClient) read(want int) (*smtpReply, error) {
	c.conn.SetDeadline(time.Now().Add(c.timeout))
	code, msg, err := c.text.ReadResponse(0)
	if err != nil {
		return nil, err
	}
	r := &smtpReply{code: code, text: msg}
	if code/100 != want/100 {
		return r, r
	}
	return r, nil
}

func (c *smtpClient) cmd(want int, format string, args ...any) (*smtpReply, error) {
	c.conn.SetDeadline(time.Now().Add(c.timeout))
	if err := c.text.PrintfLine(format, args...); err != nil {
		return nil, err
	}
	return c.read(want)
}

// hello sends EHLO, falling back to HELO for servers that do not know it
// (RFC 5321 §3.2).
func (c *smtpClient) hello(name string) error {
	r, err := c.cmd(250, "EHLO %s", name)
	if r != nil && (r.code == 500 || r.code == 502) {
		c.ext = map[string]string{}
		_, err = c.cmd(250, "HELO %s", name)
		return err
	}
	if err != nil {
		return err
	}
	c.ext = map[string]string{}
	lines := strings.Split(r.text, "\n")
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, " ")
		c.ext[strings.ToUpper(k)] = v
	}
	return nil
}

func (c *smtpClient) has(ext string) bool {
	_, ok := c.ext[ext]
	return ok
}

// startTLS upgrades the connection (RFC 3207) and greets again, since the
// server forgets what it knew before TLS (RFC 3207 §4.2).
func (c *smtpClient) startTLS(cfg *tls.Config, name string) error {
	if _, err := c.cmd(220, "STARTTLS"); err != nil {
		return &phaseError{"starttls", err}
	}
	tc := tls.Client(c.conn, cfg)
	tc.SetDeadline(time.Now().Add(c.timeout))
	if err := tc.Handshake(); err != nil {
		return &phaseError{"tls", err}
	}
	c.conn = tc
	c.text = textproto.NewConn(tc)
	c.tls = true
	if err := c.hello(name); err != nil {
		return &phaseError{"ehlo", err}
	}
	return nil
}

// rcptResult is the remote answer for one recipient; reply is nil when
// it was accepted and the transaction then failed as a whole.
type rcptResult struct {
	addr  string
	reply *smtpReply
}

// send runs one mail transaction (RFC 5321 §3.3). A failure of MAIL or of
// the connection is returned as an error; otherwise every recipient gets
// the reply that decides it: its RCPT reply if that was not 2xx, else the
// reply to the end of data (or to DATA itself).
func (c *smtpClient) send(from string, rcpts []string, data []byte) ([]rcptResult, error) {
	var params string
	if c.has("SIZE") {
		params += " SIZE=" + strconv.Itoa(len(data)) // RFC 1870
	}
	if c.has("8BITMIME") && !isASCII(data) {
		params += " BODY=8BITMIME" // RFC 6152
	}
	if _, err := c.cmd(250, "MAIL FROM:<%s>%s", from, params); err != nil {
		return nil, &phaseError{"mail", err}
	}
	out := make([]rcptResult, 0, len(rcpts))
	var accepted []int
	for _, to := range rcpts {
		r, err := c.cmd(250, "RCPT TO:<%s>", to)
		var rep *smtpReply
		if errors.As(err, &rep) {
			out = append(out, rcptResult{to, rep})
			continue
		}
		if err != nil {
			return nil, &phaseError{"rcpt", err}
		}
		accepted = append(accepted, len(out))
		out = append(out, rcptResult{to, r})
	}
	if len(accepted) == 0 {
		return out, nil
	}
	final, err := c.data(data)
	var rep *smtpReply
	if err != nil && !errors.As(err, &rep) {
		return nil, &phaseError{"data", err}
	}
	for _, i := range accepted {
		out[i].reply = final
	}
	return out, nil
}

func (c *smtpClient) data(data []byte) (*smtpReply, error) {
	if r, err := c.cmd(354, "DATA"); err != nil {
		return r, err
	}
	c.conn.SetDeadline(time.Now().Add(c.timeout))
	w := c.text.DotWriter() // dot-stuffing, RFC 5321 §4.5.2
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return c.read(250)
}

// quit ends the session politely; its errors do not matter any more.
func (c *smtpClient) quit() {
	c.conn.SetDeadline(time.Now().Add(min(c.timeout, 10*time.Second)))
	c.text.PrintfLine("QUIT")
	c.text.ReadResponse(0)
	c.close()
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}
