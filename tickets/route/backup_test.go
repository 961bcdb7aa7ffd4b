package route

import (
	"path/filepath"
	"testing"
)

// A backup of the classifier routes as the original did.
func TestClassifierBackup(t *testing.T) {
	c, path := openClassifier(t)
	train(t, c)
	dir := t.TempDir()
	if err := c.Backup(dir); err != nil {
		t.Fatal(err)
	}
	backedUp, err := OpenClassifier(filepath.Join(dir, filepath.Base(path)))
	if err != nil {
		t.Fatal(err)
	}
	defer backedUp.Close()
	if g, _, _ := backedUp.Classify("Refund", "credit card payment invoice"); g != "billing" {
		t.Errorf("the backup routes a refund to %q, want billing", g)
	}
}
