package imapd

import (
	"net"
	"sync"
	"time"
)

// coalescingConn gathers the many small writes of a large response (the
// library flushes after every untagged FETCH line) into few system calls:
// writes are buffered and go out when the buffer fills, before the server
// reads the client's next command, or after flushDelay, so an unsolicited
// response (EXISTS during IDLE) still leaves at once.
type coalescingConn struct {
	net.Conn

	mu    sync.Mutex
	buf   []byte // guarded by mu
	armed bool   // guarded by mu: a delayed flush is pending
	err   error  // guarded by mu: the first write error, reported on the next Write
}

const (
	coalesceLimit = 64 << 10
	flushDelay    = time.Millisecond
)

func newCoalescingConn(c net.Conn) *coalescingConn {
	return &coalescingConn{Conn: c}
}

func (c *coalescingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	c.buf = append(c.buf, p...)
	if len(c.buf) >= coalesceLimit {
		return len(p), c.flushLocked()
	}
	if !c.armed {
		c.armed = true
		time.AfterFunc(flushDelay, c.delayedFlush)
	}
	return len(p), nil
}

func (c *coalescingConn) delayedFlush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armed = false
	c.flushLocked()
}

func (c *coalescingConn) flushLocked() error {
	if len(c.buf) == 0 || c.err != nil {
		c.buf = c.buf[:0]
		return c.err
	}
	_, err := c.Conn.Write(c.buf)
	c.buf = c.buf[:0]
	if cap(c.buf) > 4*coalesceLimit {
		c.buf = nil // don't keep a huge body's buffer for an idle session
	}
	if err != nil {
		c.err = err
	}
	return err
}

// Read sends what is buffered first: the client answers only what it saw.
func (c *coalescingConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	err := c.flushLocked()
	c.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

func (c *coalescingConn) Close() error {
	c.mu.Lock()
	c.flushLocked()
	c.mu.Unlock()
	return c.Conn.Close()
}
