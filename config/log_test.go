package config

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLogLevel(t *testing.T) {
	dir := t.TempDir()
	for body, want := range map[string]slog.Level{
		"":                           slog.LevelInfo,
		"[log]\nlevel = \"debug\"\n": slog.LevelDebug,
		"[log]\nlevel = \"WARN\"\n":  slog.LevelWarn,
		"[log]\nlevel = \"error\"\n": slog.LevelError,
	} {
		path := filepath.Join(dir, "frontdesk.toml")
		os.WriteFile(path, []byte(body), 0o600)
		c, err := Load(path)
		if err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		if got, err := c.Log.SlogLevel(); err != nil || got != want {
			t.Errorf("%q: level %v, %v; want %v", body, got, err, want)
		}
	}
	path := filepath.Join(dir, "loud.toml")
	os.WriteFile(path, []byte("[log]\nlevel = \"loud\"\n"), 0o600)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), `log.level: "loud"`) {
		t.Errorf("level loud: err = %v, want one naming log.level", err)
	}
}
