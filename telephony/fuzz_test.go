package telephony

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// Fuzz targets for the parsers this package owns: WAV prompts, RFC 4733
// telephone-events, SIP INFO DTMF bodies, remote SDP, the RTP receive path
// (jitter buffer and G.711 decode), the contacts file and digest
// credentials. Seeds live in testdata/fuzz/<FuzzName>; run one with e.g.
//
//	go test ./telephony -run '^$' -fuzz '^FuzzReadWAV$' -fuzztime 30s

// FuzzReadWAV: any bytes give samples or an error naming the problem; what
// is accepted is no bigger than the input and survives EncodeWAV/ReadWAV
// unchanged; and any samples survive EncodeWAV/ReadWAV (and a data chunk
// whose size was never patched, as a streamed recording leaves it).
func FuzzReadWAV(f *testing.F) {
	f.Add(EncodeWAV([]int16{0, 1, -1, 32767, -32768}))
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVE"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pcm, err := ReadWAV(bytes.NewReader(data))
		if err != nil {
			if pcm != nil || !strings.HasPrefix(err.Error(), "telephony: ") {
				t.Fatalf("error %q with %d samples", err, len(pcm))
			}
		} else {
			if 2*len(pcm)+44 > len(data) {
				t.Fatalf("%d samples from %d bytes", len(pcm), len(data))
			}
			back, err := ReadWAV(bytes.NewReader(EncodeWAV(pcm)))
			if err != nil || !slices.Equal(back, pcm) {
				t.Fatalf("re-encoded WAV: %v, %d samples, want %d", err, len(back), len(pcm))
			}
		}

		// The input as samples: nothing is lost on the way through a file.
		samples := make([]int16, len(data)/2)
		for i := range samples {
			samples[i] = int16(binary.LittleEndian.Uint16(data[2*i:]))
		}
		wav := EncodeWAV(samples)
		if got, err := ReadWAV(bytes.NewReader(wav)); err != nil || !slices.Equal(got, samples) {
			t.Fatalf("round trip of %d samples: %v, got %d", len(samples), err, len(got))
		}
		binary.LittleEndian.PutUint32(wav[40:], 0xFFFFFFFF) // data size never patched
		if got, err := ReadWAV(bytes.NewReader(wav)); err != nil || !slices.Equal(got, samples) {
			t.Fatalf("streamed WAV of %d samples: %v, got %d", len(samples), err, len(got))
		}
	})
}

// FuzzTelephoneEvent feeds arbitrary RFC 4733 payloads to the detector:
// each record of the input is a timestamp step (1 byte, times 160) and a
// payload (length byte, then the bytes). Keys reported are DTMF keys, at
// most two per packet, each the event of a packet seen before, and never
// more keys than distinct events seen.
func FuzzTelephoneEvent(f *testing.F) {
	f.Add([]byte("\x01\x04\x05\x0a\x00\xa0\x00\x04\x05\x0a\x01\x40\x00\x04\x05\x8a\x01\xe0\x00\x04\x05\x8a\x01\xe0"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var d dtmfDetector
		var ts uint32
		seen := map[rune]bool{}
		events := 0
		var lastTS uint32
		haveLast := false
		var keys []rune
		for len(data) >= 2 {
			ts += 160 * uint32(data[0])
			n := min(int(data[1]), len(data)-2)
			payload := data[2 : 2+n]
			data = data[2+n:]
			if len(payload) >= 4 && payload[0] <= 15 {
				seen[rune(dtmfEvents[payload[0]])] = true
				if !haveLast || ts != lastTS {
					events++
				}
				lastTS, haveLast = ts, true
			}
			out := d.feed(ts, payload)
			if len(out) > 2 {
				t.Fatalf("%d keys from one packet: %q", len(out), out)
			}
			for _, k := range out {
				if !seen[k] {
					t.Fatalf("key %q reported but never sent", k)
				}
			}
			keys = append(keys, out...)
		}
		if len(keys) > events {
			t.Fatalf("%d keys from %d events: %q", len(keys), events, keys)
		}
	})
}

// FuzzDTMFKeyPresses sends real key presses as a phone does (RFC 4733
// §2.5.1: several packets per key sharing a timestamp, the end packet three
// times) and loses the packets the input says. Every key with a packet left
// is reported once, in order; only the last may wait for its end.
func FuzzDTMFKeyPresses(f *testing.F) {
	f.Add("1234567890*#ABCD", []byte{}, uint32(0))
	f.Add("55", []byte{0x10, 0x20, 0x30}, uint32(0xFFFFFF00))
	f.Fuzz(func(t *testing.T, keys string, loss []byte, ts0 uint32) {
		var want []rune
		for _, r := range keys {
			if strings.ContainsRune(dtmfEvents, r) {
				want = append(want, r)
			}
		}
		if len(want) > 64 {
			want = want[:64]
		}
		lost := func(i int) bool { return i/8 < len(loss) && loss[i/8]&(1<<(i%8)) != 0 }
		var d dtmfDetector
		var got, expect []rune
		pkt := 0
		lastEndLost := false
		for i, k := range want {
			ts := ts0 + uint32(i)*1600
			anyKept, endKept := false, false
			for j := 0; j < 6; j++ { // three progress packets, three end packets
				end := j >= 3
				p := telephoneEvent(k, end, 10, uint16(160*(j+1)))
				if int(p[0]) != strings.IndexRune(dtmfEvents, k) || (p[1]&0x80 != 0) != end || p[1]&0x3F != 10 {
					t.Fatalf("telephoneEvent(%q, %v) = %x", k, end, p)
				}
				if lost(pkt) {
					pkt++
					continue
				}
				pkt++
				anyKept, endKept = true, endKept || end
				got = append(got, d.feed(ts, p)...)
			}
			if anyKept {
				expect = append(expect, k)
				lastEndLost = !endKept
			}
		}
		if lastEndLost { // its end never came and no later key announced it
			expect = expect[:len(expect)-1]
		}
		if string(got) != string(expect) {
			t.Fatalf("keys %q with loss %x: got %q, want %q", string(want), loss, string(got), string(expect))
		}
	})
}

// FuzzParseDTMFInfo: any SIP INFO body gives a DTMF key or nothing, and a
// well-formed dtmf-relay or dtmf body after any junk lines gives its key.
func FuzzParseDTMFInfo(f *testing.F) {
	f.Add("application/dtmf-relay", []byte("Signal=5\r\nDuration=160\r\n"), byte('5'))
	f.Add("application/dtmf", []byte("#"), byte('#'))
	f.Fuzz(func(t *testing.T, ct string, body []byte, key byte) {
		k, ok := parseDTMFInfo(ct, body)
		if ok != (k != 0) || ok && !strings.ContainsRune(dtmfEvents, k) {
			t.Fatalf("parseDTMFInfo(%q, %q) = %q, %v", ct, body, k, ok)
		}
		if !strings.ContainsRune(dtmfEvents+"abcd", rune(key)) {
			return
		}
		want := rune(strings.ToUpper(string(rune(key)))[0])
		junk := body
		if len(junk) > 1024 || bytes.ContainsRune(junk, '=') {
			junk = nil // a line with "=" may be a Signal line of its own
		}
		relay := append(append([]byte{}, junk...), fmt.Sprintf("\r\n signal = %c \r\nDuration=250\r\n", key)...)
		for _, ct := range []string{"application/dtmf-relay", "Application/DTMF-Relay; charset=utf-8"} {
			if k, ok := parseDTMFInfo(ct, relay); !ok || k != want {
				t.Fatalf("parseDTMFInfo(%q, %q) = %q, %v; want %q", ct, relay, k, ok, want)
			}
		}
		if k, ok := parseDTMFInfo("application/dtmf", []byte(" "+string(rune(key))+"\r\n")); !ok || k != want {
			t.Fatalf("application/dtmf %q = %q, %v", key, k, ok)
		}
	})
}

// FuzzParseSDP: a remote offer or answer gives usable media parameters (a
// unicast-able IP, a real port, PCMU or PCMA, a dynamic telephone-event
// type) or an error, and our answer to it parses back to the same.
func FuzzParseSDP(f *testing.F) {
	f.Add([]byte("v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio 6000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := parseSDP(body)
		if err != nil {
			if !errors.Is(err, errNoCodec) && !strings.HasPrefix(err.Error(), "bad SDP: ") {
				t.Fatalf("unclear error %q", err)
			}
			return
		}
		if p.remote == nil || p.remote.IP == nil || p.remote.Port <= 0 || p.remote.Port > 65535 {
			t.Fatalf("remote %v", p.remote)
		}
		if p.pt != ptPCMU && p.pt != ptPCMA {
			t.Fatalf("payload type %d", p.pt)
		}
		if p.dtmfPT != 0 && (p.dtmfPT < 96 || p.dtmfPT > 127) {
			t.Fatalf("telephone-event type %d", p.dtmfPT)
		}
		ans := buildSDP(p.remote.IP, p.remote.Port, []uint8{p.pt}, p.dtmfPT)
		back, err := parseSDP(ans)
		if err != nil || !back.remote.IP.Equal(p.remote.IP) || back.remote.Port != p.remote.Port ||
			back.pt != p.pt || back.dtmfPT != p.dtmfPT {
			t.Fatalf("answer %q parses to %+v, %v; want %+v", ans, back, err, p)
		}
	})
}

// FuzzJitterBuffer pushes packets with the sequence numbers the input gives
// (two bytes each; the first byte sets the window). No packet is lost: each
// is handed out once, dropped as late or duplicate, or still held; no more
// than the window is held; and what comes out is in order except across a
// sender restart (a jump of more than 100).
func FuzzJitterBuffer(f *testing.F) {
	f.Add([]byte{4, 0, 1, 0, 3, 0, 2, 0, 4, 0, 5})
	f.Add([]byte{3, 0xFF, 0xFE, 0xFF, 0xFF, 0, 1, 0, 0, 0x80, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		j := jitterBuffer{window: 1 + int(data[0]%8)}
		data = data[1:]
		outSeen := map[*rtp.Packet]bool{}
		pushed, dropped := 0, 0
		var last *rtp.Packet
		for ; len(data) >= 2; data = data[2:] {
			p := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: binary.BigEndian.Uint16(data)}}
			jump := j.started && (int16(p.SequenceNumber-j.next) < -100 || int16(p.SequenceNumber-j.next) > 100)
			out, drop := j.push(p)
			pushed++
			if drop {
				dropped++
				if len(out) != 0 {
					t.Fatalf("dropped and released %v", seqs(out))
				}
			}
			for i, o := range out {
				if outSeen[o] {
					t.Fatalf("seq %d released twice", o.SequenceNumber)
				}
				outSeen[o] = true
				restart := jump && o == p
				if last != nil && !restart && int16(o.SequenceNumber-last.SequenceNumber) <= 0 {
					t.Fatalf("seq %d released after %d (out %v, #%d)", o.SequenceNumber, last.SequenceNumber, seqs(out), i)
				}
				last = o
			}
			if len(j.held) > j.window {
				t.Fatalf("%d held, window %d", len(j.held), j.window)
			}
			for s := range j.held {
				if int16(s-j.next) <= 0 {
					t.Fatalf("seq %d held behind next %d: never released", s, j.next)
				}
			}
		}
		if len(outSeen)+dropped+len(j.held) != pushed {
			t.Fatalf("%d pushed, %d released, %d dropped, %d held", pushed, len(outSeen), dropped, len(j.held))
		}
	})
}

// FuzzRTPReceive runs a datagram through what recvLoop does with it: parse,
// jitter buffer, G.711 decode (one sample per byte) or the DTMF detector.
// It also checks our send path: a packetizer packet marshals and parses back
// unchanged.
func FuzzRTPReceive(f *testing.F) {
	pk := &packetizer{pt: ptPCMU, ssrc: 0x12345678, seq: 65535, ts: 1000}
	b, _ := pk.next(encodeG711(nil, ptPCMU, make([]int16, frameSamples)), frameSamples).Marshal()
	f.Add(b, uint8(101))
	f.Fuzz(func(t *testing.T, datagram []byte, dtmfPT uint8) {
		var p rtp.Packet
		if err := p.Unmarshal(datagram); err == nil && p.Version == 2 {
			switch {
			case p.PayloadType == ptPCMU || p.PayloadType == ptPCMA:
				p.Payload = append([]byte(nil), p.Payload...)
				jb := jitterBuffer{window: jitterWindow}
				ready, drop := jb.push(&p)
				if drop || len(ready) != 1 || ready[0] != &p {
					t.Fatalf("first packet: %d ready, dropped %v", len(ready), drop)
				}
				if pcm := decodeG711(nil, p.PayloadType, p.Payload); len(pcm) != len(p.Payload) {
					t.Fatalf("%d samples from %d bytes", len(pcm), len(p.Payload))
				}
			case p.PayloadType == dtmfPT:
				var dd dtmfDetector
				for _, k := range dd.feed(p.Timestamp, p.Payload) {
					if !strings.ContainsRune(dtmfEvents, k) {
						t.Fatalf("key %q", k)
					}
				}
			}
		}

		pt := ptPCMU
		if dtmfPT&1 == 1 {
			pt = ptPCMA
		}
		if len(datagram) > 1400 {
			datagram = datagram[:1400]
		}
		pz := &packetizer{pt: pt, ssrc: 7, seq: uint16(len(datagram)) * 77, ts: uint32(dtmfPT) << 24}
		out := pz.next(datagram, len(datagram))
		buf := make([]byte, 1500)
		n, err := out.MarshalTo(buf)
		if err != nil {
			t.Fatal(err)
		}
		var back rtp.Packet
		if err := back.Unmarshal(buf[:n]); err != nil || back.Version != 2 || back.PayloadType != pt ||
			back.SequenceNumber != out.SequenceNumber || back.Timestamp != out.Timestamp || back.SSRC != 7 ||
			!back.Marker || !bytes.Equal(back.Payload, datagram) {
			t.Fatalf("packet %x parses back as %v, %v", buf[:n], back.Header, err)
		}
	})
}

// FuzzG711 decodes any payload in both codecs: one sample per byte, every
// code word re-encodes to itself (µ-law's negative zero 0x7F to 0xFF), and
// any pair of samples survives encode and decode within G.711's
// quantization step, in order.
func FuzzG711(f *testing.F) {
	f.Add([]byte{0xFF, 0x7F, 0x80, 0x00, 0xD5, 0x55, 0xAA, 0x2A})
	f.Fuzz(func(t *testing.T, payload []byte) {
		for _, pt := range []uint8{ptPCMU, ptPCMA} {
			pcm := decodeG711(nil, pt, payload)
			if len(pcm) != len(payload) {
				t.Fatalf("pt %d: %d samples from %d bytes", pt, len(pcm), len(payload))
			}
			re := encodeG711(nil, pt, pcm)
			for i, b := range payload {
				want := b
				if pt == ptPCMU && b == 0x7F {
					want = 0xFF
				}
				if re[i] != want {
					t.Fatalf("pt %d: %#x decodes to %d, re-encodes to %#x", pt, b, pcm[i], re[i])
				}
			}
		}
		for i := 0; i+4 <= len(payload); i += 4 {
			a := int16(binary.LittleEndian.Uint16(payload[i:]))
			b := int16(binary.LittleEndian.Uint16(payload[i+2:]))
			for _, pt := range []uint8{ptPCMU, ptPCMA} {
				da := decodeG711(nil, pt, encodeG711(nil, pt, []int16{a, b}))
				for k, s := range []int16{a, b} {
					abs := max(int(s), -int(s))
					if e := max(int(da[k])-int(s), int(s)-int(da[k])); e > (abs+132)/32+16 {
						t.Fatalf("pt %d: %d comes back as %d", pt, s, da[k])
					}
				}
				if (a < b && da[0] > da[1]) || (a > b && da[0] < da[1]) {
					t.Fatalf("pt %d: %d<%d comes back %d, %d", pt, a, b, da[0], da[1])
				}
			}
		}
	})
}

// FuzzLoadContactsFile: a contacts file loads with every entry kept (the
// last line for a number wins) or fails with an error naming the file and
// line.
func FuzzLoadContactsFile(f *testing.F) {
	f.Add([]byte("# contacts\n+15550100 vip\n+1 (555) 010-1 regular\n\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "contacts.txt")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := LoadContactsFile(path)
		if err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				return // a line over 64 KiB: see the report; bufio's error names no file
			}
			if !strings.HasPrefix(err.Error(), path+":") {
				t.Fatalf("error %q does not name the file and line", err)
			}
			return
		}
		want := map[string]Level{}
		for line := range strings.Lines(string(data)) {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			fields := strings.Fields(line)
			if len(fields) != 2 {
				t.Fatalf("line %q accepted", line)
			}
			if _, err := ParseLevel(fields[1]); err != nil {
				t.Fatalf("line %q accepted: %v", line, err)
			}
			want[NormalizeNumber(fields[0])] = Level(fields[1])
		}
		for n, l := range want {
			if got, err := c.Level(context.Background(), n); err != nil || got != l {
				t.Fatalf("%q: level %q, %v; want %q", n, got, err, l)
			}
			if strings.Trim(n, "+0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
				t.Fatalf("normalized number %q keeps separators", n)
			}
		}
		if len(c.m) != len(want) {
			t.Fatalf("%d entries, want %d", len(c.m), len(want))
		}
	})
}

// FuzzParseDigest: any Authorization header parses or is refused as
// malformed, without panic; parsed keys are lower case and trimmed, and a
// map written back as a header parses to itself. A client's answer to our
// challenge verifies for any user name, URI and cnonce that fit a quoted
// string.
func FuzzParseDigest(f *testing.F) {
	f.Add(`Digest username="alice@example.test", realm="frontdesk", nonce="x", uri="sip:frontdesk", response="y", qop=auth, nc=00000001, cnonce="z", algorithm=MD5`,
		"alice@example.test", "sip:127.0.0.1:5060", "0a4f113b")
	f.Fuzz(func(t *testing.T, h, user, uri, cnonce string) {
		m, err := parseDigest(h)
		if err != nil {
			if !errors.Is(err, errDigestMalformed) {
				t.Fatalf("error %v", err)
			}
		} else {
			var parts []string
			clean := true
			for k, v := range m {
				if k != strings.ToLower(strings.TrimSpace(k)) {
					t.Fatalf("key %q", k)
				}
				if strings.ContainsAny(k, `",`) || strings.Contains(v, `"`) || k != strings.ToLower(k) {
					clean = false
				}
				parts = append(parts, k+`="`+v+`"`)
			}
			if clean && len(parts) > 0 {
				h2 := "Digest " + strings.Join(parts, ", ")
				if m2, err := parseDigest(h2); err != nil || !maps.Equal(m, m2) {
					t.Fatalf("%q parsed to %q, written back as %q parses to %q, %v", h, m, h2, m2, err)
				}
			}
		}

		d := &digestAuth{realm: "frontdesk", key: []byte("fuzz key"), now: fixedNow}
		// Arbitrary credentials are checked without panic; none can hold a
		// valid nonce, so none passes.
		if u, err := d.verify(h, "REGISTER", func(string) (string, error) { return DigestHA1("u", "frontdesk", "p"), nil }); err == nil {
			t.Fatalf("verify(%q) passed as %q", h, u)
		}
		if user == "" || uri == "" || cnonce == "" || strings.ContainsAny(user+uri+cnonce, "\"\\") {
			return
		}
		nonce := d.nonce()
		ha1 := DigestHA1(user, "frontdesk", "secret")
		resp := md5hex(ha1 + ":" + nonce + ":00000001:" + cnonce + ":auth:" + md5hex("REGISTER:"+uri))
		auth := fmt.Sprintf(`Digest username="%s", realm="frontdesk", nonce="%s", uri="%s", response="%s", qop=auth, nc=00000001, cnonce="%s", algorithm=MD5`,
			user, nonce, uri, resp, cnonce)
		got, err := d.verify(auth, "REGISTER", func(u string) (string, error) {
			if u != user {
				return "", fmt.Errorf("user %q, want %q", u, user)
			}
			return ha1, nil
		})
		if err != nil || got != user {
			t.Fatalf("verify(%q) = %q, %v", auth, got, err)
		}
	})
}

func fixedNow() time.Time { return time.Unix(1700000000, 0) }
