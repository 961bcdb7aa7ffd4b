package telephony

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestRecordingCrypt(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys", "recordings.key")
	key, err := loadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", fi.Mode(), err)
	}
	again, err := loadOrCreateKey(path)
	if err != nil || !bytes.Equal(again, key) {
		t.Fatal("key not reloaded")
	}
	aead, err := newGCM(key)
	if err != nil {
		t.Fatal(err)
	}
	plain := EncodeWAV([]int16{1, 2, 3})
	sealed, err := sealRecording(aead, "rec1", plain)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, plain[:12]) {
		t.Fatal("plaintext visible")
	}
	got, err := openRecording(aead, "rec1", sealed)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("round trip: %v", err)
	}
	if _, err := openRecording(aead, "rec2", sealed); err == nil {
		t.Fatal("opened under another id")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := openRecording(aead, "rec1", sealed); err == nil {
		t.Fatal("tampered file opened")
	}
}
