package search

import (
	"context"
	"slices"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
)

// maxGrams bounds the grams queried for one string: any subset of a
// string's grams still gives a superset of its matches, and past a dozen
// the answer barely narrows while each gram costs a postings list.
const maxGrams = 12

// gramFields returns the n-gram fields whose union holds the grams of f.
func gramFields(f Field) []string {
	switch f {
	case FieldText:
		return []string{gHeader, gBody}
	case FieldBody:
		return []string{gBody}
	case FieldSubject:
		return []string{gSubj}
	case FieldFrom:
		return []string{gFrom}
	case FieldTo:
		return []string{gTo}
	case FieldCc:
		return []string{gCc}
	case FieldBcc:
		return []string{gBcc}
	}
	return nil
}

// Candidates returns, in ascending order, the UIDs of one mailbox that may
// match an IMAP SEARCH of text in field: a case-insensitive substring match
// (RFC 9051 §6.4.4). The answer is a superset of the messages whose
// Extract(...).Field(field) contains text under Fold, plus every message
// the index could not read in full; the caller verifies each candidate, so
// its answer stays exact.
//
// ok is false when the index cannot narrow: text is shorter than three
// runes, or the index is being repaired after a failed update. The caller
// then scans the mailbox. Call Sync first to see the latest deliveries.
func (ix *Index) Candidates(ctx context.Context, account, mailbox uint64, field Field, text string) (uids []uint32, ok bool, err error) {
	fields := gramFields(field)
	if fields == nil || utf8.RuneCountInString(text) < gramLen || !ix.healthy.Load() {
		return nil, false, nil
	}
	grams := spread(gramsOf(text, nil), maxGrams)
	conj := make([]query.Query, 0, len(grams))
	var buf []byte
	for _, g := range grams {
		buf = appendGram(buf[:0], g)
		term := string(buf)
		if len(fields) == 1 {
			conj = append(conj, termQuery(fields[0], term))
			continue
		}
		any := make([]query.Query, len(fields))
		for i, f := range fields {
			any[i] = termQuery(f, term)
		}
		conj = append(conj, query.NewDisjunctionQuery(any))
	}
	q := query.NewConjunctionQuery([]query.Query{
		termQuery(fMailbox, mailboxTerm(account, mailbox)),
		query.NewDisjunctionQuery([]query.Query{
			query.NewConjunctionQuery(conj),
			termQuery(fPartial, "1"),
		}),
	})
	keys, err := ix.matchAll(ctx, q)
	if err != nil {
		return nil, false, err
	}
	uids = make([]uint32, len(keys))
	for i, k := range keys {
		uids[i] = k.uid
	}
	slices.Sort(uids)
	return uids, true, nil
}

// spread keeps at most n of grams, evenly spaced so that they cover the
// whole string.
func spread(grams []gram, n int) []gram {
	if len(grams) <= n {
		return grams
	}
	out := make([]gram, n)
	for i := range n {
		out[i] = grams[i*(len(grams)-1)/(n-1)]
	}
	return out
}

func termQuery(field, term string) *query.TermQuery {
	q := query.NewTermQuery(term)
	q.SetField(field)
	return q
}

// matchAll returns every document matching q, unscored and unsorted:
// without scores, scorch intersects the postings bitmaps directly.
func (ix *Index) matchAll(ctx context.Context, q query.Query) ([]msgKey, error) {
	adv, err := ix.bi.Advanced()
	if err != nil {
		return nil, err
	}
	rd, err := adv.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	s, err := q.Searcher(ctx, rd, ix.bi.Mapping(), search.SearcherOptions{Score: "none"})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	sctx := &search.SearchContext{
		DocumentMatchPool: search.NewDocumentMatchPool(s.DocumentMatchPoolSize(), 0),
		IndexReader:       rd,
	}
	var out []msgKey
	for n := 0; ; n++ {
		if n%1024 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		dm, err := s.Next(sctx)
		if err != nil {
			return nil, err
		}
		if dm == nil {
			return out, nil
		}
		ext, err := rd.ExternalID(dm.IndexInternalID)
		if err != nil {
			return nil, err
		}
		if k, ok := parseID(ext); ok {
			out = append(out, k)
		}
		sctx.DocumentMatchPool.Put(dm)
	}
}
