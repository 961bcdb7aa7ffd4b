package telephony

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// TestRecordsOutliveACrash: a call that was up when the server died, and a
// record stored but not yet handed to OnRecord (the ticket desk), both
// reach OnRecord once at the next start, and never again.
func TestRecordsOutliveACrash(t *testing.T) {
	var mu sync.Mutex
	var got []CallRecord
	cfg := Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnRecord: func(r CallRecord) { mu.Lock(); got = append(got, r); mu.Unlock() }}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().UTC().Truncate(time.Second)
	// What the database holds when the process dies at those two points.
	if err := s.db.putLive(&CallRecord{ID: "c-up", Direction: DirectionInbound, Caller: "+15550001", Dialled: "100", Start: start}); err != nil {
		t.Fatal(err)
	}
	if err := s.db.addCall(context.Background(), &CallRecord{ID: "c-done", Direction: DirectionInbound, Caller: "+15550002", Outcome: OutcomeAbandoned, Start: start, End: start}); err != nil {
		t.Fatal(err)
	}
	s.db.close()

	// The CLI reading records while no server runs has no OnRecord: it
	// sees the interrupted call and leaves both for the next serve.
	offline := cfg
	offline.OnRecord = nil
	if s, err = New(offline); err != nil {
		t.Fatal(err)
	}
	if recs, err := s.Calls(context.Background()); err != nil || len(recs) != 2 {
		t.Fatalf("offline: records %+v, %v", recs, err)
	}
	s.Close()

	for round := range 2 {
		s, err := New(cfg)
		if err != nil {
			t.Fatalf("start %d: %v", round+2, err)
		}
		recs, err := s.Calls(context.Background())
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 2 || recs[0].ID != "c-done" || recs[1].ID != "c-up" || recs[1].Outcome != OutcomeInterrupted || !recs[1].End.Equal(start) {
			t.Fatalf("start %d: records %+v", round+2, recs)
		}
	}
	if len(got) != 2 || got[0].ID != "c-done" || got[1].ID != "c-up" || got[1].Outcome != OutcomeInterrupted {
		t.Fatalf("OnRecord got %+v, want c-done then c-up (interrupted), once each", got)
	}
}
