package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// TestIndexRebuiltOnStart: the search index directory is deleted while the
// server is down; after a restart, SEARCH gives the same answers, at once
// (checking every message while the index rebuilds) and once it is back.
func TestIndexRebuiltOnStart(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	srv := startServer(t, data)
	mustFrontdesk(t, "", "domain", "add", "example.test", "--data", data)
	mustFrontdesk(t, alicePass+"\n", "user", "add", "alice@example.test", "--password-stdin", "--data", data)
	for i := 0; i < 60; i++ {
		word := "ordinary"
		if i%7 == 0 {
			word = "Zanzibar"
		}
		deliverRaw(t, srv.addr("smtp"), fmt.Sprintf("From: c@outside.test\r\nTo: alice@example.test\r\nSubject: note %d\r\n\r\nA line about %s things, number %d.\r\n", i, word, i))
	}
	search := func(s *server) []imap.UID {
		t.Helper()
		c := imapLogin(t, s.addr("imap"), "alice@example.test", alicePass, "INBOX")
		res, err := c.UIDSearch(&imap.SearchCriteria{Text: []string{"zanzibar"}}, nil).Wait()
		if err != nil {
			t.Fatal(err)
		}
		return res.AllUIDs()
	}
	before := search(srv)
	if len(before) != 9 {
		t.Fatalf("SEARCH TEXT found %d messages, want 9", len(before))
	}
	srv.stop()
	if err := os.RemoveAll(filepath.Join(data, "index")); err != nil {
		t.Fatal(err)
	}
	srv = startServer(t, data)
	if got := search(srv); !slices.Equal(got, before) {
		t.Errorf("right after the restart: %v, want %v", got, before)
	}
	if got := search(srv); !slices.Equal(got, before) {
		t.Errorf("with the rebuilt index: %v, want %v", got, before)
	}
	if _, err := os.Stat(filepath.Join(data, "index")); err != nil {
		t.Errorf("index not rebuilt: %v", err)
	}
}
