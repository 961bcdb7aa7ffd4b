package smtpd

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestShutdownDuringPipelinedCommands: clients pipelining MAIL, RCPT and
// RSET while the server shuts down are cut off without the server tripping
// over a session it has already closed (go-smtp recovers such a panic with
// a 421 and logs "smtp panic").
func TestShutdownDuringPipelinedCommands(t *testing.T) {
	for round := range 5 {
		e := newEnv(t, MX, nil)
		var wg sync.WaitGroup
		started := make(chan struct{}, 12)
		for range 12 {
			wg.Go(func() {
				c, err := net.Dial("tcp", e.addr)
				if err != nil {
					return
				}
				defer c.Close()
				buf := make([]byte, 4096)
				c.Write([]byte("EHLO busy.example\r\n"))
				started <- struct{}{}
				for {
					c.SetDeadline(time.Now().Add(10 * time.Second))
					if _, err := c.Write([]byte("MAIL FROM:<bob@remote.test>\r\nRCPT TO:<" + alice + ">\r\nRSET\r\nNOOP\r\n")); err != nil {
						return
					}
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			})
		}
		for range 12 {
			<-started
		}
		time.Sleep(50 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		e.srv.Shutdown(ctx)
		cancel()
		wg.Wait()
		if log := e.logs.String(); strings.Contains(log, "panic") {
			t.Fatalf("round %d: the server panicked during Shutdown:\n%s", round, log)
		}
	}
}
