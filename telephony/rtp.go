package telephony

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// RTP media for one call leg (RFC 3550). We send G.711 at a steady 20 ms
// pace, 160 samples a packet (RFC 3551 section 4.5.14), receive with a small
// reordering window, and pick RFC 4733 telephone-events out of the stream.
//
// Locking: leg.mu guards the current source and sink only; nothing blocks
// while holding it, and sinks are called with it released.

const (
	frameSamples  = 160
	frameInterval = 20 * time.Millisecond
	jitterWindow  = 4 // packets held back waiting for a missing one
)

// packetizer stamps outgoing packets: random SSRC and initial sequence and
// timestamp (RFC 3550 section 5.1), timestamps advancing by the samples
// sent, the marker bit on the first packet of the stream (RFC 3551 section 4.1).
type packetizer struct {
	pt      uint8
	ssrc    uint32
	seq     uint16
	ts      uint32
	started bool
}

func newPacketizer(pt uint8) *packetizer {
	var b [10]byte
	rand.Read(b[:])
	return &packetizer{pt: pt, ssrc: binary.BigEndian.Uint32(b[0:]), seq: binary.BigEndian.Uint16(b[4:]), ts: binary.BigEndian.Uint32(b[6:])}
}

// next wraps payload, carrying samples samples, in the next packet.
func (p *packetizer) next(payload []byte, samples int) *rtp.Packet {
	pkt := &rtp.Packet{
		Header: rtp.Header{Version: 2, PayloadType: p.pt, SequenceNumber: p.seq,
			Timestamp: p.ts, SSRC: p.ssrc, Marker: !p.started},
		Payload: payload,
	}
	p.started = true
	p.seq++
	p.ts += uint32(samples)
	return pkt
}

// jitterBuffer restores order within a small window (RFC 3550 section
// 6.4.1 calls this the receiver's playout buffer). It never waits on the
// clock: a gap is skipped once more than window packets are queued behind it.
type jitterBuffer struct {
	window  int
	started bool
	next    uint16
	held    map[uint16]*rtp.Packet
}

// push takes one packet and returns those now ready, in order, and whether
// the packet was dropped as late or duplicate.
func (j *jitterBuffer) push(p *rtp.Packet) (out []*rtp.Packet, dropped bool) {
	if j.held == nil {
		j.held = map[uint16]*rtp.Packet{}
	}
	seq := p.SequenceNumber
	if !j.started {
		j.started, j.next = true, seq
	}
	diff := int16(seq - j.next)
	switch {
	case diff < -100 || diff > 100:
		// A jump: the sender restarted its sequence. Flush and follow it.
		out = j.flushAll()
		j.next = seq
		fallthrough
	case diff == 0:
		out = append(out, p)
		j.next = seq + 1
		return j.drain(out), false
	case diff < 0:
		return nil, true
	}
	if _, dup := j.held[seq]; dup {
		return nil, true
	}
	j.held[seq] = p
	if len(j.held) > j.window {
		// Give up on the gap: skip to the oldest held packet.
		for int16(seq-j.next) > 0 && j.held[j.next] == nil {
			j.next++
		}
		return j.drain(nil), false
	}
	return nil, false
}

func (j *jitterBuffer) drain(out []*rtp.Packet) []*rtp.Packet {
	for {
		p, ok := j.held[j.next]
		if !ok {
			return out
		}
		delete(j.held, j.next)
		out = append(out, p)
		j.next++
	}
}

func (j *jitterBuffer) flushAll() []*rtp.Packet {
	var out []*rtp.Packet
	for len(j.held) > 0 {
		if p, ok := j.held[j.next]; ok {
			out = append(out, p)
			delete(j.held, j.next)
		}
		j.next++
	}
	return out
}

// source supplies 20 ms frames to a leg's sender.
type source interface {
	// read fills buf (frameSamples) and reports false when exhausted.
	read(buf []int16) bool
	// stop is called once when the source is finished or replaced.
	stop()
}

// player plays one buffer once.
type player struct {
	pcm  []int16
	off  int
	once sync.Once
	done chan struct{}
}

func newPlayer(pcm []int16) *player { return &player{pcm: pcm, done: make(chan struct{})} }

func (p *player) read(buf []int16) bool {
	if p.off >= len(p.pcm) {
		return false
	}
	n := copy(buf, p.pcm[p.off:])
	clear(buf[n:])
	p.off += n
	return true
}

func (p *player) stop() { p.once.Do(func() { close(p.done) }) }

// leg is one RTP session: a UDP socket, a sender goroutine and a receiver
// goroutine.
type leg struct {
	conn   *net.UDPConn
	log    *slog.Logger
	params mediaParams
	digits chan rune // RFC 4733 keys; full means dropped

	mu   sync.Mutex
	src  source        // guarded by mu
	sink func([]int16) // guarded by mu

	lastRecv         atomic.Int64 // unix nanos of the last valid packet
	in, out, dropped atomic.Uint64
	closeOnce        sync.Once
	closed           chan struct{}
	wg               sync.WaitGroup
}

// listenRTP binds an even UDP port in [min, max] (RFC 3550 section 11:
// RTP on even ports), starting the search at a rotating cursor.
func listenRTP(ip net.IP, min, max int, cursor *atomic.Uint32) (*net.UDPConn, error) {
	span := (max - min + 1) / 2
	if span <= 0 {
		return nil, errors.New("empty RTP port range")
	}
	start := int(cursor.Add(1))
	for i := 0; i < span; i++ {
		port := min + 2*((start+i)%span)
		if port%2 == 1 {
			port++
		}
		if port > max {
			continue
		}
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: port})
		if err == nil {
			return c, nil
		}
	}
	return nil, fmt.Errorf("no free RTP port in %d-%d", min, max)
}

func newLeg(conn *net.UDPConn, log *slog.Logger) *leg {
	l := &leg{conn: conn, log: log, digits: make(chan rune, 16), closed: make(chan struct{})}
	l.lastRecv.Store(time.Now().UnixNano())
	return l
}

// port is the local RTP port.
func (l *leg) port() int { return l.conn.LocalAddr().(*net.UDPAddr).Port }

// start begins sending and receiving with the negotiated parameters.
func (l *leg) start(p mediaParams) {
	l.params = p
	l.wg.Add(2)
	go l.sendLoop()
	go l.recvLoop()
}

// close stops both goroutines and releases the port.
func (l *leg) close() {
	l.closeOnce.Do(func() {
		close(l.closed)
		l.conn.Close()
		l.wg.Wait()
		l.mu.Lock()
		if l.src != nil {
			l.src.stop()
			l.src = nil
		}
		l.sink = nil
		l.mu.Unlock()
	})
}

// setSource replaces what is sent, stopping the previous source.
func (l *leg) setSource(s source) {
	l.mu.Lock()
	old := l.src
	l.src = s
	l.mu.Unlock()
	if old != nil {
		old.stop()
	}
}

// setSink sets the receiver of decoded audio (nil for none).
func (l *leg) setSink(f func([]int16)) {
	l.mu.Lock()
	l.sink = f
	l.mu.Unlock()
}

// play starts pcm and returns a channel closed when it has been sent or
// was replaced.
func (l *leg) play(pcm []int16) <-chan struct{} {
	p := newPlayer(pcm)
	l.setSource(p)
	return p.done
}

func (l *leg) stats() MediaStats {
	return MediaStats{In: l.in.Load(), Out: l.out.Load(), Dropped: l.dropped.Load()}
}

func (l *leg) sendLoop() {
	defer l.wg.Done()
	defer recoverLog(l.log, "rtp sender")
	pk := newPacketizer(l.params.pt)
	t := time.NewTicker(frameInterval)
	defer t.Stop()
	pcm := make([]int16, frameSamples)
	buf := make([]byte, 0, 1500)
	for {
		select {
		case <-l.closed:
			return
		case <-t.C:
		}
		l.mu.Lock()
		src := l.src
		l.mu.Unlock()
		clear(pcm)
		if src != nil && !src.read(pcm) {
			l.mu.Lock()
			if l.src == src {
				l.src = nil
			}
			l.mu.Unlock()
			src.stop()
		}
		pkt := pk.next(encodeG711(nil, l.params.pt, pcm), frameSamples)
		b, err := pkt.MarshalTo(buf[:cap(buf)])
		if err != nil {
			continue
		}
		if _, err := l.conn.WriteToUDP(buf[:b], l.params.remote); err == nil {
			l.out.Add(1)
		}
	}
}

func (l *leg) recvLoop() {
	defer l.wg.Done()
	defer recoverLog(l.log, "rtp receiver")
	jb := jitterBuffer{window: jitterWindow}
	var dd dtmfDetector
	buf := make([]byte, 2048)
	for {
		n, _, err := l.conn.ReadFromUDP(buf)
		if err != nil {
			select {
			case <-l.closed:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		var p rtp.Packet
		if err := p.Unmarshal(buf[:n]); err != nil || p.Version != 2 {
			l.dropped.Add(1)
			continue
		}
		switch {
		case p.PayloadType == ptPCMU || p.PayloadType == ptPCMA:
			l.in.Add(1)
			l.lastRecv.Store(time.Now().UnixNano())
			p.Payload = append([]byte(nil), p.Payload...)
			ready, drop := jb.push(&p)
			if drop {
				l.dropped.Add(1)
			}
			l.mu.Lock()
			sink := l.sink
			l.mu.Unlock()
			for _, r := range ready {
				if sink != nil {
					sink(decodeG711(nil, r.PayloadType, r.Payload))
				}
			}
		case l.params.dtmfPT != 0 && p.PayloadType == l.params.dtmfPT:
			l.in.Add(1)
			l.lastRecv.Store(time.Now().UnixNano())
			for _, k := range dd.feed(p.Timestamp, p.Payload) {
				select {
				case l.digits <- k:
				default:
				}
			}
		default:
			l.dropped.Add(1)
		}
	}
}

// recoverLog keeps a panic in one goroutine from taking the server down.
func recoverLog(log *slog.Logger, what string) {
	if r := recover(); r != nil {
		log.Error("panic", "in", what, "panic", r)
	}
}
