package loadgen

import (
	"context"
	"fmt"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// imapLoop reads the INBOX as a mail client does, at IMAPRate rounds per
// second: the newest messages' envelopes and headers, \Seen on them, a
// search, and, once the INBOX holds more than Keep messages, \Deleted and
// EXPUNGE on the oldest so that the mailbox stays the same size.
func imapLoop(ctx context.Context, o SoakOptions, rec *recorder) {
	var c *imapclient.Client
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	rounds := 0
	paced(ctx, o.IMAPRate, func(n int) bool {
		if c == nil || rounds >= imapPerConn {
			if c != nil {
				c.Logout().Wait()
				c.Close()
				c = nil
			}
			t0 := time.Now()
			var err error
			c, err = imapOpen(o)
			if ctx.Err() != nil {
				return false
			}
			if err != nil {
				rec.done(OpIMAPFetch, time.Since(t0), fmt.Errorf("login and SELECT: %w", err))
				return true
			}
			rounds = 0
		}
		rounds++
		stopClose := context.AfterFunc(ctx, func() { c.Close() })
		err := imapRound(c, o, func(kind string, t0 time.Time, err error) {
			if ctx.Err() == nil { // a round cut short by the end of the run is not a failure
				rec.done(kind, time.Since(t0), err)
			}
		}, n)
		stopClose()
		if ctx.Err() != nil {
			return false
		}
		if err != nil {
			c.Close()
			c = nil
		}
		return true
	})
}

func imapOpen(o SoakOptions) (*imapclient.Client, error) {
	c, err := imapclient.DialInsecure(o.IMAP, &imapclient.Options{})
	if err != nil {
		return nil, err
	}
	if err := c.Login(o.User, o.Password).Wait(); err != nil {
		c.Close()
		return nil, err
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// searches rotate: flags and headers come from metadata, TEXT from the index.
var searches = []func(n int) *imap.SearchCriteria{
	func(int) *imap.SearchCriteria { return &imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}} },
	func(n int) *imap.SearchCriteria {
		return &imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: words[n%len(words)]}}}
	},
	func(n int) *imap.SearchCriteria { return &imap.SearchCriteria{Text: []string{words[(n*7)%len(words)]}} },
}

// imapRound does one round; an error returned means the session is unusable.
func imapRound(c *imapclient.Client, o SoakOptions, note func(kind string, t0 time.Time, err error), n int) error {
	t0 := time.Now()
	err := c.Noop().Wait()
	var total uint32
	if err == nil {
		total = c.Mailbox().NumMessages
	}
	var uids imap.UIDSet
	if err == nil && total > 0 {
		var seq imap.SeqSet
		seq.AddRange(max(1, total-9), total)
		var msgs []*imapclient.FetchMessageBuffer
		msgs, err = c.Fetch(seq, &imap.FetchOptions{
			UID: true, Flags: true, Envelope: true, RFC822Size: true,
			BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierHeader, Peek: true}},
		}).Collect()
		for _, m := range msgs {
			uids.AddNum(m.UID)
		}
	}
	note(OpIMAPFetch, t0, err)
	if err != nil {
		return err
	}

	if len(uids) > 0 {
		t0 = time.Now()
		err = c.Store(uids, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close()
		note(OpIMAPStore, t0, err)
		if err != nil {
			return err
		}
	}

	t0 = time.Now()
	_, err = c.UIDSearch(searches[n%len(searches)](n), nil).Wait()
	note(OpIMAPSearch, t0, err)
	if err != nil {
		return err
	}

	if int(total) > o.Keep {
		t0 = time.Now()
		var old imap.SeqSet
		old.AddRange(1, total-uint32(o.Keep))
		err = c.Store(old, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close()
		if err == nil {
			err = c.Expunge().Close()
		}
		note(OpIMAPExpunge, t0, err)
	}
	return err
}
