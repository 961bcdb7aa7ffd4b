package telephony

import (
	"net"
	"strings"
	"testing"
)

func TestSDPOfferAnswer(t *testing.T) {
	offer := "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio 6000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n"
	p, err := parseSDP([]byte(offer))
	if err != nil {
		t.Fatal(err)
	}
	if p.pt != ptPCMA || p.dtmfPT != 101 || p.remote.String() != "127.0.0.1:6000" {
		t.Fatalf("got %+v", p)
	}
	ans := buildSDP(net.IPv4(127, 0, 0, 1), 10002, []uint8{p.pt}, p.dtmfPT)
	for _, want := range []string{"m=audio 10002 RTP/AVP 8 101", "a=rtpmap:101 telephone-event/8000", "c=IN IP4 127.0.0.1"} {
		if !strings.Contains(string(ans), want) {
			t.Errorf("answer lacks %q:\n%s", want, ans)
		}
	}
	back, err := parseSDP(ans)
	if err != nil || back.pt != ptPCMA || back.remote.Port != 10002 {
		t.Fatalf("answer reparse: %+v %v", back, err)
	}
	for name, bad := range map[string]string{
		"g729":  strings.Replace(offer, "RTP/AVP 8 0 101", "RTP/AVP 18", 1),
		"video": strings.Replace(offer, "m=audio", "m=video", 1),
		"junk":  "hello",
		"noc":   strings.Replace(offer, "c=IN IP4 127.0.0.1\r\n", "", 1),
	} {
		if _, err := parseSDP([]byte(bad)); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}
