// Package stack puts the data-service layers of gateway/ on a backend in
// the order the server runs them, outermost first:
//
//	encryption (SSE) -> object lock and WORM -> versioning -> bitrot -> backend
//
// SSE sits on top so that every layer below moves, versions and verifies
// ciphertext only; lock sits on versioning because retention belongs to
// versions; bitrot is next to the backend and steps aside where the backend
// checks its own data (erasure store, clouds).
package stack

import (
	"log/slog"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/gateway/bitrot"
	"github.com/strata-storage/strata/gateway/kms"
	"github.com/strata-storage/strata/gateway/objectlock"
	"github.com/strata-storage/strata/gateway/sio"
	"github.com/strata-storage/strata/gateway/sse"
	"github.com/strata-storage/strata/gateway/versioning"
)

// Options are the settings of the layers.
type Options struct {
	// KMS makes the data keys of SSE-S3 and SSE-KMS; nil refuses those.
	KMS kms.KMS
	// AutoEncrypt encrypts every new object that asks for nothing with
	// SSE-S3.
	AutoEncrypt bool
	// Cipher of new objects; 0 picks by CPU.
	Cipher sio.Cipher
	// WORM makes every bucket write-once.
	WORM   bool
	Logger *slog.Logger
}

// Stack is a backend wrapped in the data services.
type Stack struct {
	backends.Backend // the outermost layer
	// Bitrot is the bitrot layer, which the admin API's scan drives.
	Bitrot *bitrot.Layer
}

// New wraps b.
func New(b backends.Backend, o Options) *Stack {
	rot := bitrot.New(b, bitrot.Options{Logger: o.Logger})
	var top backends.Backend = versioning.New(rot)
	top = objectlock.New(top, objectlock.Options{WORM: o.WORM})
	top = sse.New(top, sse.Options{KMS: o.KMS, Cipher: o.Cipher, AutoEncrypt: o.AutoEncrypt})
	return &Stack{Backend: top, Bitrot: rot}
}
