package spam

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
)

// Filter is the spam filter of one installation: a global token database
// (trained by the admin) and one per account (taught by the user's moves
// in and out of Junk), under one directory (DATA/spam). Safe for
// concurrent use.
type Filter struct {
	dir    string
	opts   Options
	global *DB

	mu       sync.Mutex
	accounts map[uint64]*DB // guarded by mu
}

// OpenFilter opens the databases under dir.
func OpenFilter(dir string, opts Options) (*Filter, error) {
	g, err := OpenDB(filepath.Join(dir, "global.db"))
	if err != nil {
		return nil, err
	}
	return &Filter{dir: dir, opts: opts, global: g, accounts: map[uint64]*DB{}}, nil
}

// Global returns the site-wide database.
func (f *Filter) Global() *DB { return f.global }

// Account returns an account's own database, opening it on first use.
func (f *Filter) Account(id uint64) (*DB, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if db := f.accounts[id]; db != nil {
		return db, nil
	}
	db, err := OpenDB(filepath.Join(f.dir, strconv.FormatUint(id, 10)+".db"))
	if err != nil {
		return nil, err
	}
	f.accounts[id] = db
	return db, nil
}

// Classify scores a message for an account: its own lessons and the
// global statistics together.
func (f *Filter) Classify(account uint64, msg []byte) (Score, error) {
	return f.ClassifyTokens(account, f.Tokens(msg))
}

// Tokens tokenizes a message once, for ClassifyTokens with several accounts.
func (f *Filter) Tokens(msg []byte) []string {
	return NewClassifier(f.opts).Tokens(msg)
}

// ClassifyTokens is Classify of an already tokenized message.
func (f *Filter) ClassifyTokens(account uint64, tokens []string) (Score, error) {
	db, err := f.Account(account)
	if err != nil {
		return Score{}, err
	}
	return NewClassifier(f.opts, db, f.global).ClassifyTokens(tokens)
}

// Special-use attributes (RFC 6154) the rules below look at.
const (
	useJunk  = `\Junk`
	useTrash = `\Trash`
)

// LearnFiled applies what a user's filing teaches, given the special-use
// attributes of the source and destination mailboxes: into Junk is spam;
// out of Junk into anything but Trash is ham, undoing an earlier spam
// lesson; deleting from Junk (to Trash) teaches nothing. It reports
// whether anything was learned.
func (f *Filter) LearnFiled(account uint64, fromUse, toUse string, msg []byte) (bool, error) {
	var spam bool
	switch {
	case toUse == useJunk && fromUse != useJunk:
		spam = true
	case fromUse == useJunk && toUse != useJunk && toUse != useTrash:
		spam = false
	default:
		return false, nil
	}
	db, err := f.Account(account)
	if err != nil {
		return false, err
	}
	c := NewClassifier(f.opts)
	if err := db.Learn(MessageID(msg), c.Tokens(msg), spam); err != nil {
		return false, err
	}
	return true, nil
}

// MessageID names a message for Learn: the hash of its bytes, which
// moving between mailboxes does not change.
func MessageID(msg []byte) string {
	h := sha256.Sum256(msg)
	return hex.EncodeToString(h[:16])
}

// Close closes every database.
func (f *Filter) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var first error
	for id, db := range f.accounts {
		if err := db.Close(); err != nil && first == nil {
			first = fmt.Errorf("spam: closing account %d: %w", id, err)
		}
	}
	if err := f.global.Close(); err != nil && first == nil {
		first = err
	}
	return first
}

// Headers returns the X-Spam-Score and X-Spam-Status fields for a score,
// CRLF-terminated, as AddHeaders writes them.
func Headers(s Score) string {
	status := "Unsure"
	switch s.Verdict {
	case VerdictSpam:
		status = "Yes"
	case VerdictHam:
		status = "No"
	}
	score := fmt.Sprintf("%.4f", s.Score)
	return "X-Spam-Score: " + score + "\r\nX-Spam-Status: " + status + ", score=" + score + "\r\n"
}

// StripHeaders removes X-Spam-Score and X-Spam-Status fields a sender put
// in, so nobody downstream trusts a verdict we did not make.
func StripHeaders(msg []byte) []byte { return stripSpamHeaders(msg) }
