package proxyproto

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net/netip"
	"strings"
	"testing"
)

func v2(verCmd, fam byte, body []byte) []byte {
	b := append([]byte{}, v2Sig...)
	b = append(b, verCmd, fam)
	b = binary.BigEndian.AppendUint16(b, uint16(len(body)))
	return append(b, body...)
}

func TestReadHeader(t *testing.T) {
	tcp4 := []byte{192, 0, 2, 7, 198, 51, 100, 1, 0xc3, 0x50, 0, 25}
	tcp6 := make([]byte, 36)
	copy(tcp6, netip.MustParseAddr("2001:db8::7").AsSlice())
	copy(tcp6[16:], netip.MustParseAddr("2001:db8::1").AsSlice())
	copy(tcp6[32:], []byte{0x04, 0xd2, 0, 143})
	tlv := append(append([]byte{}, tcp4...), 0x04, 0, 3, 'a', 'b', 'c') // PP2_TYPE_NOOP
	for _, tc := range []struct {
		name     string
		in       []byte
		want     string // "src dst" or "local"; "" when an error is wanted
		err      string
		leftover string
	}{
		{"v1 tcp4", []byte("PROXY TCP4 192.0.2.7 198.51.100.1 50000 25\r\nEHLO x\r\n"), "192.0.2.7:50000 198.51.100.1:25", "", "EHLO x\r\n"},
		{"v1 tcp6", []byte("PROXY TCP6 2001:db8::7 2001:db8::1 1234 143\r\n"), "[2001:db8::7]:1234 [2001:db8::1]:143", "", ""},
		{"v1 unknown", []byte("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\nA1 NOOP\r\n"), "local", "", "A1 NOOP\r\n"},
		{"v1 unknown bare", []byte("PROXY UNKNOWN\r\n"), "local", "", ""},
		{"v1 tcp4 with v6 address", []byte("PROXY TCP4 2001:db8::7 198.51.100.1 1 25\r\n"), "", "not of the family", ""},
		{"v1 tcp6 with v4 address", []byte("PROXY TCP6 192.0.2.7 2001:db8::1 1 25\r\n"), "", "not of the family", ""},
		{"v1 bad port", []byte("PROXY TCP4 192.0.2.7 198.51.100.1 65536 25\r\n"), "", "not a port", ""},
		{"v1 leading zero port", []byte("PROXY TCP4 192.0.2.7 198.51.100.1 025 25\r\n"), "", "not a port", ""},
		{"v1 negative port", []byte("PROXY TCP4 192.0.2.7 198.51.100.1 -1 25\r\n"), "", "not a port", ""},
		{"v1 bad address", []byte("PROXY TCP4 192.0.2.300 198.51.100.1 1 25\r\n"), "", "not an IP address", ""},
		{"v1 missing field", []byte("PROXY TCP4 192.0.2.7 198.51.100.1 1\r\n"), "", "5 fields", ""},
		{"v1 unknown protocol", []byte("PROXY UDP4 192.0.2.7 198.51.100.1 1 2\r\n"), "", "unknown protocol", ""},
		{"v1 bare LF", []byte("PROXY TCP4 192.0.2.7 198.51.100.1 1 25\n"), "", "CRLF", ""},
		{"v1 double space", []byte("PROXY TCP4  192.0.2.7 198.51.100.1 1 25\r\n"), "", "fields", ""},
		{"v1 too long", []byte("PROXY UNKNOWN " + strings.Repeat("x", 200) + "\r\n"), "", "longer than 107", ""},
		{"v1 truncated", []byte("PROXY TCP4 192.0.2.7"), "", "cut short", ""},
		{"v2 tcp4", v2(0x21, 0x11, tcp4), "192.0.2.7:50000 198.51.100.1:25", "", ""},
		{"v2 tcp4 with TLV and data", append(v2(0x21, 0x11, tlv), "EHLO x\r\n"...), "192.0.2.7:50000 198.51.100.1:25", "", "EHLO x\r\n"},
		{"v2 tcp6", v2(0x21, 0x21, tcp6), "[2001:db8::7]:1234 [2001:db8::1]:143", "", ""},
		{"v2 local", append(v2(0x20, 0x00, nil), "QUIT\r\n"...), "local", "", "QUIT\r\n"},
		{"v2 local with addresses", v2(0x20, 0x11, tcp4), "local", "", ""},
		{"v2 unspec family", v2(0x21, 0x00, nil), "local", "", ""},
		{"v2 unix", v2(0x21, 0x31, make([]byte, 216)), "local", "", ""},
		{"v2 udp", v2(0x21, 0x12, tcp4), "", "not a stream", ""},
		{"v2 version 1", v2(0x11, 0x11, tcp4), "", "version 1", ""},
		{"v2 unknown command", v2(0x22, 0x11, tcp4), "", "unknown command", ""},
		{"v2 unknown family", v2(0x21, 0x41, tcp4), "", "unknown address family", ""},
		{"v2 short addresses", v2(0x21, 0x21, tcp4), "", "too short", ""},
		{"v2 truncated body", v2(0x21, 0x11, tcp4)[:20], "", "cut short", ""},
		{"v2 truncated fixed part", v2(0x21, 0x11, tcp4)[:14], "", "cut short", ""},
		{"v2 huge length", append(append([]byte{}, v2Sig...), 0x21, 0x11, 0xff, 0xff), "", "more than 4096", ""},
		{"no header", []byte("EHLO x\r\n"), "", "no PROXY protocol header", ""},
		{"near v2 signature", []byte("\r\n\r\n\x00\r\nQUIT!xxxx"), "", "no PROXY protocol header", ""},
		{"near v1 prefix", []byte("PROXZ TCP4"), "", "no PROXY protocol header", ""},
		{"empty", nil, "", "connection ended first", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := bufio.NewReader(bytes.NewReader(tc.in))
			h, err := ReadHeader(r)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := "local"
			if h.Command == Proxy {
				got = h.Source.String() + " " + h.Destination.String()
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			rest, _ := io.ReadAll(r)
			if string(rest) != tc.leftover {
				t.Errorf("left %q, want %q", rest, tc.leftover)
			}
		})
	}
}

func TestFormatRoundTrip(t *testing.T) {
	for _, h := range []Header{
		{Version: 1, Command: Proxy, Source: netip.MustParseAddrPort("192.0.2.7:1"), Destination: netip.MustParseAddrPort("192.0.2.1:25")},
		{Version: 1, Command: Proxy, Source: netip.MustParseAddrPort("[2001:db8::7]:65535"), Destination: netip.MustParseAddrPort("[2001:db8::1]:0")},
		{Version: 1},
		{Version: 2, Command: Proxy, Source: netip.MustParseAddrPort("192.0.2.7:1"), Destination: netip.MustParseAddrPort("192.0.2.1:25")},
		{Version: 2, Command: Proxy, Source: netip.MustParseAddrPort("[2001:db8::7]:2"), Destination: netip.MustParseAddrPort("[2001:db8::1]:993")},
		{Version: 2},
	} {
		got, err := ReadHeader(bufio.NewReader(bytes.NewReader(h.Format())))
		if err != nil {
			t.Fatalf("%q: %v", h.Format(), err)
		}
		if *got != h {
			t.Errorf("%q: got %+v, want %+v", h.Format(), *got, h)
		}
	}
}

func TestLooksLikeHeader(t *testing.T) {
	for in, want := range map[string]bool{
		"PROXY TCP4 1.2.3.4":     true,
		"PROXY UNKNOWN\r\n":      true,
		"\r\n\r\n\x00\r\nQUIT\n": true,
		"PROXY LOGIN a b\r\n":    false, // an IMAP tag may be PROXY
		"EHLO x\r\n":             false,
		"\r\n":                   false,
		"":                       false,
	} {
		if got := looksLikeHeader(bufio.NewReader(strings.NewReader(in))); got != want {
			t.Errorf("%q: %v, want %v", in, got, want)
		}
	}
}

// FuzzReadHeader checks that no input panics, that a header never claims
// more bytes than it was given, and that what parses formats back to the
// same header.
func FuzzReadHeader(f *testing.F) {
	f.Add([]byte("PROXY TCP4 192.0.2.7 198.51.100.1 50000 25\r\nEHLO x\r\n"))
	f.Add([]byte("PROXY TCP6 2001:db8::7 2001:db8::1 1234 143\r\n"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add(v2(0x21, 0x11, []byte{192, 0, 2, 7, 198, 51, 100, 1, 0xc3, 0x50, 0, 25, 4, 0, 1, 0}))
	f.Add(v2(0x21, 0x21, make([]byte, 36)))
	f.Add(v2(0x20, 0x00, nil))
	f.Add(append(append([]byte{}, v2Sig...), 0x21, 0x11, 0xff, 0xff))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bufio.NewReaderSize(bytes.NewReader(in), 16)
		h, err := ReadHeader(r)
		if err != nil {
			return
		}
		rest, _ := io.ReadAll(r)
		used := len(in) - len(rest)
		if used <= 0 || used > maxV1Line && h.Version == 1 || used > 16+MaxV2Length {
			t.Fatalf("header used %d of %d bytes", used, len(in))
		}
		if h.Command != Proxy {
			return
		}
		again, err := ReadHeader(bufio.NewReader(bytes.NewReader(h.Format())))
		if err != nil || *again != *h {
			t.Fatalf("%+v formats as %q, which reads back as %+v, %v", *h, h.Format(), again, err)
		}
	})
}
