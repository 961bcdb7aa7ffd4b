package search

// Docs: a small general document index, for the ticket desk (tickets:
// subject, bodies, notes, contact name, email, phone). Unlike Index it
// follows no store: the caller feeds it (Put, PutBatch, Delete) and, when
// Fresh says so, re-feeds it from its own database.

import (
	"context"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/lang/cjk"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	unitok "github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/document"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/registry"
	"github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"
	bolterrors "go.etcd.io/bbolt/errors"
)

// ErrEmptyQuery is returned by Docs.Query for a query with nothing to
// search for: empty, blank, only stop words or punctuation, or only
// negated words.
var ErrEmptyQuery = errors.New("search: empty query")

// docsSchema changes whenever Docs builds documents differently; an index
// of another schema is recreated (and Fresh reports it).
const docsSchema = "frontdesk-docs-1"

var keyDocsSchema = []byte("frontdesk.docs.schema")

// Derived fields. A caller's field F is indexed as:
//
//	F      words (textAnalyzer: stems, CJK bigrams), stored, with
//	       positions for phrases and for the fragments;
//	F.kw   keywords: the whole value folded (when short) and every
//	       e-mail address in it, so that an address typed whole matches;
//	F.ph   phone numbers found in it, as digits only, plus their
//	       suffixes of 7 digits and more (a number typed without its
//	       country code still matches);
//
// and all fields together twice: as docsAll, words (with positions, a gap
// between fields), which is what an unqualified word or phrase queries —
// one posting list instead of one per field; and as docsRaw, unstemmed
// folded words, for prefix matching of the word being typed.
const (
	kwSuffix = ".kw"
	phSuffix = ".ph"
	docsRaw  = "_raw"
	docsAll  = "_all"
)

// Limits.
const (
	maxKeywordValue = 256 // longer values are not indexed whole as keywords
	minPhoneDigits  = 7
	maxPhoneDigits  = 15 // E.164
	minPrefixRunes  = 3  // shorter last words are not prefix-matched
	defaultLimit    = 20
	maxFieldName    = 64
)

// Docs is a full-text index of documents made of named text fields. Its
// methods are safe for concurrent use.
type Docs struct {
	dir   string
	bi    bleve.Index
	fresh bool

	mu     sync.RWMutex
	fields map[string]struct{} // names of the fields ever put
	closed bool
}

// DocHit is one document found by Docs.Query.
type DocHit struct {
	ID    string
	Score float64
	// Fragment is a short passage of the field that matched best:
	// HTML-escaped, the words found wrapped in <mark>...</mark>. When no
	// word can be pointed at, it is the start of the first non-empty
	// field (still HTML-escaped).
	Fragment string
}

// docsRawAnalyzer splits words like the text analyzer but keeps them
// whole: no stems, no stop words, no bigrams.
var docsRawAnalyzer analysis.Analyzer

func init() {
	cache := registry.NewCache()
	tok, err := cache.TokenizerNamed(unitok.Name)
	if err != nil {
		panic(err)
	}
	a := &analysis.DefaultAnalyzer{Tokenizer: tok}
	for _, name := range []string{cjk.WidthName, lowercase.Name} {
		f, err := cache.TokenFilterNamed(name)
		if err != nil {
			panic(err)
		}
		a.TokenFilters = append(a.TokenFilters, f)
	}
	docsRawAnalyzer = a
}

// fieldsAnalyzer analyzes fields separated by NUL bytes with the text
// analyzer, leaving a gap of positions between them so that no phrase
// spans two fields.
type fieldsAnalyzer struct{}

// fieldGap is the number of positions between two fields in docsAll.
const fieldGap = 100

// Analyze implements analysis.Analyzer.
func (fieldsAnalyzer) Analyze(input []byte) analysis.TokenStream {
	var out analysis.TokenStream
	base, off := 0, 0
	for off <= len(input) {
		end := off
		for end < len(input) && input[end] != 0 {
			end++
		}
		last := 0
		for _, t := range analyzers.text.Analyze(input[off:end]) {
			t.Position += base
			t.Start += off
			t.End += off
			last = max(last, t.Position)
			out = append(out, t)
		}
		if last > 0 {
			base = last + fieldGap
		}
		off = end + 1
	}
	return out
}

// termLines is the analyzer of the keyword and phone fields: the value is
// the terms themselves, one a line.
type termLines struct{}

// Analyze implements analysis.Analyzer.
func (termLines) Analyze(input []byte) analysis.TokenStream {
	var out analysis.TokenStream
	pos := 0
	for start := 0; start < len(input); {
		end := start
		for end < len(input) && input[end] != '\n' {
			end++
		}
		if end > start {
			pos++
			out = append(out, &analysis.Token{Start: start, End: end, Term: input[start:end:end], Position: pos, Type: analysis.AlphaNumeric})
		}
		start = end + 1
	}
	return out
}

// OpenDocs opens the document index in dir, creating it if missing. An
// index that cannot be opened or read, or was built by another schema, is
// removed and recreated empty; so is anything else found at dir. Fresh
// then reports true and the caller must Put every document again. An
// index held by another process (or another open Docs) is an error.
func OpenDocs(dir string) (*Docs, error) {
	if dir == "" || filepath.Clean(dir) == "/" {
		return nil, fmt.Errorf("search: docs: bad directory %q", dir)
	}
	d := &Docs{dir: dir, fields: map[string]struct{}{}}
	bi, err := openDocsBleve(dir)
	if err == nil {
		if err = checkDocs(bi); err != nil {
			bi.Close()
		}
	}
	if err != nil {
		if isLocked(err) {
			return nil, fmt.Errorf("search: docs: %s is in use: %w", dir, err)
		}
		if _, serr := os.Stat(dir); serr == nil {
			slog.Default().Warn("search: document index unusable, recreating it empty", "dir", dir, "err", err)
		}
		if bi, err = createDocsBleve(dir); err != nil {
			return nil, err
		}
		d.fresh = true
	}
	d.bi = bi
	names, err := bi.Fields()
	if err != nil {
		bi.Close()
		return nil, fmt.Errorf("search: docs: %w", err)
	}
	for _, n := range names {
		if validFieldName(n) == nil {
			d.fields[n] = struct{}{}
		}
	}
	return d, nil
}

// docsLockTimeout is how long OpenDocs waits for the index's lock.
var docsLockTimeout = "2s"

func docsConfig() map[string]interface{} {
	// Safe batches, as for Index; a bolt lock we cannot get within the
	// timeout is someone else's index, never to be removed.
	return map[string]interface{}{"unsafe_batch": false, "bolt_timeout": docsLockTimeout}
}

func openDocsBleve(dir string) (bi bleve.Index, err error) {
	// zapx panics on some damaged segments (a slice out of range).
	defer func() {
		if r := recover(); r != nil {
			bi, err = nil, fmt.Errorf("panic opening index: %v", r)
		}
	}()
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	return bleve.OpenUsing(dir, docsConfig())
}

// checkDocs reads the schema and touches every segment.
func checkDocs(bi bleve.Index) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic reading index: %v", r)
		}
	}()
	v, err := bi.GetInternal(keyDocsSchema)
	if err != nil {
		return err
	}
	if string(v) != docsSchema {
		return fmt.Errorf("schema %q, want %q", v, docsSchema)
	}
	if _, err := bi.DocCount(); err != nil {
		return err
	}
	req := bleve.NewSearchRequestOptions(query.NewMatchAllQuery(), 1, 0, false)
	req.Fields = []string{"*"}
	_, err = bi.Search(req)
	return err
}

func isLocked(err error) bool {
	return errors.Is(err, bolterrors.ErrTimeout) || errors.Is(err, os.ErrPermission)
}

func createDocsBleve(dir string) (bleve.Index, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("search: docs: %w", err)
	}
	m := bleve.NewIndexMapping()
	m.DefaultAnalyzer = textAnalyzer
	// Documents are built by docsDocument and queries term by term, so
	// the mapping only documents the default analyzer.
	m.DefaultMapping = bleve.NewDocumentStaticMapping()
	bi, err := bleve.NewUsing(dir, m, scorch.Name, scorch.Name, docsConfig())
	if err != nil {
		return nil, fmt.Errorf("search: docs: create %s: %w", dir, err)
	}
	if err := bi.SetInternal(keyDocsSchema, []byte(docsSchema)); err != nil {
		bi.Close()
		return nil, fmt.Errorf("search: docs: %w", err)
	}
	return bi, nil
}

// Fresh reports whether OpenDocs created the index empty (it was missing,
// unreadable or of another schema): the caller must Put everything again.
func (d *Docs) Fresh() bool { return d.fresh }

// Close closes the index. Closing again does nothing.
func (d *Docs) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	return d.bi.Close()
}

// Count returns the number of documents.
func (d *Docs) Count() (uint64, error) {
	n, err := d.bi.DocCount()
	if err != nil {
		return 0, fmt.Errorf("search: docs: %w", err)
	}
	return n, nil
}

// validFieldName: lower-case letters, digits and '_', starting with a
// letter (the query syntax is field:value, and ".kw" and "_raw" are ours).
func validFieldName(name string) error {
	if name == "" || len(name) > maxFieldName || name[0] < 'a' || name[0] > 'z' {
		return fmt.Errorf("search: docs: bad field name %q", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return fmt.Errorf("search: docs: bad field name %q", name)
		}
	}
	return nil
}

// Put indexes the document id, replacing any document of that id. Field
// names are lower-case letters, digits and '_', starting with a letter;
// empty values are left out.
func (d *Docs) Put(id string, fields map[string]string) error {
	return d.PutBatch(map[string]map[string]string{id: fields})
}

// PutBatch indexes (or replaces) many documents in one bleve batch: for
// rebuilds and bursts. A nil field map deletes its document.
func (d *Docs) PutBatch(docs map[string]map[string]string) error {
	b := d.bi.NewBatch()
	var names []string
	for id, fields := range docs {
		if id == "" {
			return errors.New("search: docs: empty document id")
		}
		if fields == nil {
			b.Delete(id)
			continue
		}
		doc, err := docsDocument(id, fields)
		if err != nil {
			return err
		}
		if err := b.IndexAdvanced(doc); err != nil {
			return fmt.Errorf("search: docs: %w", err)
		}
		for name := range fields {
			names = append(names, name)
		}
	}
	if b.Size() == 0 {
		return nil
	}
	if err := d.bi.Batch(b); err != nil {
		return fmt.Errorf("search: docs: %w", err)
	}
	d.mu.Lock()
	for _, n := range names {
		d.fields[n] = struct{}{}
	}
	d.mu.Unlock()
	return nil
}

// Delete removes the document id; an unknown id is no error.
func (d *Docs) Delete(id string) error {
	if id == "" {
		return errors.New("search: docs: empty document id")
	}
	b := d.bi.NewBatch()
	b.Delete(id)
	if err := d.bi.Batch(b); err != nil {
		return fmt.Errorf("search: docs: %w", err)
	}
	return nil
}

func docsDocument(id string, fields map[string]string) (*document.Document, error) {
	doc := document.NewDocument(id)
	names := make([]string, 0, len(fields))
	for name := range fields {
		if err := validFieldName(name); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	slices.Sort(names)
	var raw, all strings.Builder
	for _, name := range names {
		v := fields[name]
		if strings.TrimSpace(v) == "" {
			continue
		}
		doc.AddField(document.NewTextFieldCustom(name, nil, []byte(v),
			index.IndexField|index.StoreField|index.IncludeTermVectors, analyzers.text))
		if kws := keywordsOf(v); len(kws) > 0 {
			doc.AddField(document.NewTextFieldCustom(name+kwSuffix, nil, []byte(strings.Join(kws, "\n")),
				index.IndexField|index.SkipFreqNorm, termLines{}))
		}
		var phs []string
		for _, p := range phonesOf(v) {
			for n := len(p.digits); n >= minPhoneDigits; n-- {
				if s := p.digits[len(p.digits)-n:]; !slices.Contains(phs, s) {
					phs = append(phs, s)
				}
			}
		}
		if len(phs) > 0 {
			doc.AddField(document.NewTextFieldCustom(name+phSuffix, nil, []byte(strings.Join(phs, "\n")),
				index.IndexField|index.SkipFreqNorm, termLines{}))
		}
		raw.WriteString(v)
		raw.WriteByte('\n')
		all.WriteString(v)
		all.WriteByte(0)
	}
	if raw.Len() > 0 {
		doc.AddField(document.NewTextFieldCustom(docsAll, nil, []byte(all.String()), index.IndexField|index.IncludeTermVectors, fieldsAnalyzer{}))
		doc.AddField(document.NewTextFieldCustom(docsRaw, nil, []byte(raw.String()), index.IndexField, docsRawAnalyzer))
	}
	return doc, nil
}

// keywordNorm is a keyword as indexed and queried: folded, trimmed of
// white space and of the brackets and punctuation around addresses.
func keywordNorm(s string) string {
	return Fold(strings.Trim(strings.TrimSpace(s), "<>()[]\"',;:."))
}

// keywordsOf returns the keyword terms of a value: the whole value when
// short and on one line, and every e-mail address in it.
func keywordsOf(v string) []string {
	var out []string
	if len(v) <= maxKeywordValue && !strings.ContainsAny(v, "\r\n") {
		if k := keywordNorm(v); k != "" {
			out = append(out, k)
		}
	}
	for _, w := range strings.FieldsFunc(v, func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune("<>()[]\"',;", r)
	}) {
		if isEmail(w) {
			if k := keywordNorm(w); !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	return out
}

func isEmail(w string) bool {
	w = strings.Trim(w, ".:")
	at := strings.LastIndexByte(w, '@')
	return at > 0 && at < len(w)-3 && strings.Contains(w[at+1:], ".") && len(w) <= maxKeywordValue
}

// docPhone is a phone number found in a text.
type docPhone struct {
	start, end int    // bytes of the text
	digits     string // its digits only (a leading '+' dropped)
}

func isPhoneRune(r rune) bool {
	return '0' <= r && r <= '9' || r == '+' || r == '-' || r == '(' || r == ')' || r == '.' || r == ' ' || r == '/'
}

// phonesOf finds the phone numbers in s: runs of digits, spaces, '+',
// '-', '(', ')', '.', '/' with minPhoneDigits to maxPhoneDigits digits.
func phonesOf(s string) []docPhone {
	var out []docPhone
	for i := 0; i < len(s); {
		c := s[i]
		if !('0' <= c && c <= '9' || c == '+' || c == '(') {
			i++
			continue
		}
		// A number glued to a word ("abc123") is not a phone number.
		if i > 0 {
			if r, _ := utf8.DecodeLastRuneInString(s[:i]); unicode.IsLetter(r) || r == '_' {
				i++
				continue
			}
		}
		j := i
		for j < len(s) && isPhoneRune(rune(s[j])) {
			j++
		}
		run := strings.TrimRight(s[i:j], " -./(+")
		end := i + len(run)
		if end < len(s) {
			if r, _ := utf8.DecodeRuneInString(s[end:]); unicode.IsLetter(r) && j == end {
				i = j + 1
				continue
			}
		}
		if ds := phoneDigits(run); len(ds) >= minPhoneDigits && len(ds) <= maxPhoneDigits {
			out = append(out, docPhone{i, end, ds})
		}
		i = max(j, i+1)
	}
	return out
}

// phoneDigits returns the digits of s.
func phoneDigits(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if '0' <= s[i] && s[i] <= '9' {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// NormalizePhone returns a phone number as Docs indexes it: its digits,
// without spaces, dashes, dots, parentheses or the leading '+'; "" when s
// holds anything else or too few or too many digits.
func NormalizePhone(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	for _, r := range s {
		if !isPhoneRune(r) {
			return ""
		}
	}
	ds := phoneDigits(s)
	if len(ds) < minPhoneDigits || len(ds) > maxPhoneDigits {
		return ""
	}
	return ds
}

// Query parsing.

// qtok is one token of a query: a word, a quoted phrase, or either
// restricted to a field.
type qtok struct {
	field  string // "" for every field
	value  string
	quoted bool
	neg    bool
	// prefix: the last word, typed without a space after it, so still
	// being typed: it also matches as a prefix.
	prefix bool
	phone  string   // digits, when the token is a phone number
	parts  []string // the words a phone number was typed as
}

// lexQuery splits q into tokens. known tells which field names field:
// may name; for others "a:b" is a plain word.
func lexQuery(q string, known func(string) bool) []qtok {
	var out []qtok
	i := 0
	for i < len(q) {
		r, size := utf8.DecodeRuneInString(q[i:])
		if unicode.IsSpace(r) {
			i += size
			continue
		}
		var t qtok
		if q[i] == '-' && i+1 < len(q) {
			if r, _ := utf8.DecodeRuneInString(q[i+1:]); unicode.IsLetter(r) || r == '"' {
				t.neg = true
				i++
			}
		}
		// field:
		if j := strings.IndexByte(q[i:], ':'); j > 0 {
			name := strings.ToLower(q[i : i+j])
			if validFieldName(name) == nil && i+j+1 < len(q) && q[i+j+1] != ' ' {
				if !known(name) {
					// Not a field: two words (Unicode would keep "a:b"
					// one word).
					out = append(out, qtok{value: q[i : i+j], neg: t.neg})
					i += j + 1
					continue
				}
				t.field = name
				i += j + 1
			}
		}
		if q[i] == '"' {
			j := strings.IndexByte(q[i+1:], '"')
			if j < 0 {
				t.value = q[i+1:]
				i = len(q)
			} else {
				t.value = q[i+1 : i+1+j]
				i += j + 2
			}
			t.quoted = true
		} else {
			j := i
			for j < len(q) {
				r, size := utf8.DecodeRuneInString(q[j:])
				if unicode.IsSpace(r) {
					break
				}
				j += size
			}
			t.value = q[i:j]
			i = j
			t.prefix = i == len(q)
		}
		if strings.TrimSpace(t.value) == "" {
			continue
		}
		out = append(out, t)
	}
	// A phone number typed with spaces is several words: join them.
	var merged []qtok
	for k := 0; k < len(out); k++ {
		t := out[k]
		if t.neg || !phoneish(t.value) {
			merged = append(merged, t)
			continue
		}
		parts := []string{t.value}
		n := len(phoneDigits(t.value))
		last := k
		if !t.quoted {
			for last+1 < len(out) {
				u := out[last+1]
				if u.field != "" || u.quoted || u.neg || !phoneish(u.value) || n+len(phoneDigits(u.value)) > maxPhoneDigits {
					break
				}
				parts = append(parts, u.value)
				n += len(phoneDigits(u.value))
				last++
			}
		}
		// The longest run of words that makes a phone number.
		for ; last >= k; last-- {
			if ds := NormalizePhone(strings.Join(parts[:last-k+1], " ")); ds != "" {
				t.phone, t.parts, t.prefix = ds, parts[:last-k+1], false
				k = last
				break
			}
		}
		merged = append(merged, t)
	}
	return merged
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) }

// phoneVariants are the forms of a typed number to look for: as typed,
// without a trunk or international prefix of zeros ("020 7946 0958"
// stored as "+44 20 7946 0958"), and its last 10 digits ("+1 555 010
// 0199" stored as "555-010-0199"; the index holds the suffixes the other
// way round).
func phoneVariants(ds string) []string {
	out := []string{ds}
	if t := strings.TrimLeft(ds, "0"); t != ds && len(t) >= minPhoneDigits {
		out = append(out, t)
	}
	if len(ds) > 10 {
		if t := ds[len(ds)-10:]; !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// phoneish: made of phone characters, with a digit.
func phoneish(s string) bool {
	digit := false
	for _, r := range s {
		if !isPhoneRune(r) {
			return false
		}
		digit = digit || '0' <= r && r <= '9'
	}
	return digit
}

// docsQuery is a parsed query: the bleve query and what the fragments
// should point at.
type docsQuery struct {
	q        query.Query
	words    map[string]bool // analyzed terms
	prefixes []string        // folded prefixes
	phones   []string        // digits
	keywords []string        // folded keywords
}

func (d *Docs) knownFields() []string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]string, 0, len(d.fields))
	for f := range d.fields {
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

// parseDocsQuery builds the query of q over fields: every token must
// match (in some field), negated ones must not.
func parseDocsQuery(q string, fields []string) (*docsQuery, error) {
	known := func(f string) bool { _, ok := slices.BinarySearch(fields, f); return ok }
	dq := &docsQuery{words: map[string]bool{}}
	var must, not []query.Query
	for _, t := range lexQuery(q, known) {
		in := fields
		if t.field != "" {
			in = []string{t.field}
		}
		var c query.Query
		if t.phone != "" {
			c = dq.phoneClause(t, in)
		} else {
			c = dq.wordClause(t.value, t.quoted, t.prefix, t.neg, in)
		}
		if c == nil {
			continue // a stop word, punctuation
		}
		if t.neg {
			not = append(not, c)
		} else {
			must = append(must, c)
		}
	}
	if len(must) == 0 {
		return nil, ErrEmptyQuery
	}
	var top query.Query = query.NewConjunctionQuery(must)
	if len(must) == 1 {
		top = must[0]
	}
	if len(not) > 0 {
		top = query.NewBooleanQuery([]query.Query{top}, nil, []query.Query{query.NewDisjunctionQuery(not)})
	}
	dq.q = top
	return dq, nil
}

// wordClause: value (a word or a phrase) in one of the fields, as words
// (a phrase when it analyzes to several terms), as a keyword (when it
// has punctuation or spaces, like an address or a name), or — the word
// being typed — as a prefix of a word.
func (dq *docsQuery) wordClause(value string, quoted, prefix, neg bool, fields []string) query.Query {
	var any []query.Query
	toks := analyzers.text.Analyze([]byte(value))
	if len(toks) > 0 {
		phrase := tokenStreamPhrase(toks)
		words := fields
		if len(fields) > 1 {
			words = []string{docsAll}
		}
		for _, f := range words {
			if len(phrase) == 1 && len(phrase[0]) == 1 {
				any = append(any, termQuery(f, phrase[0][0]))
			} else {
				any = append(any, query.NewMultiPhraseQuery(phrase, f))
			}
		}
		if !neg {
			for _, t := range toks {
				dq.words[string(t.Term)] = true
			}
		}
	}
	if kw := keywordNorm(value); strings.IndexFunc(kw, isWordRune) >= 0 && strings.IndexFunc(kw, func(r rune) bool { return !isWordRune(r) }) >= 0 {
		for _, f := range fields {
			any = append(any, termQuery(f+kwSuffix, kw))
		}
		if !neg {
			dq.keywords = append(dq.keywords, kw)
		}
	}
	if prefix && !quoted && !neg {
		if raw := docsRawAnalyzer.Analyze([]byte(value)); len(raw) == 1 && utf8.RuneCount(raw[0].Term) >= minPrefixRunes {
			p := string(raw[0].Term)
			pq := query.NewPrefixQuery(p)
			if len(fields) == 1 {
				pq.SetField(fields[0]) // stems: a prefix of the stem matches
			} else {
				pq.SetField(docsRaw)
			}
			any = append(any, pq)
			dq.prefixes = append(dq.prefixes, p)
		}
	}
	switch len(any) {
	case 0:
		return nil
	case 1:
		return any[0]
	}
	return query.NewDisjunctionQuery(any)
}

// phoneClause: the number in a phone field, or its parts as words.
func (dq *docsQuery) phoneClause(t qtok, fields []string) query.Query {
	var any []query.Query
	for _, v := range phoneVariants(t.phone) {
		for _, f := range fields {
			any = append(any, termQuery(f+phSuffix, v))
		}
		if !t.neg {
			dq.phones = append(dq.phones, v)
		}
	}
	var words []query.Query
	for _, p := range t.parts {
		if c := dq.wordClause(p, t.quoted, false, t.neg, fields); c != nil {
			words = append(words, c)
		}
	}
	if len(words) > 0 {
		any = append(any, query.NewConjunctionQuery(words))
	}
	return query.NewDisjunctionQuery(any)
}

// tokenStreamPhrase turns analyzed tokens into the slots of a phrase by
// position; the holes left by stop words stay empty (match any word).
func tokenStreamPhrase(toks analysis.TokenStream) [][]string {
	first, last := toks[0].Position, toks[0].Position
	for _, t := range toks {
		first, last = min(first, t.Position), max(last, t.Position)
	}
	out := make([][]string, last-first+1)
	for _, t := range toks {
		p := t.Position - first
		if !slices.Contains(out[p], string(t.Term)) {
			out[p] = append(out[p], string(t.Term))
		}
	}
	return out
}

// Query searches the documents for q as typed in a search box: every word
// must match some field (stems, CJK bigrams, case folded), "quoted
// phrases" match as phrases, field:word and field:"a phrase" look in one
// field, -word excludes, an e-mail address or a phone number typed whole
// (in any format: "+1 555 010-0199") matches its field, and the last word
// also matches as a prefix while it is being typed (no space after it).
// At most limit hits (20 when limit <= 0), by score then ID. A query with
// nothing to search for is ErrEmptyQuery.
func (d *Docs) Query(ctx context.Context, q string, limit int) ([]DocHit, error) {
	if strings.TrimSpace(q) == "" {
		return nil, ErrEmptyQuery
	}
	if limit <= 0 {
		limit = defaultLimit
	}
	fields := d.knownFields()
	if len(fields) == 0 {
		if _, err := parseDocsQuery(q, []string{"x"}); err != nil {
			return nil, err
		}
		return nil, nil // nothing was ever put
	}
	dq, err := parseDocsQuery(q, fields)
	if err != nil {
		return nil, err
	}
	req := bleve.NewSearchRequestOptions(dq.q, limit, 0, false)
	if os.Getenv("TMPNOSORT") == "" {
		req.SortBy([]string{"-_score", "_id"})
	}
	req.Fields = fields
	res, err := d.bi.SearchInContext(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("search: docs: %w", err)
	}
	out := make([]DocHit, 0, len(res.Hits))
	for _, h := range res.Hits {
		out = append(out, DocHit{ID: h.ID, Score: h.Score, Fragment: dq.fragment(fields, h.Fields)})
	}
	return out, nil
}

// Fragments.

type docSpan struct{ start, end int }

// fragment picks the field with the most marks and returns a passage of
// it; with none, the start of the first field.
func (dq *docsQuery) fragment(fields []string, stored map[string]interface{}) string {
	best, bestText := []docSpan(nil), ""
	first := ""
	for _, f := range fields {
		text, _ := stored[f].(string)
		if text == "" {
			continue
		}
		if first == "" {
			first = text
		}
		if sp := dq.marks(text); len(sp) > len(best) {
			best, bestText = sp, text
		}
	}
	if len(best) == 0 {
		return docsPassage(first, nil)
	}
	return docsPassage(bestText, best)
}

// marks returns the sorted, merged spans of text that the query found.
func (dq *docsQuery) marks(text string) []docSpan {
	var sp []docSpan
	if len(dq.words) > 0 {
		for _, t := range analyzers.text.Analyze([]byte(text)) {
			if dq.words[string(t.Term)] {
				sp = append(sp, docSpan{t.Start, t.End})
			}
		}
	}
	if len(dq.prefixes) > 0 {
		for _, t := range docsRawAnalyzer.Analyze([]byte(text)) {
			for _, p := range dq.prefixes {
				if strings.HasPrefix(string(t.Term), p) {
					sp = append(sp, docSpan{t.Start, t.End})
					break
				}
			}
		}
	}
	if len(dq.phones) > 0 {
		for _, p := range phonesOf(text) {
			for _, want := range dq.phones {
				if strings.HasSuffix(p.digits, want) {
					sp = append(sp, docSpan{p.start, p.end})
					break
				}
			}
		}
	}
	if len(dq.keywords) > 0 {
		if folded := Fold(text); len(folded) == len(text) {
			for _, k := range dq.keywords {
				for off := 0; ; {
					i := strings.Index(folded[off:], k)
					if i < 0 {
						break
					}
					sp = append(sp, docSpan{off + i, off + i + len(k)})
					off += i + len(k)
				}
			}
		}
	}
	if len(sp) == 0 {
		return nil
	}
	slices.SortFunc(sp, func(a, b docSpan) int { return a.start - b.start })
	out := sp[:1]
	for _, s := range sp[1:] {
		if l := &out[len(out)-1]; s.start <= l.end {
			l.end = max(l.end, s.end)
			continue
		}
		out = append(out, s)
	}
	return out
}

// docsPassage returns the text around the first mark and the marks that
// follow it closely, HTML-escaped with the marks in <mark>; without marks,
// the start of text.
func docsPassage(text string, marks []docSpan) string {
	if len(marks) == 0 {
		stop := runeStart(text, min(2*fragContext, len(text)))
		s := html.EscapeString(flat(text[:stop]))
		if stop < len(text) {
			s += "…"
		}
		return s
	}
	start := runeStart(text, max(marks[0].start-fragContext, 0))
	end := marks[0].end
	j := 0
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
	for _, m := range marks[:j+1] {
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
	return b.String()
}
