package web

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"frontdesk/store"
	"frontdesk/tickets"
)

// Desk test accounts: an agent of "support", one of "billing", a
// supervisor of "support", and a plain mail user.
const (
	agentIn    = "alice@corp.test"
	agentOut   = "bob@corp.test"
	supervisor = "sue@corp.test"
	plainUser  = "ursula@corp.test"
	supportBox = "support@corp.test"
	deskPW     = "desk-password-1"
)

// outbox is the desk's Mailer in web tests: it keeps what it is given
// (the queue's own tests deliver for real).
type outbox struct {
	mu   sync.Mutex
	sent [][]byte
}

func (o *outbox) Send(_ context.Context, from string, to []string, msg []byte) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent = append(o.sent, bytes.Clone(msg))
	return fmt.Sprintf("q%d", len(o.sent)), nil
}

func (o *outbox) all() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, m := range o.sent {
		out = append(out, string(m))
	}
	return out
}

// fakePhone stands in for the telephony side: agents' skills from a map,
// recordings from memory, call-backs recorded.
type fakePhone struct {
	groups     map[string][]string
	recordings map[string][]byte
	mu         sync.Mutex
	callbacks  []string
}

func (p *fakePhone) Callback(_ context.Context, agent, number string, ticket uint64) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.callbacks = append(p.callbacks, fmt.Sprintf("%s %s %d", agent, number, ticket))
	return "Ringing your softphone, then " + number + ".", nil
}

func (p *fakePhone) Recording(_ context.Context, id string) (io.ReadCloser, error) {
	b, ok := p.recordings[id]
	if !ok {
		return nil, tickets.ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (p *fakePhone) AgentGroups(_ context.Context, address string) ([]string, error) {
	return p.groups[address], nil
}

// fakeHotline shows fixed queues on the wallboard.
type fakeHotline struct{}

func (fakeHotline) Queues() []QueueView {
	return []QueueView{
		{Name: "support", Waiting: []WaitingCaller{{Position: 1, Caller: "+15550101", Level: "vip", Wait: 42 * time.Second}, {Position: 2, Caller: "+15550102", Level: "new", Wait: 12 * time.Second}},
			Agents: []AgentView{{Address: agentIn, State: "on call", Registered: true}, {Address: supervisor, State: "available", Registered: true}}},
		{Name: "billing", Agents: []AgentView{{Address: agentOut, State: "away"}}},
	}
}

func (fakeHotline) Calls(context.Context) ([]CallView, error) { return nil, nil }

// wav is a tiny valid WAV file: 0.1 s of 8 kHz silence.
func wav() []byte {
	var b bytes.Buffer
	data := make([]byte, 1600)
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(36+len(data)))
	b.WriteString("WAVEfmt ")
	binary.Write(&b, binary.LittleEndian, []any{uint32(16), uint16(1), uint16(1), uint32(8000), uint32(16000), uint16(2), uint16(16)})
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, uint32(len(data)))
	b.Write(data)
	return b.Bytes()
}

// deskEnv is a web server with a real desk on t.TempDir().
type deskEnv struct {
	*env
	desk  *tickets.Desk
	box   *outbox
	phone *fakePhone
	seq   int
}

func newDeskEnv(t *testing.T) *deskEnv {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	if _, err := st.AddDomain(ctx, "corp.test"); err != nil {
		t.Fatal(err)
	}
	for addr, role := range map[string]store.Role{adminAddr: store.RoleAdmin, agentIn: store.RoleAgent, agentOut: store.RoleAgent,
		supervisor: store.RoleSupervisor, plainUser: store.RoleUser, supportBox: store.RoleUser} {
		pw := deskPW
		if addr == adminAddr {
			pw = adminPW
		}
		if _, err := st.AddAccount(ctx, addr, pw, role); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SetSupport(ctx, supportBox, true); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	box := &outbox{}
	desk, err := tickets.Open(tickets.Config{Path: filepath.Join(dir, "tickets.db"), Hostname: mailHost, Mailer: box, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { desk.Close() })
	phone := &fakePhone{groups: map[string][]string{agentIn: {"support"}, agentOut: {"billing"}, supervisor: {"support"}},
		recordings: map[string][]byte{}}
	srv := New(Config{Store: st, Hostname: mailHost, Logger: log, Desk: desk, Phone: phone, Hotline: fakeHotline{}})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	t.Cleanup(func() { srv.Shutdown(context.Background()) }) // ends open event streams first
	return &deskEnv{env: &env{t: t, st: st, srv: srv, ts: ts}, desk: desk, box: box, phone: phone}
}

// mail delivers a customer's message to the support address.
func (e *deskEnv) mail(from, subject, body string) uint64 {
	e.t.Helper()
	e.seq++
	msg := fmt.Sprintf("From: Carol Customer <%s>\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <m%d.%d@example.org>\r\nDate: %s\r\n\r\n%s\r\n",
		from, supportBox, subject, e.seq, time.Now().UnixNano(), time.Now().Format(time.RFC1123Z), body)
	res, err := e.desk.IngestMail(context.Background(), tickets.MailIn{Support: supportBox, MailFrom: from, Message: []byte(msg)})
	if err != nil || res.Ticket == 0 {
		e.t.Fatalf("IngestMail: %+v %v", res, err)
	}
	return res.Ticket
}

// fixture is a support ticket with a phone number on its contact and a
// recorded call that agentIn took.
type fixture struct {
	n       uint64
	contact uint64
	callID  string
	secret  string
}

func (e *deskEnv) fixture() fixture {
	e.t.Helper()
	ctx := context.Background()
	n := e.mail(fmt.Sprintf("carol%d@example.org", e.seq+1), "Printer on fire", "Hello, my printer is on fire.")
	t, _ := e.desk.Ticket(ctx, n)
	phone := fmt.Sprintf("+1555%07d", n)
	if _, err := e.desk.UpsertContact(ctx, t.Contact, tickets.ContactUpdate{Phones: []string{phone}}); err != nil {
		e.t.Fatal(err)
	}
	id := fmt.Sprintf("call-%d", n)
	start := time.Now().Add(-5 * time.Minute).UTC()
	c := tickets.Call{ID: id, Direction: "inbound", Number: phone, Queue: "support", Agent: agentIn, Start: start,
		Answered: start.Add(20 * time.Second), End: start.Add(3 * time.Minute), Wait: 20 * time.Second, Talk: 160 * time.Second,
		Outcome: "answered", Recording: "rec-" + id}
	if _, _, err := e.desk.AddCall(ctx, c, n); err != nil {
		e.t.Fatal(err)
	}
	e.phone.recordings["rec-"+id] = wav()
	t, _ = e.desk.Ticket(ctx, n)
	return fixture{n: n, contact: t.Contact, callID: id, secret: t.Secret}
}

// token makes an API token and returns its secret.
func (e *deskEnv) token(role string) string {
	e.t.Helper()
	secret, _, err := e.desk.CreateToken(context.Background(), "crm-"+role, role)
	if err != nil {
		e.t.Fatal(err)
	}
	return secret
}

// api sends a JSON request: with the session's CSRF header on unsafe
// methods, or with bearer as the Authorization.
func (c *client) api(method, path string, body any, bearer string) (*http.Response, string) {
	c.e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.e.ts.URL+path, rd)
	if err != nil {
		c.e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	} else if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// headers sends a GET and returns as soon as the response headers are in
// (for event streams), closing the body.
func (c *client) headers(path, bearer string) *http.Response {
	c.e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", c.e.ts.URL+path, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func formOf(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
