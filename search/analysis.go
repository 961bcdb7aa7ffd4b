package search

import (
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/lang/cjk"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/registry"
)

// Analyzer names, registered with bleve's registry so that the index
// mapping stored on disk names them.
const (
	// trigramAnalyzer folds a field (Fold) and emits each distinct run of
	// three runes once: the index of substrings behind Candidates.
	trigramAnalyzer = "frontdesk_trigram"
	// textAnalyzer makes words for Query: Unicode word breaks, CJK width
	// folding and bigrams, lower case, English possessives, stop words and
	// Snowball stems.
	textAnalyzer = "frontdesk_text"
)

// gramLen is the n of the n-grams: a search string needs at least this
// many runes for Candidates to narrow.
const gramLen = 3

func init() {
	if err := registry.RegisterAnalyzer(trigramAnalyzer, func(map[string]interface{}, *registry.Cache) (analysis.Analyzer, error) {
		return trigrams{}, nil
	}); err != nil {
		panic(err)
	}
	if err := registry.RegisterAnalyzer(textAnalyzer, newTextAnalyzer); err != nil {
		panic(err)
	}
	cache := registry.NewCache()
	var err error
	if analyzers.grams, err = cache.AnalyzerNamed(trigramAnalyzer); err != nil {
		panic(err)
	}
	if analyzers.text, err = cache.AnalyzerNamed(textAnalyzer); err != nil {
		panic(err)
	}
}

func newTextAnalyzer(_ map[string]interface{}, cache *registry.Cache) (analysis.Analyzer, error) {
	tok, err := cache.TokenizerNamed(unicode.Name)
	if err != nil {
		return nil, err
	}
	a := &analysis.DefaultAnalyzer{Tokenizer: tok}
	// Bigrams before stemming, so the stemmer sees only whole words and
	// CJK runs are already split.
	for _, name := range []string{cjk.WidthName, lowercase.Name, cjk.BigramName, en.PossessiveName, en.StopName, en.SnowballStemmerName} {
		f, err := cache.TokenFilterNamed(name)
		if err != nil {
			return nil, err
		}
		a.TokenFilters = append(a.TokenFilters, f)
	}
	return a, nil
}

// trigrams is the n-gram analyzer. It is one pass with no filters: fold,
// slide a window of gramLen runes, keep each distinct gram once (the
// fields are indexed without frequencies or positions, only presence
// matters).
type trigrams struct{}

// Analyze implements analysis.Analyzer.
func (trigrams) Analyze(input []byte) analysis.TokenStream {
	grams := gramsOf(string(input), nil)
	if len(grams) == 0 {
		return nil
	}
	toks := make([]analysis.Token, len(grams))
	out := make(analysis.TokenStream, len(grams))
	buf := make([]byte, 0, len(grams)*gramLen*2)
	for i, g := range grams {
		start := len(buf)
		buf = appendGram(buf, g)
		toks[i] = analysis.Token{Term: buf[start:len(buf):len(buf)], Position: i + 1, Type: analysis.Shingle}
		out[i] = &toks[i]
	}
	return out
}

// gram packs three folded runes (21 bits each) into one key.
type gram uint64

// gramsOf returns the distinct grams of Fold(s) in first-seen order,
// appended to dst.
func gramsOf(s string, dst []gram) []gram {
	var w [gramLen]rune
	n := 0
	seen := make(map[gram]struct{}, len(s)/2)
	for _, r := range s {
		w[0], w[1], w[2] = w[1], w[2], foldRune(r)
		if n++; n < gramLen {
			continue
		}
		g := gram(w[0])<<42 | gram(w[1])<<21 | gram(w[2])
		if _, ok := seen[g]; ok {
			continue
		}
		seen[g] = struct{}{}
		dst = append(dst, g)
	}
	return dst
}

func appendGram(b []byte, g gram) []byte {
	b = utf8.AppendRune(b, rune(g>>42&0x1fffff))
	b = utf8.AppendRune(b, rune(g>>21&0x1fffff))
	return utf8.AppendRune(b, rune(g&0x1fffff))
}
