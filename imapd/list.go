package imapd

import (
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"frontdesk/store"
)

// List answers LIST and LSUB, with RFC 5258 selection and return options,
// RFC 6154 special-use attributes and RFC 5819 LIST-STATUS.
// Subscriptions are names, not mailboxes: a subscribed name that no
// mailbox has is listed \NonExistent under SUBSCRIBED.
func (s *session) List(w *imapserver.ListWriter, ref string, patterns []string, options *imap.ListOptions) error {
	if len(patterns) == 0 {
		// LIST "" "": the hierarchy delimiter and root (RFC 9051 §6.3.9).
		return w.WriteList(&imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: store.Delimiter})
	}
	ctx, cancel := s.ctx()
	defer cancel()
	mbs, err := s.srv.st.Mailboxes(ctx, s.acct.ID)
	if err != nil {
		return s.mapErr(err, false)
	}
	subList, err := s.srv.st.Subscriptions(ctx, s.acct.ID)
	if err != nil {
		return s.mapErr(err, false)
	}
	lsub := w.LSub()
	bySubs := options.SelectSubscribed || lsub
	// LSUB lists an unsubscribed parent of a subscribed name the pattern
	// does not reach (RFC 3501 §6.3.9), as RECURSIVEMATCH does.
	recursive := bySubs && (options.SelectRecursiveMatch || lsub)

	exists := map[string]*store.Mailbox{}
	subscribed := map[string]bool{}
	hasChildren := map[string]bool{}
	listed := map[string]bool{}
	var names []string
	add := func(n string) {
		if !listed[n] {
			listed[n] = true
			names = append(names, n)
		}
	}
	for i := range mbs {
		exists[mbs[i].Name] = &mbs[i]
	}
	for _, n := range subList {
		subscribed[n] = true
	}
	// Every ancestor has children; missing ones are listed as \Noselect
	// so a '%' walk still finds what lies below them.
	for i := range mbs {
		n := mbs[i].Name
		add(n)
		for j := strings.IndexByte(n, store.Delimiter); j > 0; j = nextDelim(n, j) {
			hasChildren[n[:j]] = true
			if !bySubs {
				add(n[:j])
			}
		}
	}
	if bySubs {
		for _, n := range subList {
			add(n)
			if recursive {
				for j := strings.IndexByte(n, store.Delimiter); j > 0; j = nextDelim(n, j) {
					add(n[:j])
				}
			}
		}
	}
	sortNames(names)
	// The subscribed names the pattern does not reach: their parents that
	// it does reach get CHILDINFO.
	var beyond []string
	if recursive {
		for _, n := range subList {
			if !matchAny(n, ref, patterns) {
				beyond = append(beyond, n)
			}
		}
	}
	for _, name := range names {
		if !matchAny(name, ref, patterns) {
			continue
		}
		mb := exists[name]
		sub := subscribed[name]
		// childInfo: a subscribed descendant lies beyond the pattern
		// (RFC 5258 §3.5).
		childInfo := false
		for _, n := range beyond {
			if strings.HasPrefix(n, name+string(store.Delimiter)) {
				childInfo = true
				break
			}
		}
		if bySubs && !sub && !childInfo {
			continue
		}
		if options.SelectSpecialUse && (mb == nil || mb.SpecialUse == "") {
			continue
		}
		data := imap.ListData{Mailbox: name, Delim: store.Delimiter}
		switch {
		case lsub && (mb == nil || !sub):
			data.Attrs = append(data.Attrs, imap.MailboxAttrNoSelect)
		case mb == nil && bySubs:
			data.Attrs = append(data.Attrs, imap.MailboxAttrNonExistent)
		case mb == nil:
			data.Attrs = append(data.Attrs, imap.MailboxAttrNoSelect)
		}
		if sub && !lsub && (options.SelectSubscribed || options.ReturnSubscribed) {
			data.Attrs = append(data.Attrs, imap.MailboxAttrSubscribed)
		}
		// Special-use attributes go in every LIST: RFC 6154 §3 allows it
		// and clients that never ask still find Sent and Trash.
		if mb != nil && mb.SpecialUse != "" {
			data.Attrs = append(data.Attrs, imap.MailboxAttr(mb.SpecialUse))
		}
		if hasChildren[name] {
			data.Attrs = append(data.Attrs, imap.MailboxAttrHasChildren)
		} else if mb != nil {
			data.Attrs = append(data.Attrs, imap.MailboxAttrHasNoChildren)
		}
		if childInfo && !lsub {
			data.ChildInfo = &imap.ListDataChildInfo{Subscribed: true}
		}
		if options.ReturnStatus != nil && mb != nil {
			if st, err := s.Status(name, options.ReturnStatus); err == nil {
				data.Status = st
			}
		}
		if err := w.WriteList(&data); err != nil {
			return err
		}
	}
	return nil
}
