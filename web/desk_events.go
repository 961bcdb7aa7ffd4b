package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// sseHeartbeat is how often an idle event stream sends a comment, so
// proxies keep it open and a vanished client is noticed.
const sseHeartbeat = 15 * time.Second

// ticketEvents answers GET /api/tickets/events: a text/event-stream of
// "ticket" events ({"ticket":N,"kind":…}) for the tickets the viewer may
// see, one flush per event. It ends when the client goes away, the
// server shuts down (Shutdown must not wait for open streams), the desk
// closes, or the viewer's session ends.
func (s *Server) ticketEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	// The stream outlives the server's write timeout by design.
	rc.SetWriteDeadline(time.Time{})
	events, cancel := s.cfg.Desk.Subscribe()
	defer cancel()
	sc := s.scopeOf(r)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n: connected\n\n")
	if rc.Flush() != nil {
		return
	}
	tick := time.NewTicker(sseHeartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.quit:
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			if !sc.canSee(ev.Group, ev.Assignee) {
				continue
			}
			data, _ := json.Marshal(map[string]any{"ticket": ev.Ticket, "kind": ev.Kind})
			fmt.Fprintf(w, "event: ticket\ndata: %s\n\n", data)
			if rc.Flush() != nil {
				return
			}
		case <-tick.C:
			if !s.stillSignedIn(r) {
				return // logged out, expired or revoked
			}
			sc = s.scopeOf(r) // groups may have changed
			fmt.Fprint(w, ": ping\n\n")
			if rc.Flush() != nil {
				return
			}
		}
	}
}

// stillSignedIn reports whether the session or token of a long request
// is still good.
func (s *Server) stillSignedIn(r *http.Request) bool {
	if tokenOf(r) != nil {
		v, _ := s.tokenViewer(r)
		return v != nil
	}
	return s.viewer(r) != nil
}
