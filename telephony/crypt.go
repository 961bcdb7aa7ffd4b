package telephony

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Recordings are sealed with AES-256-GCM (NIST SP 800-38D) under one key in
// DATA/keys/recordings.key. A file is magic, a 12-byte random nonce and the
// ciphertext with its tag; the recording id is the additional data, so a file
// renamed to another id does not open.

var recMagic = []byte("FDREC1\x00\x00")

// loadOrCreateKey reads the 32-byte key at path, making it (0600, directory
// 0700) on first start.
func loadOrCreateKey(path string) ([]byte, error) {
	k, err := os.ReadFile(path)
	if err == nil {
		if len(k) != 32 {
			return nil, fmt.Errorf("telephony: %s: key must be 32 bytes, has %d", path, len(k))
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	k = make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) { // another process won the race
			return loadOrCreateKey(path)
		}
		return nil, err
	}
	if _, err := f.Write(k); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	return k, f.Close()
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// sealRecording encrypts plain, bound to id.
func sealRecording(aead cipher.AEAD, id string, plain []byte) ([]byte, error) {
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := append([]byte{}, recMagic...)
	out = append(out, nonce...)
	return aead.Seal(out, nonce, plain, []byte(id)), nil
}

// openRecording reverses sealRecording.
func openRecording(aead cipher.AEAD, id string, sealed []byte) ([]byte, error) {
	n := len(recMagic) + aead.NonceSize()
	if len(sealed) < n+aead.Overhead() || string(sealed[:len(recMagic)]) != string(recMagic) {
		return nil, errors.New("telephony: not a sealed recording")
	}
	plain, err := aead.Open(nil, sealed[len(recMagic):n], sealed[n:], []byte(id))
	if err != nil {
		return nil, fmt.Errorf("telephony: recording %s: %w", id, err)
	}
	return plain, nil
}
