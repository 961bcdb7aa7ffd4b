package telephony

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPrompts(t *testing.T) {
	dir := t.TempDir()
	p := &prompts{base: DefaultPrompts(), override: dir}
	for _, name := range []string{"greeting", "menu", "invalid", "queue", "voicemail", "goodbye", "many", "n1", "n9", "callback_offer", "callback_ok"} {
		pcm, err := p.get("100", name)
		if err != nil || len(pcm) < SampleRate/4 {
			t.Errorf("%s: %d samples, %v", name, len(pcm), err)
		}
	}
	os.MkdirAll(filepath.Join(dir, "200"), 0o755)
	os.WriteFile(filepath.Join(dir, "200", "greeting.wav"), EncodeWAV([]int16{7, 7, 7}), 0o644)
	if pcm, err := p.get("200", "greeting"); err != nil || len(pcm) != 3 {
		t.Fatalf("override: %v %v", pcm, err)
	}
	os.WriteFile(filepath.Join(dir, "200", "menu.wav"), []byte("junk"), 0o644)
	if _, err := p.get("200", "menu"); err == nil {
		t.Fatal("bad override accepted")
	}
	if _, err := p.get("100", "../x"); err == nil {
		t.Fatal("path escape accepted")
	}
	if _, err := p.get("100", "nope"); err == nil {
		t.Fatal("missing prompt found")
	}
}
