package tickets

import (
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// Backup writes a consistent copy of the desk's database to
// dir/tickets.db (one read transaction, so mail keeps landing meanwhile)
// and fsyncs it, with the routing lessons when the Learner can back
// itself up into dir (route.Classifier). The search index is left out: it
// rebuilds from the copy.
func (d *Desk) Backup(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	path := filepath.Join(dir, "tickets.db")
	err := d.db.View(func(tx *bolt.Tx) error { return tx.CopyFile(path, 0o600) })
	if err != nil {
		return err
	}
	if b, ok := d.cfg.Learner.(interface{ Backup(dir string) error }); ok {
		if err := b.Backup(dir); err != nil {
			return err
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return err
	}
	dirf, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer dirf.Close()
	return dirf.Sync()
}
