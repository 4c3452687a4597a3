package kms

import (
	"bufio"
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/strata-storage/strata/gateway/sio"
)

// Builtin is a KMS whose master keys are given to the server (from
// STRATA_KMS_SECRET_KEY or a key file). It makes data keys locally and seals
// them under a master key; it cannot make master keys.
type Builtin struct {
	keys  map[string][]byte
	names []string // sorted
	def   string
}

// MasterKeySize is the size of a master key.
const MasterKeySize = 32

// NewBuiltin returns a built-in KMS with the master keys keys (name to
// 32-byte key) whose default is defaultKey ("" is allowed when there is one
// key).
func NewBuiltin(keys map[string][]byte, defaultKey string) (*Builtin, error) {
	if len(keys) == 0 {
		return nil, errors.New("kms: builtin: no master key")
	}
	b := &Builtin{keys: make(map[string][]byte, len(keys)), def: defaultKey}
	for name, k := range keys {
		if err := CheckKeyName(name); err != nil {
			return nil, err
		}
		if len(k) != MasterKeySize {
			return nil, fmt.Errorf("kms: builtin: master key %q is %d bytes, want %d", name, len(k), MasterKeySize)
		}
		b.keys[name] = bytes.Clone(k)
		b.names = append(b.names, name)
	}
	slices.Sort(b.names)
	if b.def == "" && len(b.names) == 1 {
		b.def = b.names[0]
	}
	if _, ok := b.keys[b.def]; !ok {
		return nil, fmt.Errorf("kms: builtin: default key %q is not among the master keys", b.def)
	}
	return b, nil
}

// ParseSecretKey parses a master key in the form "name:base64", where the
// base64 (standard alphabet, padded or not) holds 32 bytes: the value of
// STRATA_KMS_SECRET_KEY and each line of a key file. Errors never show the
// key material.
func ParseSecretKey(s string) (name string, key []byte, err error) {
	s = strings.TrimSpace(s)
	name, enc, ok := strings.Cut(s, ":")
	if !ok {
		return "", nil, errors.New(`kms: secret key: want "name:base64-of-32-bytes" (no ':' found)`)
	}
	if err := CheckKeyName(name); err != nil {
		return "", nil, fmt.Errorf("kms: secret key: %w", err)
	}
	enc = strings.TrimSpace(enc)
	key, err = base64.StdEncoding.DecodeString(enc)
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(enc)
	}
	if err != nil {
		return "", nil, fmt.Errorf("kms: secret key %q: the part after ':' is not base64", name)
	}
	if len(key) != MasterKeySize {
		return "", nil, fmt.Errorf("kms: secret key %q: %d bytes, want %d (generate one with: head -c 32 /dev/urandom | base64)", name, len(key), MasterKeySize)
	}
	return name, key, nil
}

// LoadBuiltinFile returns a built-in KMS with the master keys of a key file:
// one "name:base64-of-32-bytes" per line; blank lines and lines starting
// with '#' are skipped; the first key is the default.
func LoadBuiltinFile(path string) (*Builtin, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("kms: key file: %w", err)
	}
	keys := map[string][]byte{}
	def := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, key, err := ParseSecretKey(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if _, dup := keys[name]; dup {
			return nil, fmt.Errorf("%s:%d: kms: key %q appears twice", path, n, name)
		}
		if def == "" {
			def = name
		}
		keys[name] = key
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("kms: key file %s: %w", path, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("kms: key file %s holds no key", path)
	}
	return NewBuiltin(keys, def)
}

// The sealed form of a built-in data key (docs/formats.md, "Sealed keys"):
// version, name length, name, a random 32-byte IV, the AES-256-GCM
// ciphertext of the data key and its tag. The GCM key is derived from the
// master key and the IV, so each is used once and its nonce is zero.
const (
	builtinSealVersion = 1
	builtinIVSize      = 32
)

func (b *Builtin) name(keyID string) string {
	if keyID == "" {
		return b.def
	}
	return keyID
}

func builtinAEAD(master, iv []byte) (cipher.AEAD, error) {
	c, err := aes.NewCipher(sio.DeriveKey(master, "strata-kms-builtin-v1", string(iv)))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(c)
}

var zeroNonce [12]byte

// GenerateKey returns a new random data key sealed under the master key
// keyID ("" is the default key), bound to encCtx.
func (b *Builtin) GenerateKey(_ context.Context, keyID string, encCtx Context) (DataKey, error) {
	name := b.name(keyID)
	master, ok := b.keys[name]
	if !ok {
		return DataKey{}, fmt.Errorf("%w: %q", ErrKeyNotFound, name)
	}
	plain := make([]byte, sio.KeySize)
	if _, err := rand.Read(plain); err != nil {
		return DataKey{}, err
	}
	sealed := make([]byte, 0, 2+len(name)+builtinIVSize+sio.KeySize+16)
	sealed = append(sealed, builtinSealVersion, byte(len(name)))
	sealed = append(sealed, name...)
	head := len(sealed)
	sealed = sealed[:head+builtinIVSize]
	iv := sealed[head:]
	if _, err := rand.Read(iv); err != nil {
		return DataKey{}, err
	}
	aead, err := builtinAEAD(master, iv)
	if err != nil {
		return DataKey{}, err
	}
	aad := append(bytes.Clone(sealed[:head]), encCtx.Canonical()...)
	sealed = aead.Seal(sealed, zeroNonce[:], plain, aad)
	return DataKey{KeyID: name, Plaintext: plain, Sealed: sealed}, nil
}

// Decrypt unseals a data key that GenerateKey made. The sealed key names its
// master key; keyID, if not "", must be that name.
func (b *Builtin) Decrypt(_ context.Context, keyID string, sealed []byte, encCtx Context) ([]byte, error) {
	if len(sealed) < 2 || sealed[0] != builtinSealVersion {
		return nil, fmt.Errorf("%w: not a sealed key of the built-in KMS", ErrDecrypt)
	}
	head := 2 + int(sealed[1])
	if len(sealed) != head+builtinIVSize+sio.KeySize+16 {
		return nil, fmt.Errorf("%w: sealed key has a bad length", ErrDecrypt)
	}
	name := string(sealed[2:head])
	if keyID != "" && keyID != name {
		return nil, fmt.Errorf("%w: sealed by key %q, not %q", ErrDecrypt, name, keyID)
	}
	master, ok := b.keys[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrKeyNotFound, name)
	}
	iv := sealed[head : head+builtinIVSize]
	aead, err := builtinAEAD(master, iv)
	if err != nil {
		return nil, err
	}
	aad := append(bytes.Clone(sealed[:head]), encCtx.Canonical()...)
	plain, err := aead.Open(nil, zeroNonce[:], sealed[head+builtinIVSize:], aad)
	if err != nil {
		return nil, fmt.Errorf("%w: key %q", ErrDecrypt, name)
	}
	return plain, nil
}

// CreateKey is not allowed: master keys come from the environment.
func (b *Builtin) CreateKey(context.Context, string) error {
	return fmt.Errorf("%w: the built-in KMS's master keys come from STRATA_KMS_SECRET_KEY or STRATA_KMS_SECRET_KEY_FILE", ErrNotAllowed)
}

// ListKeys lists the master keys' names, sorted.
func (b *Builtin) ListKeys(context.Context) ([]string, error) {
	return slices.Clone(b.names), nil
}

// Status reports the built-in KMS, which is always online.
func (b *Builtin) Status(context.Context) (Status, error) {
	return Status{Name: "builtin", DefaultKey: b.def, Online: true, Detail: fmt.Sprintf("%d master key(s)", len(b.names))}, nil
}

// DefaultKey is the default master key's name.
func (b *Builtin) DefaultKey() string { return b.def }

var _ KMS = (*Builtin)(nil)
