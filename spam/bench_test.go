package spam

import (
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// benchCorpus loads every 5th corpus message and a database trained on
// the rest.
func benchCorpus(b *testing.B) (msgs [][]byte, db *DB) {
	ham, spam := corpus(b)
	db = NewMemDB()
	for i, f := range append(ham, spam...) {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		if i%5 == 0 {
			msgs = append(msgs, raw)
			continue
		}
		if err := db.Train(Tokenize(raw), i >= len(ham)); err != nil {
			b.Fatal(err)
		}
	}
	return msgs, db
}

// BenchmarkClassify measures whole-message classification (tokenize and
// score) against a bbolt database trained on 80 % of the corpus, in
// parallel on GOMAXPROCS goroutines.
func BenchmarkClassify(b *testing.B) {
	msgs, mem := benchCorpus(b)
	db, err := OpenDB(filepath.Join(b.TempDir(), "global.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	// Copy the in-memory statistics into bbolt in one transaction:
	// faster than replaying every message with an fsync each.
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		if err := writeMeta(tx.Bucket(bucketMeta), mem.nspam, mem.nham); err != nil {
			return err
		}
		tb := tx.Bucket(bucketTokens)
		for tok, c := range mem.toks {
			if err := tb.Put([]byte(tok), c.encode()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	c := NewClassifier(Options{}, db)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := c.Classify(msgs[i%len(msgs)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkTrain measures training one message into a bbolt database
// (tokenizing included; each Train is one fsynced transaction).
func BenchmarkTrain(b *testing.B) {
	msgs, _ := benchCorpus(b)
	db, err := OpenDB(filepath.Join(b.TempDir(), "global.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := db.Train(Tokenize(msgs[i%len(msgs)]), i%2 == 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
