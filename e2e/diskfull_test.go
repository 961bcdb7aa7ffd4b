package e2e

import (
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"frontdesk/dnscheck/dnstest"
	"frontdesk/durable/disktest"
)

// smtpScript speaks one transaction with smtplib and prints every reply
// as "STAGE CODE TEXT", stopping at the first refusal.
// argv: host port from to msgfile size(yes|no) [user pass]
const smtpScript = `
import smtplib, sys
host, port, frm, to, path, size = sys.argv[1:7]
msg = open(path, 'rb').read()
s = smtplib.SMTP(host, int(port), timeout=60)
s.ehlo('client.outside.test')
if len(sys.argv) > 7:
    s.login(sys.argv[7], sys.argv[8])
def out(stage, r):
    print(stage, r[0], r[1].decode().replace('\n', ' '))
    return r[0] < 400
opts = ['SIZE=%d' % len(msg)] if size == 'yes' else []
if out('MAIL', s.mail(frm, opts)) and out('RCPT', s.rcpt(to)):
    try:
        out('DATA', s.data(msg))
    except smtplib.SMTPDataError as e:
        out('DATA', (e.smtp_code, e.smtp_error))
s.quit()
`

// appendScript APPENDs one message with imaplib and prints the status and
// the response text. argv: host port user pass msgfile
const appendScript = `
import imaplib, sys
host, port, user, pw, path = sys.argv[1:6]
c = imaplib.IMAP4(host, int(port))
c.login(user, pw)
typ, data = c.append('INBOX', None, None, open(path, 'rb').read())
print(typ, b' '.join(d for d in data if d).decode())
c.logout()
`

// fetchScript prints every message of INBOX as "UID SIZE" lines followed
// by the message, so a test can tell whole messages from partial ones.
const fetchScript = `
import imaplib, sys, re
host, port, user, pw = sys.argv[1:5]
c = imaplib.IMAP4(host, int(port))
c.login(user, pw)
c.select('INBOX')
typ, data = c.uid('FETCH', '1:*', '(RFC822.SIZE BODY.PEEK[])')
assert typ == 'OK', data
out = sys.stdout.buffer
for d in data:
    if isinstance(d, tuple):
        m = re.search(rb'UID (\d+)', d[0]); z = re.search(rb'RFC822.SIZE (\d+)', d[0])
        out.write(b'=== %s %s %d\n' % (m.group(1), z.group(1), len(d[1])))
        out.write(d[1] + b'\n')
c.logout()
`

func writeMsg(t testing.TB, name string, msg []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, msg, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// bigMessage is a message of about n bytes, marked by tag.
func bigMessage(tag string, n int) []byte {
	hdr := fmt.Sprintf("From: bob@outside.test\r\nTo: alice@example.test\r\nSubject: %s\r\nMessage-ID: <%s@outside.test>\r\n\r\n", tag, tag)
	line := fmt.Sprintf("%s body line, long enough to make the message big\r\n", tag)
	return []byte(hdr + strings.Repeat(line, n/len(line)+1))
}

// fatHeaderMessage is small on disk but has the largest record the store
// keeps (every summary field and 32 references at their limit), so its
// metadata needs fresh database pages.
func fatHeaderMessage(tag string) []byte {
	long := func(c string) string { return strings.Repeat(c, 500) }
	var refs []string
	for i := 0; i < 32; i++ {
		refs = append(refs, fmt.Sprintf("<%d%s@outside.test>", i, long("r")))
	}
	hdr := fmt.Sprintf("From: %s@outside.test\r\nTo: alice@example.test\r\nCc: %s@outside.test\r\nSubject: %s %s\r\n"+
		"Message-ID: <%s%s@outside.test>\r\nIn-Reply-To: <%s@outside.test>\r\nReferences: %s\r\n\r\n%s\r\n",
		long("f"), long("c"), tag, long("s"), tag, long("m"), long("i"), strings.Join(refs, "\r\n "), tag)
	return []byte(hdr)
}

func msgFiles(t testing.TB, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func runPy(t testing.TB, script string, args ...string) string {
	t.Helper()
	out, err := python(t, script, args...)
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	return strings.TrimSpace(out)
}

func wantPrefix(t testing.TB, what, got, want string) {
	t.Helper()
	if !strings.HasPrefix(got, want) {
		t.Errorf("%s: got %q, want %q…", what, got, want)
	}
}

// TestDiskFullMail fills the file system of the data directory while the
// server runs: the MX, submission (to a remote recipient, through the
// queue) and IMAP APPEND answer with temporary "storage full" replies,
// before the message file and after it (no room for the metadata);
// nothing partial appears; once space is back the same server accepts
// mail again.
func TestDiskFullMail(t *testing.T) {
	needTool(t, "python3")
	mnt := disktest.Mount(t, 48<<20)
	data := filepath.Join(mnt, "data")
	srv := startServer(t, data)
	mustFrontdesk(t, "", "domain", "add", "example.test", "--data", data)
	mustFrontdesk(t, alicePass+"\n", "user", "add", "alice@example.test", "--password-stdin", "--data", data)
	host, mxPort := splitAddr(t, srv.addr("smtp"))
	_, subPort := splitAddr(t, srv.addr("submission"))
	_, imapPort := splitAddr(t, srv.addr("imap"))
	mx := func(msg []byte, size string) string {
		return runPy(t, smtpScript, host, mxPort, "bob@outside.test", "alice@example.test", writeMsg(t, "m.eml", msg), size)
	}
	appendMsg := func(msg []byte) string {
		return runPy(t, appendScript, host, imapPort, "alice@example.test", alicePass, writeMsg(t, "a.eml", msg))
	}
	var stored [][]byte // what the server acknowledged, in order

	first := bigMessage("before", 2000)
	if got := mx(first, "yes"); !strings.Contains(got, "DATA 250") {
		t.Fatalf("delivery with room: %s", got)
	}
	stored = append(stored, first)
	// Indexing the first message writes to the same disk: have it done
	// before the space is measured out.
	runPy(t, `
import imaplib, sys
c = imaplib.IMAP4(sys.argv[1], int(sys.argv[2])); c.login(sys.argv[3], sys.argv[4]); c.select('INBOX')
print(c.search(None, 'TEXT', 'before'))`, host, imapPort, "alice@example.test", alicePass)
	msgDir := filepath.Join(data, "msg")
	files := msgFiles(t, msgDir)

	t.Run("no room for the file", func(t *testing.T) {
		big := bigMessage("toobig", 300<<10)
		// Not one block left: even without SIZE, refused at MAIL.
		f := disktest.Fill(t, mnt, 0)
		wantPrefix(t, "MX MAIL on a full disk", mx(big, "no"), "MAIL 452 4.3.1")
		f.Free()
		f = disktest.Fill(t, mnt, 16<<10)
		// SIZE tells the server up front (RFC 1870): refused at MAIL.
		wantPrefix(t, "MX MAIL with SIZE", mx(big, "yes"), "MAIL 452 4.3.1")
		// Without SIZE the write fails at DATA.
		got := mx(big, "no")
		wantPrefix(t, "MX DATA", got[strings.LastIndex(got, "DATA"):], "DATA 452 4.3.1")
		wantPrefix(t, "APPEND", appendMsg(big), "NO [OVERQUOTA]")
		got = runPy(t, smtpScript, host, subPort, "alice@example.test", "carol@remote.test", writeMsg(t, "s.eml",
			[]byte(strings.Replace(string(big), "From: bob@outside.test", "From: alice@example.test", 1))), "no", "alice@example.test", alicePass)
		wantPrefix(t, "submission DATA", got[strings.LastIndex(got, "DATA"):], "DATA 452 4.3.1")
		if q := mustFrontdesk(t, "", "queue", "list", "--data", data); !strings.Contains(q, "queue is empty") {
			t.Errorf("refused submission left something in the queue:\n%s", q)
		}
		f.Free()
	})

	t.Run("room for the file, not its metadata", func(t *testing.T) {
		fat := fatHeaderMessage("fat")
		// The file takes the room left (with the trace headers the
		// server adds); the database then has no page to grow into.
		f := disktest.Fill(t, mnt, int64(len(fat))+2048)
		before := strings.Count(srv.Log(), "store: commit")
		if got := mx(fat, "no"); !strings.Contains(got, "DATA 452 4.3.1") {
			t.Errorf("MX: got %q, want DATA 452 4.3.1", got)
		}
		f.Free()
		f = disktest.Fill(t, mnt, int64(len(fat)))
		wantPrefix(t, "APPEND", appendMsg(fat), "NO [OVERQUOTA]")
		f.Free()
		if strings.Count(srv.Log(), "store: commit") < before+2 {
			t.Errorf("no failed metadata commit in the log: the file write failed instead, so this case tested nothing:\n%s", srv.Log())
		}
	})

	if n := msgFiles(t, msgDir); n != files {
		t.Errorf("message files: %d after the refusals, %d before: a refused message left its file behind", n, files)
	}

	// Space is back: the same server takes mail again, first time.
	again := bigMessage("after", 300<<10)
	if got := mx(again, "yes"); !strings.Contains(got, "DATA 250") {
		t.Fatalf("MX after space came back: %s\n%s", got, srv.Log())
	}
	stored = append(stored, again)
	appended := fatHeaderMessage("appended")
	if got := appendMsg(appended); !strings.HasPrefix(got, "OK") {
		t.Fatalf("APPEND after space came back: %s", got)
	}
	stored = append(stored, appended)
	got := runPy(t, smtpScript, host, subPort, "alice@example.test", "carol@remote.test", writeMsg(t, "s.eml",
		[]byte("From: alice@example.test\r\nTo: carol@remote.test\r\nSubject: out\r\n\r\nhello\r\n")), "yes", "alice@example.test", alicePass)
	if !strings.Contains(got, "DATA 250") {
		t.Fatalf("submission after space came back: %s", got)
	}

	// INBOX holds exactly the acknowledged messages, each whole, and the
	// bounce of the one queued message (remote.test has no MX): the
	// refused submission was never queued.
	var parts []string
	for deadline := time.Now().Add(30 * time.Second); ; {
		out, err := python(t, fetchScript, host, imapPort, "alice@example.test", alicePass)
		if err != nil {
			t.Fatalf("fetch: %v\n%s", err, out)
		}
		parts = strings.Split(out, "=== ")[1:]
		if len(parts) > len(stored) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(parts) != len(stored)+1 {
		t.Fatalf("INBOX has %d messages; %d were acknowledged, plus one bounce:\n%s", len(parts), len(stored), strings.Join(parts, "=== "))
	}
	bounce := parts[len(parts)-1]
	if !strings.Contains(bounce, "Undelivered Mail") || !strings.Contains(bounce, "Subject: out") || strings.Contains(bounce, "toobig") {
		t.Errorf("last message is not the bounce of the queued message:\n%.2000s", bounce)
	}
	parts = parts[:len(stored)]
	for i, p := range parts {
		head, body, _ := strings.Cut(p, "\n")
		var uid, size, got int
		fmt.Sscan(head, &uid, &size, &got)
		body = strings.TrimSuffix(body, "\n")
		if size != got || size != len(body) {
			t.Errorf("message %d: RFC822.SIZE %d, body %d bytes: partial", uid, size, got)
		}
		if !strings.HasSuffix(body, string(stored[i])) && string(bodyBelowTrace([]byte(body))) != string(stored[i]) {
			t.Errorf("message %d is not the %d-th acknowledged one (%d bytes, want %d)", uid, i+1, len(body), len(stored[i]))
		}
	}
	// The search index, written to the same disk, caught up too.
	if got := runPy(t, `
import imaplib, sys
c = imaplib.IMAP4(sys.argv[1], int(sys.argv[2])); c.login(sys.argv[3], sys.argv[4]); c.select('INBOX')
print(c.search(None, 'TEXT', 'after')[1][0].decode())`, host, imapPort, "alice@example.test", alicePass); got != "2" {
		t.Errorf("SEARCH TEXT after: got %q, want 2\n%s", got, srv.Log())
	}
	if strings.Contains(srv.Log(), "panic") {
		t.Errorf("the server panicked:\n%s", srv.Log())
	}
}

func splitAddr(t testing.TB, addr string) (string, string) {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		t.Fatalf("bad address %q", addr)
	}
	return addr[:i], addr[i+1:]
}

// TestDiskFullRemoteSenderRetries: b.test's disk is full when a.test's
// queue delivers to it; b answers 452 4.3.1, a keeps the message and
// tries again, and once b has room the message arrives, once.
func TestDiskFullRemoteSenderRetries(t *testing.T) {
	mnt := disktest.Mount(t, 48<<20)
	w := &world{dns: dnstest.New(t)}
	w.bData = filepath.Join(mnt, "b")
	w.b = startServerDNS(t, w.bData, w.dns, "mx.b.test")
	mustFrontdesk(t, "", "domain", "add", "b.test", "--data", w.bData)
	mustFrontdesk(t, bobPass+"\n", "user", "add", "bob@b.test", "--password-stdin", "--data", w.bData)
	publishDomain(t, w.dns, w.bData, "b.test", "none")
	_, bPort, _ := net.SplitHostPort(w.b.addr("smtp"))
	conf := filepath.Join(t.TempDir(), "a.toml")
	os.WriteFile(conf, []byte("[queue]\nretry = [\"200ms\", \"400ms\"]\n"), 0o600)
	w.aData = filepath.Join(t.TempDir(), "a")
	w.a = startServerDNS(t, w.aData, w.dns, "mx.a.test", "--config", conf, "--outbound-port", bPort)
	mustFrontdesk(t, "", "domain", "add", "a.test", "--data", w.aData)
	mustFrontdesk(t, alicePass+"\n", "user", "add", "alice@a.test", "--password-stdin", "--data", w.aData)
	publishDomain(t, w.dns, w.aData, "a.test", "none")

	f := disktest.Fill(t, mnt, 16<<10)
	c, err := smtp.Dial(w.a.addr("submission"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("laptop.a.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(sasl.NewPlainClient("", "alice@a.test", alicePass)); err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("a line of the report that does not fit on b's disk\r\n", 6000)
	msg := "From: alice@a.test\r\nTo: bob@b.test\r\nSubject: Quarterly report\r\nMessage-ID: <report@a.test>\r\n\r\n" + body
	if err := c.SendMail("alice@a.test", []string{"bob@b.test"}, strings.NewReader(msg)); err != nil {
		t.Fatalf("submission with room on a: %v", err)
	}
	var q string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		q = mustFrontdesk(t, "", "queue", "list", "--data", w.aData)
		if strings.Contains(q, "452 4.3.1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a's queue never saw b's 452 4.3.1:\n%s\nb's log:\n%s", q, w.b.Log())
		}
	}
	if !strings.Contains(q, "queued") {
		t.Fatalf("a gave up on a 4xx instead of retrying:\n%s", q)
	}
	f.Free()
	got := waitMail(t, w.b.addr("imap"), "bob@b.test", bobPass, "INBOX", "Quarterly report")
	if !strings.HasSuffix(got, body) {
		t.Errorf("the message arrived cut: %d bytes", len(got))
	}
	cl := imapLogin(t, w.b.addr("imap"), "bob@b.test", bobPass, "INBOX")
	st, err := cl.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if *st.NumMessages != 1 {
		t.Errorf("bob's INBOX holds %d messages, want the one", *st.NumMessages)
	}
}
