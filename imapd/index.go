package imapd

import (
	"context"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"

	"frontdesk/search"
)

// TextIndex narrows SEARCH TEXT and BODY to the messages that may match
// (DESIGN.md: TEXT and BODY come from the index). Its answer is a superset
// of the matches under search.Extract and search.Fold, and every candidate
// is verified the same way, so SEARCH stays exact.
type TextIndex interface {
	// Sync waits until everything committed before the call is indexed.
	Sync(ctx context.Context) error
	// Candidates returns the UIDs that may contain text in field; ok is
	// false when the index cannot narrow (then every message is checked).
	Candidates(ctx context.Context, account, mailbox uint64, field search.Field, text string) (uids []uint32, ok bool, err error)
}

// syncWait bounds how long SEARCH waits for the index to catch up before
// it falls back to checking every message.
const syncWait = 2 * time.Second

// narrow returns the UIDs the top-level TEXT and BODY keys allow, or nil
// when nothing narrows (no such key, no index, or the index is behind).
func (s *session) narrow(ctx context.Context, mailbox uint64, cr *imap.SearchCriteria) map[uint32]bool {
	ix := s.srv.cfg.Index
	if ix == nil || len(cr.Text)+len(cr.Body) == 0 {
		return nil
	}
	sctx, cancel := context.WithTimeout(ctx, syncWait)
	err := ix.Sync(sctx)
	cancel()
	if err != nil {
		s.log.Warn("search index behind, scanning", "err", err)
		return nil
	}
	var allow map[uint32]bool
	keys := make([]struct {
		f    search.Field
		text string
	}, 0, len(cr.Text)+len(cr.Body))
	for _, t := range cr.Text {
		keys = append(keys, struct {
			f    search.Field
			text string
		}{search.FieldText, t})
	}
	for _, b := range cr.Body {
		keys = append(keys, struct {
			f    search.Field
			text string
		}{search.FieldBody, b})
	}
	for _, k := range keys {
		uids, ok, err := ix.Candidates(ctx, s.acct.ID, mailbox, k.f, k.text)
		if err != nil {
			s.log.Warn("search index failed, scanning", "err", err)
			return nil
		}
		if !ok {
			continue
		}
		next := make(map[uint32]bool, len(uids))
		for _, u := range uids {
			if allow == nil || allow[u] {
				next[u] = true
			}
		}
		allow = next
	}
	return allow
}

// searchText is a message's text as SEARCH TEXT and BODY compare it.
type searchText struct {
	text, body string // folded; text is the header, a newline and the body
}

func (t *searchText) size() int { return len(t.text) + len(t.body) }

// textCacheBytes bounds the cache of decoded text: repeated searches of a
// mailbox skip MIME decoding, the bulk of their cost.
const textCacheBytes = 64 << 20

// folded returns the candidate's text in field f as the index sees it,
// folded.
func (c *candidate) folded(f search.Field) string {
	if c.text == nil {
		key := cacheKey{c.acct, c.m.File}
		if t, ok := c.srv.texts.get(key); ok {
			c.text = t
		} else {
			d := search.Extract(c.bytes())
			body := search.Fold(d.Body)
			c.text = &searchText{text: search.Fold(d.Header) + "\n" + body, body: body}
			c.srv.texts.put(key, c.text)
		}
	}
	if f == search.FieldBody {
		return c.text.body
	}
	return c.text.text
}

// matchText is SEARCH TEXT or BODY: a substring under search.Fold of the
// decoded text (RFC 9051 §6.4.4 asks for case-insensitive substrings).
func (c *candidate) matchText(f search.Field, pattern string) bool {
	return strings.Contains(c.folded(f), search.Fold(pattern))
}
