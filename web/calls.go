package web

import (
	"context"
	"net/http"
	"time"
)

// Hotline is what the calls page needs of the SIP hotline: the live state
// of its queues and the call records. The command wires the telephony
// server to it (protocol packages do not import each other).
type Hotline interface {
	Queues() []QueueView
	Calls(ctx context.Context) ([]CallView, error)
}

// QueueView is one skill group's queue right now.
type QueueView struct {
	Name    string          `json:"name"`
	Waiting []WaitingCaller `json:"waiting"` // in service order
	Agents  []AgentView     `json:"agents"`
}

// WaitingCaller is one caller waiting in a queue.
type WaitingCaller struct {
	Position int           `json:"position"`
	Caller   string        `json:"caller"`
	Level    string        `json:"level"` // vip, regular, new
	Wait     time.Duration `json:"wait"`
	Ringing  string        `json:"ringing,omitempty"` // agent being rung for this caller
}

// AgentView is one agent's state: available, ringing, on call, wrap-up, away.
type AgentView struct {
	Address    string `json:"address"`
	State      string `json:"state"`
	Registered bool   `json:"registered"`
}

// CallView is one call record.
type CallView struct {
	Start   time.Time     `json:"start"`
	Caller  string        `json:"caller"`
	Dialled string        `json:"dialled"`
	IVRPath string        `json:"ivr_path"`
	Queue   string        `json:"queue"`
	Agent   string        `json:"agent"`
	Wait    time.Duration `json:"wait"`
	Talk    time.Duration `json:"talk"`
	Outcome string        `json:"outcome"`
}

// callsShown bounds the call records on the page: the newest ones.
const callsShown = 100

type callsView struct {
	Available bool
	Queues    []QueueView
	Calls     []CallView // newest first
	Updated   string
}

// callsPage answers GET /calls: the live queues and the latest calls, for
// supervisors. The page refreshes itself every few seconds.
func (s *Server) callsPage(w http.ResponseWriter, r *http.Request) {
	d := &callsView{Available: s.cfg.Hotline != nil, Updated: time.Now().UTC().Format("15:04:05 UTC")}
	p := page{Title: "Hotline", Nav: "calls", Data: d}
	if !d.Available {
		p.Error = "The hotline is not running on this server."
		s.render(w, r, http.StatusServiceUnavailable, "calls.html", p)
		return
	}
	d.Queues = s.cfg.Hotline.Queues()
	calls, err := s.cfg.Hotline.Calls(r.Context())
	if err != nil {
		s.log.Error("web: call records", "err", err)
		p.Error = "Call records are unavailable right now."
	}
	for i := len(calls) - 1; i >= 0 && len(d.Calls) < callsShown; i-- {
		d.Calls = append(d.Calls, calls[i])
	}
	s.render(w, r, http.StatusOK, "calls.html", p)
}

// apiQueues answers GET /api/calls/queues with the live queue state.
func (s *Server) apiQueues(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Hotline == nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "the hotline is not running"})
		return
	}
	writeJSON(w, http.StatusOK, s.cfg.Hotline.Queues())
}
