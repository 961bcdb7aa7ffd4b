package spam

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// bucketLearned records which messages a user taught: id → 's' or 'h'. It
// makes training idempotent (a message moved into Junk twice counts once)
// and lets a correction undo the earlier lesson.
var bucketLearned = []byte("learned")

// Learn trains the message with the given id (e.g. a hash of its bytes)
// as spam or ham, once: learning the same label again does nothing, and
// learning the other label first undoes the earlier training.
func (db *DB) Learn(id string, tokens []string, spam bool) error {
	prev, ok, err := db.learned(id)
	if err != nil {
		return err
	}
	if ok && prev == spam {
		return nil
	}
	if ok {
		if err := db.Untrain(tokens, prev); err != nil {
			return err
		}
	}
	if err := db.Train(tokens, spam); err != nil {
		return err
	}
	return db.setLearned(id, spam, true)
}

// Forget undoes the training of a message learned under id, if any.
func (db *DB) Forget(id string, tokens []string) error {
	prev, ok, err := db.learned(id)
	if err != nil || !ok {
		return err
	}
	if err := db.Untrain(tokens, prev); err != nil {
		return err
	}
	return db.setLearned(id, false, false)
}

// Learned reports how the message with id was trained, if it was.
func (db *DB) Learned(id string) (spam, ok bool, err error) { return db.learned(id) }

func (db *DB) learned(id string) (spam, ok bool, err error) {
	if db.bolt == nil {
		db.mu.RLock()
		defer db.mu.RUnlock()
		v, ok := db.lessons[id]
		return v, ok, nil
	}
	err = db.bolt.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketLearned); b != nil {
			if v := b.Get([]byte(id)); v != nil {
				spam, ok = v[0] == 's', true
			}
		}
		return nil
	})
	return spam, ok, err
}

func (db *DB) setLearned(id string, spam, on bool) error {
	if db.bolt == nil {
		db.mu.Lock()
		defer db.mu.Unlock()
		if db.lessons == nil {
			db.lessons = map[string]bool{}
		}
		if on {
			db.lessons[id] = spam
		} else {
			delete(db.lessons, id)
		}
		return nil
	}
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketLearned)
		if err != nil {
			return err
		}
		if !on {
			return b.Delete([]byte(id))
		}
		v := []byte{'h'}
		if spam {
			v[0] = 's'
		}
		return b.Put([]byte(id), v)
	})
	if err != nil {
		return fmt.Errorf("spam: recording a lesson: %w", err)
	}
	return nil
}

// TrainMany trains many messages with one label in one transaction, for
// bulk training from a corpus (one fsync instead of one per message).
func (db *DB) TrainMany(messages [][]string, spam bool) error {
	if db.bolt == nil {
		for _, toks := range messages {
			if err := db.Train(toks, spam); err != nil {
				return err
			}
		}
		return nil
	}
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		meta, tb := tx.Bucket(bucketMeta), tx.Bucket(bucketTokens)
		nspam, nham := readMeta(meta)
		agg := map[string]int{}
		for _, toks := range messages {
			if spam {
				nspam++
			} else {
				nham++
			}
			for _, tok := range dedup(toks) {
				if tok != "" && len(tok) <= bolt.MaxKeySize {
					agg[tok]++
				}
			}
		}
		if err := writeMeta(meta, nspam, nham); err != nil {
			return err
		}
		for tok, n := range agg {
			k := []byte(tok)
			if err := tb.Put(k, decodeCounts(tb.Get(k)).add(spam, n).encode()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("spam: training: %w", err)
	}
	return nil
}
