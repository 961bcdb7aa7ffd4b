package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"frontdesk/durable"
	"frontdesk/store"
)

// A backup is a directory laid out as the data directory, with
// manifestName beside the parts. It is written into DIR.tmp and renamed to
// DIR at the end, so a failed backup leaves nothing that looks complete.
// The search index is not in it: it is derived data, rebuilt on start.
//
// Consistency: every bbolt file is copied in a read transaction of the
// handle its owner holds open (bbolt allows one process per file), and the
// owners copy the files their records name so that every message the
// copied metadata refers to is in the backup (store.Store.Backup,
// queue.Queue.Backup). The parts are copied one after another, each
// consistent in itself: a message delivered during the backup may be in
// the queue's copy and not yet in the store's, never half in either.

// manifestName is the file that marks a directory as a complete backup.
const manifestName = "frontdesk-backup.json"

// backupFormat is the version of the layout; restore refuses others.
const backupFormat = 1

type backupManifest struct {
	Format   int       `json:"format"`
	Created  time.Time `json:"created"`
	Hostname string    `json:"hostname"`
	Data     string    `json:"data"` // the data directory it was taken of
	// DataFormat is the data directory's format (store.FormatVersion of
	// the Frontdesk that took it); restore refuses a newer one.
	DataFormat int   `json:"data_format"`
	Files      int   `json:"files"`
	Bytes      int64 `json:"bytes"`
}

// dataEntries are the entries of a data directory that a backup knows.
var dataEntries = map[string]string{
	"frontdesk.db":      "copied",
	"accounts":          "copied",
	"msg":               "copied",
	"queue":             "copied",
	"spam":              "copied",
	"telephony.db":      "copied",
	"tickets":           "copied (its index is derived: rebuilt on start)",
	"recordings":        "copied",
	"keys":              "copied",
	"tls":               "copied",
	"prompts":           "copied",
	"index":             "derived: rebuilt from the store on start",
	socketName:          "the running server's control socket",
	".restore-stage":    "left by an interrupted restore",
	".restore-replaced": "left by an interrupted restore --force",
}

// backupCommand is `frontdesk backup DIR [--data DATA]`, run by the
// server when one runs on DATA, else here.
func backupCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	dataDir, args, err := takeDataFlag(args)
	if err != nil {
		return exitCode(err, stderr)
	}
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		fmt.Fprintln(stdout, "usage: frontdesk backup DIR [--data DATA]   # DIR must be empty or not exist")
		return 0
	}
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		return exitCode(fmt.Errorf("%w: backup DIR [--data DATA]", errUsage), stderr)
	}
	dir, err := filepath.Abs(args[0])
	if err != nil {
		return exitCode(err, stderr)
	}
	return runAdmin(ctx, []string{"backup", "into", dir, "--data", dataDir}, stdin, stdout, stderr)
}

// backupInto writes a backup of the data directory to args[0], an
// absolute path that must be empty or not exist.
func backupInto(ctx context.Context, e *adminEnv, args []string) error {
	if len(args) != 1 || !filepath.IsAbs(args[0]) {
		return fmt.Errorf("%w: backup DIR [--data DATA]", errUsage)
	}
	start := time.Now()
	dir := filepath.Clean(args[0])
	data, err := filepath.Abs(e.store.Dir())
	if err != nil {
		return err
	}
	if within(dir, data) || within(data, dir) {
		return fmt.Errorf("backup: %s and the data directory %s must not contain each other", dir, data)
	}
	if err := emptyOrMissing(dir); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	tmp := dir + ".tmp"
	if _, err := os.Lstat(tmp); err == nil {
		return fmt.Errorf("backup: %s exists (left by an interrupted backup?): remove it first", tmp)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()

	var notes []string
	steps := []struct {
		name string
		run  func() error
	}{
		{"store", func() error { return e.store.BackupContext(ctx, tmp) }},
		{"queue", func() error {
			q, err := e.svc.Queue(e)
			if err != nil {
				return err
			}
			return q.Backup(filepath.Join(tmp, "queue"))
		}},
		{"spam filter", func() error {
			f, err := e.svc.Spam()
			if err != nil {
				return err
			}
			return f.Backup(filepath.Join(tmp, "spam"))
		}},
		{"hotline", func() error {
			// A data directory the hotline never used has no telephony.db;
			// opening the hotline would make one and a recordings key.
			if _, err := os.Stat(filepath.Join(data, "telephony.db")); err != nil {
				c := &treeCopier{}
				for _, p := range []string{"recordings", "prompts"} {
					if err := c.tree(filepath.Join(data, p), filepath.Join(tmp, p), nil); err != nil {
						return err
					}
				}
				return c.sync()
			}
			t, err := e.svc.Telephony(e)
			if err != nil {
				return err
			}
			return t.Backup(tmp)
		}},
		{"ticket desk", func() error {
			if _, err := os.Stat(deskPath(data)); err != nil {
				return nil // a data directory the desk never opened
			}
			d, err := e.svc.Desk(e)
			if err != nil {
				return err
			}
			return d.Backup(filepath.Join(tmp, "tickets"))
		}},
		{"DKIM keys", func() error {
			return backupDKIM(filepath.Join(data, "keys", "dkim"), filepath.Join(tmp, "keys", "dkim"))
		}},
		{"keys and certificates", func() error {
			c := &treeCopier{}
			// The hotline put its key in place already; DKIM keys are done.
			skip := func(rel string, d fs.DirEntry) bool {
				if rel == "dkim" {
					return true
				}
				_, err := os.Lstat(filepath.Join(tmp, "keys", rel))
				return err == nil && !d.IsDir()
			}
			if err := c.tree(filepath.Join(data, "keys"), filepath.Join(tmp, "keys"), skip); err != nil {
				return err
			}
			if err := c.tree(filepath.Join(data, "tls"), filepath.Join(tmp, "tls"), nil); err != nil {
				return err
			}
			return c.sync()
		}},
	}
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		if err := s.run(); err != nil {
			return fmt.Errorf("backup of the %s: %w", s.name, err)
		}
	}
	entries, err := os.ReadDir(data)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	for _, de := range entries {
		if _, known := dataEntries[de.Name()]; !known {
			notes = append(notes, fmt.Sprintf("not backed up: %s (unknown to this version)", de.Name()))
		}
	}

	sum, err := summarize(tmp)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	host, _ := os.Hostname()
	dataFormat, err := e.store.Format()
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	m := backupManifest{Format: backupFormat, Created: start.UTC(), Hostname: host, Data: data, DataFormat: dataFormat, Files: sum.files, Bytes: sum.bytes}
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := durable.CreateBytes(filepath.Join(tmp, manifestName), 0o600, append(mb, '\n')); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := durable.SyncDir(tmp); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("backup: %w (DIR must be on the same file system as its parent: give a new directory inside a mount point, not the mount point)", err)
	}
	done = true
	if err := durable.SyncDir(filepath.Dir(dir)); err != nil {
		return fmt.Errorf("backup: %w", err)
	}

	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PART\tFILES\tSIZE")
	for _, p := range sum.parts {
		fmt.Fprintf(tw, "%s\t%d\t%s\n", p.name, p.files, humanBytes(p.bytes))
	}
	fmt.Fprintf(tw, "total\t%d\t%s\n", sum.files, humanBytes(sum.bytes))
	tw.Flush()
	if sameDevice(data, dir) {
		fmt.Fprintln(e.stdout, "message files and recordings are hard links into the data directory (same file system; they are never modified)")
	}
	fmt.Fprintln(e.stdout, "not backed up: index/ (rebuilt from the store on start)")
	for _, n := range notes {
		fmt.Fprintln(e.stdout, n)
	}
	fmt.Fprintf(e.stdout, "backup of %s written to %s in %s\n", data, dir, time.Since(start).Round(time.Millisecond))
	return nil
}

// backupDKIM copies each domain's keyring.json with the keys it names.
// The keyring writes keys before the manifest naming them and removes a
// key only after a new manifest no longer names it, so keys read between
// two identical readings of the manifest are all the manifest needs.
func backupDKIM(src, dst string) error {
	domains, err := os.ReadDir(src)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	c := &treeCopier{}
	for _, d := range domains {
		if !d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			continue
		}
		ddir := filepath.Join(src, d.Name())
		var manifest []byte
		var keys map[string][]byte
		for attempt := 1; ; attempt++ {
			before, err := os.ReadFile(filepath.Join(ddir, "keyring.json"))
			if errors.Is(err, fs.ErrNotExist) {
				break // no keys (a Generate that crashed half-way)
			}
			if err != nil {
				return err
			}
			keys = map[string][]byte{}
			files, err := os.ReadDir(ddir)
			if err != nil {
				return err
			}
			for _, f := range files {
				if !strings.HasSuffix(f.Name(), ".pem") || strings.HasPrefix(f.Name(), ".") {
					continue
				}
				b, err := os.ReadFile(filepath.Join(ddir, f.Name()))
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				if err != nil {
					return err
				}
				keys[f.Name()] = b
			}
			after, err := os.ReadFile(filepath.Join(ddir, "keyring.json"))
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			if bytes.Equal(before, after) {
				manifest = before
				break
			}
			if attempt == 5 {
				return fmt.Errorf("keys of %s keep changing; try again", d.Name())
			}
		}
		if manifest == nil {
			continue
		}
		out := filepath.Join(dst, d.Name())
		if err := c.mkdir(out); err != nil {
			return err
		}
		for name, b := range keys {
			if err := durable.CreateBytes(filepath.Join(out, name), 0o600, b); err != nil {
				return err
			}
		}
		if err := durable.CreateBytes(filepath.Join(out, "keyring.json"), 0o600, manifest); err != nil {
			return err
		}
	}
	return c.sync()
}

// restore is `frontdesk restore DIR --data DATA [--force]`. It runs only
// here, never in a server: a server must not run on DATA.
func restore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	e := &adminEnv{stdout: stdout, stderr: stderr}
	flags := newFlags("restore", e)
	dataFlag := flags.String("data", "data", "data directory to restore into")
	force := flags.Bool("force", false, "replace what the data directory holds")
	pos, err := parse(flags, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: restore DIR --data DATA [--force]", errUsage)
	}
	start := time.Now()
	src, err := filepath.Abs(pos[0])
	if err != nil {
		return err
	}
	data, err := filepath.Abs(*dataFlag)
	if err != nil {
		return err
	}
	m, err := readManifest(src)
	if err != nil {
		return err
	}
	if within(src, data) || within(data, src) {
		return fmt.Errorf("restore: %s and the data directory %s must not contain each other", src, data)
	}
	if serverRunning(data) {
		return fmt.Errorf("restore: a server is running on %s: stop it first", data)
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	old, err := os.ReadDir(data)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	old = slices.DeleteFunc(old, func(d os.DirEntry) bool { return d.Name() == ".restore-stage" })
	if len(old) > 0 && !*force {
		return fmt.Errorf("restore: %s is not empty (%d entries): --force replaces what it holds", data, len(old))
	}

	// Staged inside DATA, so the final moves are renames even when DATA is
	// a mount point; frontdesk.db goes in last, so an interrupted restore
	// leaves no store that looks whole.
	stage := filepath.Join(data, ".restore-stage")
	if err := os.RemoveAll(stage); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer os.RemoveAll(stage)
	c := &treeCopier{}
	skip := func(rel string, _ fs.DirEntry) bool { return rel == manifestName || strings.HasSuffix(rel, ".tmp") }
	if err := c.tree(src, stage, skip); err != nil {
		return fmt.Errorf("restore: copying %s: %w", src, err)
	}
	if err := c.sync(); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if len(old) > 0 {
		trash := filepath.Join(data, ".restore-replaced")
		if err := os.RemoveAll(trash); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		if err := os.Mkdir(trash, 0o700); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		sortStoreFirst(old)
		for _, d := range old {
			if err := os.Rename(filepath.Join(data, d.Name()), filepath.Join(trash, d.Name())); err != nil {
				return fmt.Errorf("restore: moving the old %s aside: %w", d.Name(), err)
			}
		}
		defer os.RemoveAll(trash)
	}
	staged, err := os.ReadDir(stage)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	sortStoreFirst(staged)
	slices.Reverse(staged)
	for _, d := range staged {
		if err := os.Rename(filepath.Join(stage, d.Name()), filepath.Join(data, d.Name())); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
	}
	if err := durable.SyncDir(data); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	sum, err := summarize(data)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	fmt.Fprintf(stdout, "restored the backup of %s taken on %s at %s into %s: %d files, %s, in %s\n",
		m.Data, m.Hostname, m.Created.Local().Format(time.DateTime), data, sum.files, humanBytes(sum.bytes),
		time.Since(start).Round(time.Millisecond))
	if len(old) > 0 {
		fmt.Fprintf(stdout, "what %s held before is gone (--force)\n", data)
	}
	fmt.Fprintf(stdout, "start the server: frontdesk serve --data %s  (the search index rebuilds itself on start)\n", data)
	return nil
}

// sortStoreFirst puts frontdesk.db first.
func sortStoreFirst(ds []os.DirEntry) {
	slices.SortStableFunc(ds, func(a, b os.DirEntry) int {
		switch {
		case a.Name() == b.Name():
			return 0
		case a.Name() == "frontdesk.db":
			return -1
		case b.Name() == "frontdesk.db":
			return 1
		}
		return strings.Compare(a.Name(), b.Name())
	})
}

func readManifest(dir string) (*backupManifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("restore: %s is not a Frontdesk backup (no %s; an interrupted backup has none)", dir, manifestName)
	}
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	var m backupManifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("restore: %s: %w", manifestName, err)
	}
	if m.Format != backupFormat {
		return nil, fmt.Errorf("restore: %s is backup format %d; this version reads format %d", dir, m.Format, backupFormat)
	}
	if _, err := os.Stat(filepath.Join(dir, "frontdesk.db")); err != nil {
		return nil, fmt.Errorf("restore: %s has a manifest but no frontdesk.db", dir)
	}
	// An older format is migrated when the restored directory is opened;
	// a newer one would be refused only then, after the copy.
	if _, err := store.CheckFormat(dir); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	return &m, nil
}

// serverRunning reports whether a server answers on data's control socket.
func serverRunning(data string) bool {
	conn, err := net.DialTimeout("unix", filepath.Join(data, socketName), 2*time.Second)
	if err == nil {
		conn.Close()
		return true
	}
	// A server that lost its socket still holds the store's lock.
	path := filepath.Join(data, "frontdesk.db")
	if _, err := os.Stat(path); err != nil {
		return false
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return errors.Is(err, bolterrors.ErrTimeout)
	}
	db.Close()
	return false
}

// emptyOrMissing checks that dir does not exist or is an empty directory.
func emptyOrMissing(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s exists and is not a directory", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("%s is not empty: give a new or empty directory", dir)
	}
	return nil
}

// within reports whether path is dir or below it (both absolute, clean).
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func sameDevice(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	if err1 != nil || err2 != nil {
		return false
	}
	sa, ok1 := fa.Sys().(*syscall.Stat_t)
	sb, ok2 := fb.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && sa.Dev == sb.Dev
}

// treeCopier copies files (0600, fsynced) into directories (0700); files
// that share an inode in the source share one in the copy.
type treeCopier struct {
	copies map[[2]uint64]string
	dirs   map[string]bool
}

func (c *treeCopier) mkdir(dir string) error {
	if c.dirs[dir] {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if c.dirs == nil {
		c.dirs = map[string]bool{}
	}
	c.dirs[dir] = true
	return nil
}

// tree copies what is under src to the same places under dst, leaving
// out what skip says (by path relative to src). A missing src is no error,
// nor is a file that goes away while being copied.
func (c *treeCopier) tree(src, dst string, skip func(rel string, d fs.DirEntry) bool) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
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
		if rel != "." && skip != nil && skip(rel, d) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return c.mkdir(to)
		}
		// Files still being written (durable.WriteFile's temporaries) are
		// not part of any state.
		if !d.Type().IsRegular() || strings.HasPrefix(d.Name(), ".tmp-") {
			return nil
		}
		if err := c.mkdir(filepath.Dir(to)); err != nil {
			return err
		}
		if err := c.file(path, to); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	})
}

func (c *treeCopier) file(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	key := [2]uint64{}
	if ok {
		key = [2]uint64{uint64(st.Dev), uint64(st.Ino)}
		if prev, seen := c.copies[key]; seen && os.Link(prev, dst) == nil {
			return nil
		}
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if ok {
		if c.copies == nil {
			c.copies = map[[2]uint64]string{}
		}
		c.copies[key] = dst
	}
	return nil
}

// sync makes every directory made durable.
func (c *treeCopier) sync() error {
	for d := range c.dirs {
		if err := durable.SyncDir(d); err != nil {
			return err
		}
	}
	return nil
}

type partSum struct {
	name  string
	files int
	bytes int64
}

type treeSum struct {
	parts []partSum
	files int
	bytes int64
}

// summarize counts the files under dir by top-level entry; a file with
// several names counts once.
func summarize(dir string) (treeSum, error) {
	var sum treeSum
	seen := map[[2]uint64]bool{}
	idx := map[string]int{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		top := strings.SplitN(filepath.ToSlash(rel), "/", 2)[0]
		if top == manifestName {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			k := [2]uint64{uint64(st.Dev), uint64(st.Ino)}
			if seen[k] {
				return nil
			}
			seen[k] = true
		}
		i, ok := idx[top]
		if !ok {
			i = len(sum.parts)
			idx[top] = i
			sum.parts = append(sum.parts, partSum{name: top})
		}
		sum.parts[i].files++
		sum.parts[i].bytes += fi.Size()
		sum.files++
		sum.bytes += fi.Size()
		return nil
	})
	return sum, err
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
