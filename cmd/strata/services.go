package main

import (
	"log/slog"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/gateway/bitrot"
)

// services are the settings of the data-service layers.
type services struct {
	log *slog.Logger
	// layers, when not nil, receives the layers the admin API drives.
	layers *serviceLayers
}

// serviceLayers are the layers of a stack that the admin API talks to.
type serviceLayers struct {
	bitrot *bitrot.Layer
}

// dataServices wraps b in the data-service layers of gateway/, outermost
// first: encryption (SSE) -> object lock and WORM -> versioning -> bitrot
// -> b. SSE sits on top so that every layer below moves, versions and
// verifies ciphertext; lock sits on versioning because retention belongs
// to versions.
func dataServices(b backends.Backend, s services) (backends.Backend, error) {
	rot := bitrot.New(b, bitrot.Options{Logger: s.log})
	if s.layers != nil {
		s.layers.bitrot = rot
	}
	b = rot
	// versioning layer: (next)
	// object lock / WORM layer: (next)
	// SSE layer: (next)
	return b, nil
}
