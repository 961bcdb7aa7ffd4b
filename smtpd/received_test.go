package smtpd

import (
	"net"
	"strings"
	"testing"
	"time"
)

func TestReceivedHeader(t *testing.T) {
	date := time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("", 3600))
	tr := trace{helo: "evil\r\nX-Injected: 1 (x);", ip: net.ParseIP("2001:db8::1"), hostname: "mx.example.test",
		tls: true, auth: true, utf8: true, id: "abc", rcpt: "a@b.test", date: date}
	got := string(tr.header())
	want := "Received: from evil__X-Injected:_1__x__ ([IPv6:2001:db8::1])\r\n" +
		"\tby mx.example.test (Frontdesk) with UTF8SMTPSA id abc\r\n" +
		"\tfor <a@b.test>;\r\n\tWed, 04 Mar 2026 05:06:07 +0100\r\n"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	tr = trace{helo: "", rdns: "host.example.", ip: net.ParseIP("192.0.2.7"), hostname: "h", id: "x", date: date}
	got = string(tr.header())
	if !strings.HasPrefix(got, "Received: from unknown (host.example. [192.0.2.7])\r\n\tby h (Frontdesk) with ESMTP id x;\r\n") {
		t.Errorf("got %q", got)
	}
}
