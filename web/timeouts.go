package web

import (
	"log/slog"
	"net/http"
	"time"
)

// Timeouts bound each HTTP connection; zero fields take the defaults
// noted. Live-update streams (text/event-stream) lift the write deadline
// for themselves, so WriteTimeout does not end them.
type Timeouts struct {
	ReadHeader time.Duration // a request's header; default 10 s (slowloris)
	Read       time.Duration // a whole request; default 1 minute
	Write      time.Duration // a response; default 2 minutes
	Idle       time.Duration // a keep-alive connection between requests; default 2 minutes
}

// HTTPServer returns an http.Server for h with these timeouts.
func (t Timeouts) HTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	or := func(d, def time.Duration) time.Duration {
		if d > 0 {
			return d
		}
		return def
	}
	return &http.Server{Handler: h, ReadHeaderTimeout: or(t.ReadHeader, 10*time.Second), ReadTimeout: or(t.Read, time.Minute),
		WriteTimeout: or(t.Write, 2*time.Minute), IdleTimeout: or(t.Idle, 2*time.Minute),
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
}
