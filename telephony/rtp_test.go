package telephony

import (
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
)

func TestPacketizer(t *testing.T) {
	p := newPacketizer(ptPCMU)
	seq0, ts0 := p.seq, p.ts
	for i := 0; i < 70000; i++ { // past a sequence wrap
		pkt := p.next(make([]byte, frameSamples), frameSamples)
		if pkt.Marker != (i == 0) {
			t.Fatalf("packet %d marker %v", i, pkt.Marker)
		}
		if pkt.SequenceNumber != seq0+uint16(i) || pkt.Timestamp != ts0+uint32(i*frameSamples) || pkt.SSRC != p.ssrc || pkt.PayloadType != ptPCMU || pkt.Version != 2 {
			t.Fatalf("packet %d: %+v", i, pkt.Header)
		}
	}
}

func seqs(ps []*rtp.Packet) []uint16 {
	var out []uint16
	for _, p := range ps {
		out = append(out, p.SequenceNumber)
	}
	return out
}

func TestJitterBuffer(t *testing.T) {
	j := jitterBuffer{window: 3}
	var got []uint16
	push := func(s uint16) bool {
		out, drop := j.push(&rtp.Packet{Header: rtp.Header{SequenceNumber: s}})
		got = append(got, seqs(out)...)
		return drop
	}
	// In order across the wrap, one swap, one duplicate, one late.
	for _, s := range []uint16{65534, 65535, 1, 0, 2, 2} {
		push(s)
	}
	if push(1) != true {
		t.Fatal("late packet not dropped")
	}
	// 3 is lost: held packets flush once more than the window wait.
	for _, s := range []uint16{4, 5, 6, 7} {
		push(s)
	}
	want := []uint16{65534, 65535, 0, 1, 2, 4, 5, 6, 7}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// A sequence jump (new stream) is followed at once.
	got = nil
	push(30000)
	push(30001)
	if !slices.Equal(got, []uint16{30000, 30001}) {
		t.Fatalf("after jump: %v", got)
	}
}

// TestLegLoopback sends audio and RFC 4733 events between two legs and
// checks pacing by sequence/timestamp, decoding and key detection.
func TestLegLoopback(t *testing.T) {
	var cur atomic.Uint32
	ip := net.IPv4(127, 0, 0, 1)
	ca, err := listenRTP(ip, 30000, 30100, &cur)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := listenRTP(ip, 30000, 30100, &cur)
	if err != nil {
		t.Fatal(err)
	}
	if ca.LocalAddr().(*net.UDPAddr).Port%2 != 0 {
		t.Fatal("odd RTP port")
	}
	a, b := newLeg(ca, slog.Default()), newLeg(cb, slog.Default())
	defer a.close()
	defer b.close()
	a.start(mediaParams{remote: cb.LocalAddr().(*net.UDPAddr), pt: ptPCMA, dtmfPT: 101})
	b.start(mediaParams{remote: ca.LocalAddr().(*net.UDPAddr), pt: ptPCMU, dtmfPT: 101})

	var mu sync.Mutex
	var heard []int16
	b.setSink(func(pcm []int16) {
		mu.Lock()
		heard = append(heard, pcm...)
		mu.Unlock()
	})
	sig := tone(440, 200, 8000) // 10 frames
	<-a.play(sig)
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		ok := len(heard) >= 12*frameSamples
		mu.Unlock()
		if ok || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	// The tone must appear A-law-quantized in what b heard.
	var want []int16
	for _, s := range sig {
		want = append(want, alawDecode(alawEncode(s)))
	}
	found := false
	for i := 0; i+len(want) <= len(heard); i++ {
		if slices.Equal(heard[i:i+len(want)], want) {
			found = true
			break
		}
	}
	mu.Unlock()
	if !found {
		t.Fatal("tone not received intact")
	}

	// RFC 4733 key from a raw socket, with garbage around it.
	raw, _ := net.DialUDP("udp", nil, cb.LocalAddr().(*net.UDPAddr))
	defer raw.Close()
	raw.Write([]byte("garbage"))
	raw.Write(make([]byte, 40))
	pk := newPacketizer(101)
	for i := 0; i < 6; i++ {
		pkt := pk.next(telephoneEvent('7', i >= 3, 10, uint16(160*(i+1))), 0)
		bts, _ := pkt.Marshal()
		raw.Write(bts)
	}
	other := newPacketizer(99)
	bts, _ := other.next([]byte{1, 2, 3}, 3).Marshal()
	raw.Write(bts)
	select {
	case k := <-b.digits:
		if k != '7' {
			t.Fatalf("key %q", k)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no key")
	}
	select {
	case k := <-b.digits:
		t.Fatalf("duplicate key %q", k)
	case <-time.After(100 * time.Millisecond):
	}
	for b.stats().Dropped < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := b.stats(); st.Dropped < 3 || st.In == 0 || st.Out == 0 {
		t.Fatalf("stats %+v", st)
	}
}
