package imapd

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"frontdesk/store"
)

// threadFixture is a mailbox whose SORT and THREAD answers were worked out
// by hand from RFC 5256 (see TestSortFixture). Sequence numbers are 1-8;
// a message delivered first and expunged makes every UID one more.
//
//	seq from   to     cc    subject                sent (UTC)       arrival       body
//	1   carol  zed    -     Project plan           03-04 10:00      03-10 09:00   5000
//	2   alice  bob    yann  Re: Project plan       03-05 08:00      03-10 08:00   1000  \Seen, In reply to 1
//	3   bob    alice  -     Lunch?                 none: arrival    03-02 12:00   3000
//	4   dave   carol  amy   Re: Project plan       03-06 12:00      03-10 10:00    500  refs 1 and a missing one
//	5   erin   alice  -     [fwd: Lunch?]          03-03 08:00      03-10 07:00   4000
//	6   frank  alice  -     Quarterly numbers      03-07 15:00      03-11 00:00   2000  \Seen, refs a missing one
//	7   ALICE  bob    -     Re: Quarterly numbers  03-07 16:00      03-10 09:00   6000  refs the same missing one
//	8   carol  alice  -     Budget                 03-08 09:00      03-10 11:00   7000  In-Reply-To 2
var threadFixture = []struct {
	header  string
	arrival string
	body    int
	flags   []string
}{
	{"From: Carol <carol@example.org>\r\nTo: zed@example.com\r\nSubject: Project plan\r\n" +
		"Date: Mon, 04 Mar 2024 10:00:00 +0000\r\nMessage-ID: <p1@example.org>\r\n", "2024-03-10T09:00:00Z", 5000, nil},
	{"From: alice@example.org\r\nTo: bob@example.com\r\nCc: Yann <yann@example.net>\r\nSubject: Re: Project plan\r\n" +
		"Date: Tue, 05 Mar 2024 09:00:00 +0100\r\nMessage-ID: <p2@example.org>\r\nIn-Reply-To: <p1@example.org>\r\n" +
		"References: <p1@example.org>\r\n", "2024-03-10T08:00:00Z", 1000, []string{store.FlagSeen}},
	{"From: bob@example.org\r\nTo: alice@example.com\r\nSubject: Lunch?\r\nMessage-ID: <l1@example.org>\r\n",
		"2024-03-02T12:00:00Z", 3000, nil},
	{"From: \"Dave\" <dave@example.org>\r\nTo: carol@example.com\r\nCc: amy@example.net\r\nSubject: Re: Project plan\r\n" +
		"Date: Wed, 06 Mar 2024 12:00:00 +0000\r\nMessage-ID: <p4@example.org>\r\n" +
		"References: <p1@example.org> <p3-never-arrived@example.org>\r\n", "2024-03-10T10:00:00Z", 500, nil},
	{"From: erin@example.org\r\nTo: alice@example.com\r\nSubject: [fwd: Lunch?]\r\n" +
		"Date: Sun, 03 Mar 2024 08:00:00 +0000\r\nMessage-ID: <l2@example.org>\r\n", "2024-03-10T07:00:00Z", 4000, nil},
	{"From: frank@example.org\r\nTo: alice@example.com\r\nSubject: Quarterly numbers\r\n" +
		"Date: Thu, 07 Mar 2024 07:00:00 -0800\r\nMessage-ID: <q1@example.org>\r\nReferences: <gone@example.org>\r\n",
		"2024-03-11T00:00:00Z", 2000, []string{store.FlagSeen}},
	{"From: Alice <ALICE@example.org>\r\nTo: Bob <bob@example.com>\r\nSubject: Re: Quarterly numbers\r\n" +
		"Date: Thu, 07 Mar 2024 16:00:00 +0000\r\nMessage-ID: <q2@example.org>\r\nReferences: <gone@example.org>\r\n",
		"2024-03-10T09:00:00Z", 6000, nil},
	{"From: carol@example.org\r\nTo: alice@example.com\r\nSubject: Budget\r\n" +
		"Date: Fri, 08 Mar 2024 09:00:00 +0000\r\nMessage-ID: <p8@example.org>\r\nIn-Reply-To: <p2@example.org>\r\n",
		"2024-03-10T11:00:00Z", 7000, nil},
}

// deliverThreadFixture fills INBOX with threadFixture, after a message that
// is expunged again so that UIDs are sequence numbers plus one.
func deliverThreadFixture(t testing.TB, e *testEnv) {
	t.Helper()
	ctx := context.Background()
	first := e.deliver(t, "INBOX", msg("placeholder", "x@example.org", "gone"), store.FlagDeleted)
	mb, err := e.st.MailboxByName(ctx, e.acct.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Expunge(ctx, e.acct.ID, mb.ID, []uint32{first}); err != nil {
		t.Fatal(err)
	}
	for _, f := range threadFixture {
		arrival, err := time.Parse(time.RFC3339, f.arrival)
		if err != nil {
			t.Fatal(err)
		}
		data := f.header + "\r\n" + strings.Repeat("x", f.body-2) + "\r\n"
		if _, err := e.st.Deliver(ctx, []byte(data), arrival,
			store.Delivery{Account: e.acct.ID, Mailbox: "INBOX", Flags: f.flags}); err != nil {
			t.Fatal(err)
		}
	}
}

// rawConn is a line-level IMAP client, for what imapclient cannot send.
type rawConn struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t testing.TB, e *testEnv) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := &rawConn{t: t, c: c, br: bufio.NewReader(c)}
	r.line() // greeting
	r.cmd("l", "LOGIN "+testUser+` "`+testPass+`"`)
	return r
}

func (r *rawConn) line() string {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	l, err := r.br.ReadString('\n')
	if err != nil {
		r.t.Fatalf("read: %v (after %q)", err, l)
	}
	return strings.TrimRight(l, "\r\n")
}

func (r *rawConn) send(s string) {
	r.t.Helper()
	if _, err := r.c.Write([]byte(s)); err != nil {
		r.t.Fatal(err)
	}
}

// cmd sends a command and returns the untagged lines and the tagged one.
func (r *rawConn) cmd(tag, command string) (untagged []string, done string) {
	r.t.Helper()
	r.send(tag + " " + command + "\r\n")
	return r.until(tag)
}

func (r *rawConn) until(tag string) (untagged []string, done string) {
	r.t.Helper()
	for {
		l := r.line()
		if strings.HasPrefix(l, tag+" ") {
			return untagged, l
		}
		untagged = append(untagged, l)
	}
}

// only returns the one untagged line starting with prefix.
func only(t testing.TB, lines []string, prefix string) string {
	t.Helper()
	var found []string
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %q line, got %q", prefix, lines)
	}
	return found[0]
}

// TestSortFixture checks every SORT key, REVERSE, several keys and a
// search criterion against answers worked out by hand.
func TestSortFixture(t *testing.T) {
	e := newTestEnv(t)
	deliverThreadFixture(t, e)
	r := dialRaw(t, e)
	r.cmd("s", "SELECT INBOX")
	for _, tc := range []struct{ cmd, want string }{
		// 3 has no Date: its arrival (03-02) is its sent date.
		{"SORT (DATE) UTF-8 ALL", "* SORT 3 5 1 2 4 6 7 8"},
		{"SORT (REVERSE DATE) UTF-8 ALL", "* SORT 8 7 6 4 2 1 5 3"},
		// 1 and 7 arrived at the same second: sequence order breaks the tie.
		{"SORT (ARRIVAL) UTF-8 ALL", "* SORT 3 5 2 1 7 4 8 6"},
		{"SORT (SIZE) US-ASCII ALL", "* SORT 4 2 6 3 5 1 7 8"},
		// Local parts, without case: ALICE and alice are equal.
		{"SORT (FROM) UTF-8 ALL", "* SORT 2 7 3 1 8 4 5 6"},
		{"SORT (TO) UTF-8 ALL", "* SORT 3 5 6 8 2 7 4 1"},
		// No Cc sorts as the empty string, first.
		{"SORT (CC) UTF-8 ALL", "* SORT 1 3 5 6 7 8 4 2"},
		// Base subjects: Budget, Lunch? (3, and 5 forwarded), Project plan,
		// Quarterly numbers.
		{"SORT (SUBJECT) UTF-8 ALL", "* SORT 8 3 5 1 2 4 6 7"},
		// REVERSE turns the key, not the tie-break by sequence number.
		{"SORT (REVERSE SUBJECT) UTF-8 ALL", "* SORT 6 7 1 2 4 3 5 8"},
		{"SORT (SUBJECT REVERSE DATE) UTF-8 ALL", "* SORT 8 5 3 4 2 1 7 6"},
		{"SORT (DATE) UTF-8 UNSEEN", "* SORT 3 5 1 4 7 8"},
		{`SORT (FROM) "UTF-8" SUBJECT "project"`, "* SORT 2 1 4"},
		{"SORT (DATE) UTF-8 SUBJECT nothing-matches", "* SORT"},
		{"UID SORT (DATE) UTF-8 ALL", "* SORT 4 6 2 3 5 7 8 9"},
		{"UID SORT (DATE) UTF-8 UID 5:7", "* SORT 6 5 7"},
	} {
		untagged, done := r.cmd("a", tc.cmd)
		if !strings.HasPrefix(done, "a OK") {
			t.Errorf("%s: %s", tc.cmd, done)
			continue
		}
		if got := only(t, untagged, "* SORT"); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.cmd, got, tc.want)
		}
	}
}

func TestSortBadInput(t *testing.T) {
	e := newTestEnv(t)
	deliverThreadFixture(t, e)
	r := dialRaw(t, e)
	if _, done := r.cmd("a", "SORT (DATE) UTF-8 ALL"); !strings.HasPrefix(done, "a BAD") {
		t.Errorf("SORT before SELECT: %s", done)
	}
	r.cmd("s", "SELECT INBOX")
	for _, tc := range []struct{ cmd, want string }{
		{"SORT (DATE) KOI8-R ALL", "a NO [BADCHARSET]"},
		{"SORT (COLOUR) UTF-8 ALL", "a BAD"},
		{"SORT () UTF-8 ALL", "a BAD"},
		{"SORT (REVERSE) UTF-8 ALL", "a BAD"},
		{"SORT (DATE) ALL", "a BAD"},
		{"SORT (DATE) UTF-8", "a BAD"},
		{"SORT DATE UTF-8 ALL", "a BAD"},
		{"SORT RETURN (BOGUS) (DATE) UTF-8 ALL", "a BAD"},
		{"THREAD FANCY UTF-8 ALL", "a BAD"},
		{"THREAD REFERENCES UTF-16 ALL", "a NO [BADCHARSET]"},
		{"THREAD REFERENCES UTF-8", "a BAD"},
	} {
		if _, done := r.cmd("a", tc.cmd); !strings.HasPrefix(done, tc.want) {
			t.Errorf("%s: %s, want %s", tc.cmd, done, tc.want)
		}
	}
	// The connection still works.
	if untagged, done := r.cmd("a", "SORT (SIZE) UTF-8 1:2"); done[:4] != "a OK" || only(t, untagged, "* SORT") != "* SORT 2 1" {
		t.Errorf("after bad input: %q %s", untagged, done)
	}
}

// TestThreadFixture: REFERENCES links by Message-ID (8 under 2 through
// In-Reply-To, 4 under 1 although its parent is missing, 6 and 7 under a
// missing root), then merges by subject (5 under 3, a forward with no
// references); ORDEREDSUBJECT goes by subject alone.
func TestThreadFixture(t *testing.T) {
	e := newTestEnv(t)
	deliverThreadFixture(t, e)
	r := dialRaw(t, e)
	if untagged, _ := r.cmd("c", "CAPABILITY"); !strings.Contains(only(t, untagged, "* CAPABILITY"), " THREAD=REFERENCES THREAD=ORDEREDSUBJECT") {
		t.Errorf("capabilities: %q", untagged)
	}
	r.cmd("s", "SELECT INBOX")
	for _, tc := range []struct{ cmd, want string }{
		{"THREAD REFERENCES UTF-8 ALL", "* THREAD (3 5)(1 (2 8)(4))((6)(7))"},
		{"THREAD ORDEREDSUBJECT UTF-8 ALL", "* THREAD (3 5)(1 (2)(4))(6 7)(8)"},
		{"UID THREAD REFERENCES UTF-8 ALL", "* THREAD (4 6)(2 (3 9)(5))((7)(8))"},
		{"UID THREAD ORDEREDSUBJECT UTF-8 ALL", "* THREAD (4 6)(2 (3)(5))(7 8)(9)"},
		// Without 2 nothing ties 8 to 1: 8 hangs from a missing 2 of its
		// own, a root with one child, so it stands alone; 7's missing
		// root goes the same way, and 4 is 1's only child.
		{"THREAD REFERENCES UTF-8 NOT SEEN", "* THREAD (3 5)(1 4)(7)(8)"},
		{"THREAD REFERENCES UTF-8 SUBJECT nothing-matches", "* THREAD"},
	} {
		untagged, done := r.cmd("a", tc.cmd)
		if !strings.HasPrefix(done, "a OK") {
			t.Errorf("%s: %s", tc.cmd, done)
			continue
		}
		if got := only(t, untagged, "* THREAD"); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.cmd, got, tc.want)
		}
	}
}

// TestESort checks SORT RETURN (RFC 5267): MIN and MAX are first and last
// in sort order, ALL keeps the order.
func TestESort(t *testing.T) {
	e := newTestEnv(t)
	deliverThreadFixture(t, e)
	r := dialRaw(t, e)
	if untagged, _ := r.cmd("c", "CAPABILITY"); !strings.Contains(only(t, untagged, "* CAPABILITY"), " SORT ESORT") {
		t.Errorf("capabilities: %q", untagged)
	}
	r.cmd("s", "SELECT INBOX")
	for _, tc := range []struct{ cmd, want string }{
		{"SORT RETURN (MIN MAX COUNT ALL) (DATE) UTF-8 ALL", `* ESEARCH (TAG "a") MIN 3 MAX 8 COUNT 8 ALL 3,5,1:2,4,6:8`},
		{"SORT RETURN () (SIZE) UTF-8 ALL", `* ESEARCH (TAG "a") ALL 4,2,6,3,5,1,7:8`},
		{"UID SORT RETURN (MIN MAX) (REVERSE SIZE) UTF-8 ALL", `* ESEARCH (TAG "a") UID MIN 9 MAX 5`},
		{"SORT RETURN (COUNT) (DATE) UTF-8 SUBJECT project", `* ESEARCH (TAG "a") COUNT 3`},
		{"SORT RETURN (MIN COUNT) (DATE) UTF-8 SUBJECT nothing-matches", `* ESEARCH (TAG "a") COUNT 0`},
	} {
		untagged, done := r.cmd("a", tc.cmd)
		if !strings.HasPrefix(done, "a OK") {
			t.Errorf("%s: %s", tc.cmd, done)
			continue
		}
		if got := only(t, untagged, "* ESEARCH"); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.cmd, got, tc.want)
		}
	}
	// SAVE keeps the result for "$" (RFC 5182) and sends no ESEARCH.
	untagged, done := r.cmd("a", "SORT RETURN (SAVE) (DATE) UTF-8 FROM alice")
	if !strings.HasPrefix(done, "a OK") || len(untagged) != 0 {
		t.Errorf("SORT RETURN (SAVE): %q %s", untagged, done)
	}
	if untagged, _ := r.cmd("b", "FETCH $ (UID)"); len(untagged) != 2 || !strings.Contains(untagged[0], "UID 3") || !strings.Contains(untagged[1], "UID 8") {
		t.Errorf("FETCH $ after SORT RETURN (SAVE): %q", untagged)
	}
}

// TestSortImapclient drives SORT and THREAD through go-imap's client.
func TestSortImapclient(t *testing.T) {
	e := newTestEnv(t)
	deliverThreadFixture(t, e)
	c := e.login(t, nil)
	if caps := c.Caps(); !caps.Has(imap.CapSort) || !caps.Has(imap.CapMultiAppend) {
		t.Errorf("capabilities: %v", caps)
	}
	mustSelect(t, c, "INBOX", true)
	nums, err := c.Sort(&imapclient.SortOptions{
		SearchCriteria: &imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}},
		SortCriteria:   []imapclient.SortCriterion{{Key: imapclient.SortKeyDate, Reverse: true}},
	}).Wait()
	if err != nil || !slices.Equal(nums, []uint32{8, 7, 4, 1, 5, 3}) {
		t.Errorf("SORT (REVERSE DATE) UNSEEN = %v, %v", nums, err)
	}
	threads, err := c.UIDThread(&imapclient.ThreadOptions{Algorithm: imap.ThreadReferences, SearchCriteria: &imap.SearchCriteria{}}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(threads); got != "[{[4 6] []} {[2] [{[3 9] []} {[5] []}]} {[] [{[7] []} {[8] []}]}]" {
		t.Errorf("UID THREAD REFERENCES = %s", got)
	}
}

// TestSortThreadImaplib: Python's imaplib, a client we did not write,
// gets the same answers.
func TestSortThreadImaplib(t *testing.T) {
	py := needPython(t)
	e := newTestEnv(t)
	deliverThreadFixture(t, e)
	host, port, _ := net.SplitHostPort(e.addr)
	out, err := exec.Command(py, "testdata/sort_thread.py", host, port, testUser, testPass).CombinedOutput()
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "done") {
		t.Fatalf("imaplib client: %v\n%s", err, out)
	}
}

func needPython(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("python3 is required in CI")
		}
		t.Skip("python3 not installed")
	}
	return py
}
