package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"frontdesk/dnscheck/dnstest"
	"frontdesk/store"
)

// liveLoad is mail flowing into alice's mailbox while a backup runs:
// senders over SMTP, one IMAP session flagging messages and one moving
// them to Archive. It remembers when each message and each flag was
// acknowledged.
type liveLoad struct {
	stop atomic.Bool
	wg   sync.WaitGroup

	mu      sync.Mutex
	sent    map[string]string    // Message-ID → the message as sent
	acked   map[string]time.Time // Message-ID → when 250 came back
	flagged map[string]time.Time // Message-ID → when STORE +FLAGS \Flagged said OK
	moved   map[string]time.Time // Message-ID → when MOVE to Archive said OK
	queued  map[string]time.Time // remote recipient → when submission said 250
	errs    []error
}

func (l *liveLoad) fail(err error) {
	l.mu.Lock()
	l.errs = append(l.errs, err)
	l.mu.Unlock()
}

// liveMessage is message i of sender w: one in three is to be flagged,
// one in three moved; one in seven is large, so copying takes a while.
func liveMessage(w, i int) (id, msg string) {
	kind := [...]string{"fl", "mv", "in"}[i%3]
	id = fmt.Sprintf("<live-%d-%d@outside.test>", w, i)
	lines := 8
	if i%7 == 0 {
		lines = 4000
	}
	var b strings.Builder
	fmt.Fprintf(&b, "From: carol@outside.test\r\nTo: alice@example.test\r\nSubject: %s %d-%d\r\nMessage-Id: %s\r\n\r\n", kind, w, i, id)
	for k := range lines {
		fmt.Fprintf(&b, "message %d-%d line %d: the quick brown fox jumps over the lazy dog\r\n", w, i, k)
	}
	return id, b.String()
}

func startLiveLoad(t *testing.T, srv *server) *liveLoad {
	l := &liveLoad{sent: map[string]string{}, acked: map[string]time.Time{}, flagged: map[string]time.Time{}, moved: map[string]time.Time{}, queued: map[string]time.Time{}}
	for w := range 3 {
		l.wg.Go(func() {
			for i := 0; !l.stop.Load(); i++ {
				id, msg := liveMessage(w, i)
				l.mu.Lock()
				l.sent[id] = msg
				l.mu.Unlock()
				if err := sendPlain(srv.addr("smtp"), msg); err != nil {
					l.fail(fmt.Errorf("delivery of %s: %v", id, err))
					return
				}
				l.mu.Lock()
				l.acked[id] = time.Now()
				l.mu.Unlock()
			}
		})
	}
	// Alice submits mail for a remote domain whose MX does not answer:
	// each message waits in the queue, one recipient each.
	l.wg.Go(func() {
		for i := 0; !l.stop.Load(); i++ {
			rcpt := fmt.Sprintf("r%d@remote.test", i)
			msg := "From: <alice@example.test>\r\nTo: <" + rcpt + ">\r\nSubject: out " + fmt.Sprint(i) + "\r\n\r\nqueued\r\n"
			if err := submitPlain(srv.addr("submission"), "alice@example.test", alicePass, rcpt, msg); err != nil {
				l.fail(fmt.Errorf("submission to %s: %v", rcpt, err))
				return
			}
			l.mu.Lock()
			l.queued[rcpt] = time.Now()
			l.mu.Unlock()
		}
	})
	flagger := imapLogin(t, srv.addr("imap"), "alice@example.test", alicePass, "INBOX")
	l.wg.Go(func() {
		for !l.stop.Load() {
			sd, err := flagger.UIDSearch(&imap.SearchCriteria{
				Header:  []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "fl "}},
				NotFlag: []imap.Flag{imap.FlagFlagged},
			}, nil).Wait()
			if err != nil {
				l.fail(fmt.Errorf("flagger SEARCH: %v", err))
				return
			}
			uids := sd.AllUIDs()
			if len(uids) == 0 {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			msgs, err := flagger.Fetch(imap.UIDSetNum(uids[0]), &imap.FetchOptions{Envelope: true}).Collect()
			if err != nil || len(msgs) != 1 {
				l.fail(fmt.Errorf("flagger FETCH: %v", err))
				return
			}
			err = flagger.Store(imap.UIDSetNum(uids[0]), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close()
			if err != nil {
				l.fail(fmt.Errorf("flagger STORE: %v", err))
				return
			}
			l.mu.Lock()
			l.flagged["<"+msgs[0].Envelope.MessageID+">"] = time.Now()
			l.mu.Unlock()
		}
	})
	mover := imapLogin(t, srv.addr("imap"), "alice@example.test", alicePass, "INBOX")
	l.wg.Go(func() {
		for !l.stop.Load() {
			sd, err := mover.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "mv "}}}, nil).Wait()
			if err != nil {
				l.fail(fmt.Errorf("mover SEARCH: %v", err))
				return
			}
			if uids := sd.AllUIDs(); len(uids) > 0 {
				msgs, err := mover.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{Envelope: true}).Collect()
				if err != nil {
					l.fail(fmt.Errorf("mover FETCH: %v", err))
					return
				}
				if _, err := mover.Move(imap.UIDSetNum(uids...), "Archive").Wait(); err != nil {
					l.fail(fmt.Errorf("mover MOVE: %v", err))
					return
				}
				l.mu.Lock()
				for _, m := range msgs {
					l.moved["<"+m.Envelope.MessageID+">"] = time.Now()
				}
				l.mu.Unlock()
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	return l
}

// submitPlain sends msg as user through submission, without TLS (loopback).
func submitPlain(addr, user, pass, to, msg string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("laptop.example.test"); err != nil {
		return err
	}
	if err := c.Auth(sasl.NewPlainClient("", user, pass)); err != nil {
		return err
	}
	return c.SendMail(user, []string{to}, strings.NewReader(msg))
}

// finish stops the load and waits for it.
func (l *liveLoad) finish(t *testing.T) {
	l.stop.Store(true)
	l.wg.Wait()
	for _, err := range l.errs {
		t.Error(err)
	}
}

// storedMessage is one message as IMAP shows it.
type storedMessage struct {
	mailbox string
	uid     imap.UID
	flags   []imap.Flag
	body    []byte
}

// allMessages logs in as alice and returns every message of INBOX,
// Archive and Junk by Message-ID (with angle brackets).
func allMessages(t *testing.T, addr string) map[string][]storedMessage {
	t.Helper()
	c := imapLogin(t, addr, "alice@example.test", alicePass, "")
	out := map[string][]storedMessage{}
	bs := &imap.FetchItemBodySection{Peek: true}
	for _, mb := range []string{"INBOX", "Archive", "Junk"} {
		sel, err := c.Select(mb, nil).Wait()
		if err != nil {
			t.Fatal(err)
		}
		if sel.NumMessages == 0 {
			continue
		}
		var all imap.SeqSet
		all.AddRange(1, 0)
		msgs, err := c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true, Envelope: true, BodySection: []*imap.FetchItemBodySection{bs}}).Collect()
		if err != nil {
			t.Fatalf("FETCH %s: %v", mb, err)
		}
		for _, m := range msgs {
			id := "<" + m.Envelope.MessageID + ">"
			out[id] = append(out[id], storedMessage{mailbox: mb, uid: m.UID, flags: m.Flags, body: m.FindBodySection(bs)})
		}
	}
	return out
}

// otherFileSystem returns a new directory on another file system than
// dir's (tmpfs), so the backup copies message files instead of linking
// them, or "" when there is none.
func otherFileSystem(t *testing.T, dir string) string {
	var a, b syscall.Stat_t
	if syscall.Stat(dir, &a) != nil || syscall.Stat("/dev/shm", &b) != nil || a.Dev == b.Dev {
		return ""
	}
	d, err := os.MkdirTemp("/dev/shm", "frontdesk-backup")
	if err != nil {
		return ""
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// TestBackupWhileMailFlows: `frontdesk backup` runs against the live
// server while three senders deliver over SMTP and two IMAP sessions flag
// and move messages. Restored into a new data directory, the server there
// shows alice every message acknowledged before the backup started, each
// once and byte for byte as sent, with every flag acknowledged before the
// backup started; nothing else; and it takes new mail.
func TestBackupWhileMailFlows(t *testing.T) {
	dns := dnstest.New(t)
	dns.MustAdd(t, "remote.test. 300 IN MX 10 mx.remote.test.", "mx.remote.test. 300 IN A 127.0.0.1")
	data := filepath.Join(t.TempDir(), "data")
	srv := startServerDNS(t, data, dns, "mx.example.test", "--outbound-port", "1")
	mustFrontdesk(t, "", "domain", "add", "example.test", "--data", data)
	mustFrontdesk(t, alicePass+"\n", "user", "add", "alice@example.test", "--password-stdin", "--data", data)
	for i := range 10 {
		id, msg := liveMessage(9, i)
		if err := sendPlain(srv.addr("smtp"), msg); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	load := startLiveLoad(t, srv)
	time.Sleep(500 * time.Millisecond)

	parent := otherFileSystem(t, srv.data)
	if parent == "" {
		parent = t.TempDir()
	}
	backup := filepath.Join(parent, "live")
	started := time.Now()
	out, err := frontdesk(t, "", "backup", backup, "--data", srv.data)
	ended := time.Now()
	time.Sleep(200 * time.Millisecond)
	load.finish(t)
	if err != nil {
		t.Fatalf("backup while mail flows: %v\n%s", err, out)
	}
	load.mu.Lock()
	defer load.mu.Unlock()
	var before, during, later int
	for _, at := range load.acked {
		switch {
		case at.Before(started):
			before++
		case at.Before(ended):
			during++
		default:
			later++
		}
	}
	t.Logf("backup into %s took %s; %d messages acknowledged before it, %d during, %d flagged, %d moved; output:\n%s",
		parent, ended.Sub(started).Round(time.Millisecond), before, during, len(load.flagged), len(load.moved), out)
	if before == 0 || during+later == 0 || len(load.flagged) == 0 || len(load.moved) == 0 {
		t.Errorf("the load did not overlap the backup: %d before, %d during, %d flagged, %d moved", before, during, len(load.flagged), len(load.moved))
	}
	var manifest struct {
		DataFormat int `json:"data_format"`
	}
	if b, err := os.ReadFile(filepath.Join(backup, "frontdesk-backup.json")); err != nil || json.Unmarshal(b, &manifest) != nil || manifest.DataFormat != store.FormatVersion {
		t.Errorf("backup manifest: data_format %d (%v), want %d", manifest.DataFormat, err, store.FormatVersion)
	}
	// Every database that is not a derived index is in the backup.
	filepath.WalkDir(srv.data, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(srv.data, path)
		if d.IsDir() && (rel == "index" || rel == filepath.Join("tickets", "index")) {
			return filepath.SkipDir
		}
		if strings.HasSuffix(rel, ".db") {
			if _, err := os.Stat(filepath.Join(backup, rel)); err != nil {
				t.Errorf("the backup lacks %s", rel)
			}
		}
		return nil
	})
	srv.stop()

	restored := filepath.Join(t.TempDir(), "restored")
	mustFrontdesk(t, "", "restore", backup, "--data", restored)
	srv2 := startServerDNS(t, restored, dns, "mx.example.test", "--outbound-port", "1")
	got := allMessages(t, srv2.addr("imap"))

	for id, at := range load.acked {
		if at.Before(started) && len(got[id]) == 0 {
			t.Errorf("%s, acknowledged before the backup started, is missing after restore", id)
		}
	}
	for i := range 10 {
		if id, _ := liveMessage(9, i); len(got[id]) == 0 {
			t.Errorf("%s, delivered before the load, is missing after restore", id)
		}
	}
	var n int
	for id, copies := range got {
		n += len(copies)
		if len(copies) > 1 {
			t.Errorf("%s appears %d times after restore: %+v", id, len(copies), copies)
		}
		sent, ok := load.sent[id]
		if !ok && strings.HasPrefix(id, "<live-9-") {
			var i int
			fmt.Sscanf(id, "<live-9-%d@", &i)
			_, sent = liveMessage(9, i)
			ok = true
		}
		if !ok {
			t.Errorf("after restore: %s, which was never sent", id)
			continue
		}
		for _, c := range copies {
			if !bytes.Equal(bodyBelowTrace(c.body), []byte(sent)) {
				t.Errorf("%s in %s differs from what was sent (%d bytes, sent %d)", id, c.mailbox, len(bodyBelowTrace(c.body)), len(sent))
			}
			at, moved := load.moved[id]
			if moved && at.Before(started) && c.mailbox != "Archive" {
				t.Errorf("%s, moved to Archive before the backup started, is in %s after restore", id, c.mailbox)
			}
			if !moved && c.mailbox != "INBOX" {
				t.Errorf("%s, never moved, is in %s after restore", id, c.mailbox)
			}
		}
		if at, ok := load.flagged[id]; ok && at.Before(started) {
			for _, c := range copies {
				if !hasFlag(c.flags, imap.FlagFlagged) {
					t.Errorf("%s lost the \\Flagged acknowledged before the backup started: %v", id, c.flags)
				}
			}
		}
	}
	t.Logf("%d messages after restore", n)

	// The queue holds every submission acknowledged before the backup
	// started, once, and nothing that was not submitted.
	rows := map[string]int{}
	for _, line := range strings.Split(mustFrontdesk(t, "", "queue", "list", "--data", restored), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && strings.HasSuffix(f[2], "@remote.test") {
			rows[f[2]]++
		}
	}
	for rcpt, at := range load.queued {
		if at.Before(started) && rows[rcpt] == 0 {
			t.Errorf("the submission to %s, acknowledged before the backup started, is not queued after restore", rcpt)
		}
	}
	for rcpt, n := range rows {
		if n != 1 {
			t.Errorf("%s is queued %d times after restore", rcpt, n)
		}
		if _, ok := load.queued[rcpt]; !ok {
			t.Errorf("after restore, %s is queued but was never submitted", rcpt)
		}
	}
	t.Logf("%d submissions queued after restore, of %d acknowledged", len(rows), len(load.queued))

	// The restored databases opened (the server started on them; the
	// queue answered above), and the server takes mail.
	id, msg := liveMessage(8, 1)
	if err := sendPlain(srv2.addr("smtp"), msg); err != nil {
		t.Fatal(err)
	}
	after := allMessages(t, srv2.addr("imap"))
	if len(after[id]) != 1 {
		t.Fatalf("new mail after restore: %+v", after[id])
	}
	for other, copies := range after {
		for _, c := range copies {
			if other != id && c.mailbox == "INBOX" && c.uid >= after[id][0].uid {
				t.Errorf("new mail got UID %d, not above %s's %d", after[id][0].uid, other, c.uid)
			}
		}
	}
}

func hasFlag(flags []imap.Flag, f imap.Flag) bool {
	for _, g := range flags {
		if strings.EqualFold(string(g), string(f)) {
			return true
		}
	}
	return false
}
