package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Delivery names one account mailbox a message goes to.
type Delivery struct {
	Account uint64
	Mailbox string
	Flags   []string
}

// Delivered says where a message landed.
type Delivered struct {
	Account     uint64
	Mailbox     uint64
	UIDValidity uint32
	UID         uint32
}

type delivery struct {
	mailbox string
	file    string
	size    int64
	flags   []string
	date    time.Time
	summary string
	done    chan deliveryResult
}

type deliveryResult struct {
	Delivered
	err error
}

// maxBatch bounds one group commit, so a flood cannot delay the first
// writer's answer indefinitely.
const maxBatch = 512

// Deliver stores data durably in every destination and returns only once
// it is committed: the caller may then acknowledge it (DESIGN.md: 250 means
// stored). Concurrent deliveries to one account share one commit.
// On error, none of the destinations after the first failure hold it.
func (s *Store) Deliver(ctx context.Context, data []byte, date time.Time, to ...Delivery) ([]Delivered, error) {
	if date.IsZero() {
		date = time.Now()
	}
	type job struct {
		acct *account
		d    *delivery
	}
	jobs := make([]job, 0, len(to))
	var first string // written once, hard-linked for other accounts
	summary := string(encodeSummary(nil, Summarize(data)))
	// On an early return the files written so far are referred to by
	// nothing yet.
	abandon := func(err error) ([]Delivered, error) {
		for _, j := range jobs {
			os.Remove(filepath.Join(j.acct.dir, j.d.file))
		}
		return nil, noSpace(err)
	}
	for _, t := range to {
		mailbox, err := NormalizeMailbox(t.Mailbox)
		if err != nil {
			return abandon(err)
		}
		a, err := s.account(t.Account)
		if err != nil {
			return abandon(err)
		}
		var file string
		if first == "" {
			file, err = a.writeFile(data)
			first = filepath.Join(a.dir, file)
		} else {
			file, err = a.linkFile(first)
		}
		if err != nil {
			return abandon(err)
		}
		d := &delivery{mailbox: mailbox, file: file, size: int64(len(data)), flags: normalizeFlags(t.Flags),
			date: date.UTC().Truncate(time.Second), summary: summary, done: make(chan deliveryResult, 1)}
		jobs = append(jobs, job{a, d})
	}
	for _, j := range jobs {
		select {
		case j.acct.deliveries <- j.d:
		case <-j.acct.stop:
			return nil, ErrClosed
		}
	}
	out := make([]Delivered, 0, len(jobs))
	var errs []error
	for _, j := range jobs {
		r := <-j.d.done
		if r.err != nil {
			j.acct.dropFile(r.Delivered, j.d.file)
			errs = append(errs, r.err)
			continue
		}
		out = append(out, r.Delivered)
	}
	return out, noSpace(errors.Join(errs...))
}

// writeFile writes and fsyncs a new message file, and returns its path
// relative to the account's message directory. The directory entry is
// made durable by the committer before metadata refers to it.
func (a *account) writeFile(data []byte) (string, error) {
	return a.newFile(func(path string) error {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, err = f.Write(data)
		if err == nil {
			fault("store.file")
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path)
			return fmt.Errorf("write message: %w", err)
		}
		return nil
	})
}

// linkFile gives an existing message file a second name in this account.
func (a *account) linkFile(src string) (string, error) {
	return a.newFile(func(path string) error { return os.Link(src, path) })
}

// newFile picks a fresh name and has create make the file there. create
// must fail with ErrExist when the name is taken (a clock step backwards)
// and with ErrNotExist when the shard directory is missing.
func (a *account) newFile(create func(path string) error) (string, error) {
	for {
		n := a.store.nextFile.Add(1)
		rel := filepath.Join(strconv.FormatUint((n>>16)&0xff, 16), strconv.FormatUint(n, 36))
		path := filepath.Join(a.dir, rel)
		err := create(path)
		switch {
		case err == nil:
			return rel, nil
		case errors.Is(err, os.ErrNotExist):
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				return "", err
			}
			syncDir(a.dir)
		case errors.Is(err, os.ErrExist):
		default:
			return "", fmt.Errorf("store: %w", err)
		}
	}
}

func syncDir(dir string) error {
	fault("store.dir")
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// commitLoop is the group commit: it takes every delivery waiting, makes
// their directory entries durable, and commits their metadata in one
// transaction (one fsync for the lot).
func (a *account) commitLoop() {
	defer close(a.stopped)
	for {
		var batch []*delivery
		select {
		case d := <-a.deliveries:
			batch = append(batch, d)
		case <-a.stop:
			for {
				select {
				case d := <-a.deliveries:
					d.done <- deliveryResult{err: ErrClosed}
				default:
					return
				}
			}
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case d := <-a.deliveries:
				batch = append(batch, d)
			default:
				break drain
			}
		}
		a.commit(batch)
	}
}

func (a *account) commit(batch []*delivery) {
	dirs := map[string]bool{}
	for _, d := range batch {
		dirs[filepath.Dir(filepath.Join(a.dir, d.file))] = true
	}
	for dir := range dirs {
		if err := syncDir(dir); err != nil {
			for _, d := range batch {
				d.done <- deliveryResult{err: fmt.Errorf("store: sync %s: %w", dir, err)}
			}
			return
		}
	}
	results := make([]deliveryResult, len(batch))
	err := a.update(func(tx *bolt.Tx) ([]Change, error) {
		var changes []Change
		for i, d := range batch {
			mb, err := findMailbox(tx, d.mailbox)
			if err != nil {
				results[i].err = err
				continue
			}
			m := &Message{UID: mb.UIDNext, Size: d.size, InternalDate: d.date, Flags: d.flags, File: d.file, summary: d.summary}
			mb.UIDNext++
			mb.HighestModSeq++
			m.ModSeq = mb.HighestModSeq
			if err := tx.Bucket(mbKey(mb.ID)).Put(u32(m.UID), encodeMessage(m)); err != nil {
				return nil, err
			}
			if err := indexPut(tx, mb.ID, m.UID, 0, m.ModSeq); err != nil {
				return nil, err
			}
			if err := putMailbox(tx, mb); err != nil {
				return nil, err
			}
			results[i].Delivered = Delivered{Account: a.id, Mailbox: mb.ID, UIDValidity: mb.UIDValidity, UID: m.UID}
			changes = append(changes, Change{Account: a.id, Mailbox: mb.ID, Kind: ChangeNew, UID: m.UID, Flags: m.Flags, ModSeq: m.ModSeq})
		}
		return changes, nil
	})
	for i, d := range batch {
		if err != nil {
			results[i].err = fmt.Errorf("store: commit: %w", err)
		}
		d.done <- results[i]
	}
}
