package web

import (
	"context"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"frontdesk/search"
)

// Searcher is what the search page needs of the full-text index: one
// account's mail matching q, ranked, a page at a time. *search.Index
// implements it.
type Searcher interface {
	Query(ctx context.Context, account uint64, q string, from, size int) (*search.Results, error)
}

// Search page limits.
const (
	searchPageSize = 20
	searchMaxPage  = 50  // deeper pages cost the index more than anyone reads
	searchMaxQuery = 500 // bytes
)

// searchView is the search page's data.
type searchView struct {
	Available bool // an index is configured
	Q         string
	Searched  bool // a query was run (Q not empty)
	Total     int
	Page      int
	Pages     int
	First     int // 1-based position of the first hit shown
	Last      int
	Hits      []searchHit
	PrevURL   string // empty on the first page
	NextURL   string // empty on the last page
}

// searchHit is one result as shown.
type searchHit struct {
	Mailbox   string
	UID       uint32
	Subject   string
	From      string
	Date      string
	Fragments []template.HTML
}

// searchPage answers GET /search?q=…&page=N: the logged-in account's own
// mail, never anyone else's, ranked by the index, searchPageSize a page.
func (s *Server) searchPage(w http.ResponseWriter, r *http.Request) {
	v := viewerOf(r)
	p := page{Title: "Search", Nav: "search"}
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	d := &searchView{Available: s.cfg.Search != nil, Q: q, Page: 1}
	p.Data = d
	if !d.Available {
		p.Error = "Search is unavailable: this server runs without a search index."
		s.render(w, r, http.StatusServiceUnavailable, "search.html", p)
		return
	}
	if q == "" {
		s.render(w, r, http.StatusOK, "search.html", p)
		return
	}
	if len(q) > searchMaxQuery || !utf8.ValidString(q) {
		p.Error = "The search is too long or not valid text."
		s.render(w, r, http.StatusBadRequest, "search.html", p)
		return
	}
	if n, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && n > 1 {
		d.Page = min(n, searchMaxPage)
	}
	ctx := r.Context()
	res, err := s.cfg.Search.Query(ctx, v.acct.ID, q, (d.Page-1)*searchPageSize, searchPageSize)
	if err != nil {
		s.log.Error("web: search", "account", v.acct.Address, "err", err)
		p.Error = "The search failed; try again later."
		s.render(w, r, http.StatusInternalServerError, "search.html", p)
		return
	}
	names := map[uint64]string{}
	if mbs, err := s.st.Mailboxes(ctx, v.acct.ID); err == nil {
		for _, mb := range mbs {
			names[mb.ID] = mb.Name
		}
	} else {
		s.log.Warn("web: search: mailboxes", "account", v.acct.Address, "err", err)
	}
	d.Searched, d.Total = true, res.Total
	d.Pages = min((res.Total+searchPageSize-1)/searchPageSize, searchMaxPage)
	for _, h := range res.Hits {
		sh := searchHit{Mailbox: names[h.Mailbox], UID: h.UID, Subject: h.Subject, From: h.From}
		if sh.Mailbox == "" {
			sh.Mailbox = "(deleted mailbox)"
		}
		if !h.Date.IsZero() {
			sh.Date = h.Date.UTC().Format("2006-01-02 15:04 UTC")
		}
		for _, f := range h.Fragments {
			sh.Fragments = append(sh.Fragments, markedHTML(f))
		}
		d.Hits = append(d.Hits, sh)
	}
	if len(d.Hits) > 0 {
		d.First = (d.Page-1)*searchPageSize + 1
		d.Last = d.First + len(d.Hits) - 1
	}
	link := func(n int) string {
		return "/search?" + url.Values{"q": {q}, "page": {strconv.Itoa(n)}}.Encode()
	}
	if d.Page > 1 {
		d.PrevURL = link(d.Page - 1)
	}
	if d.Page < d.Pages {
		d.NextURL = link(d.Page + 1)
	}
	s.render(w, r, http.StatusOK, "search.html", p)
}

// markedHTML returns a fragment of search.Hit for the page. Fragments
// come HTML-escaped with the words found in <mark>…</mark>; that is
// checked here, not trusted: a fragment holding any other markup, or a
// bare & that is not one of html.EscapeString's entities, is returned as
// plain text, which the template escapes (the marks then show as text).
func markedHTML(f string) template.HTML {
	if isMarkedText(f) {
		return template.HTML(f)
	}
	return template.HTML(template.HTMLEscapeString(f))
}

// isMarkedText reports whether f is escaped text with balanced, unnested
// <mark> and </mark> tags and nothing else that HTML would parse.
func isMarkedText(f string) bool {
	open := false
	for i := 0; i < len(f); {
		switch c := f[i]; c {
		case '<':
			switch {
			case !open && strings.HasPrefix(f[i:], "<mark>"):
				open = true
				i += len("<mark>")
			case open && strings.HasPrefix(f[i:], "</mark>"):
				open = false
				i += len("</mark>")
			default:
				return false
			}
		case '&':
			n := entityLen(f[i:])
			if n == 0 {
				return false
			}
			i += n
		case '>', '"', '\'', 0:
			return false
		default:
			i++
		}
	}
	return !open
}

// entityLen is the length of the entity html.EscapeString writes at the
// start of s, or 0.
func entityLen(s string) int {
	for _, e := range []string{"&lt;", "&gt;", "&amp;", "&#39;", "&#34;"} {
		if strings.HasPrefix(s, e) {
			return len(e)
		}
	}
	return 0
}
