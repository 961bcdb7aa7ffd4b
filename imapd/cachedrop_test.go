package imapd

import (
	"fmt"
	"testing"

	"github.com/emersion/go-imap/v2"
)

func (c *lru[V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}

// TestExpungeDropsCachedText: a mailbox that takes mail and expunges it
// at the same pace keeps the caches at the size of what it holds, rather
// than filling them with expunged messages' envelopes, headers and text.
func TestExpungeDropsCachedText(t *testing.T) {
	e := newTestEnv(t)
	for i := range 6 {
		e.deliver(t, "INBOX", msg(fmt.Sprintf("report %d", i), "bob@example.org", "quarterly lantern figures"))
	}
	c := e.login(t, nil)
	mustSelect(t, c, "INBOX", false)
	all := imap.SeqSet{{Start: 1, Stop: 0}}
	fetch(t, c, all, &imap.FetchOptions{Envelope: true, BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierHeader, Peek: true}}})
	if data, err := c.Search(&imap.SearchCriteria{Text: []string{"lantern"}}, nil).Wait(); err != nil || len(data.AllSeqNums()) != 6 {
		t.Fatalf("SEARCH TEXT lantern: %v %v", data, err)
	}
	// Envelopes mostly come from the store's metadata; the header and
	// text caches fill on every read.
	if e.srv.headers.len() != 6 || e.srv.texts.len() != 6 {
		t.Fatalf("caches hold %d headers, %d texts after reading 6 messages", e.srv.headers.len(), e.srv.texts.len())
	}
	if err := c.Store(imap.SeqSet{{Start: 1, Stop: 4}}, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	if e.srv.cache.len() > 2 || e.srv.headers.len() != 2 || e.srv.texts.len() != 2 {
		t.Errorf("caches hold %d envelopes, %d headers, %d texts after expunging 4 of 6, want at most 2 each",
			e.srv.cache.len(), e.srv.headers.len(), e.srv.texts.len())
	}
	// What is left still reads from the cache as before.
	if data, err := c.Search(&imap.SearchCriteria{Text: []string{"lantern"}}, nil).Wait(); err != nil || len(data.AllSeqNums()) != 2 {
		t.Errorf("SEARCH TEXT lantern after EXPUNGE: %v %v", data, err)
	}
}
