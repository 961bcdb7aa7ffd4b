package telephony

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/pion/sdp/v3"
)

// SDP offer/answer for one audio stream, RFC 3264 over RFC 4566 bodies.
// We speak PCMU and PCMA (RFC 3551 static types 0 and 8) and RFC 4733
// telephone-event, whose dynamic payload type we take from the offer.

// mediaParams is what offer/answer settles for one leg.
type mediaParams struct {
	remote *net.UDPAddr // where to send RTP
	pt     uint8        // ptPCMU or ptPCMA
	dtmfPT uint8        // telephone-event payload type; 0 if not negotiated
}

var errNoCodec = errors.New("no common audio codec (want PCMU or PCMA)")

// parseSDP reads an offer or answer and picks the first of the peer's
// formats we support, honouring the peer's preference order (RFC 3264
// section 6.1).
func parseSDP(body []byte) (mediaParams, error) {
	var s sdp.SessionDescription
	if err := s.Unmarshal(body); err != nil {
		return mediaParams{}, fmt.Errorf("bad SDP: %w", err)
	}
	for _, m := range s.MediaDescriptions {
		if m.MediaName.Media != "audio" || m.MediaName.Port.Value == 0 {
			continue // RFC 3264 section 6: a zero port is a rejected stream
		}
		conn := m.ConnectionInformation
		if conn == nil {
			conn = s.ConnectionInformation
		}
		if conn == nil || conn.Address == nil {
			return mediaParams{}, errors.New("bad SDP: no c= line")
		}
		ip := net.ParseIP(conn.Address.Address)
		if ip == nil {
			return mediaParams{}, fmt.Errorf("bad SDP: connection address %q is not an IP", conn.Address.Address)
		}
		p := mediaParams{remote: &net.UDPAddr{IP: ip, Port: m.MediaName.Port.Value}}
		chosen := false
		for _, f := range m.MediaName.Formats {
			n, err := strconv.Atoi(f)
			if err != nil || n < 0 || n > 127 {
				continue
			}
			if !chosen && (n == int(ptPCMU) || n == int(ptPCMA)) {
				p.pt, chosen = uint8(n), true
			}
		}
		for _, a := range m.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			num, enc, _ := strings.Cut(a.Value, " ")
			if strings.HasPrefix(strings.ToLower(enc), "telephone-event/8000") {
				if n, err := strconv.Atoi(num); err == nil && n >= 96 && n <= 127 {
					p.dtmfPT = uint8(n)
				}
			}
		}
		if !chosen {
			return mediaParams{}, errNoCodec
		}
		return p, nil
	}
	return mediaParams{}, errors.New("bad SDP: no audio stream")
}

// buildSDP writes our side: an answer (pts = the chosen codec) or an offer
// (pts = all we support), with telephone-event if dtmfPT is set.
func buildSDP(ip net.IP, port int, pts []uint8, dtmfPT uint8) []byte {
	now := uint64(time.Now().Unix())
	formats := make([]string, 0, 3)
	attrs := []sdp.Attribute{}
	for _, pt := range pts {
		formats = append(formats, strconv.Itoa(int(pt)))
		name := "PCMU/8000"
		if pt == ptPCMA {
			name = "PCMA/8000"
		}
		attrs = append(attrs, sdp.NewAttribute("rtpmap", fmt.Sprintf("%d %s", pt, name)))
	}
	if dtmfPT != 0 {
		formats = append(formats, strconv.Itoa(int(dtmfPT)))
		attrs = append(attrs,
			sdp.NewAttribute("rtpmap", fmt.Sprintf("%d telephone-event/8000", dtmfPT)),
			sdp.NewAttribute("fmtp", fmt.Sprintf("%d 0-15", dtmfPT)))
	}
	attrs = append(attrs, sdp.NewAttribute("ptime", "20"), sdp.NewPropertyAttribute("sendrecv"))
	addrType := "IP4"
	if ip.To4() == nil {
		addrType = "IP6"
	}
	s := sdp.SessionDescription{
		Origin: sdp.Origin{Username: "frontdesk", SessionID: now, SessionVersion: now,
			NetworkType: "IN", AddressType: addrType, UnicastAddress: ip.String()},
		SessionName:           "frontdesk",
		ConnectionInformation: &sdp.ConnectionInformation{NetworkType: "IN", AddressType: addrType, Address: &sdp.Address{Address: ip.String()}},
		TimeDescriptions:      []sdp.TimeDescription{{}},
		MediaDescriptions: []*sdp.MediaDescription{{
			MediaName: sdp.MediaName{Media: "audio", Port: sdp.RangedPort{Value: port},
				Protos: []string{"RTP", "AVP"}, Formats: formats},
			Attributes: attrs,
		}},
	}
	b, err := s.Marshal()
	if err != nil {
		panic(err) // only fails on nil fields, which we never leave
	}
	return b
}
