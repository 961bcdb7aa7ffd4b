package tickets

import (
	"context"
	"encoding/binary"

	bolt "go.etcd.io/bbolt"
)

// bucketAckDue holds the mails whose ticket is committed but whose
// acknowledgement is not known to be queued yet (Message-ID → be64(ticket
// number)). The ticket commits before the acknowledgement is queued, in
// another database; after a crash in between, the sender's retry is a
// duplicate and would otherwise never be acknowledged.
var bucketAckDue = []byte("ackdue")

// ackDueTx returns the ticket and contact of a duplicate mail whose
// acknowledgement is still due, or nil.
func ackDueTx(tx *bolt.Tx, msgID string) (*Ticket, *Contact, error) {
	v := tx.Bucket(bucketAckDue).Get([]byte(msgID))
	if v == nil {
		return nil, nil, nil
	}
	t, err := getTicket(tx, binary.BigEndian.Uint64(v))
	if err != nil {
		return nil, nil, err
	}
	c, err := getContact(tx, t.Contact)
	if err != nil {
		return nil, nil, err
	}
	return t, c, nil
}

// acknowledgeDue sends the acknowledgement a crash kept from a mail the
// sender now retried.
func (d *Desk) acknowledgeDue(ctx context.Context, t *Ticket, c *Contact, p parsed, res *MailResult) {
	if err := d.acknowledge(ctx, t, c, p); err != nil {
		d.log.Error("acknowledgement not sent", "ticket", t.Number, "to", c.Emails, "err", err)
		res.Skipped = "acknowledgement failed: " + err.Error()
		return
	}
	res.Acked = true
	d.log.Info("acknowledgement sent on a retried mail", "ticket", t.Number, "msgid", p.msgID)
}
