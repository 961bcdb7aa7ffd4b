package telephony

import (
	"encoding/binary"
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"

	"frontdesk/durable"
)

// A call leaves its record even if the server dies while it is up: the
// record is kept in bucketLive from before the call is answered until it
// is stored for good, and a record stays in bucketUnfed until
// Config.OnRecord (the ticket desk) has taken it. New finishes both after
// a crash.
var (
	bucketLive  = []byte("live")  // call id → CallRecord of a call in progress
	bucketUnfed = []byte("unfed") // be64(seq) of stored records OnRecord has not taken yet
)

// putLive records a call about to be answered, so that a crash before it
// ends still leaves a record (OutcomeInterrupted).
func (d *db) putLive(r *CallRecord) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return d.bolt.Update(func(tx *bolt.Tx) error {
		durable.Fault("calls.commit")
		return tx.Bucket(bucketLive).Put([]byte(r.ID), v)
	})
}

// fed notes that OnRecord took record seq.
func (d *db) fed(seq uint64) error {
	return d.bolt.Update(func(tx *bolt.Tx) error {
		durable.Fault("calls.commit")
		return tx.Bucket(bucketUnfed).Delete(binary.BigEndian.AppendUint64(nil, seq))
	})
}

// recoverCalls stores the calls a crash cut off as interrupted, then hands
// OnRecord every stored record it has not taken (the desk ignores a call
// it already has).
func (s *Server) recoverCalls() error {
	var cut, unfed []CallRecord
	err := s.db.bolt.Update(func(tx *bolt.Tx) error {
		live := tx.Bucket(bucketLive)
		var ids [][]byte
		err := live.ForEach(func(k, v []byte) error {
			var r CallRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			ids = append(ids, k)
			cut = append(cut, r)
			return nil
		})
		if err != nil {
			return err
		}
		for i := range cut {
			r := &cut[i]
			r.Outcome, r.HangupBy = OutcomeInterrupted, "server"
			if r.End.IsZero() {
				r.End = r.Start // when it ended is unknown: claim no duration
			}
			// Marked for OnRecord even when this opening has none (the
			// CLI reading records offline): the next serve hands it on.
			if err := addCallTx(tx, r, true); err != nil {
				return err
			}
		}
		for _, k := range ids {
			if err := live.Delete(k); err != nil {
				return err
			}
		}
		if s.cfg.OnRecord == nil {
			return nil
		}
		calls := tx.Bucket(bucketCalls)
		return tx.Bucket(bucketUnfed).ForEach(func(k, _ []byte) error {
			var r CallRecord
			if v := calls.Get(k); v != nil {
				if err := json.Unmarshal(v, &r); err != nil {
					return err
				}
				unfed = append(unfed, r)
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, r := range cut {
		s.log.Warn("call cut off by a server stop, recorded as interrupted", "call", r.ID, "caller", r.Caller, "start", r.Start.Format(time.RFC3339))
	}
	for _, r := range unfed {
		s.cfg.OnRecord(r)
		if err := s.db.fed(r.Seq); err != nil {
			return err
		}
	}
	return nil
}
