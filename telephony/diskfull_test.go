package telephony

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"frontdesk/durable/disktest"
)

func copyPrompts(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestE2EDiskFullVoicemail leaves a voicemail while the data directory's
// disk is full: the call goes through as usual, the recording and the
// call record wait in memory, and both are stored, whole, once there is
// room again, without a restart.
func TestE2EDiskFullVoicemail(t *testing.T) {
	needSipp(t)
	mnt := disktest.Mount(t, 8<<20)
	onRec := &onRecords{}
	h := newHarness(t, func(c *Config) {
		copyPrompts(t, filepath.Join(c.DataDir, "prompts"), filepath.Join(mnt, "prompts"))
		c.DataDir = mnt
		c.WriteRetry = 50 * time.Millisecond
		c.Queues[1].MaxWait = map[Level]time.Duration{LevelVIP: 1500 * time.Millisecond, LevelRegular: 1500 * time.Millisecond, LevelNew: 1500 * time.Millisecond}
		c.OnRecord = onRec.add
	})
	filler := disktest.Fill(t, mnt, 0)
	h.call("caller_voicemail", "+15550100", "100").wait(t)

	// The recording and then the record are held, in that order.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		h.s.held.mu.Lock()
		n := len(h.s.held.queue)
		h.s.held.mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d writes held after a voicemail on a full disk, want 2 (recording, record)", n)
		}
	}
	if recs, err := h.s.Calls(context.Background()); err != nil || len(recs) != 0 {
		t.Fatalf("records while the disk is full: %v %+v", err, recs)
	}
	if got := onRec.get(); len(got) != 0 {
		t.Fatalf("OnRecord told of a record not stored: %+v", got)
	}
	if ents, _ := os.ReadDir(filepath.Join(mnt, "recordings")); len(ents) != 0 {
		t.Fatalf("partial recording files on a full disk: %v", ents)
	}

	filler.Free()
	r := h.records(1)[0]
	if r.Outcome != OutcomeVoicemail || r.Recording == "" || r.Seq != 1 {
		t.Fatalf("record %+v", r)
	}
	if on := onRec.wait(t, 1); len(on) != 1 || on[0].Recording != r.Recording {
		t.Fatalf("OnRecord got %+v", on)
	}
	rc, err := h.s.Recording(context.Background(), r.Recording)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := ReadWAV(rc)
	if err != nil {
		t.Fatal(err)
	}
	sent := pcapAudio(t, "/usr/share/sip-tester/g711a.pcap")
	if !bytes.Contains(EncodeWAV(got)[44:], EncodeWAV(sent)[44:]) {
		t.Fatal("the recording written late does not contain the audio sent")
	}
}
