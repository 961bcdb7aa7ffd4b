package queue

import (
	"time"
)

// Reuse of SMTP sessions: after a message went through, its session is
// kept open a few seconds for the next message to the same address, as
// RFC 5321 §3.3 allows several transactions per session. A burst to one
// destination then costs one TCP and TLS handshake per connection slot,
// not one per message.

// idleFor is how long a finished session waits for another message.
const idleFor = 5 * time.Second

type idleSession struct {
	c     *smtpClient
	timer *time.Timer
}

// takeIdle returns an idle session to addr that still answers RSET, or nil.
func (q *Queue) takeIdle(addr string) *smtpClient {
	for {
		q.imu.Lock()
		list := q.idle[addr]
		if len(list) == 0 {
			q.imu.Unlock()
			return nil
		}
		s := list[len(list)-1]
		q.idle[addr] = list[:len(list)-1]
		q.imu.Unlock()
		if !s.timer.Stop() {
			continue // the reaper has it
		}
		if _, err := s.c.cmd(250, "RSET"); err != nil {
			s.c.close()
			continue
		}
		return s.c
	}
}

// park keeps a session for reuse, and ends it politely after idleFor.
func (q *Queue) park(addr string, c *smtpClient) {
	q.imu.Lock()
	defer q.imu.Unlock()
	if q.idle == nil || len(q.idle[addr]) >= q.cfg.PerDestination {
		go c.quit()
		return
	}
	s := &idleSession{c: c}
	s.timer = time.AfterFunc(idleFor, func() {
		q.imu.Lock()
		list := q.idle[addr]
		for i, x := range list {
			if x == s {
				q.idle[addr] = append(list[:i:i], list[i+1:]...)
				break
			}
		}
		q.imu.Unlock()
		c.quit()
	})
	q.idle[addr] = append(q.idle[addr], s)
}

// closeIdle ends every idle session; no session is parked afterwards.
func (q *Queue) closeIdle() {
	q.imu.Lock()
	idle := q.idle
	q.idle = nil
	q.imu.Unlock()
	for _, list := range idle {
		for _, s := range list {
			if s.timer.Stop() {
				s.c.quit()
			}
		}
	}
}
