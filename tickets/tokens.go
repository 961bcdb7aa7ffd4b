package tickets

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Token is an integration's API credential (a CRM reading and creating
// tickets). Only its SHA-256 is stored; the secret is shown once.
type Token struct {
	ID      string    `json:"id"` // first 8 hex digits of the hash, to name it
	Name    string    `json:"name"`
	Role    string    `json:"role"` // the least web role it acts with: agent, supervisor or admin
	Created time.Time `json:"created"`
}

const tokenPrefix = "fdt_"

// CreateToken makes an API token and returns its secret, shown only now.
func (d *Desk) CreateToken(_ context.Context, name, role string) (string, *Token, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", nil, errors.New("tickets: a token needs a name")
	}
	switch role {
	case "agent", "supervisor", "admin":
	default:
		return "", nil, errors.New("tickets: token role must be agent, supervisor or admin")
	}
	secret := tokenPrefix + randomHex(24)
	h := tokenHash(secret)
	t := &Token{ID: h[:8], Name: name, Role: role, Created: time.Now().UTC()}
	v, err := json.Marshal(t)
	if err != nil {
		return "", nil, err
	}
	err = d.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketTokens).Put([]byte(h), v) })
	return secret, t, err
}

// CheckToken returns the token a secret belongs to.
func (d *Desk) CheckToken(_ context.Context, secret string) (*Token, error) {
	if !strings.HasPrefix(secret, tokenPrefix) {
		return nil, ErrNotFound
	}
	h := tokenHash(secret)
	var t *Token
	err := d.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTokens).ForEach(func(k, v []byte) error {
			// Constant time over the stored hashes: no timing oracle.
			if subtle.ConstantTimeCompare(k, []byte(h)) == 1 {
				t = new(Token)
				return json.Unmarshal(v, t)
			}
			return nil
		})
	})
	if err == nil && t == nil {
		err = ErrNotFound
	}
	return t, err
}

// Tokens lists the API tokens.
func (d *Desk) Tokens(_ context.Context) ([]Token, error) {
	var out []Token
	err := d.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTokens).ForEach(func(k, v []byte) error {
			var t Token
			if err := json.Unmarshal(v, &t); err != nil {
				return err
			}
			out = append(out, t)
			return nil
		})
	})
	return out, err
}

// RevokeToken deletes the token with the given id.
func (d *Desk) RevokeToken(_ context.Context, id string) error {
	return d.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		c := b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if strings.HasPrefix(string(k), id) && len(id) == 8 {
				return b.Delete(k)
			}
		}
		return ErrNotFound
	})
}

func tokenHash(secret string) string {
	s := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(s[:])
}
