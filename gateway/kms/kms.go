// Package kms is Strata's key management: the KMS interface that the
// encryption layer uses to make and unseal per-object data keys, a built-in
// KMS for one node (master keys from STRATA_KMS_SECRET_KEY or a file), and a
// client of HashiCorp Vault's transit engine.
package kms

import (
	"context"
	"errors"
)

// KMS makes data keys and unseals them. Every sealed key is bound to an
// encryption context: unsealing with another context fails.
type KMS interface {
	// GenerateKey returns a new random 32-byte data key, in plain and
	// sealed by the master key keyID ("" is the default key).
	GenerateKey(ctx context.Context, keyID string, encCtx Context) (DataKey, error)
	// Decrypt unseals a data key that GenerateKey made.
	Decrypt(ctx context.Context, keyID string, sealed []byte, encCtx Context) ([]byte, error)

	// CreateKey makes a new master key named keyID.
	CreateKey(ctx context.Context, keyID string) error
	// ListKeys lists the master keys.
	ListKeys(ctx context.Context) ([]string, error)
	// Status reports whether the KMS is reachable and its default key
	// works.
	Status(ctx context.Context) (Status, error)
	// DefaultKey is the key used when a request names none.
	DefaultKey() string
}

// Context is an encryption context: name-value pairs bound to a sealed key.
type Context map[string]string

// DataKey is a data key, in plain and sealed.
type DataKey struct {
	KeyID     string // the master key that sealed it
	Plaintext []byte // 32 bytes
	Sealed    []byte // opaque; what Decrypt takes
}

// Status describes a KMS.
type Status struct {
	Name       string // "builtin" or "vault"
	Endpoint   string
	DefaultKey string
	Online     bool
	Detail     string
}

// Errors of the KMS, matched with errors.Is.
var (
	ErrKeyNotFound = errors.New("kms: key not found")
	ErrKeyExists   = errors.New("kms: key already exists")
	ErrDecrypt     = errors.New("kms: cannot unseal the data key (wrong key or context)")
	ErrNotAllowed  = errors.New("kms: operation not supported by this KMS")
)
