package imapd

import (
	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"frontdesk/store"
)

var _ imapserver.SessionMultiAppend = (*session)(nil)

// MultiAppend stores the messages of one APPEND in a mailbox, all or none
// (RFC 3502), and answers with their UIDs (RFC 4315 APPENDUID) only once
// all are durable.
func (s *session) MultiAppend(name string, messages []imapserver.AppendMessage) (*imap.MultiAppendData, error) {
	var total int64
	batch := make([]store.BatchMessage, len(messages))
	for i, m := range messages {
		total += int64(len(m.Literal))
		if int64(len(m.Literal)) > s.srv.cfg.MaxAppendSize || total > s.srv.cfg.MaxAppendSize {
			return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTooBig, Text: "messages too big"}
		}
		batch[i] = store.BatchMessage{Data: m.Literal, Date: m.Options.Time, Flags: storeFlags(m.Options.Flags)}
	}
	norm, err := store.NormalizeMailbox(name)
	if err != nil {
		return nil, s.mapErr(err, true)
	}
	ctx, cancel := s.ctx()
	defer cancel()
	d, err := s.srv.st.DeliverAll(ctx, s.acct.ID, norm, batch)
	if err != nil {
		return nil, s.mapErr(err, true)
	}
	data := &imap.MultiAppendData{UIDValidity: d[0].UIDValidity}
	for _, x := range d {
		data.UIDs.AddNum(imap.UID(x.UID))
	}
	s.log.Info("imap append", "mailbox", norm, "messages", len(d), "uids", data.UIDs.String(), "size", total)
	return data, nil
}
