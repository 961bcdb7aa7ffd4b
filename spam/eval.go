package spam

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
)

// Confusion counts verdicts against labels. Unsure verdicts are kept apart
// from the four classic cells: an unsure spam was not caught (it counts
// against recall) and an unsure ham was not wrongly junked (it does not
// count as a false positive), since unsure mail stays in the inbox.
type Confusion struct {
	TP         int // spam judged spam
	FP         int // ham judged spam
	TN         int // ham judged ham
	FN         int // spam judged ham
	UnsureSpam int // spam judged unsure
	UnsureHam  int // ham judged unsure
}

// Spam returns the number of spam messages.
func (c Confusion) Spam() int { return c.TP + c.FN + c.UnsureSpam }

// Ham returns the number of ham messages.
func (c Confusion) Ham() int { return c.TN + c.FP + c.UnsureHam }

// Accuracy is the share of messages given their right verdict; unsure is
// never right.
func (c Confusion) Accuracy() float64 { return ratio(c.TP+c.TN, c.Spam()+c.Ham()) }

// SpamRecall is TP / all spam: unsure spam counts as missed.
func (c Confusion) SpamRecall() float64 { return ratio(c.TP, c.Spam()) }

// FalsePositiveRate is FP / all ham: unsure ham is not a false positive.
func (c Confusion) FalsePositiveRate() float64 { return ratio(c.FP, c.Ham()) }

// Add returns the cell-wise sum.
func (c Confusion) Add(d Confusion) Confusion {
	return Confusion{c.TP + d.TP, c.FP + d.FP, c.TN + d.TN, c.FN + d.FN, c.UnsureSpam + d.UnsureSpam, c.UnsureHam + d.UnsureHam}
}

// Record adds one message with its label and verdict.
func (c *Confusion) Record(spam bool, v Verdict) {
	switch {
	case spam && v == VerdictSpam:
		c.TP++
	case spam && v == VerdictHam:
		c.FN++
	case spam:
		c.UnsureSpam++
	case v == VerdictSpam:
		c.FP++
	case v == VerdictHam:
		c.TN++
	default:
		c.UnsureHam++
	}
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Report is the result of a cross-validation.
type Report struct {
	Name      string // what was evaluated, for Print; "frontdesk" by default
	Folds     int
	Confusion Confusion
	// Accuracy, SpamRecall and FalsePositiveRate are those of Confusion.
	Accuracy, SpamRecall, FalsePositiveRate float64
	// PerSet splits Confusion by message set (SetName of each file).
	PerSet map[string]Confusion
}

// Finish fills the rates from Confusion.
func (r *Report) Finish() {
	r.Accuracy = r.Confusion.Accuracy()
	r.SpamRecall = r.Confusion.SpamRecall()
	r.FalsePositiveRate = r.Confusion.FalsePositiveRate()
}

// Print writes the figures and the confusion matrix, overall and per set.
func (r *Report) Print(w io.Writer) {
	name := r.Name
	if name == "" {
		name = "frontdesk"
	}
	c := r.Confusion
	fmt.Fprintf(w, "%s, %d-fold cross-validation, %d ham, %d spam\n", name, r.Folds, c.Ham(), c.Spam())
	fmt.Fprintf(w, "  accuracy %.2f%%  spam recall %.2f%%  false positives %.2f%%  (unsure: spam counts as missed, ham not as false positive)\n",
		100*r.Accuracy, 100*r.SpamRecall, 100*r.FalsePositiveRate)
	fmt.Fprintf(w, "  %-10s %8s %8s %8s\n", "actual", "spam", "unsure", "ham")
	fmt.Fprintf(w, "  %-10s %8d %8d %8d\n", "spam", c.TP, c.UnsureSpam, c.FN)
	fmt.Fprintf(w, "  %-10s %8d %8d %8d\n", "ham", c.FP, c.UnsureHam, c.TN)
	sets := make([]string, 0, len(r.PerSet))
	for s := range r.PerSet {
		sets = append(sets, s)
	}
	sort.Strings(sets)
	for _, s := range sets {
		c := r.PerSet[s]
		fmt.Fprintf(w, "  set %-10s %5d msgs: spam %4d  unsure %4d  ham %4d", s, c.Spam()+c.Ham(),
			c.TP+c.FP, c.UnsureSpam+c.UnsureHam, c.TN+c.FN)
		if c.Spam() > 0 {
			fmt.Fprintf(w, "  recall %.2f%%", 100*c.SpamRecall())
		}
		if c.Ham() > 0 {
			fmt.Fprintf(w, "  FPR %.2f%%", 100*c.FalsePositiveRate())
		}
		fmt.Fprintln(w)
	}
}

// SetName names the corpus set a message file belongs to, for
// Report.PerSet: the file name up to its first '.', without a trailing
// "-<digits>" ("easy-ham-1.00001.x.eml" → "easy-ham"), or, when that is
// only digits as in the original SpamAssassin layout ("easy_ham/00001.x"),
// the directory name.
func SetName(path string) string {
	base := filepath.Base(path)
	if i := strings.IndexByte(base, '.'); i >= 0 {
		base = base[:i]
	}
	if i := strings.LastIndexByte(base, '-'); i > 0 && strings.Trim(base[i+1:], "0123456789") == "" {
		base = base[:i]
	}
	if base == "" || strings.Trim(base, "0123456789") == "" {
		return filepath.Base(filepath.Dir(path))
	}
	return base
}

// Sample is a message of a labelled corpus, already tokenized.
type Sample struct {
	Name   string // file path: sorts the folds, names the set
	Spam   bool
	Tokens []string
}

// Fold returns the fold (0..k-1) of each sample: ham and spam are each
// sorted by name and dealt out round-robin (i % k), so every fold holds a
// tenth of both and the split is the same on every run and machine.
func Fold(samples []Sample, k int) []int {
	fold := make([]int, len(samples))
	for _, spam := range []bool{false, true} {
		var idx []int
		for i, s := range samples {
			if s.Spam == spam {
				idx = append(idx, i)
			}
		}
		sort.Slice(idx, func(a, b int) bool { return samples[idx[a]].Name < samples[idx[b]].Name })
		for n, i := range idx {
			fold[i] = n % k
		}
	}
	return fold
}

// LoadSamples reads and tokenizes the files in parallel, with Options.Ignore
// applied.
func LoadSamples(hamFiles, spamFiles []string, opts Options) ([]Sample, error) {
	samples := make([]Sample, 0, len(hamFiles)+len(spamFiles))
	for _, f := range hamFiles {
		samples = append(samples, Sample{Name: f})
	}
	for _, f := range spamFiles {
		samples = append(samples, Sample{Name: f, Spam: true})
	}
	errs := make([]error, len(samples))
	parallel(len(samples), func(i int) {
		b, err := os.ReadFile(samples[i].Name)
		if err != nil {
			errs[i] = err
			return
		}
		samples[i].Tokens = dedup(opts.filter(Tokenize(b)))
	})
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("spam: reading corpus: %w", err)
	}
	return samples, nil
}

// Eval runs k-fold cross-validation: each fold is scored by a classifier
// trained (in memory) on the other k-1. Each file is read and tokenized
// once; folds are scored in parallel.
func Eval(hamFiles, spamFiles []string, folds int, opts Options) (*Report, error) {
	samples, err := LoadSamples(hamFiles, spamFiles, opts)
	if err != nil {
		return nil, err
	}
	return EvalSamples(samples, folds, opts)
}

// EvalSamples is Eval on already loaded samples.
func EvalSamples(samples []Sample, folds int, opts Options) (*Report, error) {
	if folds < 2 {
		return nil, fmt.Errorf("spam: eval needs at least 2 folds, got %d", folds)
	}
	fold := Fold(samples, folds)
	// Train once on everything, then per fold untrain the held-out
	// messages from a copy: the same statistics as training on k-1 folds,
	// at a fraction of the work.
	all := NewMemDB()
	for _, s := range samples {
		if err := all.Train(s.Tokens, s.Spam); err != nil {
			return nil, err
		}
	}
	verdicts := make([]Verdict, len(samples))
	errs := make([]error, folds)
	parallel(folds, func(f int) {
		db := all.clone()
		for i, s := range samples {
			if fold[i] == f {
				if err := db.Untrain(s.Tokens, s.Spam); err != nil {
					errs[f] = err
					return
				}
			}
		}
		c := NewClassifier(opts, db)
		for i, s := range samples {
			if fold[i] != f {
				continue
			}
			sc, err := c.ClassifyTokens(s.Tokens)
			if err != nil {
				errs[f] = err
				return
			}
			verdicts[i] = sc.Verdict
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	r := &Report{Folds: folds, PerSet: map[string]Confusion{}}
	for i, s := range samples {
		r.Confusion.Record(s.Spam, verdicts[i])
		set := SetName(s.Name)
		c := r.PerSet[set]
		c.Record(s.Spam, verdicts[i])
		r.PerSet[set] = c
	}
	r.Finish()
	return r, nil
}

// parallel runs fn(0..n-1) on GOMAXPROCS goroutines.
func parallel(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}
