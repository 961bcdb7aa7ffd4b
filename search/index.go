// Package search is the full-text index of the store's mail, on Bleve
// (scorch). It serves two masters:
//
//   - IMAP SEARCH, whose TEXT/BODY/SUBJECT/FROM/... keys are case-insensitive
//     substring matches (RFC 9051 §6.4.4). Words cannot give that ("ello"
//     is in "hello"), so each field is also indexed as the set of its folded
//     character trigrams; Candidates queries the conjunction of a string's
//     trigrams, a superset of the exact answer the caller then verifies.
//   - the web console's Query: words (English stems, CJK bigrams), ranked,
//     with highlighted fragments.
//
// The index is derived data: it can lag the store, never lie (DESIGN.md).
// Open reconciles it with the store (rebuilding it when missing or
// unreadable) and Run follows the store's change feed. A message the index
// could not read in full is a candidate for every search of its mailbox.
//
// Locking: the index has no lock of its own; bleve is safe for concurrent
// use, and only the Run goroutine writes after Open returns.
package search

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/mapping"

	"frontdesk/store"
)

// schemaVersion changes whenever documents are built differently; an index
// of another version is rebuilt.
const schemaVersion = "frontdesk-search-1"

var keySchema = []byte("frontdesk.schema")

// batchSize is the number of documents per bleve batch.
const batchSize = 500

// Document fields. Keyword fields hold one term; "g." fields hold
// trigrams (not stored, no frequencies, no term vectors); the rest hold
// words for Query.
const (
	fAccount = "account" // keyword: account ID
	fMailbox = "mailbox" // keyword: "<account>/<mailbox>"
	fPartial = "partial" // keyword "1" when the message was not read in full
	fDate    = "date"

	gHeader = "g.header" // header lines plus the first runes of the body
	gBody   = "g.body"
	gSubj   = "g.subject"
	gFrom   = "g.from"
	gTo     = "g.to"
	gCc     = "g.cc"
	gBcc    = "g.bcc"

	wSubj = "subject"
	wFrom = "from"
	wTo   = "to"
	wCc   = "cc"
	wBcc  = "bcc"
	wBody = "body"
)

var wordFields = []string{wSubj, wFrom, wTo, wCc, wBcc, wBody}

// Index is the full-text index of one store. Its methods are safe for
// concurrent use; Run must run (once) for the index to follow the store.
type Index struct {
	dir string
	st  *store.Store
	log *slog.Logger
	bi  bleve.Index
	sub *store.Subscription

	syncReq chan chan struct{}
	// healthy is false after a failed update until a catch-up succeeds;
	// Candidates then declines to narrow rather than miss messages.
	healthy atomic.Bool
}

// Open opens (or creates) the index at dir, normally DATA/index, and
// reconciles it with st before returning: an index that is missing,
// unreadable or of another schema is rebuilt; messages not yet indexed
// are indexed and documents of messages that are gone are deleted.
// Progress of long runs goes to log ("indexing", done/total, msgs/s).
func Open(dir string, st *store.Store, log *slog.Logger) (*Index, error) {
	if log == nil {
		log = slog.Default()
	}
	ix := &Index{dir: dir, st: st, log: log, syncReq: make(chan chan struct{})}
	// Subscribe before reading the store, so nothing falls in between;
	// Run applies what arrives meanwhile.
	ix.sub = st.SubscribeAll()
	bi, err := openBleve(dir, log)
	if err != nil {
		ix.sub.Close()
		return nil, err
	}
	ix.bi = bi
	if err := ix.catchUp(context.Background()); err != nil {
		var ie *indexError
		if !errors.As(err, &ie) {
			ix.Close()
			return nil, err
		}
		log.Warn("search index unreadable, rebuilding", "dir", dir, "err", err)
		bi.Close()
		if ix.bi, err = createBleve(dir); err != nil {
			ix.sub.Close()
			return nil, err
		}
		if err := ix.catchUp(context.Background()); err != nil {
			ix.Close()
			return nil, err
		}
	}
	ix.healthy.Store(true)
	return ix, nil
}

// indexError marks a failure to read the index (as opposed to the store):
// Open answers it with a rebuild.
type indexError struct{ err error }

func (e *indexError) Error() string { return "search: index: " + e.err.Error() }
func (e *indexError) Unwrap() error { return e.err }

// runtimeConfig is bleve's configuration. Batches stay safe (each waits
// for its segment to be persisted): scorch's "unsafe_batch" loses the last
// batch on Close, and with two batches in flight the wait costs no
// throughput.
func runtimeConfig() map[string]interface{} {
	return map[string]interface{}{"unsafe_batch": false}
}

func openBleve(dir string, log *slog.Logger) (bleve.Index, error) {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return createBleve(dir)
	}
	bi, err := bleve.OpenUsing(dir, runtimeConfig())
	if err == nil {
		v, gerr := bi.GetInternal(keySchema)
		if gerr == nil && string(v) == schemaVersion {
			return bi, nil
		}
		bi.Close()
		err = fmt.Errorf("schema %q, want %q (%v)", v, schemaVersion, gerr)
	}
	log.Warn("search index unusable, rebuilding", "dir", dir, "err", err)
	return createBleve(dir)
}

func createBleve(dir string) (bleve.Index, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	bi, err := bleve.NewUsing(dir, newMapping(), scorch.Name, scorch.Name, runtimeConfig())
	if err != nil {
		return nil, fmt.Errorf("search: create %s: %w", dir, err)
	}
	if err := bi.SetInternal(keySchema, []byte(schemaVersion)); err != nil {
		bi.Close()
		return nil, fmt.Errorf("search: %w", err)
	}
	return bi, nil
}

// newMapping describes the documents built by docFor, so that the index on
// disk documents itself; documents are added with IndexAdvanced and
// queries are built term by term, so neither goes through it.
func newMapping() *mapping.IndexMappingImpl {
	m := bleve.NewIndexMapping()
	m.DefaultAnalyzer = textAnalyzer
	dm := bleve.NewDocumentStaticMapping()
	kw := func() *mapping.FieldMapping {
		f := bleve.NewKeywordFieldMapping()
		f.Analyzer = keyword.Name
		f.Store, f.IncludeInAll, f.IncludeTermVectors = false, false, false
		return f
	}
	for _, f := range []string{fAccount, fMailbox, fPartial} {
		dm.AddFieldMappingsAt(f, kw())
	}
	for _, f := range []string{gHeader, gBody, gSubj, gFrom, gTo, gCc, gBcc} {
		fm := bleve.NewTextFieldMapping()
		fm.Analyzer = trigramAnalyzer
		fm.Store, fm.IncludeInAll, fm.IncludeTermVectors, fm.SkipFreqNorm = false, false, false, true
		dm.AddFieldMappingsAt(f, fm)
	}
	for _, f := range wordFields {
		fm := bleve.NewTextFieldMapping()
		fm.Analyzer = textAnalyzer
		fm.Store, fm.IncludeInAll, fm.IncludeTermVectors = false, false, false
		dm.AddFieldMappingsAt(f, fm)
	}
	dt := bleve.NewDateTimeFieldMapping()
	dt.Store, dt.IncludeInAll = false, false
	dm.AddFieldMappingsAt(fDate, dt)
	m.DefaultMapping = dm
	return m
}

// Close stops following the store and closes the index. Stop Run first.
func (ix *Index) Close() error {
	if ix.sub != nil {
		ix.sub.Close()
	}
	if ix.bi == nil {
		return nil
	}
	return ix.bi.Close()
}

// msgKey names one message of the store, and one document.
type msgKey struct {
	account, mailbox uint64
	uid              uint32
}

func (k msgKey) id() string {
	b := make([]byte, 0, 32)
	b = strconv.AppendUint(b, k.account, 10)
	b = append(b, '/')
	b = strconv.AppendUint(b, k.mailbox, 10)
	b = append(b, '/')
	b = strconv.AppendUint(b, uint64(k.uid), 10)
	return string(b)
}

func parseID(id string) (msgKey, bool) {
	a, rest, ok1 := strings.Cut(id, "/")
	m, u, ok2 := strings.Cut(rest, "/")
	if !ok1 || !ok2 {
		return msgKey{}, false
	}
	acct, err1 := strconv.ParseUint(a, 10, 64)
	mb, err2 := strconv.ParseUint(m, 10, 64)
	uid, err3 := strconv.ParseUint(u, 10, 32)
	if err1 != nil || err2 != nil || err3 != nil {
		return msgKey{}, false
	}
	return msgKey{acct, mb, uint32(uid)}, true
}

func mailboxTerm(account, mailbox uint64) string {
	return strconv.FormatUint(account, 10) + "/" + strconv.FormatUint(mailbox, 10)
}

// indexedIDs returns the key of every document in the index.
func (ix *Index) indexedIDs() (map[msgKey]struct{}, error) {
	r, err := ix.bi.Advanced()
	if err != nil {
		return nil, &indexError{err}
	}
	rd, err := r.Reader()
	if err != nil {
		return nil, &indexError{err}
	}
	defer rd.Close()
	ids, err := rd.DocIDReaderAll()
	if err != nil {
		return nil, &indexError{err}
	}
	defer ids.Close()
	out := map[msgKey]struct{}{}
	for {
		iid, err := ids.Next()
		if err != nil {
			return nil, &indexError{err}
		}
		if iid == nil {
			return out, nil
		}
		ext, err := rd.ExternalID(iid)
		if err != nil {
			return nil, &indexError{err}
		}
		if k, ok := parseID(ext); ok {
			out[k] = struct{}{}
		}
	}
}

// catchUp makes the index hold exactly the store's messages: it indexes
// what is missing and deletes what is gone.
func (ix *Index) catchUp(ctx context.Context) error {
	have, err := ix.indexedIDs()
	if err != nil {
		return err
	}
	accts, err := ix.st.Accounts(ctx)
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	var todo []item
	for _, a := range accts {
		mbs, err := ix.st.Mailboxes(ctx, a.ID)
		if err != nil {
			return fmt.Errorf("search: %w", err)
		}
		for _, mb := range mbs {
			_, msgs, err := ix.st.Messages(ctx, a.ID, mb.ID)
			if errors.Is(err, store.ErrNotFound) {
				continue // deleted meanwhile: its expunges are on the feed
			}
			if err != nil {
				return fmt.Errorf("search: %w", err)
			}
			for _, m := range msgs {
				k := msgKey{a.ID, mb.ID, m.UID}
				if _, ok := have[k]; ok {
					delete(have, k)
					continue
				}
				todo = append(todo, item{k, m})
			}
		}
	}
	if len(have) > 0 {
		b := ix.bi.NewBatch()
		for k := range have {
			b.Delete(k.id())
			if b.Size() >= batchSize {
				if err := ix.bi.Batch(b); err != nil {
					return &indexError{err}
				}
				b.Reset()
			}
		}
		if err := ix.bi.Batch(b); err != nil {
			return &indexError{err}
		}
		ix.log.Info("search index: removed documents of messages gone", "count", len(have))
	}
	if len(todo) == 0 {
		return nil
	}
	return ix.indexItems(ctx, todo, nil, true)
}

// Run follows the store and keeps the index up to date until ctx ends:
// new messages are indexed and expunged ones removed, in batches. Open
// has already caught up with what was stored before; changes since then
// are waiting on the feed. Run returns nil when ctx ends.
func (ix *Index) Run(ctx context.Context) error {
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		var done chan struct{}
		select {
		case <-ctx.Done():
			return nil
		case <-ix.sub.C():
			// Index in big batches, after the burst: a batch per message
			// costs far more (segments, merges), and indexing competes
			// with delivery for the CPU. A Sync cuts the wait short.
			done = ix.settle(ctx)
		case done = <-ix.syncReq:
		case <-retry.C:
			if err := ix.catchUp(ctx); err != nil {
				ix.log.Error("search index: catch-up failed", "err", err)
				retry.Reset(30 * time.Second)
				continue
			}
			ix.healthy.Store(true)
		}
		if cs := ix.sub.Drain(); len(cs) > 0 {
			if err := ix.apply(ctx, cs); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				// Candidates stops narrowing until a catch-up repairs the
				// index: lagging is allowed, lying is not.
				ix.healthy.Store(false)
				ix.log.Error("search index: update failed, will catch up", "err", err)
				retry.Reset(5 * time.Second)
			}
		}
		if done != nil {
			close(done)
		}
	}
}

// Settling: after a change, wait for settleQuiet without changes, but no
// longer than settleMax, before indexing. The lag is what "derived data can
// lag" allows; SEARCH never sees it, since it calls Sync.
const (
	settleQuiet = 300 * time.Millisecond
	settleMax   = 5 * time.Second
)

// settle waits for a burst of changes to end, a Sync request (returned),
// or ctx.
func (ix *Index) settle(ctx context.Context) chan struct{} {
	limit := time.NewTimer(settleMax)
	defer limit.Stop()
	quiet := time.NewTimer(settleQuiet)
	defer quiet.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case done := <-ix.syncReq:
			return done
		case <-limit.C:
			return nil
		case <-quiet.C:
			return nil
		case <-ix.sub.C():
			quiet.Reset(settleQuiet)
		}
	}
}

// Sync blocks until everything committed to the store before the call is
// indexed, or ctx ends. IMAP calls it before Candidates so that SEARCH
// sees every message the session could see. Run must be running.
func (ix *Index) Sync(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case ix.syncReq <- done:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// apply brings the index in line with a run of changes. Only the last
// change of a message matters, and what is indexed is the message as the
// store has it now: a message expunged since its ChangeNew is not found
// and is deleted.
func (ix *Index) apply(ctx context.Context, cs []store.Change) error {
	want := map[msgKey]bool{} // true: index, false: delete
	for _, c := range cs {
		switch c.Kind {
		case store.ChangeNew:
			want[msgKey{c.Account, c.Mailbox, c.UID}] = true
		case store.ChangeExpunge:
			want[msgKey{c.Account, c.Mailbox, c.UID}] = false
		}
	}
	type mbox struct{ account, mailbox uint64 }
	adds := map[mbox][]uint32{}
	var deletes []string
	for k, add := range want {
		if add {
			adds[mbox{k.account, k.mailbox}] = append(adds[mbox{k.account, k.mailbox}], k.uid)
		} else {
			deletes = append(deletes, k.id())
		}
	}
	var todo []item
	for mb, uids := range adds {
		msgs, err := ix.st.MessagesByUID(ctx, mb.account, mb.mailbox, uids)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("search: %w", err)
		}
		found := make(map[uint32]bool, len(msgs))
		for _, m := range msgs {
			found[m.UID] = true
			todo = append(todo, item{msgKey{mb.account, mb.mailbox, m.UID}, m})
		}
		for _, uid := range uids {
			if !found[uid] {
				deletes = append(deletes, msgKey{mb.account, mb.mailbox, uid}.id())
			}
		}
	}
	return ix.indexItems(ctx, todo, deletes, false)
}
