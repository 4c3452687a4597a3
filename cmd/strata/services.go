package main

import (
	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/gateway/objectlock"
	"github.com/strata-storage/strata/gateway/versioning"
)

// services are the settings of the data-service layers.
type services struct {
	worm bool // every bucket write-once (--worm)
}

// dataServices wraps b in the data-service layers of gateway/, outermost
// first: encryption (SSE) -> object lock and WORM -> versioning -> bitrot
// -> b. SSE sits on top so that every layer below moves, versions and
// verifies ciphertext; lock sits on versioning because retention belongs
// to versions.
func dataServices(b backends.Backend, s services) (backends.Backend, error) {
	// bitrot layer: (next)
	b = versioning.New(b)
	b = objectlock.New(b, objectlock.Options{WORM: s.worm})
	// SSE layer: (next)
	return b, nil
}
