package imapd

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// binaryMessage has a quoted-printable Latin-1 text, a base64 attachment
// holding NUL octets and a part in an encoding nobody decodes.
const binaryMessage = "From: bob@example.org\r\nTo: alice@example.com\r\nSubject: binary\r\n" +
	"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
	"--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
	"caf=E9 au lait\r\n" +
	"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
	"AAECYmluYXJ5AGVuZA==\r\n" +
	"--b\r\nContent-Type: application/x-foo\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n" +
	"begin 644 foo\r\n" +
	"--b--\r\n"

// TestBinaryFetch: BINARY answers decoded content (the charset is left
// alone), names the origin of a partial fetch, uses a literal8 exactly when
// the content holds NUL, and refuses an unknown encoding with UNKNOWN-CTE
// (RFC 3516, RFC 9051 §7.5.2). The answers are written out by hand: part 1
// is "caf\xe9 au lait" (12 octets), part 2 is "\x00\x01\x02binary\x00end"
// (13 octets).
func TestBinaryFetch(t *testing.T) {
	e := newTestEnv(t)
	e.deliver(t, "INBOX", binaryMessage)
	w := e.dialWire(t)
	w.ok("SELECT INBOX")
	for _, tc := range []struct{ item, want string }{
		{"BINARY.PEEK[1]", "BINARY[1] {12}\r\ncaf\xe9 au lait"},
		{"BINARY.PEEK[2]", "BINARY[2] ~{13}\r\n\x00\x01\x02binary\x00end"},
		{"BINARY.PEEK[2]<3.6>", "BINARY[2]<3> {6}\r\nbinary"},
		{"BINARY.PEEK[2]<0.4>", "BINARY[2]<0> ~{4}\r\n\x00\x01\x02b"},
		{"BINARY.PEEK[2]<9.100>", "BINARY[2]<9> ~{4}\r\n\x00end"},
		{"BINARY.PEEK[1]<20.5>", "BINARY[1]<20> {0}\r\n"},
		{"BINARY.SIZE[1]", "BINARY.SIZE[1] 12"},
		{"BINARY.SIZE[2]", "BINARY.SIZE[2] 13"},
		{"(BINARY.SIZE[2] BINARY.PEEK[1]<5.2>)", "BINARY[1]<5> {2}\r\nau BINARY.SIZE[2] 13"},
	} {
		got := w.ok("FETCH 1 " + tc.item)
		want := "* 1 FETCH (UID 1 " + tc.want + ")"
		if len(got) != 1 || got[0] != want {
			t.Errorf("FETCH 1 %s:\n got %q\nwant %q", tc.item, got, want)
		}
	}
	for _, item := range []string{"BINARY.PEEK[3]", "BINARY.SIZE[3]", "(FLAGS BINARY[3])"} {
		untagged, status := w.cmd("FETCH 1 " + item)
		if !strings.HasPrefix(status, "NO [UNKNOWN-CTE]") || len(untagged) != 0 {
			t.Errorf("FETCH 1 %s: %q %q, want no data and NO [UNKNOWN-CTE]", item, untagged, status)
		}
	}
	// BINARY without PEEK sets \Seen; the refused fetch above did not.
	if got := w.ok("FETCH 1 FLAGS"); len(got) != 1 || got[0] != `* 1 FETCH (UID 1 FLAGS (\Recent))` {
		t.Errorf("flags after the refused fetch: %q", got)
	}
	w.ok("NOOP")
}

// TestBinaryFetchClient: go-imap's client reads the origin of a partial
// BINARY answer and the literal8.
func TestBinaryFetchClient(t *testing.T) {
	e := newTestEnv(t)
	e.deliver(t, "INBOX", binaryMessage)
	c := e.login(t, nil)
	mustSelect(t, c, "INBOX", true)
	part := &imap.FetchItemBinarySection{Part: []int{2}, Partial: &imap.SectionPartial{Offset: 3, Size: 6}}
	whole := &imap.FetchItemBinarySection{Part: []int{2}}
	msgs := fetch(t, c, imap.SeqSetNum(1), &imap.FetchOptions{BinarySection: []*imap.FetchItemBinarySection{part, whole}})
	if len(msgs) != 1 || len(msgs[0].BinarySection) != 2 {
		t.Fatalf("fetched %+v", msgs)
	}
	for _, s := range msgs[0].BinarySection {
		want := "\x00\x01\x02binary\x00end"
		if s.Section.Partial != nil {
			want = "binary"
		}
		if string(s.Bytes) != want {
			t.Errorf("BINARY[2] partial=%v: %q, want %q", s.Section.Partial, s.Bytes, want)
		}
	}
}

// TestPythonBinaryEnvelope reads BINARY sections (a literal8 among them)
// and group and source-route envelopes with Python's imaplib.
func TestPythonBinaryEnvelope(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("python3 is required in CI")
		}
		t.Skip("python3 not installed")
	}
	e := newTestEnv(t)
	e.deliver(t, "INBOX", binaryMessage)
	e.deliver(t, "INBOX", "From: bob@example.org\r\nTo: Team: a@x.example;\r\nCc: <@relay.example:joe@example.com>\r\nSubject: group\r\n\r\nbody\r\n")
	host, port, _ := net.SplitHostPort(e.addr)
	out, err := exec.Command(py, "testdata/imaplib_binary.py", host, port, testUser, testPass).CombinedOutput()
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "done") {
		t.Fatalf("imaplib: %v\n%s", err, out)
	}
}
