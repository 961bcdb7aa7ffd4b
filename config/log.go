package config

import (
	"fmt"
	"log/slog"
	"strings"
)

// Log configures the server's log, written to standard error.
type Log struct {
	// Level is the least severe level written: debug, info, warn or
	// error. Default: info. Passwords and SASL data are never logged,
	// at any level.
	Level string `toml:"level"`
}

// SlogLevel is Level for log/slog; an empty Level is info.
func (l Log) SlogLevel() (slog.Level, error) {
	switch strings.ToLower(l.Level) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log.level: %q is not debug, info, warn or error", l.Level)
}
