package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"

	"frontdesk/dnscheck/dnstest"
	"frontdesk/store"
)

// TestBackupAndRestore: a backup taken while mail arrives holds a
// consistent store, the queue, the DKIM keys and the spam lessons; restored
// into a new data directory, a server started there shows alice every
// message of the backup, byte for byte.
func TestBackupAndRestore(t *testing.T) {
	dns := dnstest.New(t)
	dns.MustAdd(t, "remote.test. 300 IN MX 10 mx.remote.test.", "mx.remote.test. 300 IN A 127.0.0.1")
	// Remote MX hosts are on a port where nothing listens: a message to
	// remote.test stays queued.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, deadPort, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	data := filepath.Join(t.TempDir(), "data")
	srv := startServerDNS(t, data, dns, "mx.example.test", "--outbound-port", deadPort)
	mustFrontdesk(t, "", "domain", "add", "example.test", "--data", data)
	mustFrontdesk(t, alicePass+"\n", "user", "add", "alice@example.test", "--password-stdin", "--data", data)
	records := mustFrontdesk(t, "", "domain", "records", "example.test", "--data", data)

	// Mail in INBOX, copied to Archive; a lesson for alice's spam filter;
	// the global spam database trained.
	for i := range 5 {
		deliver(t, srv.addr("smtp"), fmt.Sprint("before ", i))
	}
	c := imapLogin(t, srv.addr("imap"), "alice@example.test", alicePass, "INBOX")
	if _, err := c.Copy(imap.SeqSetNum(1, 2, 3), "Archive").Wait(); err != nil {
		t.Fatal(err)
	}
	deliverBody(t, srv.addr("smtp"), "Exclusive offer", "Miracle pills and replica watches, wholesale, discreet shipping.")
	waitMail(t, srv.addr("imap"), "alice@example.test", alicePass, "INBOX", "Exclusive offer")
	moveSubject(t, c, "INBOX", "Junk", "Exclusive offer")
	corpus := t.TempDir()
	for _, set := range []string{"ham", "spam"} {
		os.MkdirAll(filepath.Join(corpus, set), 0o700)
		for i := range 3 {
			body := "Minutes of the meeting, budget review and the project plan."
			if set == "spam" {
				body = "Cheap pills, casino bonus, act now, unbeatable prices."
			}
			os.WriteFile(filepath.Join(corpus, set, fmt.Sprint(i)), []byte(fmt.Sprintf("Subject: %s %d\r\n\r\n%s\r\n", set, i, body)), 0o600)
		}
	}
	mustFrontdesk(t, "", "spam", "train", "--ham", filepath.Join(corpus, "ham"), "--spam", filepath.Join(corpus, "spam"), "--data", data)
	probe := "Subject: offer\r\n\r\nCheap pills and a casino bonus.\r\n"
	verdict := mustFrontdesk(t, probe, "spam", "classify", "--data", data)

	// A message for a remote recipient waits in the queue.
	submitAs(t, srv.addr("submission"), "alice@example.test", alicePass, "bob@remote.test", "Queued for remote")
	var queued string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		queued = mustFrontdesk(t, "", "queue", "list", "--data", data)
		if strings.Contains(queued, "bob@remote.test") && strings.Contains(queued, "queued") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue list:\n%s", queued)
		}
	}

	// Back up while mail is being delivered.
	var stop atomic.Bool
	var wg sync.WaitGroup
	var mu sync.Mutex
	var acked []string
	for w := range 3 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				subject := fmt.Sprintf("during %d-%d", w, i)
				msg := "From: carol@outside.test\r\nTo: alice@example.test\r\nSubject: " + subject + "\r\n\r\nhi\r\n"
				if err := sendPlain(srv.addr("smtp"), msg); err != nil {
					t.Errorf("delivery during the backup: %v", err)
					return
				}
				mu.Lock()
				acked = append(acked, subject)
				mu.Unlock()
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	backup := filepath.Join(t.TempDir(), "backups", "monday")
	out := mustFrontdesk(t, "", "backup", backup, "--data", data)
	time.Sleep(200 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	t.Logf("backup while %d messages arrived:\n%s", len(acked), out)
	for _, want := range []string{"msg", "queue", "keys", "spam", "written to " + backup} {
		if !strings.Contains(out, want) {
			t.Errorf("backup output lacks %q", want)
		}
	}
	if _, err := os.Stat(backup + ".tmp"); err == nil {
		t.Error("backup left DIR.tmp behind")
	}
	for _, name := range []string{"index", "frontdesk.sock"} {
		if _, err := os.Stat(filepath.Join(backup, name)); err == nil {
			t.Errorf("backup holds %s", name)
		}
	}
	if fi, err := os.Stat(backup); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("backup directory: %v %v", fi.Mode(), err)
	}
	if _, err := frontdesk(t, "", "backup", backup, "--data", data); err == nil {
		t.Error("a second backup into a non-empty directory succeeded")
	}
	if _, err := frontdesk(t, "", "restore", backup, "--data", data); err == nil || !strings.Contains(err.Error(), "running") {
		t.Errorf("restore over a running server's data: %v", err)
	}
	if _, err := frontdesk(t, "", "restore", t.TempDir(), "--data", filepath.Join(t.TempDir(), "x")); err == nil {
		t.Error("restore of a directory that is no backup succeeded")
	}
	original := mailboxes(t, srv.addr("imap"))
	srv.stop()

	// What the backup holds, read from a scratch copy of it.
	inBackup := backupCounts(t, backup)
	for _, mb := range []string{"INBOX", "Archive", "Junk"} {
		if inBackup[mb] == 0 {
			t.Errorf("backup has no message in %s", mb)
		}
	}

	if _, err := frontdesk(t, "", "restore", backup, "--data", data); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("restore into a non-empty data directory without --force: %v", err)
	}
	restored := filepath.Join(t.TempDir(), "restored")
	out = mustFrontdesk(t, "", "restore", backup, "--data", restored)
	if !strings.Contains(out, "frontdesk serve --data "+restored) {
		t.Errorf("restore output:\n%s", out)
	}
	if fi, err := os.Stat(filepath.Join(restored, "frontdesk.db")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("restored frontdesk.db: %v", err)
	}

	srv2 := startServerDNS(t, restored, dns, "mx.example.test", "--outbound-port", deadPort)
	got := mailboxes(t, srv2.addr("imap")) // logs in with alice's password
	var n int
	for name, msgs := range got {
		if len(msgs) != inBackup[name] {
			t.Errorf("%s: %d messages after restore, %d in the backup", name, len(msgs), inBackup[name])
		}
		n += len(msgs)
		for subject, body := range msgs {
			if !bytes.Equal(body, original[name][subject]) {
				t.Errorf("%s %q differs from the original after restore", name, subject)
			}
		}
	}
	for _, mb := range []string{"INBOX", "Archive"} {
		for i := range 5 {
			subject := fmt.Sprint("before ", i)
			if _, ok := got[mb][subject]; !ok && (mb == "INBOX" || i < 3) {
				t.Errorf("%q missing from %s after restore", subject, mb)
			}
		}
	}
	if _, ok := got["Junk"]["Exclusive offer"]; !ok {
		t.Error("the message moved to Junk is missing after restore")
	}
	t.Logf("%d messages restored", n)

	if r := mustFrontdesk(t, "", "domain", "records", "example.test", "--data", restored); r != records {
		t.Errorf("DNS records after restore:\n%s\nbefore:\n%s", r, records)
	}
	if v := mustFrontdesk(t, probe, "spam", "classify", "--data", restored); v != verdict {
		t.Errorf("spam verdict after restore %q, before %q", v, verdict)
	}
	lessons, _ := filepath.Glob(filepath.Join(restored, "spam", "[0-9]*.db"))
	if len(lessons) != 1 {
		t.Errorf("alice's spam database after restore: %v", lessons)
	}
	if q := mustFrontdesk(t, "", "queue", "list", "--data", restored); queueKeys(q) != queueKeys(queued) {
		t.Errorf("queue after restore:\n%s\nbefore:\n%s", q, queued)
	}
	srv2.stop()

	// With no server running, backup opens the data directory itself;
	// restore --force replaces what a data directory holds.
	offline := filepath.Join(t.TempDir(), "offline")
	mustFrontdesk(t, "", "backup", offline, "--data", restored)
	if out := mustFrontdesk(t, "", "restore", offline, "--data", data, "--force"); !strings.Contains(out, "restored") {
		t.Errorf("restore --force printed %q", out)
	}
	if _, err := os.Stat(filepath.Join(data, "index")); err == nil {
		t.Error("restore --force kept the old search index")
	}
	srv3 := startServerDNS(t, data, dns, "mx.example.test", "--outbound-port", deadPort)
	if again := mailboxes(t, srv3.addr("imap")); len(again["INBOX"]) != len(got["INBOX"]) {
		t.Errorf("after an offline backup and restore --force: %d in INBOX, want %d", len(again["INBOX"]), len(got["INBOX"]))
	}
}

// sendPlain delivers msg to alice through the MX, without STARTTLS.
func sendPlain(addr, msg string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.SendMail("carol@outside.test", []string{"alice@example.test"}, strings.NewReader(msg))
}

// mailboxes logs in as alice and returns INBOX, Archive and Junk: subject
// → whole message.
func mailboxes(t *testing.T, addr string) map[string]map[string][]byte {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice@example.test", alicePass).Wait(); err != nil {
		t.Fatalf("alice logs in: %v", err)
	}
	out := map[string]map[string][]byte{}
	bs := &imap.FetchItemBodySection{Peek: true}
	for _, mb := range []string{"INBOX", "Archive", "Junk"} {
		sel, err := c.Select(mb, nil).Wait()
		if err != nil {
			t.Fatal(err)
		}
		out[mb] = map[string][]byte{}
		if sel.NumMessages == 0 {
			continue
		}
		var all imap.SeqSet
		all.AddRange(1, 0)
		msgs, err := c.Fetch(all, &imap.FetchOptions{Envelope: true, BodySection: []*imap.FetchItemBodySection{bs}}).Collect()
		if err != nil {
			t.Fatalf("FETCH %s: %v", mb, err)
		}
		for _, m := range msgs {
			out[mb][m.Envelope.Subject] = m.FindBodySection(bs)
		}
	}
	return out
}

// backupCounts opens a scratch copy of a backup's store and counts
// alice's messages by mailbox.
func backupCounts(t *testing.T, backup string) map[string]int {
	t.Helper()
	scratch := filepath.Join(t.TempDir(), "scratch")
	if out, err := exec.Command("cp", "-a", backup, scratch).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	st, err := store.Open(scratch)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	a, err := st.Account(ctx, "alice@example.test")
	if err != nil {
		t.Fatal(err)
	}
	mbs, err := st.Mailboxes(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, mb := range mbs {
		_, msgs, err := st.Messages(ctx, a.ID, mb.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if _, err := st.ReadMessage(a.ID, m); err != nil {
				t.Errorf("backup: %s uid %d has no file: %v", mb.Name, m.UID, err)
			}
		}
		out[mb.Name] = len(msgs)
	}
	return out
}

// queueKeys is queue list without the columns that change with attempts.
func queueKeys(list string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 {
			fmt.Fprintln(&b, f[0], f[1], f[2], f[3])
		}
	}
	return b.String()
}
