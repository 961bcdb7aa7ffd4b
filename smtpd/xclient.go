package smtpd

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
)

// XCLIENT (https://www.postfix.org/XCLIENT_README.html) lets a test host
// say which client it speaks for: the MX then judges, logs and traces the
// mail as if that client had connected. go-smtp has no hook for extension
// commands, so xclient sits between the socket and go-smtp: it hands
// go-smtp one command line per Read, so it sees each command before
// go-smtp does and in the state go-smtp left, answers XCLIENT itself,
// and adds XCLIENT to the EHLO reply. Message data (DATA, BDAT) passes
// through untouched: during a transaction conn.tx is not idle. After
// STARTTLS the stream is TLS records, so xclient steps aside for the
// rest of the connection: XCLIENT is a plain-text test tool.
//
// It exists only when Config.XClientHosts is set, on the MX.

// xclientAttrs is what the EHLO reply advertises.
const xclientAttrs = "XCLIENT ADDR NAME PORT PROTO HELO"

type xclient struct {
	allowed bool          // the peer is in Config.XClientHosts
	r       *bufio.Reader // over the raw connection
	off     bool          // after STARTTLS
	pending []byte        // the rest of a line longer than go-smtp's buffer
	ehlo    bool          // the next write is the reply to EHLO
}

// xclientOverride is what XCLIENT said about the client; guarded by conn.mu.
type xclientOverride struct {
	addr    *net.TCPAddr // nil: the connection's own
	name    string
	nameSet bool   // NAME was given ("" meaning none, for [UNAVAILABLE])
	helo    string // "" when not given or replaced by a later EHLO
	proto   string
}

func inPrefixes(a net.Addr, ps []netip.Prefix) bool {
	ip, ok := netip.AddrFromSlice(remoteIP(a))
	if !ok {
		return false
	}
	ip = ip.Unmap()
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// read hands go-smtp the next command line, answering XCLIENT on the way.
func (x *xclient) read(c *conn, b []byte) (int, error) {
	if len(x.pending) > 0 {
		n := copy(b, x.pending)
		x.pending = x.pending[n:]
		return n, nil
	}
	c.mu.Lock()
	inTx := c.tx != txIdle
	c.mu.Unlock()
	if x.off || inTx {
		return x.r.Read(b)
	}
	for {
		line, err := x.r.ReadSlice('\n')
		if len(line) == 0 {
			return 0, err
		}
		if err == nil {
			verb, arg, _ := strings.Cut(strings.TrimRight(string(line), "\r\n"), " ")
			switch strings.ToUpper(verb) {
			case "XCLIENT":
				c.writeRaw(c.xclientCommand(x.allowed, arg))
				continue
			case "EHLO":
				x.ehlo = true
				c.setXHelo("")
			case "HELO":
				c.setXHelo("")
			case "STARTTLS":
				x.off = true
			}
		}
		// An over-long line (bufio.ErrBufferFull) or a last line without
		// its LF goes to go-smtp as it is, which answers it.
		n := copy(b, line)
		x.pending = append([]byte(nil), line[n:]...)
		return n, nil
	}
}

// write adds XCLIENT after the first line of the EHLO reply to an allowed
// host.
func (x *xclient) write(b []byte) []byte {
	if !x.ehlo || x.off {
		return b
	}
	x.ehlo = false
	i := bytes.Index(b, []byte("\r\n"))
	if !x.allowed || !bytes.HasPrefix(b, []byte("250-")) || i < 0 {
		return b
	}
	out := append([]byte{}, b[:i+2]...)
	out = append(out, "250-"+xclientAttrs+"\r\n"...)
	return append(out, b[i+2:]...)
}

func (c *conn) writeRaw(s string) {
	c.Write([]byte(s + "\r\n"))
}

func (c *conn) setXHelo(h string) {
	c.mu.Lock()
	c.xo.helo = h
	c.mu.Unlock()
}

// xclientHelo is the HELO name XCLIENT gave, "" when none stands.
func (c *conn) xclientHelo() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.xo.helo
}

// heloName is the client's HELO identity: XCLIENT's HELO until the
// client says EHLO or HELO again, as Postfix does.
func (s *session) heloName() string {
	if h := s.conn.xclientHelo(); h != "" {
		return h
	}
	return s.c.Hostname()
}

// xclientCommand runs one XCLIENT command and returns the reply line.
func (c *conn) xclientCommand(allowed bool, arg string) string {
	if !allowed {
		c.log.Warn("xclient refused", "reason", "host not in xclient_hosts")
		return "550 5.7.0 Error: insufficient authorization"
	}
	if c.inMail.Load() {
		return "503 5.5.1 Error: MAIL transaction in progress"
	}
	c.mu.Lock()
	o := c.xo
	c.mu.Unlock()
	port := 0
	if o.addr != nil {
		port = o.addr.Port
	} else if ta, ok := c.Conn.RemoteAddr().(*net.TCPAddr); ok {
		port = ta.Port
	}
	var ip netip.Addr
	ipSet, revert, nameGiven := false, false, false
	fields := strings.Fields(arg)
	if len(fields) == 0 {
		return "501 5.5.4 Syntax: XCLIENT attribute=value..."
	}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return "501 5.5.4 Syntax: XCLIENT attribute=value..."
		}
		v, err := xtextDecode(v)
		if err != nil {
			return "501 5.5.4 Bad " + strings.ToUpper(k) + " value: " + err.Error()
		}
		unavailable := v == "[UNAVAILABLE]" || v == "[TEMPUNAVAIL]"
		switch strings.ToUpper(k) {
		case "ADDR":
			if unavailable {
				revert, ipSet = true, false
				continue
			}
			a, err := netip.ParseAddr(strings.TrimPrefix(strings.ToUpper(v), "IPV6:"))
			if err != nil || a.Zone() != "" {
				return "501 5.5.4 Bad ADDR value: not an IP address"
			}
			ip, ipSet, revert = a.Unmap(), true, false
		case "PORT":
			if unavailable {
				continue
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 65535 {
				return "501 5.5.4 Bad PORT value: not a port"
			}
			port = n
		case "NAME":
			nameGiven = true
			if unavailable {
				o.name, o.nameSet = "", true
				continue
			}
			if !validHostname(v) {
				return "501 5.5.4 Bad NAME value: not a host name"
			}
			o.name, o.nameSet = v, true
		case "HELO":
			if unavailable {
				o.helo = ""
				continue
			}
			if v == "" || len(v) > 255 || strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
				return "501 5.5.4 Bad HELO value"
			}
			o.helo = v
		case "PROTO":
			u := strings.ToUpper(v)
			if !unavailable && u != "SMTP" && u != "ESMTP" {
				return "501 5.5.4 Bad PROTO value: SMTP or ESMTP"
			}
			o.proto = u
		default:
			return "501 5.5.4 Bad XCLIENT attribute name: " + k
		}
	}
	switch {
	case revert:
		o.addr = nil
	case ipSet:
		o.addr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port)))
	case o.addr != nil:
		o.addr = &net.TCPAddr{IP: o.addr.IP, Port: port}
	}
	c.mu.Lock()
	addrChanged := !sameAddr(c.xo.addr, o.addr)
	if addrChanged && !nameGiven {
		// A name given before belonged to the old address.
		o.name, o.nameSet = "", false
	}
	c.xo = o
	c.mu.Unlock()
	if addrChanged {
		// So did the reverse name looked up.
		c.rdnsMu.Lock()
		c.rdnsDone, c.rdns = false, ""
		c.rdnsMu.Unlock()
	}
	c.log.Info("xclient", "addr", c.RemoteAddr().String(), "name", o.name, "helo", o.helo, "proto", o.proto)
	// The README: the server answers with its greeting, as to a new
	// connection, and the client starts over with EHLO.
	return fmt.Sprintf("220 %s ESMTP Service Ready", c.srv.cfg.Hostname)
}

func sameAddr(a, b *net.TCPAddr) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.String() == b.String()
}

// validHostname accepts the letters, digits, hyphens and dots of a DNS
// name, at most 255 octets.
func validHostname(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return false
		}
	}
	return true
}

// xtextDecode undoes RFC 3461 §4's xtext ("+" and two hex digits).
func xtextDecode(s string) (string, error) {
	if !strings.Contains(s, "+") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '+' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("bad xtext escape")
		}
		n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("bad xtext escape")
		}
		b.WriteByte(byte(n))
		i += 2
	}
	return b.String(), nil
}

// rdnsState replaces a sync.Once so XCLIENT can forget a looked-up name.
type rdnsState struct {
	rdnsMu   sync.Mutex
	rdnsDone bool
	rdns     string
}
