package route

import (
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// Backup writes a consistent copy of the classifier's database into dir,
// under the name it has, and fsyncs it. What it learned is not derived: it
// comes from tickets solved over time.
func (c *Classifier) Backup(dir string) error {
	path := filepath.Join(dir, filepath.Base(c.db.Path()))
	if err := c.db.View(func(tx *bolt.Tx) error { return tx.CopyFile(path, 0o600) }); err != nil {
		return err
	}
	for _, p := range []string{path, dir} {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
