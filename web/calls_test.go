package web

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"frontdesk/store"
)

// hotline is a fixed hotline state, as the telephony server reports it.
type hotline struct{}

func (hotline) Queues() []QueueView {
	return []QueueView{{Name: "support",
		Waiting: []WaitingCaller{{Position: 1, Caller: "+15550100", Level: "vip", Wait: 12 * time.Second, Ringing: "alice@corp.test"}},
		Agents:  []AgentView{{Address: "alice@corp.test", State: "ringing", Registered: true}}}}
}

func (hotline) Calls(ctx context.Context) ([]CallView, error) {
	t := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	return []CallView{
		{Start: t, Caller: "+15550199", Dialled: "100", IVRPath: "2", Queue: "support", Agent: "alice@corp.test", Wait: 5 * time.Second, Talk: 70 * time.Second, Outcome: "answered"},
		{Start: t.Add(time.Minute), Caller: "+15550200", Dialled: "100", IVRPath: "1", Queue: "sales", Outcome: "abandoned"},
	}, nil
}

func TestCallsPage(t *testing.T) {
	e := newEnv(t, true)
	e.srv.cfg.Hotline = hotline{}
	ctx := context.Background()
	e.st.AddAccount(ctx, "sup@corp.test", "supervisor-pw", store.RoleSupervisor)
	e.st.AddAccount(ctx, "agent@corp.test", "agent-pw-123", store.RoleAgent)

	c := e.client()
	c.mustLogin("sup@corp.test", "supervisor-pw")
	resp, body := c.get("/calls")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /calls as supervisor: %s\n%s", resp.Status, body)
	}
	for _, want := range []string{"15550100", "vip", "ringing", "alice@corp.test", "answered", "abandoned", "1m10s"} {
		if !strings.Contains(body, want) {
			t.Errorf("calls page lacks %q", want)
		}
	}
	if i, j := strings.Index(body, "15550200"), strings.Index(body, "15550199"); i < 0 || j < 0 || i > j {
		t.Errorf("calls are not newest first")
	}
	resp, body = c.get("/api/calls/queues")
	var qs []QueueView
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &qs) != nil || len(qs) != 1 || qs[0].Waiting[0].Level != "vip" {
		t.Errorf("GET /api/calls/queues: %s %s", resp.Status, body)
	}

	a := e.client()
	a.mustLogin("agent@corp.test", "agent-pw-123")
	if resp, _ := a.get("/calls"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET /calls as agent: %s, want 403", resp.Status)
	}
	if resp, _ := e.client().get("/api/calls/queues"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous GET /api/calls/queues: %s, want 401", resp.Status)
	}
}
