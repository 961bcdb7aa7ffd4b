package durable

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestCreateAndWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a")
	if err := CreateBytes(p, 0o600, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := CreateBytes(p, 0o600, []byte("two")); !errors.Is(err, os.ErrExist) {
		t.Errorf("Create over an existing file: %v", err)
	}
	boom := errors.New("boom")
	q := filepath.Join(dir, "b")
	if err := Create(q, 0o600, func(w io.Writer) error { w.Write([]byte("half")); return boom }); !errors.Is(err, boom) {
		t.Errorf("Create with a failing fill: %v", err)
	}
	if _, err := os.Stat(q); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("half-written file left behind: %v", err)
	}
	if err := WriteFile(p, 0o600, []byte("replaced")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "replaced" {
		t.Errorf("WriteFile: %q", b)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".tmp-*")); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}
	if err := SyncDir(dir); err != nil {
		t.Error(err)
	}
}

func TestLinkOrCopy(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.WriteFile(src, []byte("message"), 0o600)
	for _, linking := range []bool{true, false} {
		l := linking
		dst := filepath.Join(dir, "dst"+map[bool]string{true: "-link", false: "-copy"}[linking])
		if err := LinkOrCopy(src, dst, &l); err != nil {
			t.Fatal(err)
		}
		a, _ := os.Stat(src)
		b, _ := os.Stat(dst)
		if os.SameFile(a, b) != linking {
			t.Errorf("linking=%v: same file = %v", linking, os.SameFile(a, b))
		}
		if got, _ := os.ReadFile(dst); string(got) != "message" {
			t.Errorf("content %q", got)
		}
	}
	l := true
	if err := LinkOrCopy(filepath.Join(dir, "gone"), filepath.Join(dir, "x"), &l); !errors.Is(err, os.ErrNotExist) || !l {
		t.Errorf("missing source: %v (linking %v)", err, l)
	}
}
