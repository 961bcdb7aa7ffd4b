package spam

import (
	"path/filepath"
	"testing"
)

func checkCounts(t *testing.T, db *DB, wantSpam, wantHam uint64, tok string, tokSpam, tokHam uint32) {
	t.Helper()
	ns, nh, err := db.Counts()
	if err != nil {
		t.Fatal(err)
	}
	if ns != wantSpam || nh != wantHam {
		t.Errorf("messages spam=%d ham=%d, want %d %d", ns, nh, wantSpam, wantHam)
	}
	s, h, err := db.TokenCounts(tok)
	if err != nil {
		t.Fatal(err)
	}
	if s != tokSpam || h != tokHam {
		t.Errorf("token %q spam=%d ham=%d, want %d %d", tok, s, h, tokSpam, tokHam)
	}
}

// testDB runs the same round trip against both backends.
func testDB(t *testing.T, db *DB) {
	if err := db.Train([]string{"cheap", "pills", "cheap"}, true); err != nil {
		t.Fatal(err)
	}
	if err := db.Train([]string{"cheap", "meeting"}, false); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, db, 1, 1, "cheap", 1, 1) // duplicates count once
	checkCounts(t, db, 1, 1, "pills", 1, 0)
	if err := db.Untrain([]string{"cheap", "pills"}, true); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, db, 0, 1, "cheap", 0, 1)
	checkCounts(t, db, 0, 1, "pills", 0, 0)
	// Untraining what was never trained saturates at zero.
	if err := db.Untrain([]string{"pills", "unknown"}, true); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, db, 0, 1, "unknown", 0, 0)
}

func TestMemDB(t *testing.T) { testDB(t, NewMemDB()) }

func TestBoltDBPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spam", "alice.db") // directory created by OpenDB
	db, err := OpenDB(path)
	if err != nil {
		t.Fatal(err)
	}
	testDB(t, db)
	if err := db.Train([]string{"lottery"}, true); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = OpenDB(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkCounts(t, db, 1, 1, "lottery", 1, 0)
	checkCounts(t, db, 1, 1, "cheap", 0, 1)
}
