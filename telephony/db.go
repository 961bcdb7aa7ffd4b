package telephony

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"frontdesk/durable"
)

// db is DATA/telephony.db: call records, the agent table and queued
// callbacks.
type db struct {
	bolt  *bolt.DB
	feeds bool // records wait in bucketUnfed for Config.OnRecord
}

var (
	bucketCalls  = []byte("calls")
	bucketAgents = []byte("agents")
	bucketTasks  = []byte("callbacks")
)

func openDB(path string) (*db, error) {
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("telephony: open %s: %w", path, err)
	}
	err = b.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketCalls, bucketAgents, bucketTasks, bucketLive, bucketUnfed} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Close()
		return nil, err
	}
	return &db{bolt: b}, nil
}

func (d *db) close() error { return d.bolt.Close() }

// addCall stores a finished call's record, numbering it, in place of its
// live record.
func (d *db) addCall(_ context.Context, r *CallRecord) error {
	return d.bolt.Update(func(tx *bolt.Tx) error {
		durable.Fault("calls.commit")
		if err := tx.Bucket(bucketLive).Delete([]byte(r.ID)); err != nil {
			return err
		}
		return addCallTx(tx, r, d.feeds)
	})
}

func addCallTx(tx *bolt.Tx, r *CallRecord, feeds bool) error {
	b := tx.Bucket(bucketCalls)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	r.Seq = seq
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	k := binary.BigEndian.AppendUint64(nil, seq)
	if feeds {
		if err := tx.Bucket(bucketUnfed).Put(k, nil); err != nil {
			return err
		}
	}
	return b.Put(k, v)
}

// calls lists call records in the order they ended.
func (d *db) calls(ctx context.Context) ([]CallRecord, error) {
	var out []CallRecord
	err := d.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCalls).ForEach(func(_, v []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			var r CallRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			if r.Direction == "" { // stored before callbacks existed
				r.Direction = DirectionInbound
			}
			out = append(out, r)
			return nil
		})
	})
	return out, err
}

// dbAgents is the AgentDirectory kept in telephony.db.
type dbAgents struct{ d *db }

func (a dbAgents) get(address string) (agentEntry, error) {
	var e agentEntry
	err := a.d.bolt.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketAgents).Get([]byte(strings.ToLower(address)))
		if v == nil {
			return ErrUnknownAgent
		}
		return json.Unmarshal(v, &e)
	})
	return e, err
}

// Agent implements AgentDirectory.
func (a dbAgents) Agent(_ context.Context, address string) (Agent, error) {
	e, err := a.get(address)
	return e.Agent, err
}

// DigestHA1 implements AgentDirectory.
func (a dbAgents) DigestHA1(_ context.Context, address, realm string) (string, error) {
	e, err := a.get(address)
	if err != nil {
		return "", err
	}
	if e.Realm != realm {
		return "", fmt.Errorf("%w: SIP password set for realm %q, not %q", ErrUnknownAgent, e.Realm, realm)
	}
	return e.HA1, nil
}

// Agents implements AgentDirectory.
func (a dbAgents) Agents(context.Context) ([]Agent, error) {
	var out []Agent
	err := a.d.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAgents).ForEach(func(_, v []byte) error {
			var e agentEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			out = append(out, e.Agent)
			return nil
		})
	})
	slices.SortFunc(out, func(x, y Agent) int { return strings.Compare(x.Address, y.Address) })
	return out, err
}

// PutAgent implements AgentWriter.
func (a dbAgents) PutAgent(_ context.Context, ag Agent, ha1, realm string) error {
	ag.Address = strings.ToLower(ag.Address)
	v, err := json.Marshal(agentEntry{Agent: ag, HA1: ha1, Realm: realm})
	if err != nil {
		return err
	}
	return a.d.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAgents).Put([]byte(ag.Address), v)
	})
}

// addTask stores a new pending callback, numbering it. If the same number
// already has a pending callback for the same queue (they called again and
// asked again), that one is returned instead and nothing is added.
func (d *db) addTask(_ context.Context, t *CallbackTask) (added bool, err error) {
	err = d.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTasks)
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var old CallbackTask
			if err := json.Unmarshal(v, &old); err != nil {
				return err
			}
			if old.State == TaskPending && old.Number == t.Number && old.Queue == t.Queue {
				*t = old
				return nil
			}
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		t.ID = seq
		v, err := json.Marshal(t)
		if err != nil {
			return err
		}
		added = true
		return b.Put(binary.BigEndian.AppendUint64(nil, seq), v)
	})
	return added, err
}

// putTask updates a stored callback.
func (d *db) putTask(_ context.Context, t CallbackTask) error {
	v, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return d.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTasks).Put(binary.BigEndian.AppendUint64(nil, t.ID), v)
	})
}

// tasks lists callbacks in the order they were asked for.
func (d *db) tasks(ctx context.Context) ([]CallbackTask, error) {
	var out []CallbackTask
	err := d.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTasks).ForEach(func(_, v []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			var t CallbackTask
			if err := json.Unmarshal(v, &t); err != nil {
				return err
			}
			out = append(out, t)
			return nil
		})
	})
	return out, err
}
