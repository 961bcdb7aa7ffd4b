package route

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"frontdesk/spam"
)

// Buckets of the classifier's database.
var (
	bucketGroups  = []byte("groups")  // group → lessons (uint64)
	bucketTokens  = []byte("tokens")  // token NUL group → lessons holding it (uint64)
	bucketLessons = []byte("lessons") // ticket number → lesson (JSON)
	bucketSums    = []byte("sums")    // group → tokens over all its lessons (uint64); pairsKey → distinct token-group pairs
)

// lesson is what one ticket taught, kept so that a ticket solved again
// (in another group, or with other text) first takes back what it taught.
type lesson struct {
	Group  string   `json:"group"`
	Tokens []string `json:"tokens"`
}

const (
	// minLessons is how many solved tickets the classifier needs, over at
	// least two groups, before it guesses at all.
	minLessons = 10
)

// Classifier is a multi-class naive-Bayes text classifier over ticket
// subjects and first mails, kept in bbolt. It implements tickets.Learner.
// It is safe for concurrent use.
type Classifier struct {
	db *bolt.DB
}

// OpenClassifier opens or creates the classifier database at path.
func OpenClassifier(path string) (*Classifier, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("route: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketGroups, bucketTokens, bucketLessons, bucketSums} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("route: %s: %w", path, err)
	}
	return &Classifier{db: db}, nil
}

// Close closes the database.
func (c *Classifier) Close() error { return c.db.Close() }

// TrainTicket teaches that ticket number, whose text is its subject, a
// newline and its first mail, belongs to group. Training the same ticket
// again replaces its earlier lesson, so moving a solved ticket between
// groups does not count it twice.
func (c *Classifier) TrainTicket(number uint64, text, group string) error {
	if group == "" || strings.ContainsRune(group, 0) {
		return errors.New("route: bad group name")
	}
	subject, body, _ := strings.Cut(text, "\n")
	toks := spam.TokenizeText(subject, body)
	key := binary.BigEndian.AppendUint64(nil, number)
	return c.db.Update(func(tx *bolt.Tx) error {
		lessons := tx.Bucket(bucketLessons)
		if old := lessons.Get(key); old != nil {
			var l lesson
			if err := json.Unmarshal(old, &l); err != nil {
				return fmt.Errorf("route: lesson of ticket %d: %w", number, err)
			}
			if err := count(tx, l.Group, l.Tokens, -1); err != nil {
				return err
			}
		}
		if err := count(tx, group, toks, +1); err != nil {
			return err
		}
		b, err := json.Marshal(lesson{Group: group, Tokens: toks})
		if err != nil {
			return err
		}
		return lessons.Put(key, b)
	})
}

// count adds delta to group's lessons and to each token's count in it,
// deleting what falls to zero.
func count(tx *bolt.Tx, group string, toks []string, delta int) error {
	groups, tokens, sums := tx.Bucket(bucketGroups), tx.Bucket(bucketTokens), tx.Bucket(bucketSums)
	if _, err := bump(groups, []byte(group), delta); err != nil {
		return err
	}
	if _, err := bump(sums, []byte(group), delta*len(toks)); err != nil {
		return err
	}
	pairs := 0
	for _, t := range toks {
		change, err := bump(tokens, tokenKey(t, group), delta)
		if err != nil {
			return err
		}
		pairs += change
	}
	if pairs != 0 {
		_, err := bump(sums, pairsKey, pairs)
		return err
	}
	return nil
}

func tokenKey(tok, group string) []byte {
	return append(append([]byte(tok), 0), group...)
}

// bump adds delta to the counter at key, deleting it at zero. It returns
// +1 when the key was created and -1 when it was deleted.
func bump(b *bolt.Bucket, key []byte, delta int) (int, error) {
	if delta == 0 {
		return 0, nil
	}
	var n uint64
	v := b.Get(key)
	if len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	switch {
	case delta < 0 && n <= uint64(-delta):
		if v == nil {
			return 0, nil
		}
		return -1, b.Delete(key)
	case delta < 0:
		n -= uint64(-delta)
	default:
		n += uint64(delta)
	}
	created := 0
	if v == nil {
		created = 1
	}
	return created, b.Put(key, binary.BigEndian.AppendUint64(nil, n))
}

func getCount(b *bolt.Bucket, key []byte) float64 {
	if v := b.Get(key); len(v) == 8 {
		return float64(binary.BigEndian.Uint64(v))
	}
	return 0
}

// Groups returns how many lessons each group has had.
func (c *Classifier) Groups() (map[string]uint64, error) {
	out := map[string]uint64{}
	err := c.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketGroups).ForEach(func(k, v []byte) error {
			out[string(k)] = binary.BigEndian.Uint64(v)
			return nil
		})
	})
	return out, err
}

// Classify guesses the group of a new ticket and the posterior
// probability of that guess. It returns "" until it has had minLessons
// lessons over at least two groups.
func (c *Classifier) Classify(subject, body string) (group string, confidence float64, err error) {
	toks := spam.TokenizeText(subject, body)
	err = c.db.View(func(tx *bolt.Tx) error {
		group, confidence = classify(tx, toks)
		return nil
	})
	return group, confidence, err
}

func classify(tx *bolt.Tx, toks []string) (string, float64) {
	var names []string
	var docs []float64
	total := 0.0
	tx.Bucket(bucketGroups).ForEach(func(k, v []byte) error {
		names = append(names, string(k))
		n := float64(binary.BigEndian.Uint64(v))
		docs = append(docs, n)
		total += n
		return nil
	})
	if len(names) < 2 || total < minLessons {
		return "", 0
	}
	index := make(map[string]int, len(names))
	sums := tx.Bucket(bucketSums)
	vocab := max(getCount(sums, pairsKey), 1)
	denom := make([]float64, len(names))
	score := make([]float64, len(names))
	for i, n := range names {
		index[n] = i
		// Multinomial naive Bayes over each lesson's distinct tokens
		// (binarised), Laplace-smoothed over the vocabulary: P(token | g)
		// = (count in g + 1) / (tokens of g + vocabulary).
		denom[i] = math.Log(getCount(sums, []byte(n)) + vocab)
		score[i] = math.Log((docs[i] + 1) / (total + float64(len(names))))
	}
	cur := tx.Bucket(bucketTokens).Cursor()
	counts := make([]float64, len(names))
	clues := 0
	for _, t := range toks {
		prefix := append([]byte(t), 0)
		clear(counts)
		seen := false
		for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
			if i, ok := index[string(k[len(prefix):])]; ok {
				counts[i] = float64(binary.BigEndian.Uint64(v))
				seen = true
			}
		}
		if !seen {
			continue // never taught: it says nothing about any group
		}
		clues++
		for i := range names {
			score[i] += math.Log(counts[i]+1) - denom[i]
		}
	}
	// Naive Bayes counts every token as independent evidence, which makes
	// its posteriors far surer than its guesses are right. Dividing the
	// scores by the square root of the clues used keeps the ranking and
	// brings the confidence near the share of such guesses that are right.
	temper := math.Sqrt(float64(max(clues, 1)))
	best := 0
	for i := range score {
		score[i] /= temper
		if score[i] > score[best] || score[i] == score[best] && names[i] < names[best] {
			best = i
		}
	}
	sum := 0.0
	for i := range score {
		sum += math.Exp(score[i] - score[best])
	}
	return names[best], 1 / sum
}

// pairsKey counts the distinct token-group pairs, the vocabulary of the
// smoothing; a group name cannot hold NUL, so it cannot collide.
var pairsKey = []byte{0}
