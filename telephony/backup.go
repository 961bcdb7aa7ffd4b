package telephony

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	bolt "go.etcd.io/bbolt"

	"frontdesk/durable"
)

// Backup writes a copy of the hotline's data into dir, laid out as the
// data directory is: telephony.db, recordings/, keys/recordings.key and
// prompts/ (the overrides). dir may already hold other parts of a backup
// but none of these.
//
// telephony.db is copied in one read transaction of the open handle, then
// recordings: a recording is on disk before the call record naming it
// commits and is never removed, so every recording the copied records name
// is in the backup. Recordings are hard-linked when dir is on the same file
// system, else copied and fsynced; they stay sealed, so the backup needs
// keys/recordings.key to be played.
func (s *Server) Backup(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("telephony: backup: %w", err)
	}
	err := s.db.bolt.View(func(tx *bolt.Tx) error {
		f, err := os.OpenFile(filepath.Join(dir, "telephony.db"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, err = tx.WriteTo(f)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("telephony: backup: %w", err)
	}
	// Recordings never change once written and may be large: linked.
	// Prompt overrides and the key are small, and an admin may rewrite a
	// prompt in place: copied.
	linking, copying := true, false
	for _, part := range []struct {
		path    string
		linking *bool
	}{
		{"recordings", &linking},
		{"prompts", &copying},
		{filepath.Join("keys", "recordings.key"), &copying},
	} {
		if err := copyTree(filepath.Join(s.cfg.DataDir, part.path), filepath.Join(dir, part.path), part.linking); err != nil {
			return fmt.Errorf("telephony: backup of %s: %w", part.path, err)
		}
	}
	return durable.SyncDir(dir)
}

// copyTree puts the files under src (or the file src) at the same places
// under dst, skipping files being written (*.tmp), and makes them durable.
// A missing src is no error.
func copyTree(src, dst string, linking *bool) error {
	dirs := map[string]bool{}
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o700)
		case !d.Type().IsRegular() || strings.HasSuffix(d.Name(), ".tmp") || strings.HasPrefix(d.Name(), ".tmp-"):
			return nil
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
			return err
		}
		dirs[filepath.Dir(to)] = true
		if err := durable.LinkOrCopy(path, to, linking); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	})
	for d := range dirs {
		if err == nil {
			err = durable.SyncDir(d)
		}
	}
	return err
}
