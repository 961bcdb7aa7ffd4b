package spam

import (
	"path/filepath"
	"testing"
)

func TestFilterBackup(t *testing.T) {
	src := t.TempDir()
	f, err := OpenFilter(src, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := NewClassifier(DefaultOptions())
	spamMsg := []byte("Subject: cheap pills\r\n\r\nmiracle pills wholesale replica watches\r\n")
	hamMsg := []byte("Subject: minutes\r\n\r\nthe minutes of Tuesday's meeting are attached\r\n")
	if err := f.Global().Train(c.Tokens(spamMsg), true); err != nil {
		t.Fatal(err)
	}
	if err := f.Global().Train(c.Tokens(hamMsg), false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.LearnFiled(7, "", `\Junk`, spamMsg); err != nil {
		t.Fatal(err)
	}
	// An account database on disk that is not open yet is backed up too.
	other, err := OpenDB(filepath.Join(src, "9.db"))
	if err != nil {
		t.Fatal(err)
	}
	other.Train(c.Tokens(hamMsg), false)
	other.Close()

	dir := filepath.Join(t.TempDir(), "spam")
	if err := f.Backup(dir); err != nil {
		t.Fatal(err)
	}
	g, err := OpenFilter(dir, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	for _, id := range []uint64{7, 9} {
		a, _ := f.Account(id)
		b, err := g.Account(id)
		if err != nil {
			t.Fatal(err)
		}
		s1, h1, _ := a.Counts()
		s2, h2, _ := b.Counts()
		if s1 != s2 || h1 != h2 || s1+h1 == 0 {
			t.Errorf("account %d: copy counts %d/%d, original %d/%d", id, s2, h2, s1, h1)
		}
	}
	if spam, ok, _ := mustAccount(t, g, 7).Learned(MessageID(spamMsg)); !ok || !spam {
		t.Error("the copy forgot account 7's lesson")
	}
	for _, msg := range [][]byte{spamMsg, hamMsg} {
		want, _ := f.Classify(7, msg)
		got, err := g.Classify(7, msg)
		if err != nil || got.Score != want.Score {
			t.Errorf("copy scores %v (%v), original %v", got.Score, err, want.Score)
		}
	}
}

func mustAccount(t *testing.T, f *Filter, id uint64) *DB {
	t.Helper()
	db, err := f.Account(id)
	if err != nil {
		t.Fatal(err)
	}
	return db
}
