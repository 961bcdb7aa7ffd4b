package e2e

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

const corpus = "../../shared/data/spam"

// corpusSubset copies the first n files of a corpus folder into a new
// directory, to keep the end-to-end runs short.
func corpusSubset(t *testing.T, set string, n int) string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(corpus, set, "*"))
	if err != nil || len(names) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatalf("corpus %s missing (shared/ sits beside the repository): %v", set, err)
		}
		t.Skipf("corpus %s missing", set)
	}
	sort.Strings(names)
	dir := t.TempDir()
	for _, name := range names[:min(n, len(names))] {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, filepath.Base(name)), b, 0o600)
	}
	return dir
}

// TestSpamCommands: train the global database while the server runs,
// classify, and evaluate.
func TestSpamCommands(t *testing.T) {
	srv := newAliceServer(t)
	ham, spam := corpusSubset(t, "ham", 300), corpusSubset(t, "spam", 100)
	out := mustFrontdesk(t, "", "spam", "train", "--ham", ham, "--spam", spam, "--data", srv.data)
	if !strings.Contains(out, "global database: 100 spam, 300 ham") {
		t.Errorf("spam train printed:\n%s", out)
	}
	spamFiles, _ := filepath.Glob(filepath.Join(corpus, "spam", "*"))
	sort.Strings(spamFiles)
	msg, _ := os.ReadFile(spamFiles[len(spamFiles)-1]) // not among the trained
	out = mustFrontdesk(t, string(msg), "spam", "classify", "--data", srv.data)
	if f := strings.Fields(out); len(f) != 2 || f[0] != "spam" {
		t.Errorf("spam classify of a spam = %q, want \"spam SCORE\"", out)
	}

	out = mustFrontdesk(t, "", "spam", "eval", "--ham", ham, "--spam", spam, "--folds", "3", "--corpus-artefacts")
	for _, want := range []string{"accuracy", "recall", "false", "3"} {
		if !strings.Contains(strings.ToLower(out), want) {
			t.Errorf("spam eval output lacks %q:\n%s", want, out)
		}
	}
	if _, err := frontdesk(t, "", "spam", "eval", "--ham", ham); err == nil {
		t.Error("spam eval without --spam succeeded")
	}
}

// TestSpamLearnsFromMoves: moving a message into Junk over IMAP raises the
// score of a near-copy delivered afterwards; moving it back undoes that.
func TestSpamLearnsFromMoves(t *testing.T) {
	srv := newAliceServer(t)
	mx := srv.addr("smtp")
	offer := func(n int) string {
		return "Exclusive offer " + strconv.Itoa(n)
	}
	c := imapLogin(t, srv.addr("imap"), "alice@example.test", alicePass, "")
	// score returns a delivered message's X-Spam-Score, and checks that a
	// spam verdict filed it in Junk and anything else in INBOX.
	score := func(subject string) float64 {
		t.Helper()
		got, mailbox := waitMailIn(t, srv.addr("imap"), "alice@example.test", alicePass, subject, "INBOX", "Junk")
		v := strings.TrimSpace(strings.TrimPrefix(headerValue(got, "X-Spam-Score"), "X-Spam-Score:"))
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("X-Spam-Score of %q: %q", subject, v)
		}
		isSpam := strings.Contains(headerValue(got, "X-Spam-Status"), "Yes")
		if isSpam != (mailbox == "Junk") {
			t.Errorf("%q (%s) was filed in %s", subject, headerValue(got, "X-Spam-Status"), mailbox)
		}
		return f
	}
	body := "Dear friend, our pharmacy ships discreet wholesale replica watches and miracle pills worldwide at unbeatable prices."
	send := func(n int) {
		deliverBody(t, mx, offer(n), body+" Reference "+strconv.Itoa(n)+".")
	}

	send(1)
	before := score(offer(1))
	moveSubject(t, c, "INBOX", "Junk", offer(1))
	send(2)
	after := score(offer(2))
	if after <= before {
		t.Errorf("near-copy scored %.4f after the move into Junk, not above %.4f", after, before)
	}
	moveSubject(t, c, "Junk", "INBOX", offer(1))
	send(3)
	undone := score(offer(3))
	if undone >= after || undone > before {
		t.Errorf("after moving back out of Junk a near-copy scored %.4f (before %.4f, while in Junk %.4f)", undone, before, after)
	}
	t.Logf("scores: before %.4f, after moving into Junk %.4f, after moving back %.4f", before, after, undone)
}

func deliverBody(t *testing.T, addr, subject, body string) {
	t.Helper()
	deliverRaw(t, addr, "From: promo@outside.test\r\nTo: alice@example.test\r\nSubject: "+subject+"\r\n\r\n"+body+"\r\n")
}

// moveSubject moves the message with subject from one mailbox to another.
func moveSubject(t *testing.T, c *imapclient.Client, from, to, subject string) {
	t.Helper()
	if _, err := c.Select(from, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	uids, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: subject}}}, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if len(uids.AllUIDs()) != 1 {
		t.Fatalf("%d messages %q in %s", len(uids.AllUIDs()), subject, from)
	}
	if _, err := c.Move(uids.All, to).Wait(); err != nil {
		t.Fatalf("MOVE %q to %s: %v", subject, to, err)
	}
}
