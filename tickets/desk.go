package tickets

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// formatVersion is the on-disk format of tickets.db; Open refuses newer ones.
const formatVersion = 1

var (
	bucketMeta     = []byte("meta")
	bucketTickets  = []byte("tickets")  // be64(number) -> Ticket
	bucketEntries  = []byte("entries")  // be64(number) be32(seq) -> Entry
	bucketContacts = []byte("contacts") // be64(id) -> Contact
	bucketEmails   = []byte("emails")   // lower-case address -> be64(contact)
	bucketPhones   = []byte("phones")   // normalized number -> be64(contact)
	bucketMsgIDs   = []byte("msgids")   // Message-ID -> be64(number)
	bucketThreads  = []byte("threads")  // Outlook Thread-Index root -> be64(number)
	bucketCalls    = []byte("calls")    // call id -> be64(number)
	bucketAcks     = []byte("acks")     // sender -> JSON []time.Time of recent acknowledgements
	bucketTokens   = []byte("tokens")   // API token hash -> JSON Token
)

var allBuckets = [][]byte{bucketMeta, bucketTickets, bucketEntries, bucketContacts, bucketEmails,
	bucketPhones, bucketMsgIDs, bucketThreads, bucketCalls, bucketAcks, bucketTokens, bucketAckDue}

// Mailer sends mail the desk writes: acknowledgements, replies, notices.
// It signs the message and hands it to delivery; it returns once the
// message is durably queued, with the queue's id.
type Mailer interface {
	Send(ctx context.Context, from string, to []string, msg []byte) (id string, err error)
}

// Routing is where a new ticket goes and why.
type Routing struct {
	Group      string
	Confidence float64
	Source     string // rule, classifier, triage, default
}

// Router picks the group of a new ticket.
type Router interface {
	Route(support, subject, body string) Routing
}

// Learner is taught the group of solved tickets, so routing improves.
type Learner interface {
	TrainTicket(number uint64, text, group string) error
}

// SLA computes due times from business hours and the priority's targets.
type SLA interface {
	Due(created time.Time, priority Priority) (firstResponse, resolution time.Time)
}

// Index is the full-text index tickets are searched in.
type Index interface {
	Put(id string, fields map[string]string) error
	Delete(id string) error
	Query(ctx context.Context, q string, limit int) ([]string, error)
}

// Config configures a Desk. Zero fields take the defaults noted.
type Config struct {
	// Path of the database file. Required.
	Path string
	// Hostname goes into the Message-IDs of mail the desk sends.
	// Default "localhost".
	Hostname string
	// Mailer sends acknowledgements and replies; nil sends nothing.
	Mailer Mailer
	// Router picks a new ticket's group; nil puts every ticket in
	// DefaultGroup.
	Router Router
	// Learner is taught solved tickets' groups; nil learns nothing.
	Learner Learner
	// DefaultGroup is the group when no router decides. Default "support".
	DefaultGroup string
	// SLA sets due times; nil sets none.
	SLA SLA
	// Index makes tickets searchable; nil searches subjects only.
	Index Index
	// BaseURL is the web console's address, for rating links in solved
	// mail. Default "http://127.0.0.1:8080".
	BaseURL string
	// CompanyName signs the desk's mail. Default "Support".
	CompanyName string
	// Templates override the default mail texts.
	Templates Templates
	// AckPerHour caps acknowledgements to one sender per hour (RFC 3834
	// §2: automatic responders must not flood). Default 3.
	AckPerHour int
	// Supervisor receives escalations of breached SLAs; "" mails nobody.
	Supervisor string
	// Logger receives the desk's logs. Default slog.Default().
	Logger *slog.Logger
}

// Desk is the ticket desk. Safe for concurrent use.
type Desk struct {
	cfg Config
	db  *bolt.DB
	log *slog.Logger
	tpl *templates

	// mu guards the in-memory view: every ticket's header, kept so lists
	// of 100,000 tickets filter and sort without reading the database.
	// Held only after a transaction commits, never during one.
	mu      sync.RWMutex
	tickets map[uint64]*Ticket // guarded by mu
	// order holds the same tickets, newest change first, so a page of a
	// list is a walk from the top, not a sort.
	order []*Ticket // guarded by mu

	subMu sync.Mutex
	subs  map[chan Event]struct{} // guarded by subMu
}

// Event tells subscribers that a ticket changed.
type Event struct {
	Ticket uint64    `json:"ticket"`
	Kind   Kind      `json:"kind"` // what was added; "" for field changes
	At     time.Time `json:"at"`
	// Assignee and Group are the ticket's after the change, so a
	// subscriber can tell whether the viewer may see it.
	Assignee string `json:"assignee,omitempty"`
	Group    string `json:"group,omitempty"`
}

// Open opens (or creates) the desk's database.
func Open(cfg Config) (*Desk, error) {
	if cfg.Path == "" {
		return nil, errors.New("tickets: Config.Path is required")
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "localhost"
	}
	if cfg.DefaultGroup == "" {
		cfg.DefaultGroup = "support"
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = "http://127.0.0.1:8080"
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.CompanyName == "" {
		cfg.CompanyName = "Support"
	}
	if cfg.AckPerHour == 0 {
		cfg.AckPerHour = 3
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	tpl, err := parseTemplates(cfg.Templates)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o700); err != nil {
		return nil, err
	}
	db, err := bolt.Open(cfg.Path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("tickets: open %s: %w", cfg.Path, err)
	}
	d := &Desk{cfg: cfg, db: db, log: cfg.Logger, tpl: tpl, tickets: map[uint64]*Ticket{}, subs: map[chan Event]struct{}{}}
	if err := d.init(); err != nil {
		db.Close()
		return nil, err
	}
	slices.SortFunc(d.order, newer)
	return d, nil
}

func (d *Desk) init() error {
	err := d.db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		v := meta.Get([]byte("version"))
		switch {
		case v == nil:
			return meta.Put([]byte("version"), be64(formatVersion))
		case binary.BigEndian.Uint64(v) > formatVersion:
			return fmt.Errorf("tickets: %s has format version %d, newer than this Frontdesk's %d: run the newer release", d.cfg.Path, binary.BigEndian.Uint64(v), formatVersion)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return d.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTickets).ForEach(func(k, v []byte) error {
			t := new(Ticket)
			if err := json.Unmarshal(v, t); err != nil {
				return fmt.Errorf("tickets: ticket %d: %w", binary.BigEndian.Uint64(k), err)
			}
			d.tickets[t.Number] = t
			d.order = append(d.order, t)
			return nil
		})
	})
}

// newer orders the view: latest Updated first, then highest number.
func newer(a, b *Ticket) int {
	if c := b.Updated.Compare(a.Updated); c != 0 {
		return c
	}
	return cmp.Compare(b.Number, a.Number)
}

// Close closes the database.
func (d *Desk) Close() error {
	d.subMu.Lock()
	for c := range d.subs {
		close(c)
		delete(d.subs, c)
	}
	d.subMu.Unlock()
	return d.db.Close()
}

// Subscribe returns a channel of changes until cancel is called. A
// subscriber that does not keep up loses events, never blocks the desk.
func (d *Desk) Subscribe() (events <-chan Event, cancel func()) {
	c := make(chan Event, 64)
	d.subMu.Lock()
	d.subs[c] = struct{}{}
	d.subMu.Unlock()
	return c, func() {
		d.subMu.Lock()
		defer d.subMu.Unlock()
		if _, ok := d.subs[c]; ok {
			delete(d.subs, c)
			close(c)
		}
	}
}

func (d *Desk) publish(t *Ticket, kind Kind) {
	ev := Event{Ticket: t.Number, Kind: kind, At: time.Now(), Assignee: t.Assignee, Group: t.Group}
	d.subMu.Lock()
	defer d.subMu.Unlock()
	for c := range d.subs {
		select {
		case c <- ev:
		default:
		}
	}
}

// remember updates the in-memory view after a commit and tells subscribers.
func (d *Desk) remember(t *Ticket, kind Kind) {
	c := *t
	c.Tags = slices.Clone(t.Tags)
	d.mu.Lock()
	if old, ok := d.tickets[t.Number]; ok {
		if i, found := slices.BinarySearchFunc(d.order, old, newer); found {
			d.order = slices.Delete(d.order, i, i+1)
		}
	}
	d.tickets[t.Number] = &c
	i, _ := slices.BinarySearchFunc(d.order, &c, newer)
	d.order = slices.Insert(d.order, i, &c)
	d.mu.Unlock()
	d.publish(&c, kind)
}

// Ticket returns one ticket.
func (d *Desk) Ticket(_ context.Context, n uint64) (*Ticket, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	t, ok := d.tickets[n]
	if !ok {
		return nil, ErrNotFound
	}
	c := *t
	c.Tags = slices.Clone(t.Tags)
	return &c, nil
}

// Timeline returns a ticket's entries, oldest first.
func (d *Desk) Timeline(_ context.Context, n uint64) ([]Entry, error) {
	var out []Entry
	err := d.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketTickets).Get(be64(n)) == nil {
			return ErrNotFound
		}
		c := tx.Bucket(bucketEntries).Cursor()
		prefix := be64(n)
		for k, v := c.Seek(prefix); k != nil && strings.HasPrefix(string(k), string(prefix)); k, v = c.Next() {
			var e Entry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// Contact returns one contact.
func (d *Desk) Contact(_ context.Context, id uint64) (*Contact, error) {
	var c *Contact
	err := d.db.View(func(tx *bolt.Tx) error {
		var err error
		c, err = getContact(tx, id)
		return err
	})
	return c, err
}

// ContactByEmail finds a contact by one of its addresses.
func (d *Desk) ContactByEmail(_ context.Context, email string) (*Contact, error) {
	var c *Contact
	err := d.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketEmails).Get([]byte(strings.ToLower(email)))
		if v == nil {
			return ErrNotFound
		}
		var err error
		c, err = getContact(tx, binary.BigEndian.Uint64(v))
		return err
	})
	return c, err
}

// ContactByPhone finds a contact by one of its numbers.
func (d *Desk) ContactByPhone(_ context.Context, number string) (*Contact, error) {
	var c *Contact
	err := d.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketPhones).Get([]byte(NormalizePhone(number)))
		if v == nil {
			return ErrNotFound
		}
		var err error
		c, err = getContact(tx, binary.BigEndian.Uint64(v))
		return err
	})
	return c, err
}

// Contacts lists every contact in id order.
func (d *Desk) Contacts(_ context.Context) ([]Contact, error) {
	var out []Contact
	err := d.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketContacts).ForEach(func(_, v []byte) error {
			var c Contact
			if err := json.Unmarshal(v, &c); err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
	})
	return out, err
}

// Level implements the hotline's contact directory: a caller's level
// comes from the desk's contacts, so VIPs go first on the phone too.
func (d *Desk) Level(ctx context.Context, number string) (Level, error) {
	c, err := d.ContactByPhone(ctx, number)
	if errors.Is(err, ErrNotFound) {
		return LevelNew, nil
	}
	if err != nil {
		return LevelNew, err
	}
	return c.Level, nil
}

// NormalizePhone strips visual separators from a number, keeping a leading
// "+", so "+1 (555) 010-0" and "+15550100" meet.
func NormalizePhone(n string) string {
	var b strings.Builder
	for i, r := range strings.TrimSpace(n) {
		if (r >= '0' && r <= '9') || (r == '+' && i == 0) || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// transaction helpers

func be64(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}

func entryKey(n uint64, seq uint32) []byte {
	k := make([]byte, 12)
	binary.BigEndian.PutUint64(k, n)
	binary.BigEndian.PutUint32(k[8:], seq)
	return k
}

func getTicket(tx *bolt.Tx, n uint64) (*Ticket, error) {
	v := tx.Bucket(bucketTickets).Get(be64(n))
	if v == nil {
		return nil, ErrNotFound
	}
	t := new(Ticket)
	return t, json.Unmarshal(v, t)
}

func putTicket(tx *bolt.Tx, t *Ticket) error {
	v, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketTickets).Put(be64(t.Number), v)
}

func getContact(tx *bolt.Tx, id uint64) (*Contact, error) {
	v := tx.Bucket(bucketContacts).Get(be64(id))
	if v == nil {
		return nil, ErrNotFound
	}
	c := new(Contact)
	return c, json.Unmarshal(v, c)
}

func putContact(tx *bolt.Tx, c *Contact) error {
	v, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketContacts).Put(be64(c.ID), v); err != nil {
		return err
	}
	for _, e := range c.Emails {
		if err := tx.Bucket(bucketEmails).Put([]byte(e), be64(c.ID)); err != nil {
			return err
		}
	}
	for _, p := range c.Phones {
		if err := tx.Bucket(bucketPhones).Put([]byte(p), be64(c.ID)); err != nil {
			return err
		}
	}
	return nil
}

// addEntry appends e to ticket t's timeline and bumps t.Updated.
func addEntry(tx *bolt.Tx, t *Ticket, e *Entry) error {
	b := tx.Bucket(bucketEntries)
	seq := uint32(1)
	c := b.Cursor()
	prefix := be64(t.Number)
	// The last entry of the ticket: seek past its prefix and step back.
	k, _ := c.Seek(be64(t.Number + 1))
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	if len(k) == 12 && string(k[:8]) == string(prefix) {
		seq = binary.BigEndian.Uint32(k[8:]) + 1
	}
	e.Ticket, e.Seq = t.Number, seq
	if e.At.IsZero() {
		e.At = time.Now().UTC()
	}
	v, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if e.At.After(t.Updated) {
		t.Updated = e.At
	}
	return b.Put(entryKey(t.Number, seq), v)
}

// newTicket gives t its number and secret and stores it.
func newTicket(tx *bolt.Tx, t *Ticket) error {
	n, err := tx.Bucket(bucketTickets).NextSequence()
	if err != nil {
		return err
	}
	t.Number = n
	t.Secret = randomHex(8)
	return putTicket(tx, t)
}

// contactFor finds the contact with email (or number), or makes one.
func contactFor(tx *bolt.Tx, email, phone, name string, now time.Time) (*Contact, error) {
	if email != "" {
		if v := tx.Bucket(bucketEmails).Get([]byte(email)); v != nil {
			return getContact(tx, binary.BigEndian.Uint64(v))
		}
	}
	if phone != "" {
		if v := tx.Bucket(bucketPhones).Get([]byte(phone)); v != nil {
			return getContact(tx, binary.BigEndian.Uint64(v))
		}
	}
	id, err := tx.Bucket(bucketContacts).NextSequence()
	if err != nil {
		return nil, err
	}
	c := &Contact{ID: id, Name: name, Level: LevelNew, Created: now}
	if email != "" {
		c.Emails = []string{email}
	}
	if phone != "" {
		c.Phones = []string{phone}
	}
	return c, putContact(tx, c)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
