package route

import (
	"bufio"
	"bytes"
	"io"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// The shared corpus's ham is mail of seven busy mailing lists: a real
// multi-class problem with the shape of a support desk's groups (topics
// that overlap, uneven sizes). The list markers a real ticket would not
// carry are removed first: List-Id and other headers are not read, the
// "[list]" subject tags and the footers mailman appends are cut.
var corpusGroups = map[string]string{
	"fork.xent.com":                             "fork",
	"rpm-zzzlist.freshrpms.net":                 "rpm",
	"spamassassin-talk.example.sourceforge.net": "sa-talk",
	"ilug.linux.ie":                             "ilug",
	"exmh-users.spamassassin.taint.org":         "exmh-users",
	"razor-users.example.sourceforge.net":       "razor",
	"exmh-workers.spamassassin.taint.org":       "exmh-workers",
}

var (
	listID     = regexp.MustCompile(`<([^>]+)>`)
	subjectTag = regexp.MustCompile(`\[[^\]]*\]\s*`)
)

type corpusMail struct {
	group, subject, body string
}

func loadCorpus(t *testing.T) []corpusMail {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "shared", "data", "spam", "ham")
	names, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil || len(names) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatalf("corpus missing at %s", dir)
		}
		t.Skip("corpus not found")
	}
	sort.Strings(names)
	var out []corpusMail
	for _, n := range names {
		raw, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.IndexByte(raw, '\n'); bytes.HasPrefix(raw, []byte("From ")) && i >= 0 {
			raw = raw[i+1:]
		}
		m, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			continue
		}
		id := listID.FindStringSubmatch(m.Header.Get("List-Id"))
		if id == nil || corpusGroups[id[1]] == "" {
			continue
		}
		if ct := m.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "text/plain") {
			continue
		}
		out = append(out, corpusMail{
			group:   corpusGroups[id[1]],
			subject: subjectTag.ReplaceAllString(m.Header.Get("Subject"), ""),
			body:    withoutFooter(m.Body),
		})
	}
	return out
}

// withoutFooter reads a body up to the mailing list's footer.
func withoutFooter(r io.Reader) string {
	var b strings.Builder
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "_______________") {
			break
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// TestCorpusRouting trains on four fifths of the lists' mail and routes
// the rest, as a desk would route new tickets after solving the old.
func TestCorpusRouting(t *testing.T) {
	mails := loadCorpus(t)
	c, _ := openClassifier(t)
	var test []corpusMail
	for i, m := range mails {
		if i%5 == 4 {
			test = append(test, m)
			continue
		}
		if err := c.TrainTicket(uint64(i+1), m.subject+"\n"+m.body, m.group); err != nil {
			t.Fatal(err)
		}
	}
	r := &Router{Classifier: c, MinConfidence: 0.6, Triage: "triage"}
	var right, routed, routedRight int
	perGroup := map[string][2]int{}
	for _, m := range test {
		g, _, err := c.Classify(m.subject, m.body)
		if err != nil {
			t.Fatal(err)
		}
		pg := perGroup[m.group]
		pg[1]++
		if g == m.group {
			right++
			pg[0]++
		}
		perGroup[m.group] = pg
		if got := r.Route("help@example.com", m.subject, m.body); got.Source == "classifier" {
			routed++
			if got.Group == m.group {
				routedRight++
			}
		}
	}
	acc := float64(right) / float64(len(test))
	routedAcc := float64(routedRight) / float64(max(routed, 1))
	t.Logf("%d mails of %d groups: top guess right %.1f%%; %.1f%% routed at confidence ≥ 0.6, %.1f%% of those right; %.1f%% to triage",
		len(test), len(corpusGroups), 100*acc, 100*float64(routed)/float64(len(test)), 100*routedAcc, 100*float64(len(test)-routed)/float64(len(test)))
	for g, pg := range perGroup {
		t.Logf("  %-12s %3d/%3d right", g, pg[0], pg[1])
	}
	if len(test) < 200 {
		t.Fatalf("only %d test mails; the corpus did not load as expected", len(test))
	}
	// Seven overlapping groups guessed at random would be right about one in seven.
	if acc < 0.75 {
		t.Errorf("top guess right for %.1f%% of tickets, want at least 75%%", 100*acc)
	}
	if routedAcc < 0.85 {
		t.Errorf("tickets routed without triage are right %.1f%% of the time, want at least 85%%", 100*routedAcc)
	}
}
