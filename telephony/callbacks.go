package telephony

import (
	"context"
	"fmt"
	"time"
)

// Queued callbacks: a caller past the maximum wait presses 1 and hangs up;
// a CallbackTask is stored in telephony.db before they hear "we will call
// you back", so it survives a restart. The dispatcher puts each due task
// into the ACD as an entry behind every live caller of its queue, so the
// longest-idle free agent with the skill takes it only when no live
// caller is waiting for them; it then runs the same code as
// Server.Callback.

// Callback task states.
const (
	TaskPending = "pending" // waiting for a free agent or the next attempt
	TaskDone    = "done"    // the customer answered
	TaskFailed  = "failed"  // every attempt failed
)

// CallbackTask is a callback a caller asked for in the IVR.
type CallbackTask struct {
	ID        uint64    `json:"id"`
	Number    string    `json:"number"` // whom to call
	Queue     string    `json:"queue"`
	Skill     string    `json:"skill"`
	Requested time.Time `json:"requested"`
	Ticket    uint64    `json:"ticket"` // 0: not on a ticket yet
	// RequestCall is the ID of the call record in which it was asked for.
	RequestCall string `json:"requestCall,omitempty"`
	State       string `json:"state"` // TaskPending, TaskDone or TaskFailed
	// Attempts counts calls placed to the customer (the agent had
	// answered); at Callbacks.MaxAttempts a task fails.
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"nextAttempt,omitzero"` // not before; zero: now
	LastOutcome Outcome   `json:"lastOutcome,omitempty"`
	Calls       []string  `json:"calls,omitempty"` // call record IDs of the attempts
	Agent       string    `json:"agent,omitempty"` // who reached the customer
	Finished    time.Time `json:"finished,omitzero"`
}

// taskState is a pending task in memory.
type taskState struct {
	task    CallbackTask
	w       *waiter   // in the ACD while due, nil otherwise
	running bool      // an agent is being rung or the call is up
	notTill time.Time // after an agent did not answer (not stored)
}

// Callbacks lists every queued callback, pending, done and failed, in
// the order they were asked for.
func (s *Server) Callbacks(ctx context.Context) ([]CallbackTask, error) { return s.db.tasks(ctx) }

// loadTasks brings stored pending tasks into memory (at New).
func (s *Server) loadTasks() error {
	ts, err := s.db.tasks(context.Background())
	if err != nil {
		return err
	}
	for _, t := range ts {
		if t.State == TaskPending {
			s.tasks[t.ID] = &taskState{task: t}
		}
	}
	return nil
}

// requestCallback stores a pending callback to number for queue q.
func (s *Server) requestCallback(number string, q *QueueConfig, callID string) (CallbackTask, error) {
	t := CallbackTask{Number: number, Queue: q.Name, Skill: q.Skill, Requested: time.Now(), State: TaskPending, RequestCall: callID}
	added, err := s.db.addTask(context.Background(), &t)
	if err != nil {
		return t, fmt.Errorf("telephony: store callback: %w", err)
	}
	if added {
		s.mu.Lock()
		s.tasks[t.ID] = &taskState{task: t}
		s.mu.Unlock()
		s.wake()
	}
	return t, nil
}

// wake makes the task loop look at due tasks now.
func (s *Server) wake() {
	select {
	case s.taskWake <- struct{}{}:
	default:
	}
}

// taskLoop puts due tasks into the ACD, twice a second or when woken.
func (s *Server) taskLoop() {
	defer s.wg.Done()
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		case <-s.taskWake:
		}
		func() {
			defer recoverLog(s.log, "callback tasks")
			s.enqueueDue(time.Now())
		}()
	}
}

func (s *Server) enqueueDue(now time.Time) {
	s.mu.Lock()
	n := 0
	for id, ts := range s.tasks {
		if ts.w != nil || ts.running || now.Before(ts.task.NextAttempt) || now.Before(ts.notTill) {
			continue
		}
		if s.queues[ts.task.Queue] == nil {
			continue // the queue was removed from the config; keep the task
		}
		s.nextID++
		ts.w = &waiter{id: s.nextID, caller: ts.task.Number, queue: ts.task.Queue, skill: ts.task.Skill,
			level: LevelNew, enq: ts.task.Requested, task: id}
		s.acd.enqueue(ts.w)
		n++
	}
	s.mu.Unlock()
	if n > 0 {
		s.dispatch()
	}
}

// runTask calls a task's customer back through the agent the ACD chose
// (a.agent, now ringing). Called by dispatch with s.wg held.
func (s *Server) runTask(a assignment, b binding, q *QueueConfig) {
	defer s.wg.Done()
	defer recoverLog(s.log, "callback task")
	s.mu.Lock()
	ts := s.tasks[a.w.task]
	admitted := ts != nil && s.active < s.cfg.MaxCalls
	if admitted {
		ts.running = true
		s.active++
		s.wg.Add(1)
	}
	s.mu.Unlock()
	if !admitted {
		s.taskAgentFailed(a, ts, "server busy")
		return
	}
	defer s.release()
	task := ts.task
	o := s.newOutbound(task.Number, a.agent, q, q.Record, task.Ticket)
	log := o.log.With("task", task.ID)
	ctx, cancel := context.WithTimeout(s.ctx, q.RingTimeout)
	al, err := s.dialAgent(ctx, a.agent, b, task.Number, log)
	cancel()
	if err != nil {
		// Not an attempt at the customer: try again soon, perhaps with
		// another agent (this one goes to the back of the idle order).
		log.Info("agent did not answer a callback", "err", err)
		s.taskAgentFailed(a, ts, "no answer")
		return
	}
	s.mu.Lock()
	s.acd.answered(a.w, a.agent)
	ts.w = nil
	s.mu.Unlock()
	o.agent = al
	setup, cancelSetup := context.WithCancel(s.ctx)
	connected := o.dialCustomer(setup)
	cancelSetup()
	if !connected {
		o.hangupAll()
	}
	if s.ctx.Err() == nil || connected {
		task.Attempts++
	}
	task.Calls = append(task.Calls, o.rec.ID)
	task.LastOutcome = o.rec.Outcome
	now := time.Now()
	switch {
	case connected:
		task.State, task.Agent, task.Finished = TaskDone, a.agent, now
	case task.Attempts >= s.cfg.Callbacks.MaxAttempts:
		task.State, task.Finished = TaskFailed, now
	default:
		task.NextAttempt = now.Add(s.cfg.Callbacks.RetryInterval)
	}
	// Stored before the call goes on, so a crash mid-call does not call
	// the customer again.
	if err := s.db.putTask(context.Background(), task); err != nil {
		log.Error("store callback task", "err", err)
	}
	s.mu.Lock()
	ts.task, ts.running = task, false
	if task.State != TaskPending {
		delete(s.tasks, task.ID)
	}
	s.mu.Unlock()
	log.Info("callback attempt", "outcome", o.rec.Outcome, "attempt", task.Attempts, "state", task.State)
	if connected {
		o.run()
	} else {
		o.finish()
	}
}

// taskAgentFailed takes a task out of the ACD after its agent did not
// answer; it is due again after Callbacks.AgentRetry.
func (s *Server) taskAgentFailed(a assignment, ts *taskState, why string) {
	s.mu.Lock()
	s.acd.ringFailed(a.w, a.agent, time.Now())
	s.acd.remove(a.w)
	if ts != nil {
		ts.w, ts.running = nil, false
		ts.notTill = time.Now().Add(s.cfg.Callbacks.AgentRetry)
	}
	s.mu.Unlock()
	s.log.Debug("callback task requeued", "agent", a.agent, "why", why)
	s.dispatch()
}
