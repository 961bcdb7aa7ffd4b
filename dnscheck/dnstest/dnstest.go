// Package dnstest runs an in-process authoritative DNS server on loopback
// for tests: records are added as zone-file lines, and names can be made
// to answer SERVFAIL or never answer.
package dnstest

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Server is a DNS server on 127.0.0.1 (UDP and TCP on the same port).
type Server struct {
	Addr string // host:port to give to dnscheck.NewResolver

	udp, tcp *dns.Server
	quit     chan struct{} // closed by Close: delayed answers give up
	stop     sync.Once

	mu       sync.Mutex
	records  map[string][]dns.RR // guarded by mu; key: lower-case FQDN
	servfail map[string]bool     // guarded by mu
	silent   map[string]bool     // guarded by mu
	queries  int                 // guarded by mu
	delay    time.Duration       // guarded by mu
}

// New starts a server and stops it when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Start starts a server; Close stops it.
func Start() (*Server, error) {
	s := &Server{records: map[string][]dns.RR{}, servfail: map[string]bool{}, silent: map[string]bool{},
		quit: make(chan struct{})}
	// UDP and TCP must share a port; the TCP one may be taken, so retry.
	var pc net.PacketConn
	var l net.Listener
	var err error
	for try := 0; try < 20; try++ {
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			return nil, err
		}
		if l, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		return nil, err
	}
	s.Addr = pc.LocalAddr().String()
	started := make(chan struct{}, 2)
	notify := func() { started <- struct{}{} }
	s.udp = &dns.Server{PacketConn: pc, Handler: s, NotifyStartedFunc: notify}
	s.tcp = &dns.Server{Listener: l, Handler: s, NotifyStartedFunc: notify}
	go s.udp.ActivateAndServe()
	go s.tcp.ActivateAndServe()
	<-started
	<-started
	return s, nil
}

// Close stops the server.
func (s *Server) Close() {
	s.stop.Do(func() { close(s.quit) })
	s.udp.Shutdown()
	s.tcp.Shutdown()
}

// Add adds records given as zone-file lines, e.g.
// `example.test. 300 IN TXT "v=spf1 -all"`. A missing TTL and class are fine.
func (s *Server) Add(lines ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, line := range lines {
		rr, err := dns.NewRR(line)
		if err != nil {
			return fmt.Errorf("dnstest: %q: %w", line, err)
		}
		if rr == nil {
			continue
		}
		k := strings.ToLower(rr.Header().Name)
		s.records[k] = append(s.records[k], rr)
	}
	return nil
}

// MustAdd is Add that fails the test on a bad line.
func (s *Server) MustAdd(t testing.TB, lines ...string) {
	t.Helper()
	if err := s.Add(lines...); err != nil {
		t.Fatal(err)
	}
}

// Remove deletes every record of name (of any type when qtype is 0).
func (s *Server) Remove(name string, qtype uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := strings.ToLower(dns.Fqdn(name))
	if qtype == 0 {
		delete(s.records, k)
		return
	}
	kept := s.records[k][:0]
	for _, rr := range s.records[k] {
		if rr.Header().Rrtype != qtype {
			kept = append(kept, rr)
		}
	}
	s.records[k] = kept
}

// ServFail makes every query for name answer SERVFAIL.
func (s *Server) ServFail(name string) {
	s.mu.Lock()
	s.servfail[strings.ToLower(dns.Fqdn(name))] = true
	s.mu.Unlock()
}

// Silence makes every query for name go unanswered (a timeout).
func (s *Server) Silence(name string) {
	s.mu.Lock()
	s.silent[strings.ToLower(dns.Fqdn(name))] = true
	s.mu.Unlock()
}

// Unsilence undoes Silence and ServFail for name: it answers again.
func (s *Server) Unsilence(name string) {
	s.mu.Lock()
	k := strings.ToLower(dns.Fqdn(name))
	delete(s.silent, k)
	delete(s.servfail, k)
	s.mu.Unlock()
}

// SetDelay makes every answer wait d before it is sent (a slow server);
// 0 answers at once again.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// DeadAddr returns a loopback host:port where no DNS server listens: a
// query there is refused at once (ICMP port unreachable), as with a
// resolver that is down.
func DeadAddr(t testing.TB) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

// Queries returns how many queries were answered or dropped so far.
func (s *Server) Queries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries
}

// ServeDNS answers from the records: NXDOMAIN for an unknown name,
// an empty answer for a known name without the type asked.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	s.mu.Lock()
	delay := s.delay
	s.mu.Unlock()
	if delay > 0 {
		// Without the lock: other queries wait on their own.
		select {
		case <-time.After(delay):
		case <-s.quit:
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries++
	if len(req.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeFormatError)
		w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	if s.silent[name] {
		return
	}
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	if s.servfail[name] {
		m.SetRcode(req, dns.RcodeServerFailure)
		w.WriteMsg(m)
		return
	}
	rrs, known := s.records[name]
	if !known && !s.hasChildren(name) {
		m.SetRcode(req, dns.RcodeNameError)
		w.WriteMsg(m)
		return
	}
	for _, rr := range rrs {
		if rr.Header().Rrtype == q.Qtype || q.Qtype == dns.TypeANY {
			m.Answer = append(m.Answer, dns.Copy(rr))
		} else if rr.Header().Rrtype == dns.TypeCNAME {
			m.Answer = append(m.Answer, dns.Copy(rr))
		}
	}
	if _, isUDP := w.RemoteAddr().(*net.UDPAddr); isUDP {
		m.Truncate(dnsSize(req))
	}
	w.WriteMsg(m)
}

// hasChildren: a name with records below it exists (an empty non-terminal).
func (s *Server) hasChildren(name string) bool {
	for k := range s.records {
		if strings.HasSuffix(k, "."+name) {
			return true
		}
	}
	return false
}

func dnsSize(req *dns.Msg) int {
	if o := req.IsEdns0(); o != nil {
		return int(o.UDPSize())
	}
	return dns.MinMsgSize
}
