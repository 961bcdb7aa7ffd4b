// Package dkim owns Frontdesk's DKIM (RFC 6376): the per-domain signing
// keys and the DNS records that publish them, signing of outgoing mail,
// and verification of incoming mail through the dnscheck resolver.
//
// Every domain gets two keys, RSA-2048 and Ed25519 (RFC 8463), and every
// message is signed with both: receivers that do not know Ed25519 ignore
// that signature (RFC 8463 §4) and still find the RSA one.
package dkim

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"frontdesk/durable"
)

// Signature algorithms (RFC 6376 §3.3, RFC 8463 §3).
const (
	AlgRSA     = "rsa-sha256"
	AlgEd25519 = "ed25519-sha256"
)

// RSABits is the size of generated RSA keys. RFC 8301 §3.2 asks for at
// least 1024 bits and recommends 2048; 2048 still fits a TXT record.
const RSABits = 2048

// Key is one DKIM private key and the selector it is published under.
// A Key never changes once made.
type Key struct {
	Domain    string        // signing domain (d=), lower case, no trailing dot
	Selector  string        // s=
	Algorithm string        // AlgRSA or AlgEd25519
	Signer    crypto.Signer // *rsa.PrivateKey or ed25519.PrivateKey
	Created   time.Time
}

// RecordName is the DNS name of the key's TXT record (RFC 6376 §3.6.2.1).
func (k *Key) RecordName() string {
	return k.Selector + "._domainkey." + k.Domain
}

// RecordValue is the text of the key's TXT record (RFC 6376 §3.6.1): for
// RSA p= is the DER SubjectPublicKeyInfo, for Ed25519 the raw 32-byte
// public key (RFC 8463 §4). It panics if Signer is neither RSA nor Ed25519.
func (k *Key) RecordValue() string {
	switch pub := k.Signer.Public().(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil { // only for unsupported key types
			panic(err)
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	}
	panic(fmt.Sprintf("dkim: unsupported key type %T", k.Signer.Public()))
}

// ZoneLine is the record as one BIND zone-file line (without TTL), the value
// split into quoted strings of at most 255 bytes: one TXT string cannot hold
// an RSA-2048 key, and verifiers join the strings (RFC 6376 §3.6.2.2).
func (k *Key) ZoneLine() string {
	v := k.RecordValue()
	var b strings.Builder
	b.WriteString(k.RecordName() + ". IN TXT")
	for len(v) > 0 {
		n := min(len(v), 255)
		b.WriteString(` "` + v[:n] + `"`) // base64, ';', '=', ' ': nothing to escape
		v = v[n:]
	}
	return b.String()
}

// Keyring holds the keys of every domain under one directory
// (DATA/keys/dkim). Each domain has a directory DIR/<domain>/ (0700) with
// one PKCS#8 PEM file per selector (<selector>.pem, 0600) and keyring.json,
// which lists the selectors, their creation time and which are active.
// keyring.json is the commit point: it is rewritten (atomically) only after
// the key files it names are on disk, so a crash leaves at most unused key
// files, never a list naming a missing key.
//
// A Keyring is safe for concurrent use.
type Keyring struct {
	dir string

	mu      sync.Mutex
	domains map[string][]*Key    // guarded by mu; oldest first
	active  map[string]bool      // guarded by mu; key: domain + "/" + selector
	stamps  map[string]fileStamp // guarded by mu; manifest as last read
}

// fileStamp tells whether another process (the CLI with no server
// running, or a second Keyring) changed a domain's manifest since we read
// it. The manifest is replaced by rename on every write, so a new file
// (inode) means a change even within the file system's clock tick.
type fileStamp struct {
	fi os.FileInfo
}

func (a fileStamp) same(b fileStamp) bool {
	if a.fi == nil || b.fi == nil {
		return a.fi == nil && b.fi == nil
	}
	return os.SameFile(a.fi, b.fi) && a.fi.ModTime().Equal(b.fi.ModTime()) && a.fi.Size() == b.fi.Size()
}

func (k *Keyring) stamp(domain string) fileStamp {
	fi, err := os.Stat(filepath.Join(k.dir, domain, manifestName))
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{fi}
}

// refreshLocked re-reads a domain's keys when its manifest changed on
// disk. k.mu must be held.
func (k *Keyring) refreshLocked(domain string) {
	st := k.stamp(domain)
	if st.same(k.stamps[domain]) {
		return
	}
	old, oldActive := k.domains[domain], map[string]bool{}
	for _, key := range old {
		oldActive[key.Selector] = k.active[domain+"/"+key.Selector]
		delete(k.active, domain+"/"+key.Selector)
	}
	delete(k.domains, domain)
	if err := k.load(domain); err != nil {
		// Keep signing with what we had rather than with nothing.
		k.domains[domain] = old
		for sel, a := range oldActive {
			k.active[domain+"/"+sel] = a
		}
	}
}

// manifest is the content of keyring.json.
type manifest struct {
	Keys []manifestKey `json:"keys"`
}

type manifestKey struct {
	Selector  string    `json:"selector"`
	Algorithm string    `json:"algorithm"`
	Created   time.Time `json:"created"`
	Active    bool      `json:"active"`
}

const manifestName = "keyring.json"

// OpenKeyring loads the keys under dir, creating dir (0700) if needed.
// A domain directory without keyring.json holds no keys (a Generate that
// crashed half-way) and is ignored.
func OpenKeyring(dir string) (*Keyring, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("dkim: keyring: %w", err)
	}
	k := &Keyring{dir: dir, domains: map[string][]*Key{}, active: map[string]bool{}, stamps: map[string]fileStamp{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("dkim: keyring: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if err := k.load(e.Name()); err != nil {
			return nil, err
		}
	}
	return k, nil
}

func (k *Keyring) load(domain string) error {
	ddir := filepath.Join(k.dir, domain)
	k.stamps[domain] = k.stamp(domain)
	data, err := os.ReadFile(filepath.Join(ddir, manifestName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("dkim: keyring %s: %w", domain, err)
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("dkim: keyring %s: %s: %w", domain, manifestName, err)
	}
	for _, mk := range m.Keys {
		if !validSelector(mk.Selector) {
			return fmt.Errorf("dkim: keyring %s: bad selector %q", domain, mk.Selector)
		}
		signer, err := readKey(filepath.Join(ddir, mk.Selector+".pem"))
		if err != nil {
			return fmt.Errorf("dkim: keyring %s: %w", domain, err)
		}
		if alg := algorithmOf(signer); alg != mk.Algorithm {
			return fmt.Errorf("dkim: keyring %s: selector %s: key is %s, manifest says %s", domain, mk.Selector, alg, mk.Algorithm)
		}
		key := &Key{Domain: domain, Selector: mk.Selector, Algorithm: mk.Algorithm, Signer: signer, Created: mk.Created}
		k.domains[domain] = append(k.domains[domain], key)
		k.active[domain+"/"+mk.Selector] = mk.Active
	}
	return nil
}

// ErrNoKeys is returned (wrapped) by Rotate and Remove for a domain without keys.
var ErrNoKeys = errors.New("dkim: domain has no keys")

// ErrHasKeys is returned (wrapped) by Generate for a domain that already
// has keys: Rotate adds new ones.
var ErrHasKeys = errors.New("dkim: domain already has keys")

// Generate makes the first RSA and Ed25519 keys of domain and makes them
// active. Selectors are "fd" + yyyymm + "r" (RSA) or "e" (Ed25519), with a
// counter appended when the month's name is taken ("fd202605r2").
func (k *Keyring) Generate(domain string) ([]*Key, error) {
	return k.addPair(domain, false)
}

// Rotate makes a new key pair under fresh selectors, to be published
// beside the current one; it signs once Activate is called. The previous
// keys stay in All (their records must stay published until mail signed
// with them has been delivered and checked, RFC 6376 §3.6.1 leaves
// retirement to the signer) until Remove.
func (k *Keyring) Rotate(domain string) ([]*Key, error) {
	return k.addPair(domain, true)
}

func (k *Keyring) addPair(domain string, rotate bool) ([]*Key, error) {
	domain, err := normalizeDomain(domain)
	if err != nil {
		return nil, err
	}
	// Generating RSA takes a while: do it before taking the lock.
	rsaKey, err := rsa.GenerateKey(rand.Reader, RSABits)
	if err != nil {
		return nil, fmt.Errorf("dkim: generate rsa key: %w", err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("dkim: generate ed25519 key: %w", err)
	}
	now := time.Now().UTC().Truncate(time.Second)

	k.mu.Lock()
	defer k.mu.Unlock()
	k.refreshLocked(domain)
	old := k.domains[domain]
	switch {
	case rotate && len(old) == 0:
		return nil, fmt.Errorf("dkim: rotate %s: %w", domain, ErrNoKeys)
	case !rotate && len(old) > 0:
		return nil, fmt.Errorf("dkim: generate %s: %w", domain, ErrHasKeys)
	}
	ddir := filepath.Join(k.dir, domain)
	if err := os.Mkdir(ddir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("dkim: keyring: %w", err)
	}
	if err := durable.SyncDir(k.dir); err != nil {
		return nil, fmt.Errorf("dkim: keyring: %w", err)
	}

	rsel, esel := k.freeSelectors(domain, ddir, now)
	pair := []*Key{
		{Domain: domain, Selector: rsel, Algorithm: AlgRSA, Signer: rsaKey, Created: now},
		{Domain: domain, Selector: esel, Algorithm: AlgEd25519, Signer: edKey, Created: now},
	}
	for _, key := range pair {
		der, err := x509.MarshalPKCS8PrivateKey(key.Signer)
		if err != nil {
			return nil, fmt.Errorf("dkim: marshal key: %w", err)
		}
		data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		if err := durable.WriteFile(filepath.Join(ddir, key.Selector+".pem"), 0o600, data); err != nil {
			return nil, fmt.Errorf("dkim: keyring: %w", err)
		}
	}
	all := append(append([]*Key(nil), old...), pair...)
	// A rotated pair is published first and signs only once Activate is
	// called (when its records are seen in the DNS): signing with a key
	// receivers cannot find yet would fail DKIM.
	active := map[string]bool{}
	for _, key := range old {
		active[key.Selector] = k.active[domain+"/"+key.Selector]
	}
	if !rotate {
		active[rsel], active[esel] = true, true
	}
	if err := k.writeManifest(domain, all, active); err != nil {
		return nil, err
	}
	k.domains[domain] = all
	k.active[domain+"/"+rsel] = active[rsel]
	k.active[domain+"/"+esel] = active[esel]
	return []*Key{pair[0], pair[1]}, nil
}

// Pending returns the newest pair when Rotate made it and it does not sign
// yet, or nil.
func (k *Keyring) Pending(domain string) []*Key {
	domain, _ = normalizeDomain(domain)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.refreshLocked(domain)
	keys := k.domains[domain]
	if len(keys) < 2 {
		return nil
	}
	pair := keys[len(keys)-2:]
	for _, key := range pair {
		if k.active[domain+"/"+key.Selector] {
			return nil
		}
	}
	return append([]*Key(nil), pair...)
}

// Activate makes the newest pair the one that signs; the older keys stay
// published until Remove, so mail signed before still verifies.
func (k *Keyring) Activate(domain string) ([]*Key, error) {
	domain, err := normalizeDomain(domain)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.refreshLocked(domain)
	keys := k.domains[domain]
	if len(keys) < 2 {
		return nil, fmt.Errorf("dkim: activate %s: %w", domain, ErrNoKeys)
	}
	pair := keys[len(keys)-2:]
	active := map[string]bool{pair[0].Selector: true, pair[1].Selector: true}
	if err := k.writeManifest(domain, keys, active); err != nil {
		return nil, err
	}
	for _, key := range keys {
		k.active[domain+"/"+key.Selector] = active[key.Selector]
	}
	return append([]*Key(nil), pair...), nil
}

// freeSelectors picks the month's first selector pair that neither the
// keyring nor a stray file (from a crashed Generate) uses. Caller holds mu.
func (k *Keyring) freeSelectors(domain, ddir string, now time.Time) (rsel, esel string) {
	base := "fd" + now.Format("200601")
	taken := func(sel string) bool {
		for _, key := range k.domains[domain] {
			if key.Selector == sel {
				return true
			}
		}
		_, err := os.Lstat(filepath.Join(ddir, sel+".pem"))
		return err == nil
	}
	for n := 1; ; n++ {
		suffix := ""
		if n > 1 {
			suffix = strconv.Itoa(n)
		}
		rsel, esel = base+"r"+suffix, base+"e"+suffix
		if !taken(rsel) && !taken(esel) {
			return rsel, esel
		}
	}
}

// Remove deletes a retired (inactive) selector of domain: its record can
// be unpublished. An active key cannot be removed; Rotate first.
func (k *Keyring) Remove(domain, selector string) error {
	domain, err := normalizeDomain(domain)
	if err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.refreshLocked(domain)
	keys := k.domains[domain]
	if len(keys) == 0 {
		return fmt.Errorf("dkim: remove %s: %w", domain, ErrNoKeys)
	}
	var kept []*Key
	found := false
	for _, key := range keys {
		if key.Selector != selector {
			kept = append(kept, key)
			continue
		}
		found = true
		if k.active[domain+"/"+selector] {
			return fmt.Errorf("dkim: remove %s: selector %s is active", domain, selector)
		}
	}
	if !found {
		return fmt.Errorf("dkim: remove %s: no selector %q", domain, selector)
	}
	active := map[string]bool{}
	for _, key := range kept {
		active[key.Selector] = k.active[domain+"/"+key.Selector]
	}
	if err := k.writeManifest(domain, kept, active); err != nil {
		return err
	}
	k.domains[domain] = kept
	delete(k.active, domain+"/"+selector)
	// The manifest no longer names the file; a failure here leaves only litter.
	if err := os.Remove(filepath.Join(k.dir, domain, selector+".pem")); err != nil {
		return fmt.Errorf("dkim: remove %s: %w", domain, err)
	}
	return nil
}

// Active returns the keys to sign domain's mail with now (RSA, then Ed25519), or
// nil when the domain has none.
func (k *Keyring) Active(domain string) []*Key {
	domain, _ = normalizeDomain(domain)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.refreshLocked(domain)
	var out []*Key
	for _, key := range k.domains[domain] {
		if k.active[domain+"/"+key.Selector] {
			out = append(out, key)
		}
	}
	return out
}

// All returns every key of domain whose record must be published, in the
// order they were made (RSA before Ed25519 within a pair).
func (k *Keyring) All(domain string) []*Key {
	domain, _ = normalizeDomain(domain)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.refreshLocked(domain)
	out := append([]*Key(nil), k.domains[domain]...)
	return out
}

// Domains returns the domains that have keys, sorted.
func (k *Keyring) Domains() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for d, keys := range k.domains {
		if len(keys) > 0 {
			out = append(out, d)
		}
	}
	slices.Sort(out)
	return out
}

// writeManifest commits the domain's key list. Caller holds mu.
func (k *Keyring) writeManifest(domain string, keys []*Key, active map[string]bool) error {
	var m manifest
	for _, key := range keys {
		m.Keys = append(m.Keys, manifestKey{Selector: key.Selector, Algorithm: key.Algorithm,
			Created: key.Created, Active: active[key.Selector]})
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("dkim: keyring: %w", err)
	}
	if err := durable.WriteFile(filepath.Join(k.dir, domain, manifestName), 0o600, append(data, '\n')); err != nil {
		return fmt.Errorf("dkim: keyring: %w", err)
	}
	k.stamps[domain] = k.stamp(domain)
	return nil
}

func readKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: no PKCS#8 PEM block", path)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	switch key := key.(type) {
	case *rsa.PrivateKey:
		return key, nil
	case ed25519.PrivateKey:
		return key, nil
	}
	return nil, fmt.Errorf("%s: unsupported key type %T", path, key)
}

func algorithmOf(s crypto.Signer) string {
	switch s.Public().(type) {
	case *rsa.PublicKey:
		return AlgRSA
	case ed25519.PublicKey:
		return AlgEd25519
	}
	return ""
}

// normalizeDomain lower-cases domain and checks it is a plain DNS name
// (A-labels only: IDNs are converted by the caller), which also keeps it
// a safe directory name.
func normalizeDomain(domain string) (string, error) {
	d := strings.ToLower(strings.TrimSuffix(domain, "."))
	bad := func() (string, error) { return "", fmt.Errorf("dkim: invalid domain %q", domain) }
	if d == "" || len(d) > 253 {
		return bad()
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return bad()
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return bad()
			}
		}
	}
	return d, nil
}

// validSelector: a selector is a dot-atom of DNS labels (RFC 6376 §3.1);
// ours never contain dots, and this one becomes a file name.
func validSelector(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
