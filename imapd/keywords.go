package imapd

import (
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"

	"frontdesk/store"
)

// mailboxFlagsWriter is what imapserver's UpdateWriter and FetchWriter
// offer for telling the client of new keywords.
type mailboxFlagsWriter interface {
	WriteMailboxFlags(flags []imap.Flag) error
	WritePermanentFlags(flags []imap.Flag) error
}

// announceKeywords tells the client of keywords in flagLists it has not
// seen in this mailbox: an updated FLAGS, and PERMANENTFLAGS when it may
// store them, before any FETCH that uses them (RFC 9051 §7.3.5, §7.1).
func (v *selected) announceKeywords(w mailboxFlagsWriter, flagLists ...[]string) error {
	added := false
	for _, flags := range flagLists {
		for _, f := range flags {
			if f == "" || f[0] == '\\' || v.knowsFlag(f) {
				continue
			}
			v.mbFlags = append(v.mbFlags, imap.Flag(f))
			added = true
		}
	}
	if !added {
		return nil
	}
	if err := w.WriteMailboxFlags(v.mbFlags); err != nil {
		return err
	}
	if v.readOnly {
		return nil
	}
	return w.WritePermanentFlags(append(slices.Clone(v.mbFlags), imap.FlagWildcard))
}

// announceFetched announces the new keywords of messages about to be
// fetched with their flags.
func (v *selected) announceFetched(w mailboxFlagsWriter, msgs []*store.Message) error {
	lists := make([][]string, len(msgs))
	for i, m := range msgs {
		lists[i] = m.Flags
	}
	return v.announceKeywords(w, lists...)
}

func (v *selected) knowsFlag(f string) bool {
	for _, k := range v.mbFlags {
		if strings.EqualFold(string(k), f) {
			return true
		}
	}
	return false
}
