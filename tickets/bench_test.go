package tickets

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// fill writes n tickets straight into the database in large transactions
// (IngestMail fsyncs each one, which would take minutes for 100,000), then
// reopens the desk so they load as on a server start.
func fill(b *testing.B, n int) *Desk {
	b.Helper()
	path := filepath.Join(b.TempDir(), "t.db")
	d, err := Open(Config{Path: path, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	groups := []string{"support", "sales", "billing", "triage"}
	statuses := []Status{StatusNew, StatusOpen, StatusPending, StatusSolved, StatusClosed}
	start := time.Now().Add(-time.Duration(n) * time.Minute)
	for i := 0; i < n; {
		err := d.db.Update(func(tx *bolt.Tx) error {
			for j := 0; j < 5000 && i < n; j, i = j+1, i+1 {
				c, err := contactFor(tx, fmt.Sprintf("c%d@example.com", i%9000), "", "", start)
				if err != nil {
					return err
				}
				at := start.Add(time.Duration(i) * time.Minute)
				t := &Ticket{Subject: fmt.Sprintf("problem %d", i), Status: statuses[i%len(statuses)], Priority: PriorityNormal,
					Group: groups[i%len(groups)], Contact: c.ID, Created: at, Updated: at}
				if i%3 == 0 {
					t.Assignee = fmt.Sprintf("agent%d@example.com", i%20)
				}
				if err := newTicket(tx, t); err != nil {
					return err
				}
				if err := addEntry(tx, t, &Entry{Kind: KindMailIn, At: at, Text: "body"}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	d.Close()
	d, err = Open(Config{Path: path, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	return d
}

// BenchmarkList100k lists the first page of the inbox views an agent
// opens, over 100,000 tickets, and reports p50/p99 per list.
//
//	go test -run '^$' -bench List100k -benchtime 200x ./tickets/
func BenchmarkList100k(b *testing.B) {
	d := fill(b, 100_000)
	views := []ListOptions{
		{},                                     // every active ticket
		{Assignee: "agent7@example.com"},       // mine
		{Groups: []string{"support", "sales"}}, // my groups
		{Unassigned: true, Groups: []string{"support"}},
		{AllStatus: true, Offset: 5000}, // deep page of everything
	}
	ctx := context.Background()
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		list, total := d.List(ctx, views[i%len(views)])
		lat = append(lat, time.Since(t0))
		if total == 0 || len(list) == 0 {
			b.Fatalf("view %d: empty", i%len(views))
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkIngestMail opens a ticket per mail (each committed and fsynced
// before it returns, as the SMTP 250 needs), one writer at a time and 8
// at once, and reports mails per second.
//
//	go test -run '^$' -bench IngestMail -benchtime 2000x ./tickets/
func BenchmarkIngestMail(b *testing.B) {
	for _, par := range []int{1, 8} {
		b.Run(fmt.Sprintf("writers=%d", par), func(b *testing.B) {
			d, err := Open(Config{Path: filepath.Join(b.TempDir(), "t.db"), Mailer: &outbox{}, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			ctx := context.Background()
			b.SetParallelism(par)
			var seq atomicCounter
			b.ResetTimer()
			t0 := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := seq.next()
					m := msg(fmt.Sprintf("From: c%d@customer.test", i%500), "Subject: problem "+itoa(i), fmt.Sprintf("Message-ID: <b%d@c>", i))
					if _, err := d.IngestMail(ctx, MailIn{Support: "help@example.com", MailFrom: "c@customer.test", Message: m}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "mails/s")
		})
	}
}

type atomicCounter struct{ n atomic.Uint64 }

func (c *atomicCounter) next() uint64 { return c.n.Add(1) }
