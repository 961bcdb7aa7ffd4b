package imapd

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"frontdesk/authn"
)

func TestLogin(t *testing.T) {
	e := newTestEnv(t)
	c := e.dial(t, nil)
	err := c.Login(testUser, "wrong password").Wait()
	if imapCode(err) != imap.ResponseCodeAuthenticationFailed {
		t.Fatalf("bad password: got %v, want AUTHENTICATIONFAILED", err)
	}
	if err := c.Login(testUser, testPass).Wait(); err != nil {
		t.Fatalf("good password: %v", err)
	}
	caps := c.Caps()
	for _, want := range []imap.Cap{imap.CapIMAP4rev1, imap.CapIMAP4rev2, imap.CapIdle, imap.CapMove,
		imap.CapUIDPlus, imap.CapNamespace, imap.CapSpecialUse, imap.CapESearch, imap.CapLiteralPlus,
		imap.CapUnselect, imap.CapStatusSize, imap.CapEnable} {
		if !caps.Has(want) {
			t.Errorf("capability %s missing: %v", want, caps)
		}
	}

	// SASL PLAIN goes through the same check.
	c2 := e.dial(t, nil)
	if err := c2.Authenticate(sasl.NewPlainClient("", testUser, testPass)); err != nil {
		t.Fatalf("AUTHENTICATE PLAIN: %v", err)
	}
}

func TestLoginRateLimited(t *testing.T) {
	e := newTestEnv(t)
	c := e.dial(t, nil)
	for i := 0; i < authn.MaxFailures; i++ {
		err := c.Login(testUser, "wrong password").Wait()
		if err == nil || strings.Contains(err.Error(), "too many") {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	// The 11th attempt is refused even with the right password.
	err := c.Login(testUser, testPass).Wait()
	if imapCode(err) != imap.ResponseCodeAuthenticationFailed || !strings.Contains(err.Error(), "too many failed logins") {
		t.Fatalf("11th attempt: got %v, want AUTHENTICATIONFAILED too many failed logins", err)
	}
}

// fakeRemote makes a pipe look like a connection from the internet.
type fakeRemote struct {
	net.Conn
	addr net.Addr
}

func (f fakeRemote) RemoteAddr() net.Addr { return f.addr }

func TestLoginDisabledForRemotePlaintext(t *testing.T) {
	e := newTestEnv(t)
	server, client := net.Pipe()
	e.srv.dispatch(fakeRemote{server, &net.TCPAddr{IP: net.ParseIP("203.0.113.9"), Port: 40000}})
	c := imapclient.New(client, nil)
	defer c.Close()
	if err := c.WaitGreeting(); err != nil {
		t.Fatal(err)
	}
	caps, err := c.Capability().Wait()
	if err != nil {
		t.Fatal(err)
	}
	if !caps.Has(imap.CapLoginDisabled) || caps.Has(imap.Cap("AUTH=PLAIN")) {
		t.Fatalf("caps = %v, want LOGINDISABLED and no AUTH=PLAIN", caps)
	}
	err = c.Login(testUser, testPass).Wait()
	if err == nil || imapCode(err) != imap.ResponseCodePrivacyRequired {
		t.Fatalf("LOGIN over remote plain text: %v, want NO [PRIVACYREQUIRED]", err)
	}
}

func TestListSpecialUse(t *testing.T) {
	e := newTestEnv(t)
	c := e.login(t, nil)
	if err := c.Create("Projects/2024/Q1", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]imap.MailboxAttr{}
	for _, l := range list {
		got[l.Mailbox] = l.Attrs
		if l.Delim != '/' {
			t.Errorf("%s: delimiter %q", l.Mailbox, l.Delim)
		}
	}
	want := map[string]imap.MailboxAttr{"Sent": imap.MailboxAttrSent, "Drafts": imap.MailboxAttrDrafts,
		"Junk": imap.MailboxAttrJunk, "Trash": imap.MailboxAttrTrash, "Archive": imap.MailboxAttrArchive}
	for name, attr := range want {
		if !containsAttr(got[name], attr) {
			t.Errorf("%s: attrs %v, want %s", name, got[name], attr)
		}
	}
	if _, ok := got["INBOX"]; !ok {
		t.Errorf("INBOX missing from %v", got)
	}
	if !containsAttr(got["Projects"], imap.MailboxAttrHasChildren) || !containsAttr(got["Projects/2024/Q1"], imap.MailboxAttrHasNoChildren) {
		t.Errorf("children attrs wrong: %v", got)
	}
	// '%' stops at the delimiter.
	top, err := c.List("", "%", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range top {
		if strings.Contains(l.Mailbox, "/") {
			t.Errorf("%% matched %s", l.Mailbox)
		}
	}
	// RETURN (SPECIAL-USE) with SELECT (SPECIAL-USE).
	su, err := c.List("", "*", &imap.ListOptions{SelectSpecialUse: true, ReturnSpecialUse: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(su) != 5 {
		t.Errorf("SPECIAL-USE selection returned %d mailboxes, want 5", len(su))
	}
	// LIST-STATUS.
	e.deliver(t, "INBOX", msg("hello", "bob@example.org", "hi"))
	st, err := c.List("", "INBOX", &imap.ListOptions{ReturnStatus: &imap.StatusOptions{NumMessages: true}}).Collect()
	if err != nil || len(st) != 1 || st[0].Status == nil || *st[0].Status.NumMessages != 1 {
		t.Fatalf("LIST-STATUS: %v %+v", err, st)
	}
	// NAMESPACE
	ns, err := c.Namespace().Wait()
	if err != nil || len(ns.Personal) != 1 || ns.Personal[0].Delim != '/' || ns.Personal[0].Prefix != "" {
		t.Fatalf("NAMESPACE: %v %+v", err, ns)
	}
}

func containsAttr(attrs []imap.MailboxAttr, a imap.MailboxAttr) bool {
	for _, x := range attrs {
		if strings.EqualFold(string(x), string(a)) {
			return true
		}
	}
	return false
}

func TestSelectExamine(t *testing.T) {
	e := newTestEnv(t)
	e.deliver(t, "INBOX", msg("one", "bob@example.org", "1"), `\Seen`)
	e.deliver(t, "INBOX", msg("two", "bob@example.org", "2"))
	c := e.login(t, nil)
	d := mustSelect(t, c, "inbox", false)
	if d.NumMessages != 2 || d.UIDNext != 3 || d.UIDValidity == 0 {
		t.Fatalf("SELECT data %+v", d)
	}
	if !hasFlag(d.PermanentFlags, imap.FlagWildcard) || !hasFlag(d.Flags, imap.FlagSeen) {
		t.Fatalf("flags %v permanent %v", d.Flags, d.PermanentFlags)
	}
	d = mustSelect(t, c, "INBOX", true)
	if len(d.PermanentFlags) != 0 {
		t.Errorf("EXAMINE permanent flags %v", d.PermanentFlags)
	}
	// BODY[] in EXAMINE does not set \Seen, STORE is refused.
	fetch(t, c, imap.SeqSetNum(2), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{}}})
	if err := c.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err == nil {
		t.Error("STORE in EXAMINE succeeded")
	}
	mustSelect(t, c, "INBOX", false)
	m := fetch(t, c, imap.SeqSetNum(2), &imap.FetchOptions{Flags: true})
	if hasFlag(m[0].Flags, imap.FlagSeen) {
		t.Error("EXAMINE fetch set \\Seen")
	}
	if _, err := c.Select("Nope", nil).Wait(); imapCode(err) != imap.ResponseCodeNonExistent {
		t.Errorf("SELECT missing: %v", err)
	}
}

const multipartMsg = "From: Bob <bob@example.org>\r\n" +
	"To: Alice <alice@example.com>, carol@example.net\r\n" +
	"Subject: =?utf-8?q?caf=C3=A9?= report\r\n" +
	"Date: Sun, 10 Mar 2024 12:00:00 +0000\r\n" +
	"Message-ID: <report@example.org>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=XYZ\r\n" +
	"\r\n" +
	"--XYZ\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"\r\n" +
	"The quarterly numbers are attached.\r\n" +
	"--XYZ\r\n" +
	"Content-Type: application/pdf; name=q1.pdf\r\n" +
	"Content-Disposition: attachment; filename=q1.pdf\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"JVBERi0xLjQK\r\n" +
	"--XYZ--\r\n"

func TestFetch(t *testing.T) {
	e := newTestEnv(t)
	uid := e.deliver(t, "INBOX", multipartMsg)
	c := e.login(t, nil)
	mustSelect(t, c, "INBOX", false)

	m := fetch(t, c, imap.SeqSetNum(1), &imap.FetchOptions{
		Flags: true, UID: true, InternalDate: true, RFC822Size: true, Envelope: true,
		BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
		BodySection: []*imap.FetchItemBodySection{
			{Peek: true},
			{Peek: true, Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Subject"}},
			{Peek: true, Partial: &imap.SectionPartial{Offset: 0, Size: 10}},
			{Peek: true, Part: []int{1}},
		},
	})[0]
	if m.UID != imap.UID(uid) || m.RFC822Size != int64(len(multipartMsg)) || m.InternalDate.IsZero() {
		t.Errorf("uid %d size %d date %v", m.UID, m.RFC822Size, m.InternalDate)
	}
	if hasFlag(m.Flags, imap.FlagSeen) {
		t.Error("PEEK set \\Seen")
	}
	env := m.Envelope
	if env == nil || env.Subject != "café report" || env.MessageID != "report@example.org" ||
		len(env.From) != 1 || env.From[0].Name != "Bob" || env.From[0].Addr() != "bob@example.org" || len(env.To) != 2 {
		t.Errorf("envelope %+v", env)
	}
	mp, ok := m.BodyStructure.(*imap.BodyStructureMultiPart)
	if !ok || mp.Subtype != "mixed" || len(mp.Children) != 2 {
		t.Fatalf("bodystructure %#v", m.BodyStructure)
	}
	if p := mp.Children[1].(*imap.BodyStructureSinglePart); p.Type != "application" || p.Subtype != "pdf" || strings.ToLower(p.Encoding) != "base64" {
		t.Errorf("part 2 %+v", p)
	}
	sections := map[string]string{}
	for _, s := range m.BodySection {
		key := string(s.Section.Specifier)
		if s.Section.Partial != nil {
			key = "partial"
		}
		if len(s.Section.Part) > 0 {
			key = "part1"
		}
		sections[key] = string(s.Bytes)
	}
	if sections[""] != multipartMsg {
		t.Errorf("BODY[] differs from what was delivered:\n%q", sections[""])
	}
	if sections["HEADER"] != "Subject: =?utf-8?q?caf=C3=A9?= report\r\n\r\n" {
		t.Errorf("HEADER.FIELDS (SUBJECT) = %q", sections["HEADER"])
	}
	if sections["partial"] != multipartMsg[:10] {
		t.Errorf("<0.10> = %q", sections["partial"])
	}
	if sections["part1"] != "The quarterly numbers are attached." {
		t.Errorf("BODY[1] = %q", sections["part1"])
	}

	// Without PEEK, \Seen is set and reported.
	m = fetch(t, c, imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierText}}})[0]
	if !hasFlag(m.Flags, imap.FlagSeen) {
		t.Errorf("BODY[TEXT] did not report \\Seen: %v", m.Flags)
	}
	// BINARY decodes the transfer encoding.
	m = fetch(t, c, imap.SeqSetNum(1), &imap.FetchOptions{BinarySection: []*imap.FetchItemBinarySection{{Part: []int{2}, Peek: true}}})[0]
	if len(m.BinarySection) != 1 || string(m.BinarySection[0].Bytes) != "%PDF-1.4\n" {
		t.Errorf("BINARY[2] = %+v", m.BinarySection)
	}
	// UID FETCH of a UID that does not exist returns nothing.
	if got, err := c.Fetch(imap.UIDSetNum(999), &imap.FetchOptions{Flags: true}).Collect(); err != nil || len(got) != 0 {
		t.Errorf("UID FETCH 999: %v %v", got, err)
	}
}

func TestStoreSeenByOtherSession(t *testing.T) {
	e := newTestEnv(t)
	e.deliver(t, "INBOX", msg("one", "bob@example.org", "1"))
	e.deliver(t, "INBOX", msg("two", "bob@example.org", "2"))

	var mu sync.Mutex
	var seen []*imapclient.FetchMessageData
	var gotFlags []imap.Flag
	b := e.login(t, &imapclient.UnilateralDataHandler{Fetch: func(m *imapclient.FetchMessageData) {
		buf, _ := m.Collect()
		mu.Lock()
		seen = append(seen, m)
		if buf != nil && buf.SeqNum == 2 {
			gotFlags = buf.Flags
		}
		mu.Unlock()
	}})
	mustSelect(t, b, "INBOX", false)

	a := e.login(t, nil)
	mustSelect(t, a, "INBOX", false)
	res, err := a.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged, "$Label1"}}, nil).Collect()
	if err != nil || len(res) != 1 || !hasFlag(res[0].Flags, imap.FlagFlagged) {
		t.Fatalf("STORE: %v %+v", err, res)
	}
	// A's own change is not echoed to A on its next command.
	var echo []*imapclient.FetchMessageBuffer
	if echo = fetch(t, a, imap.SeqSetNum(1), &imap.FetchOptions{UID: true}); len(echo) != 1 {
		t.Errorf("fetch after store: %d messages", len(echo))
	}

	waitFor(t, "FETCH FLAGS in the other session", func() bool {
		if err := b.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		return hasFlag(gotFlags, imap.FlagFlagged) && hasFlag(gotFlags, "$Label1")
	})

	// -FLAGS.SILENT answers nothing.
	res, err = a.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsDel, Silent: true, Flags: []imap.Flag{"$Label1"}}, nil).Collect()
	if err != nil || len(res) != 0 {
		t.Fatalf("STORE .SILENT: %v %+v", err, res)
	}
	m := fetch(t, a, imap.SeqSetNum(2), &imap.FetchOptions{Flags: true})
	if hasFlag(m[0].Flags, "$Label1") || !hasFlag(m[0].Flags, imap.FlagFlagged) {
		t.Errorf("flags after -FLAGS.SILENT: %v", m[0].Flags)
	}
}

func TestIdleSeesDelivery(t *testing.T) {
	e := newTestEnv(t)
	exists := make(chan uint32, 10)
	c := e.login(t, &imapclient.UnilateralDataHandler{Mailbox: func(d *imapclient.UnilateralDataMailbox) {
		if d.NumMessages != nil {
			exists <- *d.NumMessages
		}
	}})
	mustSelect(t, c, "INBOX", false)
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	// Give the server a moment to enter IDLE; the assertion below does not
	// depend on it, a delivery before IDLE is reported as well.
	time.Sleep(50 * time.Millisecond)
	e.deliver(t, "INBOX", msg("ping", "bob@example.org", "hi"))
	select {
	case n := <-exists:
		if n != 1 {
			t.Errorf("EXISTS %d, want 1", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no EXISTS during IDLE")
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestExpungeSeenByOtherSession(t *testing.T) {
	e := newTestEnv(t)
	for i := 0; i < 3; i++ {
		e.deliver(t, "INBOX", msg("m", "bob@example.org", "x"))
	}
	var mu sync.Mutex
	var expunged []uint32
	b := e.login(t, &imapclient.UnilateralDataHandler{Expunge: func(seq uint32) {
		mu.Lock()
		expunged = append(expunged, seq)
		mu.Unlock()
	}})
	mustSelect(t, b, "INBOX", false)

	a := e.login(t, nil)
	mustSelect(t, a, "INBOX", false)
	if err := a.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	data, err := a.Expunge().Collect()
	if err != nil || len(data) != 1 || data[0] != 2 {
		t.Fatalf("EXPUNGE: %v %v", err, data)
	}

	// FETCH must not report the expunge (RFC 9051 §7.5.1) and must not fail
	// on the message that is gone.
	msgs := fetch(t, b, imap.SeqSetNum(1, 2, 3), &imap.FetchOptions{UID: true})
	mu.Lock()
	if len(expunged) != 0 {
		t.Errorf("EXPUNGE sent during FETCH")
	}
	mu.Unlock()
	if len(msgs) != 2 {
		t.Errorf("FETCH returned %d messages, want the 2 still there", len(msgs))
	}
	if err := b.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(expunged) != 1 || expunged[0] != 2 {
		t.Errorf("other session saw expunges %v, want [2]", expunged)
	}
	mu.Unlock()
	m := fetch(t, b, imap.SeqSetNum(2), &imap.FetchOptions{UID: true})
	if len(m) != 1 || m[0].UID != 3 {
		t.Errorf("seq 2 after expunge: %+v", m)
	}
}

func TestCopyMoveAppend(t *testing.T) {
	e := newTestEnv(t)
	e.deliver(t, "INBOX", msg("one", "bob@example.org", "1"))
	e.deliver(t, "INBOX", msg("two", "bob@example.org", "2"))
	e.deliver(t, "INBOX", msg("three", "bob@example.org", "3"))
	c := e.login(t, nil)
	archive := mustSelect(t, c, "Archive", true)
	mustSelect(t, c, "INBOX", false)

	cp, err := c.Copy(imap.SeqSetNum(1, 2), "Archive").Wait()
	if err != nil {
		t.Fatal(err)
	}
	if cp.UIDValidity != archive.UIDValidity || cp.SourceUIDs.String() != "1:2" || cp.DestUIDs.String() != "1:2" {
		t.Errorf("COPYUID %+v %s %s", cp, cp.SourceUIDs, cp.DestUIDs)
	}
	if _, err := c.Copy(imap.SeqSetNum(1), "Nowhere").Wait(); imapCode(err) != imap.ResponseCodeTryCreate {
		t.Errorf("COPY to missing: %v", err)
	}

	mv, err := c.Move(imap.UIDSetNum(3), "Trash").Wait()
	if err != nil {
		t.Fatal(err)
	}
	if mv.SourceUIDs.String() != "3" || mv.DestUIDs.String() != "1" {
		t.Errorf("MOVE COPYUID %s %s", mv.SourceUIDs, mv.DestUIDs)
	}
	if _, err := c.Move(imap.SeqSetNum(1), "Nowhere").Wait(); imapCode(err) != imap.ResponseCodeTryCreate {
		t.Errorf("MOVE to missing: %v", err)
	}
	if n := c.Mailbox().NumMessages; n != 2 {
		t.Errorf("after MOVE, %d messages, want 2", n)
	}

	raw := msg("appended", "me@example.com", "draft")
	date := time.Date(2023, 1, 2, 3, 4, 5, 0, time.UTC)
	cmd := c.Append("Drafts", int64(len(raw)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagDraft, imap.FlagSeen}, Time: date})
	cmd.Write([]byte(raw))
	cmd.Close()
	ad, err := cmd.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if ad.UID != 1 || ad.UIDValidity == 0 {
		t.Errorf("APPENDUID %+v", ad)
	}
	cmd = c.Append("Missing", int64(len(raw)), nil)
	cmd.Write([]byte(raw))
	cmd.Close()
	if _, err := cmd.Wait(); imapCode(err) != imap.ResponseCodeTryCreate {
		t.Errorf("APPEND to missing: %v", err)
	}
	mustSelect(t, c, "Drafts", false)
	m := fetch(t, c, imap.SeqSetNum(1), &imap.FetchOptions{Flags: true, InternalDate: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
	if !hasFlag(m[0].Flags, imap.FlagDraft) || !m[0].InternalDate.Equal(date) || string(m[0].BodySection[0].Bytes) != raw {
		t.Errorf("appended message %+v", m[0])
	}
}

func TestUIDExpunge(t *testing.T) {
	e := newTestEnv(t)
	for i := 0; i < 3; i++ {
		e.deliver(t, "INBOX", msg("m", "bob@example.org", "x"), `\Deleted`)
	}
	c := e.login(t, nil)
	mustSelect(t, c, "INBOX", false)
	seqs, err := c.UIDExpunge(imap.UIDSetNum(2)).Collect()
	if err != nil || len(seqs) != 1 || seqs[0] != 2 {
		t.Fatalf("UID EXPUNGE 2: %v %v", seqs, err)
	}
	m := fetch(t, c, imap.SeqSetNum(1, 2), &imap.FetchOptions{UID: true})
	if len(m) != 2 || m[0].UID != 1 || m[1].UID != 3 {
		t.Errorf("left: %+v", m)
	}
}

func TestMailboxManagement(t *testing.T) {
	e := newTestEnv(t)
	e.deliver(t, "INBOX", msg("one", "bob@example.org", "1"))
	c := e.login(t, nil)
	if err := c.Create("Work", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Create("Work", nil).Wait(); imapCode(err) != imap.ResponseCodeAlreadyExists {
		t.Errorf("CREATE twice: %v", err)
	}
	if err := c.Rename("Work", "Job", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete("Work").Wait(); imapCode(err) != imap.ResponseCodeNonExistent {
		t.Errorf("DELETE renamed-away: %v", err)
	}
	if err := c.Subscribe("Job").Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Unsubscribe("Job").Wait(); err != nil {
		t.Fatal(err)
	}
	subs, err := c.List("", "*", &imap.ListOptions{SelectSubscribed: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range subs {
		if s.Mailbox == "Job" {
			t.Error("unsubscribed Job still listed as subscribed")
		}
	}
	if err := c.Subscribe("Job").Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete("Job").Wait(); err != nil {
		t.Fatal(err)
	}
	// RENAME INBOX moves its messages and leaves INBOX empty.
	if err := c.Rename("INBOX", "Old", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	st, err := c.Status("Old", &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil || *st.NumMessages != 1 {
		t.Fatalf("STATUS Old: %v %+v", err, st)
	}
	st, err = c.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil || *st.NumMessages != 0 {
		t.Fatalf("STATUS INBOX: %v %+v", err, st)
	}
	if err := c.Delete("INBOX").Wait(); err == nil {
		t.Error("DELETE INBOX succeeded")
	}
}

func TestStatus(t *testing.T) {
	e := newTestEnv(t)
	a := msg("one", "bob@example.org", "1")
	b := msg("two", "bob@example.org", "2")
	e.deliver(t, "INBOX", a, `\Seen`)
	e.deliver(t, "INBOX", b, `\Deleted`)
	c := e.login(t, nil)
	st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true, UIDNext: true, UIDValidity: true,
		NumUnseen: true, NumDeleted: true, Size: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if *st.NumMessages != 2 || st.UIDNext != 3 || st.UIDValidity == 0 || *st.NumUnseen != 1 || *st.NumDeleted != 1 ||
		*st.Size != int64(len(a)+len(b)) {
		t.Errorf("STATUS %+v", st)
	}
	if _, err := c.Status("Nope", &imap.StatusOptions{NumMessages: true}).Wait(); imapCode(err) != imap.ResponseCodeNonExistent {
		t.Errorf("STATUS missing: %v", err)
	}
}

func TestSearch(t *testing.T) {
	e := newTestEnv(t)
	e.deliver(t, "INBOX", msg("invoice march", "billing@shop.example", "Please pay 100 EUR"), `\Seen`)
	e.deliver(t, "INBOX", msg("lunch?", "bob@example.org", "Pizza at noon"), `\Flagged`)
	e.deliver(t, "INBOX", msg("invoice april", "billing@shop.example", "Please pay 200 EUR "+strings.Repeat("x", 2000)))
	if _, err := e.st.Deliver(context.Background(), []byte(msg("old news", "news@example.net", "yesterday")),
		time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), deliveryTo(e, "INBOX")); err != nil {
		t.Fatal(err)
	}
	c := e.login(t, nil)
	mustSelect(t, c, "INBOX", false)

	cases := []struct {
		name string
		c    imap.SearchCriteria
		want string
	}{
		{"seen", imap.SearchCriteria{Flag: []imap.Flag{imap.FlagSeen}}, "1"},
		{"unseen", imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}}, "2:4"},
		{"header from", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "From", Value: "BILLING"}}}, "1,3"},
		{"subject", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "april"}}}, "3"},
		{"larger", imap.SearchCriteria{Larger: 1000}, "3"},
		{"smaller", imap.SearchCriteria{Smaller: 1000}, "1:2,4"},
		{"before", imap.SearchCriteria{Before: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)}, "4"},
		{"since", imap.SearchCriteria{Since: time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC)}, "1:3"},
		{"sentbefore", imap.SearchCriteria{SentBefore: time.Date(2024, 3, 11, 0, 0, 0, 0, time.UTC)}, "1:4"},
		{"text", imap.SearchCriteria{Text: []string{"pizza"}}, "2"},
		{"body", imap.SearchCriteria{Body: []string{"pay"}}, "1,3"},
		{"text matches header", imap.SearchCriteria{Text: []string{"news@example"}}, "4"},
		{"or", imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{{Flag: []imap.Flag{imap.FlagFlagged}}, {Text: []string{"yesterday"}}}}}, "2,4"},
		{"not", imap.SearchCriteria{Not: []imap.SearchCriteria{{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "invoice"}}}}}, "2,4"},
		{"seq and", imap.SearchCriteria{SeqNum: []imap.SeqSet{imap.SeqSetNum(2, 3)}, Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "invoice"}}}, "3"},
	}
	for _, tc := range cases {
		got, err := c.Search(&tc.c, nil).Wait()
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if s := got.All.String(); s != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, s, tc.want)
		}
	}
	// UID SEARCH with ESEARCH options.
	got, err := c.UIDSearch(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}},
		&imap.SearchOptions{ReturnMin: true, ReturnMax: true, ReturnCount: true}).Wait()
	if err != nil || got.Min != 2 || got.Max != 4 || got.Count != 3 {
		t.Errorf("ESEARCH: %v %+v", err, got)
	}
}

func TestGarbageInput(t *testing.T) {
	e := newTestEnv(t)
	inputs := []string{
		"\x00\x01\x02 garbage\r\n",
		"a1 LOGIN\r\n",
		"a1 FETCH 1:* (FLAGS\r\n",
		"a1 LOGIN " + strings.Repeat("x", 100000) + " y\r\n",
		"a1 LOGIN {5}\r\nab",
		"a1 LOGIN {99999999999}\r\n",
		"a1 SELECT \"unterminated\r\n",
		"(((((((((((((((((((\r\n",
	}
	for _, in := range inputs {
		conn, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		r := bufio.NewReader(conn)
		if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "* OK") {
			t.Fatalf("greeting %q %v", line, err)
		}
		conn.Write([]byte(in))
		if cw, ok := conn.(*net.TCPConn); ok {
			cw.CloseWrite()
		}
		var all bytes.Buffer
		all.ReadFrom(r)
		out := all.String()
		if out != "" && !strings.Contains(out, "BAD") && !strings.Contains(out, "BYE") && !strings.Contains(out, "NO") {
			t.Errorf("input %.40q: reply %q, want BAD, BYE, NO or close", in, out)
		}
		conn.Close()
	}
	// The server still serves a new client.
	c := e.login(t, nil)
	mustSelect(t, c, "INBOX", false)
}

func TestLogoutClosesCleanly(t *testing.T) {
	e := newTestEnv(t)
	c := e.login(t, nil)
	mustSelect(t, c, "INBOX", false)
	if err := c.Logout().Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestHostileMessages(t *testing.T) {
	e := newTestEnv(t)
	for _, raw := range []string{
		"Content-Type: multipart/mixed; boundary=x\r\n\r\nno parts at all\r\n",
		"no header separator at all",
		"",
		"Content-Type: message/rfc822\r\n\r\nContent-Type: multipart/alternative; boundary=q\r\n\r\n--q--\r\n",
		"Subject: =?bogus?x?zz?=\r\nFrom: <<<@@@>>>\r\nDate: yesterday\r\n\r\nbody\r\n",
	} {
		e.deliver(t, "INBOX", raw)
	}
	c := e.login(t, nil)
	mustSelect(t, c, "INBOX", false)
	msgs := fetch(t, c, imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{
		Flags: true, Envelope: true, BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
		BodySection:   []*imap.FetchItemBodySection{{Peek: true, Part: []int{1, 2}}, {Peek: true, Specifier: imap.PartSpecifierHeader}},
		BinarySection: []*imap.FetchItemBinarySection{{Peek: true, Part: []int{1}}},
	})
	if len(msgs) != 5 {
		t.Fatalf("fetched %d messages", len(msgs))
	}
	if _, err := c.Search(&imap.SearchCriteria{Text: []string{"body"}}, nil).Wait(); err != nil {
		t.Fatal(err)
	}
}
