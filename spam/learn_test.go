package spam

import (
	"path/filepath"
	"testing"
)

func TestLearnIdempotentAndCorrectable(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) *DB{
		"mem": func(t *testing.T) *DB { return NewMemDB() },
		"bolt": func(t *testing.T) *DB {
			db, err := OpenDB(filepath.Join(t.TempDir(), "a.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
	} {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			toks := []string{"viagra", "cheap"}
			for i := 0; i < 2; i++ {
				if err := db.Learn("m1", toks, true); err != nil {
					t.Fatal(err)
				}
			}
			if s, h, _ := db.Counts(); s != 1 || h != 0 {
				t.Fatalf("after learning spam twice: %d spam %d ham, want 1 0", s, h)
			}
			if err := db.Learn("m1", toks, false); err != nil {
				t.Fatal(err)
			}
			if s, h, _ := db.Counts(); s != 0 || h != 1 {
				t.Fatalf("after the correction to ham: %d spam %d ham, want 0 1", s, h)
			}
			if sp, hm, _ := db.TokenCounts("viagra"); sp != 0 || hm != 1 {
				t.Errorf("token counts after correction: %d/%d", sp, hm)
			}
			if err := db.Forget("m1", toks); err != nil {
				t.Fatal(err)
			}
			if s, h, _ := db.Counts(); s != 0 || h != 0 {
				t.Errorf("after Forget: %d spam %d ham", s, h)
			}
			if _, ok, _ := db.Learned("m1"); ok {
				t.Error("lesson still recorded after Forget")
			}
		})
	}
}
