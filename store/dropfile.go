package store

import (
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// dropFile removes the message file of a delivery whose commit failed,
// unless its record is there all the same. bbolt writes the meta page
// before the fdatasync that ends a commit, so when that last sync fails
// Commit returns an error yet later transactions see the commit. The file
// then stays: the client, told to retry, may deliver the message twice,
// but no record ever points at a missing file. d names where the record
// would be (a zero UID: it never got that far).
func (a *account) dropFile(d Delivered, file string) {
	if d.UID != 0 && a.refersTo(d.Mailbox, d.UID, file) {
		return
	}
	os.Remove(filepath.Join(a.dir, file))
}

// refersTo reports whether message uid of mailbox is stored with file.
func (a *account) refersTo(mailbox uint64, uid uint32, file string) bool {
	found := false
	a.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(mbKey(mailbox))
		if b == nil {
			return nil
		}
		if v := b.Get(u32(uid)); v != nil {
			m, err := decodeMessage(v)
			found = err == nil && m.File == file
		}
		return nil
	})
	return found
}
