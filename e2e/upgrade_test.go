package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"frontdesk/dnscheck/dnstest"
	"frontdesk/store"
)

// untar unpacks a .tar.gz of testdata into dir.
func untar(t *testing.T, archive, dir string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, h.Name)
		if !filepath.IsLocal(h.Name) {
			t.Fatalf("%s: bad name %q", archive, h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(path, 0o700)
		case tar.TypeReg:
			var b []byte
			if b, err = io.ReadAll(tr); err == nil {
				err = os.WriteFile(path, b, os.FileMode(h.Mode).Perm())
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// imapState is what format1-data.json records of each mailbox, and what
// imapStateScript prints.
type imapState map[string]struct {
	UIDValidity uint32 `json:"uidvalidity"`
	UIDNext     uint32 `json:"uidnext"`
	Messages    []struct {
		UID       uint32   `json:"uid"`
		Flags     []string `json:"flags"`
		MessageID string   `json:"message_id"`
	} `json:"messages"`
}

// imapStateScript logs in with imaplib and prints, for each mailbox given,
// UIDVALIDITY, UIDNEXT and every message's UID, flags and Message-ID, and
// the UIDs SEARCH BODY finds for argv[4].
const imapStateScript = `
import imaplib, json, re, sys
host, port = sys.argv[1].rsplit(":", 1)
m = imaplib.IMAP4(host, int(port))
m.login(sys.argv[2], sys.argv[3])
out = {}
for box in ("INBOX", "Archive"):
    typ, data = m.status(box, "(UIDVALIDITY UIDNEXT)")
    st = dict(re.findall(rb"(UIDVALIDITY|UIDNEXT) (\d+)", data[0]))
    m.select(box, readonly=True)
    typ, data = m.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    msgs = []
    for item in data:
        if not isinstance(item, tuple):
            continue
        uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
        flags = sorted(f.decode() for f in re.search(rb"FLAGS \(([^)]*)\)", item[0]).group(1).split() if f != b"\\Recent")
        mid = item[1].decode().split(":", 1)[1].strip()
        msgs.append({"uid": uid, "flags": flags, "message_id": mid})
    out[box] = {"uidvalidity": int(st[b"UIDVALIDITY"]), "uidnext": int(st[b"UIDNEXT"]), "messages": msgs}
m.select("INBOX", readonly=True)
typ, data = m.uid("SEARCH", "BODY", '"' + sys.argv[4] + '"')
print(json.dumps(out))
print(data[0].decode())
m.logout()
`

// TestUpgradeFromFormat1: the data directory a release of format 1 left
// (testdata/make-format1-data.sh) is migrated when the new server starts
// on it, and alice finds her mail as she left it (same UIDs, flags and
// UIDVALIDITY), logs in with her password, and gets new mail after it;
// the ticket, the call record and the queued acknowledgement are there.
func TestUpgradeFromFormat1(t *testing.T) {
	needTool(t, "python3")
	data := filepath.Join(t.TempDir(), "data")
	untar(t, filepath.Join("testdata", "format1-data.tar.gz"), filepath.Dir(data))
	if v, err := store.CheckFormat(data); v != 1 || err != nil {
		t.Fatalf("testdata is format %d (%v), want 1", v, err)
	}
	var want imapState
	b, err := os.ReadFile(filepath.Join("testdata", "format1-data.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}

	// The customer's MX is a port where nothing listens: the queued
	// acknowledgement stays queued.
	dns := dnstest.New(t)
	dns.MustAdd(t, "customer.test. 300 IN MX 10 mx.customer.test.", "mx.customer.test. 300 IN A 127.0.0.1")
	srv := startServerDNS(t, data, dns, "mx.example.test", "--outbound-port", "1")
	if !strings.Contains(srv.Log(), "data directory upgraded") {
		t.Errorf("serve did not log the upgrade:\n%s", srv.Log())
	}
	out, err := python(t, imapStateScript, srv.addr("imap"), "alice@example.test", "alice password 1", "release mail 4")
	if err != nil {
		t.Fatalf("imaplib: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var got imapState
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mailboxes after the upgrade:\n%+v\nbefore:\n%+v", got, want)
	}
	if len(lines) < 2 || strings.TrimSpace(lines[1]) != "4" {
		t.Errorf("SEARCH BODY after the upgrade: %q, want UID 4", lines[1:])
	}

	for cmd, wants := range map[string][]string{
		"user list":    {"alice@example.test", "support@example.test", "agent@example.test"},
		"tickets list": {"Printer on fire", "Call from +15550201"},
		"calls list":   {"+15550201", "abandoned"},
		"queue list":   {"bob@customer.test"},
		"support list": {"support@example.test"},
		"domain list":  {"example.test"},
	} {
		out := mustFrontdesk(t, "", append(strings.Fields(cmd), "--data", data)...)
		for _, w := range wants {
			if !strings.Contains(out, w) {
				t.Errorf("%s after the upgrade lacks %q:\n%s", cmd, w, out)
			}
		}
	}

	if out := mustFrontdesk(t, "Subject: hello\r\n\r\nThe minutes of the meeting.\r\n", "spam", "classify", "--data", data); !strings.Contains(out, "ham") && !strings.Contains(out, "unsure") && !strings.Contains(out, "spam") {
		t.Errorf("spam classify after the upgrade: %q", out)
	}

	// New mail continues the old UIDs.
	if err := sendPlain(srv.addr("smtp"), "From: carol@outside.test\r\nTo: alice@example.test\r\nSubject: after\r\nMessage-Id: <after@outside.test>\r\n\r\nnew\r\n"); err != nil {
		t.Fatal(err)
	}
	out, err = python(t, imapStateScript, srv.addr("imap"), "alice@example.test", "alice password 1", "new")
	if err != nil {
		t.Fatalf("imaplib: %v\n%s", err, out)
	}
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) < 2 || strings.TrimSpace(lines[1]) != fmt.Sprint(want["INBOX"].UIDNext) {
		t.Errorf("new mail after the upgrade: SEARCH says %q, want UID %d", out, want["INBOX"].UIDNext)
	}
	srv.stop()
	if v, err := store.CheckFormat(data); v != store.FormatVersion || err != nil {
		t.Errorf("format after the upgrade = %d, %v", v, err)
	}
}

// TestRestoreFormat1Backup: a backup taken by a release of format 1
// restores with this one, and the server started on it migrates it and
// shows alice her mail as it was.
func TestRestoreFormat1Backup(t *testing.T) {
	needTool(t, "python3")
	dir := t.TempDir()
	untar(t, filepath.Join("testdata", "format1-backup.tar.gz"), dir)
	data := filepath.Join(dir, "restored")
	mustFrontdesk(t, "", "restore", filepath.Join(dir, "backup"), "--data", data)
	var want imapState
	b, err := os.ReadFile(filepath.Join("testdata", "format1-data.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, data)
	if !strings.Contains(srv.Log(), "data directory upgraded") {
		t.Errorf("serve did not log the upgrade:\n%s", srv.Log())
	}
	out, err := python(t, imapStateScript, srv.addr("imap"), "alice@example.test", "alice password 1", "release mail 2")
	if err != nil {
		t.Fatalf("imaplib: %v\n%s", err, out)
	}
	var got imapState
	if err := json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mailboxes after restoring the old backup:\n%+v\nwant:\n%+v", got, want)
	}
	if out := mustFrontdesk(t, "", "tickets", "list", "--data", data); !strings.Contains(out, "Printer on fire") {
		t.Errorf("tickets after restoring the old backup:\n%s", out)
	}
}

// TestNewerFormatRefused: serve, the admin commands and restore refuse a
// data directory (or backup) of a newer format with one clear line and a
// non-zero exit, and change nothing in it.
func TestNewerFormatRefused(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	untar(t, filepath.Join("testdata", "format1-data.tar.gz"), filepath.Dir(data))
	db, err := bolt.Open(filepath.Join(data, "frontdesk.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("format"))
		if err != nil {
			return err
		}
		return b.Put([]byte("version"), []byte("7"))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(data, "frontdesk.db"))
	want := fmt.Sprintf("frontdesk: data directory %s is format 7, this frontdesk understands up to %d: upgrade frontdesk\n", data, store.FormatVersion)

	for _, args := range [][]string{
		{"serve", "--smtp", "127.0.0.1:0", "--submission", "127.0.0.1:0", "--imap", "127.0.0.1:0", "--http", "127.0.0.1:0", "--sip", ""},
		{"user", "list"},
		{"domain", "add", "new.test"},
		{"queue", "list"},
		{"tickets", "list"},
		{"calls", "list"},
		{"backup", filepath.Join(t.TempDir(), "b")},
	} {
		cmd := exec.Command(binary, append(args, "--data", data)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if err == nil || cmd.ProcessState.ExitCode() == 0 {
			t.Errorf("%s on format 7 succeeded:\n%s", args[0], stdout.String())
		}
		if stderr.String() != want {
			t.Errorf("%s on format 7 said\n%q\nwant\n%q", strings.Join(args[:2], " "), stderr.String(), want)
		}
	}
	if after, _ := os.ReadFile(filepath.Join(data, "frontdesk.db")); !bytes.Equal(before, after) {
		t.Error("a refused command changed frontdesk.db")
	}
	if _, err := os.Stat(filepath.Join(data, "index")); err == nil {
		t.Error("serve made a search index in a directory it refused")
	}

	// A backup of a newer format: restore refuses it before copying.
	backup := filepath.Join(t.TempDir(), "backup")
	if err := os.Rename(data, backup); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(backup, "frontdesk-backup.json"), []byte(`{"format":1,"data_format":7}`), 0o600)
	into := filepath.Join(t.TempDir(), "restored")
	_, err = frontdesk(t, "", "restore", backup, "--data", into)
	if err == nil || !strings.Contains(err.Error(), "is format 7, this frontdesk understands up to") {
		t.Errorf("restore of a format 7 backup: %v", err)
	}
	if entries, _ := os.ReadDir(into); len(entries) > 0 {
		t.Errorf("a refused restore left %d entries in the data directory", len(entries))
	}
}
