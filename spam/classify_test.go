package spam

import (
	"bytes"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

var (
	spamMsgs = []string{
		"From: \"Best Deals\" <deals@cheap-pills.example>\nSubject: CHEAP PILLS no prescription!!!\n\nBuy cheap pills online, no prescription needed. Click http://pills.example/buy now! Limited offer, guaranteed lowest price.\n",
		"From: winner@lottery.example\nSubject: You are a WINNER $1,000,000\n\nCongratulations! You have won the lottery. Send your bank details to claim the prize money. Guaranteed, risk-free.\n",
		"From: offers@mortgage.example\nSubject: Lowest mortgage rates guaranteed\n\nRefinance now and save. Lowest rates, click http://rates.example/apply. Limited offer, act now, risk-free.\n",
	}
	hamMsgs = []string{
		"From: Alice <alice@work.example>\nSubject: Re: project meeting tomorrow\nIn-Reply-To: <1@work.example>\n\nHi Bob, the meeting about the build system moves to 10am. Please bring the release notes and the test results.\n",
		"From: Bob <bob@work.example>\nSubject: build failure on the release branch\n\nThe nightly build failed in the parser tests. I pushed a fix to the branch; could you review the patch before the release?\n",
		"From: Carol <carol@work.example>\nSubject: Re: lunch and the code review\nIn-Reply-To: <2@work.example>\n\nSure, lunch at noon. After that let's finish the code review of the scheduler patch and update the release notes.\n",
	}
)

func trainAll(t *testing.T, db *DB) {
	t.Helper()
	for _, m := range spamMsgs {
		if err := db.Train(Tokenize([]byte(m)), true); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range hamMsgs {
		if err := db.Train(Tokenize([]byte(m)), false); err != nil {
			t.Fatal(err)
		}
	}
}

func TestClassifierLearns(t *testing.T) {
	db := NewMemDB()
	c := NewClassifier(Options{}, db)
	s, err := c.Classify([]byte("Subject: anything\n\nhello\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Score != 0.5 || s.Verdict != VerdictUnsure {
		t.Errorf("untrained: %+v, want unsure 0.5", s)
	}
	trainAll(t, db)
	spam, _ := c.Classify([]byte("From: promo@deals.example\nSubject: cheap pills, guaranteed lowest price!!!\n\nClick now, limited offer, no prescription, risk-free.\n"))
	ham, _ := c.Classify([]byte("From: Dave <dave@work.example>\nSubject: Re: release notes\nIn-Reply-To: <3@work.example>\n\nI updated the release notes after the meeting; the build and the tests pass on the branch.\n"))
	if spam.Verdict != VerdictSpam || ham.Verdict != VerdictHam {
		t.Errorf("spam-like %s %.4f, ham-like %s %.4f", spam.Verdict, spam.Score, ham.Verdict, ham.Score)
	}
	if len(spam.Clues) == 0 || spam.Clues[0].Prob < 0.5 {
		t.Errorf("spam clues %+v", spam.Clues)
	}
	for i := 1; i < len(spam.Clues); i++ {
		if math.Abs(spam.Clues[i].Prob-0.5) > math.Abs(spam.Clues[i-1].Prob-0.5) {
			t.Fatalf("clues not strongest first: %+v", spam.Clues)
		}
	}
}

// A message the account trains shifts the account's scores: near copies
// score higher after training and return to their old score on untraining.
func TestPerAccountDBShiftsScore(t *testing.T) {
	dir := t.TempDir()
	global, err := OpenDB(filepath.Join(dir, "global.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer global.Close()
	account, err := OpenDB(filepath.Join(dir, "alice.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer account.Close()
	trainAll(t, global)
	c := NewClassifier(Options{}, account, global)

	newsletter := "From: news@garden-club.example\nSubject: Garden club newsletter: tulip bulbs and compost\n\nThis month: tulip bulbs, compost heaps, the spring seed swap and pruning roses. Members meeting in the village hall.\n"
	nearCopy := strings.Replace(newsletter, "roses", "apple trees", 1)
	before, err := c.Classify([]byte(nearCopy))
	if err != nil {
		t.Fatal(err)
	}
	toks := c.Tokens([]byte(newsletter))
	if err := account.Train(toks, true); err != nil {
		t.Fatal(err)
	}
	after, _ := c.Classify([]byte(nearCopy))
	if after.Score <= before.Score+0.2 {
		t.Errorf("score after spam training %.4f, before %.4f: want a clear rise", after.Score, before.Score)
	}
	// The global database alone is unaffected.
	g, _ := NewClassifier(Options{}, global).Classify([]byte(nearCopy))
	if math.Abs(g.Score-before.Score) > 1e-9 {
		t.Errorf("global-only score moved: %.4f vs %.4f", g.Score, before.Score)
	}
	if err := account.Untrain(toks, true); err != nil {
		t.Fatal(err)
	}
	back, _ := c.Classify([]byte(nearCopy))
	if math.Abs(back.Score-before.Score) > 1e-9 {
		t.Errorf("after untrain %.4f, want %.4f", back.Score, before.Score)
	}
}

func TestChiCombine(t *testing.T) {
	mk := func(ps ...float64) []Clue {
		var cs []Clue
		for _, p := range ps {
			cs = append(cs, Clue{Prob: p})
		}
		return cs
	}
	for _, tc := range []struct {
		clues    []Clue
		lo, high float64
	}{
		{nil, 0.5, 0.5},
		{mk(0.99, 0.98, 0.95), 0.9, 1},
		{mk(0.01, 0.02, 0.05), 0, 0.1},
		{mk(0.99, 0.01), 0.45, 0.55}, // conflicting evidence is unsure
	} {
		if got := chiCombine(tc.clues); got < tc.lo || got > tc.high {
			t.Errorf("chiCombine(%v) = %v, want in [%v, %v]", tc.clues, got, tc.lo, tc.high)
		}
	}
	// Many strong clues must not underflow into nonsense.
	var many []float64
	for range 150 {
		many = append(many, 0.001)
	}
	if got := chiCombine(mk(many...)); got > 1e-6 || math.IsNaN(got) {
		t.Errorf("150 hammy clues: %v", got)
	}
	if q := chi2Q(2000, 300); q < 0 || q > 1e-100 || math.IsNaN(q) {
		t.Errorf("chi2Q(2000, 300) = %v", q)
	}
}

func TestAddHeaders(t *testing.T) {
	c := NewClassifier(Options{})
	msg := []byte("X-Spam-Status: No, score=0.0000\r\n\tforged\r\nFrom: a@b.example\r\nX-Spam-Score: 0.0\r\nSubject: s\r\n\r\nX-Spam-Status: body line stays\r\n")
	out := c.AddHeaders(msg, Score{Verdict: VerdictSpam, Score: 0.97314})
	want := "X-Spam-Score: 0.9731\r\nX-Spam-Status: Yes, score=0.9731\r\nFrom: a@b.example\r\nSubject: s\r\n\r\nX-Spam-Status: body line stays\r\n"
	if string(out) != want {
		t.Errorf("got\n%q\nwant\n%q", out, want)
	}
	for v, status := range map[Verdict]string{VerdictHam: "No", VerdictUnsure: "Unsure"} {
		out := c.AddHeaders([]byte("Subject: s\n\nbody\n"), Score{Verdict: v, Score: 0.5})
		want := fmt.Sprintf("X-Spam-Score: 0.5000\nX-Spam-Status: %s, score=0.5000\nSubject: s\n\nbody\n", status)
		if !bytes.Equal(out, []byte(want)) {
			t.Errorf("%s: got %q, want %q", v, out, want)
		}
	}
}
