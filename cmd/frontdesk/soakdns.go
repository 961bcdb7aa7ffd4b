package main

import (
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// soakDNS is the authoritative DNS server of a soak run's two domains, on
// loopback UDP and TCP: every lookup of both servers goes to it, so a
// soak run never queries anything off the machine. Names it does not hold
// answer NXDOMAIN at once.
type soakDNS struct {
	addr     string
	udp, tcp *dns.Server

	mu      sync.Mutex
	records map[string][]dns.RR // guarded by mu; key: lower-case FQDN
}

func startSoakDNS() (*soakDNS, error) {
	s := &soakDNS{records: map[string][]dns.RR{}}
	var pc net.PacketConn
	var l net.Listener
	var err error
	// UDP and TCP must share a port, and the TCP one may be taken.
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
	s.addr = pc.LocalAddr().String()
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

func (s *soakDNS) close() {
	s.udp.Shutdown()
	s.tcp.Shutdown()
}

// add adds records given as zone-file lines.
func (s *soakDNS) add(lines ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, line := range lines {
		rr, err := dns.NewRR(line)
		if err != nil {
			return fmt.Errorf("soak DNS: %q: %w", line, err)
		}
		k := strings.ToLower(rr.Header().Name)
		s.records[k] = append(s.records[k], rr)
	}
	return nil
}

func (s *soakDNS) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	if len(req.Question) != 1 {
		m.SetRcode(req, dns.RcodeFormatError)
		w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	m.SetReply(req)
	m.Authoritative = true
	s.mu.Lock()
	rrs, known := s.records[strings.ToLower(q.Name)]
	for _, rr := range rrs {
		if rr.Header().Rrtype == q.Qtype {
			m.Answer = append(m.Answer, dns.Copy(rr))
		}
	}
	s.mu.Unlock()
	if !known {
		m.SetRcode(req, dns.RcodeNameError)
	}
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		size := dns.MinMsgSize
		if o := req.IsEdns0(); o != nil {
			size = int(o.UDPSize())
		}
		m.Truncate(size)
	}
	w.WriteMsg(m)
}
