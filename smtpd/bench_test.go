package smtpd

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

func BenchmarkDeliver1(b *testing.B) { benchDeliver(b, 1) }
func BenchmarkDeliver8(b *testing.B) { benchDeliver(b, 8) }

// benchDeliver sends b.N 8 KB messages to the MX over conns concurrent
// go-smtp client connections; each 250 means the message is fsynced and
// committed, so msgs/s is the acknowledged-delivery rate.
func benchDeliver(b *testing.B, conns int) {
	e := newEnv(b, MX, func(c *Config) { c.Logger = discardLogger() })
	msg := []byte("From: bob@remote.test\r\nTo: alice@example.test\r\nSubject: bench\r\n\r\n" +
		strings.Repeat(strings.Repeat("x", 78)+"\r\n", 8*1024/80))
	clients := make([]*smtp.Client, conns)
	for i := range clients {
		c, err := smtp.Dial(e.addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		clients[i] = c
	}
	var next sync.Mutex
	remaining := b.N
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				next.Lock()
				if remaining == 0 {
					next.Unlock()
					return
				}
				remaining--
				next.Unlock()
				if err := c.SendMail("bob@remote.test", []string{alice}, bytes.NewReader(msg)); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}
