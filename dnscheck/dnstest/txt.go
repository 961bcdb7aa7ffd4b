package dnstest

import (
	"strings"

	"github.com/miekg/dns"
)

// SetTXT replaces the TXT records of name with one record holding data as
// is, split into strings of at most 255 bytes: any byte, also ones a zone
// file cannot spell.
func (s *Server) SetTXT(name, data string) {
	var chunks []string
	for len(data) > 255 {
		chunks, data = append(chunks, data[:255]), data[255:]
	}
	chunks = append(chunks, data)
	k := strings.ToLower(dns.Fqdn(name))
	rr := &dns.TXT{Hdr: dns.RR_Header{Name: k, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: chunks}
	s.Remove(name, dns.TypeTXT)
	s.mu.Lock()
	s.records[k] = append(s.records[k], rr)
	s.mu.Unlock()
}
