package telephony

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestServerBackup(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	s, err := New(Config{DataDir: src})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pcm := []int16{1, -2, 3, -4, 5}
	if err := s.saveRecording("c1", pcm); err != nil {
		t.Fatal(err)
	}
	rec := &CallRecord{ID: "c1", Caller: "+15550100", Dialled: "100", Start: time.Now().UTC(), End: time.Now().UTC(),
		Outcome: "voicemail", Recording: "c1"}
	if err := s.db.addCall(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := s.AddAgent(ctx, "ann@example.test", []string{"support"}, "sip password"); err != nil {
		t.Fatal(err)
	}
	prompt := filepath.Join(src, "prompts", "100", "greeting.wav")
	os.MkdirAll(filepath.Dir(prompt), 0o700)
	os.WriteFile(prompt, EncodeWAV(pcm), 0o600)

	dir := t.TempDir()
	if err := s.Backup(dir); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want, _ := s.Calls(ctx)
	got, err := c.Calls(ctx)
	if err != nil || len(got) != 1 || got[0].ID != want[0].ID || got[0].Recording != "c1" {
		t.Fatalf("calls in the copy: %+v, %v", got, err)
	}
	r, err := c.Recording(ctx, "c1")
	if err != nil {
		t.Fatalf("recording in the copy (same key?): %v", err)
	}
	b, _ := io.ReadAll(r)
	if !bytes.Equal(b, EncodeWAV(pcm)) {
		t.Error("recording differs in the copy")
	}
	if b, err := os.ReadFile(filepath.Join(dir, "prompts", "100", "greeting.wav")); err != nil || !bytes.Equal(b, EncodeWAV(pcm)) {
		t.Errorf("prompt override in the copy: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "keys", "recordings.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("recordings key in the copy: %v", err)
	}
	if ag, err := c.agents.Agent(ctx, "ann@example.test"); err != nil || len(ag.Skills) != 1 {
		t.Errorf("agent in the copy: %+v %v", ag, err)
	}
}
