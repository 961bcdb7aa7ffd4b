package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"frontdesk/durable/disktest"
)

// floodScript sends messages tagged zebraNN over one connection until one
// is refused, and prints the tags of those acknowledged.
const floodScript = `
import smtplib, sys
host, port = sys.argv[1], int(sys.argv[2])
s = smtplib.SMTP(host, port, timeout=60)
s.ehlo('client.outside.test')
for i in range(200):
    tag = 'zebra%03d' % i
    msg = ('From: bob@outside.test\r\nTo: alice@example.test\r\nSubject: %s\r\n\r\n' % tag) + ('%s words for the index\r\n' % tag) * 300
    code, text = s.mail('bob@outside.test')
    if code == 250:
        s.rcpt('alice@example.test')
        try:
            code, text = s.data(msg.encode())
        except smtplib.SMTPDataError as e:
            code, text = e.smtp_code, e.smtp_error
    if code != 250:
        print('refused', code, text.decode())
        break
    print('acked', tag)
s.quit()
`

// TestDiskFullIndexCatchesUp lets the search index, written after each
// delivery, meet a full disk; once space is back SEARCH TEXT finds every
// acknowledged message, with no restart.
func TestDiskFullIndexCatchesUp(t *testing.T) {
	needTool(t, "python3")
	mnt := disktest.Mount(t, 48<<20)
	data := filepath.Join(mnt, "data")
	srv := startServer(t, data)
	mustFrontdesk(t, "", "domain", "add", "example.test", "--data", data)
	mustFrontdesk(t, alicePass+"\n", "user", "add", "alice@example.test", "--password-stdin", "--data", data)
	host, mxPort := splitAddr(t, srv.addr("smtp"))
	_, imapPort := splitAddr(t, srv.addr("imap"))

	f := disktest.Fill(t, mnt, 256<<10)
	out := runPy(t, floodScript, host, mxPort)
	var acked []string
	for _, line := range strings.Split(out, "\n") {
		if tag, ok := strings.CutPrefix(line, "acked "); ok {
			acked = append(acked, tag)
		}
	}
	if len(acked) == 0 || !strings.Contains(out, "refused 452 4.3.1") {
		t.Fatalf("want some messages acknowledged, then 452 4.3.1:\n%s", out)
	}
	// Whatever room is left goes too, so indexing the last messages
	// cannot succeed.
	disktest.Fill(t, mnt, 0)
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(srv.Log(), "search index: update failed"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the index never met the full disk, so this tested nothing:\n%s", srv.Log())
		}
	}
	f.Free()

	got := runPy(t, `
import imaplib, sys
c = imaplib.IMAP4(sys.argv[1], int(sys.argv[2])); c.login(sys.argv[3], sys.argv[4]); c.select('INBOX')
for tag in sys.argv[5:]:
    print(tag, c.search(None, 'TEXT', tag)[1][0].decode())`, append([]string{host, imapPort, "alice@example.test", alicePass}, acked...)...)
	for _, line := range strings.Split(got, "\n") {
		if f := strings.Fields(line); len(f) != 2 {
			t.Errorf("SEARCH TEXT finds no single message: %q", line)
		}
	}
	if n := len(strings.Split(got, "\n")); n != len(acked) {
		t.Errorf("%d answers for %d searches:\n%s", n, len(acked), got)
	}
}
