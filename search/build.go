package search

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/document"
	index "github.com/blevesearch/bleve_index_api"

	"frontdesk/store"
)

// batchWriters is the number of batches handed to bleve at once.
const batchWriters = 2

// item is one message to index.
type item struct {
	key msgKey
	msg *store.Message
}

// Field options: n-gram fields only answer "which documents hold this
// gram", so they keep neither values, term vectors nor frequencies.
const (
	gramOptions = index.IndexField | index.SkipFreqNorm
	wordOptions = index.IndexField
	keyOptions  = index.IndexField
)

// analyzers are the two analyzers, set up by init in analysis.go.
var analyzers struct{ grams, text analysis.Analyzer }

// docFor builds the index document of one message.
func docFor(k msgKey, d *Doc, date time.Time) *document.Document {
	doc := document.NewDocument(k.id())
	add := func(name, value string, opts index.FieldIndexingOptions, a analysis.Analyzer) {
		if value != "" {
			doc.AddField(document.NewTextFieldCustom(name, nil, []byte(value), opts, a))
		}
	}
	add(fAccount, strconv.FormatUint(k.account, 10), keyOptions, nil)
	add(fMailbox, mailboxTerm(k.account, k.mailbox), keyOptions, nil)
	if d.Partial {
		add(fPartial, "1", keyOptions, nil)
	}
	if !d.Date.IsZero() {
		date = d.Date
	}
	if f, err := document.NewDateTimeFieldWithIndexingOptions(fDate, nil, date, time.RFC3339, index.IndexField|index.DocValues); err == nil {
		doc.AddField(f)
	}
	// The header grams also cover the seam between header and body, so
	// that gHeader ∪ gBody are exactly the grams of Field(FieldText).
	add(gHeader, d.Header+"\n"+firstRunes(d.Body, gramLen-1), gramOptions, analyzers.grams)
	add(gBody, d.Body, gramOptions, analyzers.grams)
	add(gSubj, d.Subject, gramOptions, analyzers.grams)
	add(gFrom, d.From, gramOptions, analyzers.grams)
	add(gTo, d.To, gramOptions, analyzers.grams)
	add(gCc, d.Cc, gramOptions, analyzers.grams)
	add(gBcc, d.Bcc, gramOptions, analyzers.grams)
	add(wSubj, d.Subject, wordOptions, analyzers.text)
	add(wFrom, d.From, wordOptions, analyzers.text)
	add(wTo, d.To, wordOptions, analyzers.text)
	add(wCc, d.Cc, wordOptions, analyzers.text)
	add(wBcc, d.Bcc, wordOptions, analyzers.text)
	add(wBody, d.Body, wordOptions, analyzers.text)
	return doc
}

func firstRunes(s string, n int) string {
	i := 0
	for ; n > 0 && i < len(s); n-- {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i]
}

// extractItem reads and decodes one message. A message that cannot be
// read becomes an empty Partial document: always a candidate, never lost.
// A message expunged since it was listed has no document (nil): its file
// goes only after the expunge commits, and the expunge is on the feed.
func (ix *Index) extractItem(ctx context.Context, it item) *document.Document {
	data, err := ix.st.ReadMessage(it.key.account, it.msg)
	var d Doc
	if err != nil {
		if ix.gone(ctx, it.key) {
			return nil
		}
		ix.log.Warn("search index: cannot read message", "account", it.key.account,
			"mailbox", it.key.mailbox, "uid", it.key.uid, "err", err)
		d.Partial = true
	} else {
		d = Extract(data)
	}
	return docFor(it.key, &d, it.msg.InternalDate)
}

// gone reports whether the store no longer has the message, its mailbox
// or its account.
func (ix *Index) gone(ctx context.Context, k msgKey) bool {
	msgs, err := ix.st.MessagesByUID(ctx, k.account, k.mailbox, []uint32{k.uid})
	if errors.Is(err, store.ErrNotFound) {
		return true
	}
	return err == nil && len(msgs) == 0
}

// indexItems indexes messages and deletes documents, batchSize at a time.
// Messages are read and decoded by one worker per CPU while bleve indexes
// the previous batch. With progress, it logs every second.
func (ix *Index) indexItems(ctx context.Context, todo []item, deletes []string, progress bool) error {
	return indexDocs(ctx, ix, len(todo), func(i int) *document.Document { return ix.extractItem(ctx, todo[i]) }, deletes, progress)
}

// batch applies one bleve batch of documents and deletions.
func (ix *Index) batch(docs []*document.Document, deletes []string) error {
	b := ix.bi.NewBatch()
	for _, id := range deletes {
		b.Delete(id)
	}
	for _, d := range docs {
		if err := b.IndexAdvanced(d); err != nil {
			return err
		}
	}
	if b.Size() == 0 {
		return nil
	}
	if err := ix.bi.Batch(b); err != nil {
		return &indexError{err}
	}
	return nil
}

// indexDocs indexes n documents made by build (called from one worker
// per CPU; nil means no document) and applies deletes, in batches.
func indexDocs(ctx context.Context, w *Index, n int, build func(int) *document.Document, deletes []string, progress bool) error {
	if n == 0 {
		return w.batch(nil, deletes)
	}
	next := make(chan int)
	docs := make(chan *document.Document, 2*batchSize)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				docs <- build(i)
			}
		}()
	}
	go func() {
		defer close(next)
		for i := range n {
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(docs) }()

	// Two batches in flight: while bleve builds one segment (one core),
	// the other batch is analyzed.
	type job struct {
		docs    []*document.Document
		deletes []string
	}
	jobs := make(chan job)
	errs := make(chan error, batchWriters)
	var indexed atomic.Int64
	for range batchWriters {
		go func() {
			var first error
			for j := range jobs {
				if first == nil {
					first = w.batch(j.docs, j.deletes)
					indexed.Add(int64(len(j.docs)))
				}
			}
			errs <- first
		}()
	}
	start, last := time.Now(), time.Now()
	pending := make([]*document.Document, 0, batchSize)
	for d := range docs {
		if d == nil {
			continue
		}
		pending = append(pending, d)
		if len(pending) >= batchSize {
			jobs <- job{pending, deletes}
			pending, deletes = make([]*document.Document, 0, batchSize), nil
			if progress && time.Since(last) >= time.Second {
				last = time.Now()
				done := indexed.Load()
				w.log.Info("indexing", "done", done, "total", n,
					"msgs/s", int(float64(done)/time.Since(start).Seconds()))
			}
		}
	}
	if len(pending) > 0 || len(deletes) > 0 {
		jobs <- job{pending, deletes}
	}
	close(jobs)
	var err error
	for range batchWriters {
		if e := <-errs; err == nil {
			err = e
		}
	}
	done := indexed.Load()
	if err == nil {
		err = ctx.Err()
	}
	if progress && err == nil {
		w.log.Info("indexing finished", "done", done, "total", n,
			"msgs/s", int(float64(done)/time.Since(start).Seconds()), "took", time.Since(start).Round(time.Millisecond))
	}
	return err
}
