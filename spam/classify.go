// Package spam is a Bayesian spam filter of the bogofilter/SpamBayes school:
// messages are reduced to sets of tokens (Tokenize), per-token spam and ham
// message counts are learned (DB.Train, DB.Untrain), and a new message is
// scored by Gary Robinson's per-token probabilities combined with Fisher's
// chi-square method (Classifier.Classify), which yields a score near 0 or 1
// when the evidence agrees and near 0.5 when it conflicts — the "unsure"
// band that a user's training then resolves.
//
// The package is a pure verdict: it knows nothing of the store. Callers
// tokenize, train and record what they trained.
package spam

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strings"
)

// Verdict is the outcome of classification.
type Verdict string

// The verdicts, from Score.Score against Options' thresholds.
const (
	VerdictSpam   Verdict = "spam"
	VerdictUnsure Verdict = "unsure"
	VerdictHam    Verdict = "ham"
)

// Score is the classification of one message.
type Score struct {
	Verdict Verdict
	// Score is the Robinson-Fisher chi-square combined probability that
	// the message is spam, 0..1; 0.5 when there is no evidence.
	Score float64
	// Clues are the tokens that decided the score, strongest first, for
	// debugging and for explaining a verdict to an admin.
	Clues []Clue
}

// Clue is one token's contribution.
type Clue struct {
	Token string
	// Prob is Robinson's f(w): the token's smoothed spam probability.
	Prob float64
	// Spam and Ham are in how many trained messages the token occurred.
	Spam, Ham uint32
}

// Options tune scoring. A zero field takes its default; DefaultOptions
// returns them all.
type Options struct {
	// SpamThreshold: a score at or above it is spam. Default 0.9.
	SpamThreshold float64
	// HamThreshold: a score below it is ham; between the two is unsure.
	// Default 0.2. Set it equal to SpamThreshold for no unsure band.
	HamThreshold float64
	// S is Robinson's strength of the prior: how many messages' worth of
	// weight the background probability X has against a token's own
	// counts. Default 0.45 (SpamBayes).
	S float64
	// X is the background probability of a token seen too rarely to
	// judge. Default 0.5.
	X float64
	// MinDeviation: tokens with |f(w) - 0.5| below it are ignored as
	// noise. Default 0.2: SpamBayes uses 0.1, but on the SpamAssassin
	// corpus 0.2 keeps the weakly spammy words of commercial but wanted
	// mail (newsletters, airline offers) from adding up to a false
	// positive, for about one spam in 500 more left unsure.
	MinDeviation float64
	// MaxClues: at most this many of the strongest tokens are combined.
	// Default 150.
	MaxClues int
	// Ignore lists substrings; tokens containing any of them are dropped
	// before training and scoring. Empty by default. Evaluation on a
	// public corpus uses it to hide collection artefacts (CorpusArtefacts).
	Ignore []string
}

// DefaultOptions returns the defaults, tuned by 10-fold cross-validation
// on the SpamAssassin public corpus (see Eval).
func DefaultOptions() Options {
	return Options{
		SpamThreshold: 0.9,
		HamThreshold:  0.2,
		S:             0.45,
		X:             0.5,
		MinDeviation:  0.2,
		MaxClues:      150,
	}
}

// withDefaults fills zero fields.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.SpamThreshold == 0 {
		o.SpamThreshold = d.SpamThreshold
	}
	if o.HamThreshold == 0 {
		o.HamThreshold = d.HamThreshold
	}
	if o.S == 0 {
		o.S = d.S
	}
	if o.X == 0 {
		o.X = d.X
	}
	if o.MinDeviation == 0 {
		o.MinDeviation = d.MinDeviation
	}
	if o.MaxClues == 0 {
		o.MaxClues = d.MaxClues
	}
	return o
}

// CorpusArtefacts are substrings of tokens that describe how the
// SpamAssassin public corpus was collected and anonymised rather than the
// mail itself: the collectors' own hosts and the addresses the corpus
// rewrote (spamassassin.taint.org, example.*, zzzz@). Ham and spam went
// through different collectors, so a filter that sees them learns the
// label from the route. Set Options.Ignore to this when evaluating on that
// corpus; a live mailbox never needs it.
var CorpusArtefacts = []string{
	"taint.org", "netnoteinc.com", "slashnull.org", "jmason.org", "webnote.net",
	"193.120.211.", "example.com", "example.sourceforge.net", ":example.", "zzz", "yyyy",
}

// Classifier scores messages against one or more token databases.
type Classifier struct {
	opts Options
	dbs  []*DB
}

// NewClassifier returns a classifier over dbs, typically the account's own
// database first and the global one second. Counts of all databases are
// summed, so what one user trains shifts that user's scores on top of the
// site-wide statistics.
func NewClassifier(opts Options, dbs ...*DB) *Classifier {
	return &Classifier{opts: opts.withDefaults(), dbs: dbs}
}

// Tokens returns Tokenize(msg) without the tokens Options.Ignore drops.
// Train with these so training and scoring see the same tokens.
func (c *Classifier) Tokens(msg []byte) []string {
	return c.opts.filter(Tokenize(msg))
}

// filter drops ignored tokens in place.
func (o Options) filter(toks []string) []string {
	if len(o.Ignore) == 0 {
		return toks
	}
	out := toks[:0]
next:
	for _, t := range toks {
		for _, ig := range o.Ignore {
			if strings.Contains(t, ig) {
				continue next
			}
		}
		out = append(out, t)
	}
	return out
}

// Classify tokenizes msg and scores it.
func (c *Classifier) Classify(msg []byte) (Score, error) {
	return c.ClassifyTokens(c.Tokens(msg))
}

// ClassifyTokens scores an already tokenized message; Options.Ignore is
// not applied again (Tokens applies it).
func (c *Classifier) ClassifyTokens(tokens []string) (Score, error) {
	tokens = dedup(tokens)
	cs := make([]counts, len(tokens))
	var nspam, nham uint64
	for _, db := range c.dbs {
		s, h, err := db.lookup(tokens, cs)
		if err != nil {
			return Score{}, err
		}
		nspam += s
		nham += h
	}
	return c.score(tokens, cs, nspam, nham), nil
}

// score applies Robinson's f(w) and Fisher's chi-square combining.
func (c *Classifier) score(tokens []string, cs []counts, nspam, nham uint64) Score {
	o := c.opts
	clues := make([]Clue, 0, 64)
	for i, tok := range tokens {
		b, g := float64(cs[i].spam), float64(cs[i].ham)
		if b+g == 0 {
			continue // f(w) = X: no deviation, no clue
		}
		// SpamBayes' ratio form: p(w) compares the token's frequency
		// in spam with its frequency in ham, so an unbalanced training
		// set (more ham than spam) does not bias every token.
		bratio := b / math.Max(float64(nspam), 1)
		gratio := g / math.Max(float64(nham), 1)
		if bratio > 1 {
			bratio = 1
		}
		if gratio > 1 {
			gratio = 1
		}
		p := bratio / (bratio + gratio)
		n := b + g
		f := (o.S*o.X + n*p) / (o.S + n)
		if math.Abs(f-0.5) < o.MinDeviation {
			continue
		}
		clues = append(clues, Clue{Token: tok, Prob: f, Spam: cs[i].spam, Ham: cs[i].ham})
	}
	sort.Slice(clues, func(i, j int) bool {
		di, dj := math.Abs(clues[i].Prob-0.5), math.Abs(clues[j].Prob-0.5)
		if di != dj {
			return di > dj
		}
		return clues[i].Token < clues[j].Token // deterministic ties
	})
	if len(clues) > o.MaxClues {
		clues = clues[:o.MaxClues]
	}
	s := chiCombine(clues)
	v := VerdictUnsure
	switch {
	case s >= o.SpamThreshold:
		v = VerdictSpam
	case s < o.HamThreshold:
		v = VerdictHam
	}
	return Score{Verdict: v, Score: s, Clues: clues}
}

// chiCombine is Robinson's use of Fisher's method: under the hypothesis
// that the f(w) are random, -2·Σln f follows chi-square with 2n degrees of
// freedom. H measures how unlikely the hamminess is as chance, S the
// spamminess; (1 + S - H)/2 is near 1 for spam, near 0 for ham, and near
// 0.5 both when nothing is known and when strong clues disagree.
func chiCombine(clues []Clue) float64 {
	if len(clues) == 0 {
		return 0.5
	}
	var lnSpam, lnHam float64
	for _, cl := range clues {
		lnSpam += math.Log(1 - cl.Prob)
		lnHam += math.Log(cl.Prob)
	}
	n := 2 * len(clues)
	S := 1 - chi2Q(-2*lnSpam, n)
	H := 1 - chi2Q(-2*lnHam, n)
	return (1 + S - H) / 2
}

// chi2Q is the survival function of chi-square with v (even) degrees of
// freedom: exp(-m)·Σ_{i<v/2} m^i/i!, m = x2/2. Terms are summed in log
// space so large m does not underflow exp(-m) to 0 before the sum.
func chi2Q(x2 float64, v int) float64 {
	m := x2 / 2
	if m <= 0 {
		return 1
	}
	lm := math.Log(m)
	maxT := math.Inf(-1)
	terms := make([]float64, v/2)
	for i := range terms {
		lg, _ := math.Lgamma(float64(i + 1))
		terms[i] = -m + float64(i)*lm - lg
		maxT = math.Max(maxT, terms[i])
	}
	var sum float64
	for _, t := range terms {
		sum += math.Exp(t - maxT)
	}
	return math.Min(math.Exp(maxT)*sum, 1)
}

// AddHeaders returns msg with X-Spam-Score and X-Spam-Status prepended,
// e.g.
//
//	X-Spam-Score: 0.9731
//	X-Spam-Status: Yes, score=0.9731
//
// Existing X-Spam-Score and X-Spam-Status fields are removed first: a
// sender must not be able to pre-set our verdict for a later filter rule
// or mail client. The line ending follows the message's own (CRLF or LF).
func (c *Classifier) AddHeaders(msg []byte, s Score) []byte {
	eol := "\n"
	if i := bytes.IndexByte(msg, '\n'); i > 0 && msg[i-1] == '\r' {
		eol = "\r\n"
	}
	status := "Unsure"
	switch s.Verdict {
	case VerdictSpam:
		status = "Yes"
	case VerdictHam:
		status = "No"
	}
	score := fmt.Sprintf("%.4f", s.Score)
	var out bytes.Buffer
	out.Grow(len(msg) + 80)
	out.WriteString("X-Spam-Score: " + score + eol)
	out.WriteString("X-Spam-Status: " + status + ", score=" + score + eol)
	out.Write(stripSpamHeaders(msg))
	return out.Bytes()
}

// stripSpamHeaders removes X-Spam-Score and X-Spam-Status fields (with
// their continuation lines) from the header section of msg.
func stripSpamHeaders(msg []byte) []byte {
	var out []byte // allocated on the first field removed
	rest, skipping := msg, false
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		line := rest
		if i >= 0 {
			line = rest[:i+1]
		}
		trimmed := bytes.TrimRight(line, "\r\n")
		if len(trimmed) == 0 { // end of header
			break
		}
		if skipping && (line[0] == ' ' || line[0] == '\t') {
			// continuation of a removed field
		} else {
			l := bytes.ToLower(trimmed)
			skipping = bytes.HasPrefix(l, []byte("x-spam-score:")) || bytes.HasPrefix(l, []byte("x-spam-status:"))
			if !skipping && out != nil {
				out = append(out, line...)
			}
			if skipping && out == nil {
				out = append(make([]byte, 0, len(msg)), msg[:len(msg)-len(rest)]...)
			}
		}
		rest = rest[len(line):]
	}
	if out == nil {
		return msg
	}
	return append(out, rest...)
}
