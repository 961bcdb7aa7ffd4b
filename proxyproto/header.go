// Package proxyproto reads HAProxy's PROXY protocol header (versions 1 and
// 2, https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt) in front
// of a TCP connection, so a service behind a load balancer sees the
// client's address instead of the balancer's.
//
// Listener wraps a net.Listener: peers in its trusted networks must send a
// header, which is read in a goroutine per connection with a deadline, so a
// slow or silent peer never holds up Accept for others; other peers are
// served as direct clients, and a header from one of them closes the
// connection before any of it is read as protocol data.
package proxyproto

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// Command says what a header asks for.
type Command int

const (
	// Local is a connection the proxy made itself (a health check): the
	// addresses of the connection stand (v2 LOCAL, v1 UNKNOWN, or a v2
	// PROXY header with no usable address family).
	Local Command = iota
	// Proxy relays a client: Source is its address.
	Proxy
)

// Header is one parsed PROXY header.
type Header struct {
	Version int // 1 or 2
	Command Command
	// Source and Destination are the client's address and the address it
	// connected to; valid only when Command is Proxy.
	Source, Destination netip.AddrPort
}

// Limits from the specification: a v1 line is at most 107 bytes with its
// CRLF (§2.1). A v2 header may carry TLVs up to 64 KiB; what a balancer
// sends in practice is far smaller, and reading more before the first
// byte of the real protocol only helps an attacker.
const (
	maxV1Line = 107
	// MaxV2Length bounds the v2 address and TLV block (the length field).
	MaxV2Length = 4096
)

var (
	v1Prefix  = []byte("PROXY ")
	v2Sig     = []byte("\r\n\r\n\x00\r\nQUIT\n")
	v1Headers = [][]byte{[]byte("PROXY TCP4 "), []byte("PROXY TCP6 "), []byte("PROXY UNKNOWN")}
)

// ErrNoHeader is returned when the stream does not begin with a PROXY
// header of either version.
var ErrNoHeader = errors.New("no PROXY protocol header")

// ReadHeader reads one header from r, leaving whatever follows it in r.
func ReadHeader(r *bufio.Reader) (*Header, error) {
	first, err := r.Peek(1)
	if err != nil {
		return nil, noData(err)
	}
	switch first[0] {
	case 'P':
		p, err := r.Peek(len(v1Prefix))
		if err != nil {
			return nil, noData(err)
		}
		if !bytes.Equal(p, v1Prefix) {
			return nil, ErrNoHeader
		}
		return readV1(r)
	case '\r':
		p, err := r.Peek(len(v2Sig))
		if err != nil {
			return nil, noData(err)
		}
		if !bytes.Equal(p, v2Sig) {
			return nil, ErrNoHeader
		}
		return readV2(r)
	}
	return nil, ErrNoHeader
}

// noData turns a short stream into a clear reason.
func noData(err error) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: connection ended first", ErrNoHeader)
	}
	return err
}

func readV1(r *bufio.Reader) (*Header, error) {
	line := make([]byte, 0, maxV1Line)
	for {
		b, err := r.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, errors.New("v1 header cut short")
			}
			return nil, err
		}
		line = append(line, b)
		if b == '\n' {
			break
		}
		if len(line) >= maxV1Line {
			return nil, fmt.Errorf("v1 header longer than %d bytes", maxV1Line)
		}
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, errors.New("v1 header does not end in CRLF")
	}
	return parseV1(string(line[:len(line)-2]))
}

// parseV1 parses "PROXY TCP4 src dst sport dport" without its CRLF (§2.1).
func parseV1(s string) (*Header, error) {
	f := strings.Split(s, " ")
	if len(f) < 2 || f[0] != "PROXY" {
		return nil, ErrNoHeader
	}
	h := &Header{Version: 1}
	switch f[1] {
	case "UNKNOWN":
		// §2.1: the receiver ignores everything up to CRLF.
		return h, nil
	case "TCP4", "TCP6":
	default:
		return nil, fmt.Errorf("v1 header: unknown protocol %q", f[1])
	}
	if len(f) != 6 {
		return nil, fmt.Errorf("v1 header: %d fields, want 6", len(f))
	}
	v6 := f[1] == "TCP6"
	src, err := parseV1Addr(f[2], v6)
	if err != nil {
		return nil, err
	}
	dst, err := parseV1Addr(f[3], v6)
	if err != nil {
		return nil, err
	}
	sport, err := parseV1Port(f[4])
	if err != nil {
		return nil, err
	}
	dport, err := parseV1Port(f[5])
	if err != nil {
		return nil, err
	}
	h.Command = Proxy
	h.Source = netip.AddrPortFrom(src, sport)
	h.Destination = netip.AddrPortFrom(dst, dport)
	return h, nil
}

func parseV1Addr(s string, v6 bool) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("v1 header: %q is not an IP address", s)
	}
	if v6 != a.Is6() {
		return netip.Addr{}, fmt.Errorf("v1 header: %q is not of the family named", s)
	}
	return a.Unmap(), nil
}

func parseV1Port(s string) (uint16, error) {
	// §2.1: decimal, no leading zeros.
	if s == "" || len(s) > 5 || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("v1 header: %q is not a port", s)
	}
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("v1 header: %q is not a port", s)
	}
	return uint16(n), nil
}

func readV2(r *bufio.Reader) (*Header, error) {
	var fixed [16]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return nil, cut(err)
	}
	verCmd, fam := fixed[12], fixed[13]
	n := int(binary.BigEndian.Uint16(fixed[14:16]))
	if verCmd>>4 != 2 {
		return nil, fmt.Errorf("v2 header: version %d", verCmd>>4)
	}
	if n > MaxV2Length {
		return nil, fmt.Errorf("v2 header: %d bytes of addresses and TLVs, more than %d", n, MaxV2Length)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, cut(err)
	}
	h := &Header{Version: 2}
	switch verCmd & 0xf {
	case 0x0:
		// LOCAL: §2.2 says to ignore the address block.
		return h, nil
	case 0x1:
	default:
		return nil, fmt.Errorf("v2 header: unknown command %#x", verCmd&0xf)
	}
	transport := fam & 0xf
	if transport != 0x0 && transport != 0x1 {
		return nil, errors.New("v2 header: not a stream connection")
	}
	var alen int
	switch fam >> 4 {
	case 0x1:
		alen = 12
	case 0x2:
		alen = 36
	case 0x0, 0x3:
		// UNSPEC or a UNIX socket: no IP to use; the proxy's address stands.
		return h, nil
	default:
		return nil, fmt.Errorf("v2 header: unknown address family %#x", fam>>4)
	}
	if transport != 0x1 {
		return nil, errors.New("v2 header: not a stream connection")
	}
	if n < alen {
		return nil, fmt.Errorf("v2 header: %d bytes, too short for its addresses", n)
	}
	// TLVs after the addresses are skipped: nothing here needs them.
	var src, dst netip.Addr
	var ports []byte
	if alen == 12 {
		src = netip.AddrFrom4([4]byte(body[0:4]))
		dst = netip.AddrFrom4([4]byte(body[4:8]))
		ports = body[8:12]
	} else {
		src = netip.AddrFrom16([16]byte(body[0:16])).Unmap()
		dst = netip.AddrFrom16([16]byte(body[16:32])).Unmap()
		ports = body[32:36]
	}
	h.Command = Proxy
	h.Source = netip.AddrPortFrom(src, binary.BigEndian.Uint16(ports[0:2]))
	h.Destination = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(ports[2:4]))
	return h, nil
}

func cut(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("v2 header cut short")
	}
	return err
}

// Format writes h in its version's wire form; tests and clients use it.
// A v1 Local header is "PROXY UNKNOWN".
func (h *Header) Format() []byte {
	if h.Version == 1 {
		if h.Command != Proxy {
			return []byte("PROXY UNKNOWN\r\n")
		}
		src, dst := h.Source.Addr(), h.Destination.Addr()
		fam := "TCP4"
		if !src.Is4() || !dst.Is4() {
			fam = "TCP6"
			src, dst = netip.AddrFrom16(src.As16()), netip.AddrFrom16(dst.As16())
		}
		return fmt.Appendf(nil, "PROXY %s %s %s %d %d\r\n", fam, src, dst, h.Source.Port(), h.Destination.Port())
	}
	b := append([]byte{}, v2Sig...)
	if h.Command != Proxy {
		return append(b, 0x20, 0x00, 0, 0)
	}
	if h.Source.Addr().Is4() && h.Destination.Addr().Is4() {
		b = append(b, 0x21, 0x11, 0, 12)
		s, d := h.Source.Addr().As4(), h.Destination.Addr().As4()
		b = append(append(b, s[:]...), d[:]...)
	} else {
		b = append(b, 0x21, 0x21, 0, 36)
		s, d := h.Source.Addr().As16(), h.Destination.Addr().As16()
		b = append(append(b, s[:]...), d[:]...)
	}
	b = binary.BigEndian.AppendUint16(b, h.Source.Port())
	return binary.BigEndian.AppendUint16(b, h.Destination.Port())
}

// looksLikeHeader reports whether r begins with a PROXY header's
// signature, peeking no further than the signature needs.
func looksLikeHeader(r *bufio.Reader) bool {
	sigs := append([][]byte{v2Sig}, v1Headers...)
	for n := 1; n <= 13; n++ {
		p, err := r.Peek(n)
		if err != nil {
			return false
		}
		maybe := false
		for _, s := range sigs {
			if len(p) <= len(s) && bytes.HasPrefix(s, p) {
				if len(p) == len(s) {
					return true
				}
				maybe = true
			}
		}
		if !maybe {
			return false
		}
	}
	return false
}
