package search

import (
	"context"
	"errors"
	"fmt"
	"html"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search/query"

	"frontdesk/store"
)

// Results is one page of a Query.
type Results struct {
	Total int // matching messages in all pages
	Hits  []Hit
}

// Hit is one message found by Query.
type Hit struct {
	Mailbox uint64
	UID     uint32
	Subject string
	From    string
	Date    time.Time
	// Fragments are short passages of the subject or body around the
	// words found: HTML-escaped, the words wrapped in <mark>...</mark>.
	Fragments []string
}

// Fragment shape.
const (
	maxFragments = 3
	fragContext  = 60 // bytes of context either side of a match
)

// Query is the web console's search of one account's mail: every word of
// q (analyzed as indexed: English stems, CJK bigrams, stop words dropped)
// must occur in the subject, addresses or body. Hits are ranked by
// relevance; from and size page through them.
func (ix *Index) Query(ctx context.Context, account uint64, q string, from, size int) (*Results, error) {
	terms := queryTerms(q)
	if len(terms) == 0 || size <= 0 {
		return &Results{}, nil
	}
	must := []query.Query{termQuery(fAccount, strconv.FormatUint(account, 10))}
	for _, t := range terms {
		any := make([]query.Query, len(wordFields))
		for i, f := range wordFields {
			tq := termQuery(f, t)
			if f == wSubj {
				tq.SetBoost(2)
			}
			any[i] = tq
		}
		must = append(must, query.NewDisjunctionQuery(any))
	}
	req := bleve.NewSearchRequestOptions(query.NewConjunctionQuery(must), size, max(from, 0), false)
	res, err := ix.bi.SearchInContext(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	out := &Results{Total: int(res.Total)}
	want := make(map[string]bool, len(terms))
	for _, t := range terms {
		want[t] = true
	}
	for _, h := range res.Hits {
		k, ok := parseID(h.ID)
		if !ok || k.account != account {
			continue
		}
		hit, err := ix.hit(ctx, k, want)
		if errors.Is(err, store.ErrNotFound) {
			continue // expunged, the index not yet told
		}
		if err != nil {
			return nil, err
		}
		out.Hits = append(out.Hits, *hit)
	}
	return out, nil
}

// hit reads a found message back from the store for its display fields
// and fragments: the index stores no text, which keeps it small.
func (ix *Index) hit(ctx context.Context, k msgKey, want map[string]bool) (*Hit, error) {
	msgs, err := ix.st.MessagesByUID(ctx, k.account, k.mailbox, []uint32{k.uid})
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	if len(msgs) == 0 {
		return nil, store.ErrNotFound
	}
	data, err := ix.st.ReadMessage(k.account, msgs[0])
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	d := Extract(data)
	h := &Hit{Mailbox: k.mailbox, UID: k.uid, Subject: d.Subject, From: d.From, Date: d.Date}
	if h.Date.IsZero() {
		h.Date = msgs[0].InternalDate
	}
	h.Fragments = fragments(d.Subject, want, 1)
	h.Fragments = append(h.Fragments, fragments(d.Body, want, maxFragments-len(h.Fragments))...)
	return h, nil
}

// queryTerms analyzes q as the word fields are, without duplicates.
func queryTerms(q string) []string {
	var terms []string
	for _, t := range analyzers.text.Analyze([]byte(q)) {
		if s := string(t.Term); !slices.Contains(terms, s) {
			terms = append(terms, s)
		}
	}
	return terms
}

// fragments returns up to n passages of text around the tokens whose
// analyzed term is wanted, HTML-escaped with the tokens marked.
func fragments(text string, want map[string]bool, n int) []string {
	if n <= 0 || text == "" {
		return nil
	}
	type span struct{ start, end int }
	var marks []span
	for _, t := range analyzers.text.Analyze([]byte(text)) {
		if !want[string(t.Term)] {
			continue
		}
		// CJK bigrams overlap: merge touching marks.
		if l := len(marks); l > 0 && t.Start <= marks[l-1].end {
			marks[l-1].end = max(marks[l-1].end, t.End)
			continue
		}
		marks = append(marks, span{t.Start, t.End})
	}
	var out []string
	for i := 0; i < len(marks) && len(out) < n; {
		start := runeStart(text, max(marks[i].start-fragContext, 0))
		end := marks[i].end
		j := i
		// Take the following marks that fit in the same passage.
		for j+1 < len(marks) && marks[j+1].start-end < fragContext {
			j++
			end = marks[j].end
		}
		stop := runeStart(text, min(end+fragContext, len(text)))
		var b strings.Builder
		if start > 0 {
			b.WriteString("…")
		}
		pos := start
		for _, m := range marks[i : j+1] {
			b.WriteString(html.EscapeString(flat(text[pos:m.start])))
			b.WriteString("<mark>")
			b.WriteString(html.EscapeString(flat(text[m.start:m.end])))
			b.WriteString("</mark>")
			pos = m.end
		}
		b.WriteString(html.EscapeString(flat(text[pos:stop])))
		if stop < len(text) {
			b.WriteString("…")
		}
		out = append(out, b.String())
		i = j + 1
	}
	return out
}

// runeStart moves i back to the start of the rune it falls in.
func runeStart(s string, i int) int {
	for i > 0 && i < len(s) && !utf8.RuneStart(s[i]) {
		i--
	}
	return i
}

// flat turns each run of white space into one space.
func flat(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}
