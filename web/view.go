package web

import (
	"encoding/base64"
	"io/fs"
	"net/http"
	"strings"
	"time"
)

const flashCookie = "fd_flash"

// redirect sends the browser on to url with a message shown once there.
// The message travels in a short-lived cookie, not the URL, so nobody can
// craft a link that puts words in the console's mouth.
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, url, msg string) {
	if msg != "" {
		s.setCookie(w, r, flashCookie, base64.RawURLEncoding.EncodeToString([]byte(msg)), 60)
	}
	http.Redirect(w, r, url, http.StatusSeeOther)
}

// takeFlash returns the pending message and clears it.
func (s *Server) takeFlash(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	s.setCookie(w, r, flashCookie, "", -1)
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(b) > 500 {
		return ""
	}
	return string(b)
}

// stateLabel is the text shown with a state's colour, so state never
// rests on colour alone.
func stateLabel(state string) string {
	switch state {
	case "ok":
		return "OK"
	case "missing":
		return "Missing"
	case "wrong":
		return "Wrong"
	case "conflicting":
		return "Conflicting"
	case "warning":
		return "Warning"
	case "unknown":
		return "Unknown (lookup failed)"
	case "unchecked":
		return "Not checked"
	case "active":
		return "Active"
	case "pending":
		return "Pending DNS"
	}
	return state
}

func joinStrings(ss []string, sep string) string { return strings.Join(ss, sep) }

// ago renders a time for people: "never" when zero.
func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := time.Since(t).Round(time.Second)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return d.Truncate(time.Minute).String() + " ago"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

var staticFiles = func() http.Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err)
	}
	return http.StripPrefix("/static/", http.FileServerFS(sub))
}()

func (s *Server) static(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=3600")
	staticFiles.ServeHTTP(w, r)
}
