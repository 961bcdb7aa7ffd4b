// Package telephony is Frontdesk's hotline: a SIP registrar and user agent
// (github.com/emiago/sipgo) for agents' softphones and customers' calls,
// RTP media with our own G.711 (github.com/pion/rtp, github.com/pion/sdp/v3),
// an IVR walked with DTMF, skill queues with VIP priority, voicemail and
// call records.
//
// Locking: Server.mu guards the ACD, registrations, the dialog table and
// the waiting callers. Nothing under it blocks: no SIP or RTP I/O, no store
// access, no channel send that could wait. Each call runs in one goroutine
// that owns its call record; ring attempts run in their own goroutines and
// hand an answered agent to the call over a buffered channel.
package telephony

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Server is the hotline. Create it with New, then Start.
type Server struct {
	cfg     Config
	log     *slog.Logger
	db      *db
	agents  AgentDirectory
	aead    cipher.AEAD
	auth    *digestAuth
	prompts *prompts
	queues  map[string]*QueueConfig
	lines   map[string]*Hotline
	ip      net.IP

	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	client  *sipgo.Client
	duaUDP  *sipgo.DialogUA
	duaTCP  *sipgo.DialogUA
	udp     *net.UDPConn
	tcp     *net.TCPListener
	rtpNext atomic.Uint32

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // serve loops, calls, rings

	mu        sync.Mutex
	acd       *acd                           // guarded by mu
	regs      map[string]binding             // guarded by mu; agent address → contact
	dialogs   map[string]*dialogHooks        // guarded by mu; SIP Call-ID → handlers
	waiters   map[*waiter]*call              // guarded by mu; callers in queues
	rings     map[*waiter]context.CancelFunc // guarded by mu
	tasks     map[uint64]*taskState          // guarded by mu; pending callbacks
	taskWake  chan struct{}                  // nudges taskLoop
	active    int                            // guarded by mu; calls in progress
	nextID    uint64                         // guarded by mu
	closed    bool                           // guarded by mu
	closeOnce sync.Once
	held      heldWrites // what a full disk kept from being written
}

// binding is a registered contact (RFC 3261 section 10.3).
type binding struct {
	contact   sip.Uri
	transport string
	expires   time.Time
}

// dialogHooks routes in-dialog requests to the call that owns the dialog.
type dialogHooks struct {
	ack  func(*sip.Request, sip.ServerTransaction)
	bye  func(*sip.Request, sip.ServerTransaction)
	info func(*sip.Request, sip.ServerTransaction)
}

// New checks cfg, fills its defaults and opens DATA/telephony.db and the
// recordings key. Nothing listens until Start.
func New(cfg Config) (*Server, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	for _, d := range []string{cfg.DataDir, filepath.Join(cfg.DataDir, "recordings")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	key, err := loadOrCreateKey(filepath.Join(cfg.DataDir, "keys", "recordings.key"))
	if err != nil {
		return nil, err
	}
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	d, err := openDB(filepath.Join(cfg.DataDir, "telephony.db"))
	if err != nil {
		return nil, err
	}
	nonceKey := make([]byte, 32)
	rand.Read(nonceKey)
	s := &Server{
		cfg: cfg, log: cfg.Logger, db: d, aead: aead,
		auth:    &digestAuth{realm: cfg.Realm, key: nonceKey, now: time.Now},
		prompts: &prompts{base: cfg.Prompts, override: filepath.Join(cfg.DataDir, "prompts")},
		queues:  map[string]*QueueConfig{}, lines: map[string]*Hotline{},
		acd: newACD(), regs: map[string]binding{}, dialogs: map[string]*dialogHooks{},
		waiters: map[*waiter]*call{}, rings: map[*waiter]context.CancelFunc{},
		tasks: map[uint64]*taskState{}, taskWake: make(chan struct{}, 1),
	}
	if err := s.loadTasks(); err != nil {
		d.close()
		return nil, fmt.Errorf("telephony: load callbacks: %w", err)
	}
	d.feeds = cfg.OnRecord != nil
	if err := s.recoverCalls(); err != nil {
		d.close()
		return nil, fmt.Errorf("telephony: recover call records: %w", err)
	}
	s.agents = cfg.Agents
	if s.agents == nil {
		s.agents = dbAgents{d}
	}
	for i := range s.cfg.Queues {
		s.queues[s.cfg.Queues[i].Name] = &s.cfg.Queues[i]
	}
	for i := range s.cfg.Hotlines {
		s.lines[s.cfg.Hotlines[i].Number] = &s.cfg.Hotlines[i]
	}
	return s, nil
}

// Start binds the SIP address on UDP and TCP (the same port) and serves in
// the background; it returns once both are bound.
func (s *Server) Start(ctx context.Context) error {
	host, port, err := net.SplitHostPort(s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("telephony: bad address %q: %w", s.cfg.Addr, err)
	}
	ip := net.ParseIP(host)
	if host == "" || host == "localhost" {
		ip = net.IPv4(127, 0, 0, 1)
	}
	if ip == nil {
		return fmt.Errorf("telephony: address %q: want an IP", s.cfg.Addr)
	}
	// Bind TCP first, then UDP on the same port; with port 0 retry a few
	// times in case the UDP port is taken.
	for try := 0; ; try++ {
		s.tcp, err = net.ListenTCP("tcp", &net.TCPAddr{IP: ip, Port: atoi(port)})
		if err != nil {
			return fmt.Errorf("telephony: listen tcp: %w", err)
		}
		p := s.tcp.Addr().(*net.TCPAddr).Port
		s.udp, err = net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: p})
		if err == nil {
			break
		}
		s.tcp.Close()
		if port != "0" || try > 10 {
			return fmt.Errorf("telephony: listen udp: %w", err)
		}
	}
	s.ip = s.cfg.PublicIP
	if s.ip == nil {
		s.ip = ip
		if ip.IsUnspecified() {
			s.ip = net.IPv4(127, 0, 0, 1)
		}
	}
	sipPort := s.udp.LocalAddr().(*net.UDPAddr).Port

	s.ua, err = sipgo.NewUA(sipgo.WithUserAgent("Frontdesk"), sipgo.WithUserAgentHostname(s.ip.String()))
	if err != nil {
		return err
	}
	s.srv, err = sipgo.NewServer(s.ua, sipgo.WithServerLogger(s.log))
	if err != nil {
		return err
	}
	// Requests over UDP leave from the listening socket, so agents' phones
	// see the registrar's address (RFC 3261 section 18.1.1).
	s.client, err = sipgo.NewClient(s.ua, sipgo.WithClientLogger(s.log), sipgo.WithClientHostname(s.ip.String()),
		sipgo.WithClientConnectionAddr(s.udp.LocalAddr().String()))
	if err != nil {
		return err
	}
	clientTCP, err := sipgo.NewClient(s.ua, sipgo.WithClientLogger(s.log), sipgo.WithClientHostname(s.ip.String()))
	if err != nil {
		return err
	}
	contact := func(transport string) sip.ContactHeader {
		u := sip.Uri{Scheme: "sip", User: "frontdesk", Host: s.ip.String(), Port: sipPort}
		if transport == "TCP" {
			u.UriParams = sip.NewParams()
			u.UriParams.Add("transport", "tcp")
		}
		return sip.ContactHeader{Address: u}
	}
	s.duaUDP = &sipgo.DialogUA{Client: s.client, ContactHDR: contact("UDP")}
	s.duaTCP = &sipgo.DialogUA{Client: clientTCP, ContactHDR: contact("TCP")}

	s.srv.OnRegister(s.guard(s.handleRegister))
	s.srv.OnInvite(s.guard(s.handleInvite))
	s.srv.OnAck(s.guard(s.handleAck))
	s.srv.OnBye(s.guard(s.handleBye))
	s.srv.OnCancel(s.guard(s.handleCancel))
	s.srv.OnOptions(s.guard(s.handleOptions))
	s.srv.OnInfo(s.guard(s.handleInfo))
	s.srv.OnNoRoute(s.guard(func(req *sip.Request, tx sip.ServerTransaction) {
		s.respond(tx, req, 405, "Method Not Allowed", sip.NewHeader("Allow", allowMethods))
	}))

	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.wg.Add(4)
	go s.taskLoop()
	go s.heldLoop()
	go func() {
		defer s.wg.Done()
		s.srv.ServeUDP(&versionGate{PacketConn: s.udp, log: s.log})
	}()
	go func() {
		defer s.wg.Done()
		s.srv.ServeTCP(idleListener{Listener: s.tcp, timeout: s.cfg.TCPIdleTimeout})
	}()
	udp, tcp := s.Addr()
	s.log.Info("sip listening", "udp", udp, "tcp", tcp, "rtp", fmt.Sprintf("%d-%d", s.cfg.RTPPortMin, s.cfg.RTPPortMax))
	return nil
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

const allowMethods = "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, INFO"

// Addr returns the bound UDP and TCP addresses.
func (s *Server) Addr() (udp, tcp string) {
	if s.udp == nil {
		return "", ""
	}
	return s.udp.LocalAddr().String(), s.tcp.Addr().String()
}

// Close hangs up every call, stops listening and closes the database.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		if s.cancel != nil {
			s.cancel()
		}
		// Calls end now, sending BYE to whoever is still on the line; keep
		// the SIP sockets open until they have, so the BYEs' responses
		// arrive instead of each waiting out its timeout.
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
			s.mu.Lock()
			n := s.active
			s.mu.Unlock()
			if n == 0 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if s.udp != nil {
			s.udp.Close()
			s.tcp.Close()
		}
		done := make(chan struct{})
		go func() { s.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			s.log.Error("calls did not end within 30s of close")
		}
		if s.ua != nil {
			s.ua.Close()
		}
		s.closeHeld()
		err = s.db.close()
	})
	return err
}

// Calls lists the call records, newest last.
func (s *Server) Calls(ctx context.Context) ([]CallRecord, error) { return s.db.calls(ctx) }

// Recording returns the decrypted WAV of a voicemail or call recording.
func (s *Server) Recording(ctx context.Context, id string) (io.ReadCloser, error) {
	if id == "" || strings.ContainsAny(id, `/\.`) {
		return nil, fmt.Errorf("telephony: bad recording id %q", id)
	}
	sealed, err := os.ReadFile(filepath.Join(s.cfg.DataDir, "recordings", id+".wav.enc"))
	if err != nil {
		return nil, err
	}
	plain, err := openRecording(s.aead, id, sealed)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(strings.NewReader(string(plain))), nil
}

// Agent returns an agent of the directory, registered or not, or
// ErrUnknownAgent.
func (s *Server) Agent(ctx context.Context, address string) (Agent, error) {
	return s.agents.Agent(ctx, strings.ToLower(strings.TrimSpace(address)))
}

// AddAgent creates or updates an agent with skills and a SIP password,
// whose digest H(A1) is stored (see AgentDirectory). The digest username
// is the address.
func (s *Server) AddAgent(ctx context.Context, address string, skills []string, sipPassword string) error {
	address = strings.ToLower(strings.TrimSpace(address))
	if !strings.Contains(address, "@") {
		return fmt.Errorf("telephony: agent address %q: want user@domain", address)
	}
	if len(sipPassword) < 8 {
		return errors.New("telephony: SIP password must have at least 8 characters")
	}
	if s.cfg.Accounts != nil {
		if _, err := s.cfg.Accounts.Account(ctx, address); err != nil {
			return fmt.Errorf("telephony: %s is not a Frontdesk account: %w", address, err)
		}
	}
	w, ok := s.agents.(AgentWriter)
	if !ok {
		return errors.New("telephony: the agent directory is read-only")
	}
	var clean []string
	for _, sk := range skills {
		if sk = strings.TrimSpace(sk); sk != "" {
			clean = append(clean, sk)
		}
	}
	if err := w.PutAgent(ctx, Agent{Address: address, Skills: clean}, DigestHA1(address, s.cfg.Realm, sipPassword), s.cfg.Realm); err != nil {
		return err
	}
	s.mu.Lock()
	if ag := s.acd.agents[address]; ag != nil {
		ag.skills = clean
	}
	s.mu.Unlock()
	s.dispatch()
	return nil
}

// SetAgentAway puts a registered agent on a break (away) or back.
func (s *Server) SetAgentAway(address string, away bool) error {
	s.mu.Lock()
	ok := s.acd.setAway(strings.ToLower(address), away, time.Now())
	s.mu.Unlock()
	if !ok {
		return ErrUnknownAgent
	}
	s.dispatch()
	return nil
}

// QueueState returns the live state of every queue.
func (s *Server) QueueState() []QueueState {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acd.refresh(now)
	var out []QueueState
	for _, q := range s.cfg.Queues {
		qs := QueueState{Name: q.Name, Skill: q.Skill, Waiting: []WaitingCaller{}, Agents: []AgentState{}}
		for _, w := range s.acd.waiting {
			if w.queue == q.Name && w.task != 0 {
				qs.Callbacks++
			} else if w.queue == q.Name {
				qs.Waiting = append(qs.Waiting, WaitingCaller{Position: len(qs.Waiting) + 1, Caller: w.caller,
					Level: w.level, Wait: now.Sub(w.enq), Ringing: w.offering})
			}
		}
		for _, ag := range s.acd.agents {
			if containsString(ag.skills, q.Skill) {
				st := AgentState{Address: ag.addr, State: ag.state, Registered: !ag.expires.IsZero()}
				if ag.state == StateAvailable {
					st.IdleSince = ag.idleSince
				}
				qs.Agents = append(qs.Agents, st)
			}
		}
		sortAgentStates(qs.Agents)
		out = append(out, qs)
	}
	return out
}

// guard wraps a handler so a panic answers 500 and is logged, never
// taking the server down.
func (s *Server) guard(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("panic in SIP handler", "method", req.Method, "panic", r)
				s.respond(tx, req, 500, "Server Internal Error")
			}
		}()
		h(req, tx)
	}
}

func (s *Server) respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	// The library copies the request's version, whatever a broken client
	// wrote there; a response always speaks SIP/2.0 (RFC 3261 §7.2).
	res.SipVersion = "SIP/2.0"
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	if err := tx.Respond(res); err != nil {
		s.log.Debug("respond failed", "code", code, "err", err)
	}
}
