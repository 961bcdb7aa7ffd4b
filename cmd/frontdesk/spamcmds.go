package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"frontdesk/spam"
)

// corpusFiles lists the regular files under dir, sorted.
func corpusFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && d.Name()[0] != '.' {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s holds no messages", dir)
	}
	sort.Strings(files)
	return files, nil
}

func hamSpamFlags(fs *flag.FlagSet) (ham, spam *string) {
	return fs.String("ham", "", "directory of ham messages, one per file"), fs.String("spam", "", "directory of spam messages, one per file")
}

// spamTrain trains the global database from two directories.
func spamTrain(ctx context.Context, e *adminEnv, args []string) error {
	fs := newFlags("spam train", e)
	hamDir, spamDir := hamSpamFlags(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *hamDir == "" && *spamDir == "" {
		return fmt.Errorf("%w: spam train --ham DIR --spam DIR", errUsage)
	}
	f, err := e.svc.Spam()
	if err != nil {
		return err
	}
	c := spam.NewClassifier(spam.DefaultOptions())
	for _, set := range []struct {
		dir  string
		spam bool
	}{{*hamDir, false}, {*spamDir, true}} {
		if set.dir == "" {
			continue
		}
		files, err := corpusFiles(set.dir)
		if err != nil {
			return err
		}
		batch := make([][]string, 0, len(files))
		for _, name := range files {
			msg, err := os.ReadFile(name)
			if err != nil {
				return err
			}
			batch = append(batch, c.Tokens(msg))
		}
		if err := f.Global().TrainMany(batch, set.spam); err != nil {
			return err
		}
		label := "ham"
		if set.spam {
			label = "spam"
		}
		fmt.Fprintf(e.stdout, "trained %d %s messages from %s\n", len(files), label, set.dir)
	}
	nspam, nham, err := f.Global().Counts()
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "global database: %d spam, %d ham\n", nspam, nham)
	return nil
}

// spamClassify prints the verdict word and the score of the message on
// standard input, scored with the global database.
func spamClassify(ctx context.Context, e *adminEnv, args []string) error {
	if len(args) != 0 {
		return fmt.Errorf("%w: spam classify < message", errUsage)
	}
	f, err := e.svc.Spam()
	if err != nil {
		return err
	}
	msg, err := io.ReadAll(io.LimitReader(e.stdin, 64<<20))
	if err != nil {
		return err
	}
	if len(msg) == 0 {
		return errors.New("no message on standard input")
	}
	s, err := spam.NewClassifier(spam.DefaultOptions(), f.Global()).Classify(msg)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s %.4f\n", s.Verdict, s.Score)
	return nil
}

// spamEval runs k-fold cross-validation in memory: no data directory.
func spamEval(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("spam eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	hamDir, spamDir := hamSpamFlags(fs)
	folds := fs.Int("folds", 10, "number of folds")
	artefacts := fs.Bool("corpus-artefacts", false, "ignore the collection artefacts of the SpamAssassin public corpus (its relays and rewritten addresses)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *hamDir == "" || *spamDir == "" {
		return fmt.Errorf("%w: spam eval --ham DIR --spam DIR [--folds 10]", errUsage)
	}
	hams, err := corpusFiles(*hamDir)
	if err != nil {
		return err
	}
	spams, err := corpusFiles(*spamDir)
	if err != nil {
		return err
	}
	opts := spam.DefaultOptions()
	if *artefacts {
		opts.Ignore = spam.CorpusArtefacts
	}
	fmt.Fprintf(stderr, "evaluating %d ham and %d spam messages, %d folds\n", len(hams), len(spams), *folds)
	r, err := spam.Eval(hams, spams, *folds, opts)
	if err != nil {
		return err
	}
	r.Print(stdout)
	return nil
}
