package stack_test

import (
	"testing"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/dir"
	"github.com/strata-storage/strata/erasure/erasuretest"
	"github.com/strata-storage/strata/gateway/stack/stacktest"
)

// The whole stack the server runs is still a backend: the backend suite
// passes through it over a directory and over the erasure store.
func TestDir(t *testing.T) {
	stacktest.Run(t, func(t *testing.T) backends.Backend {
		d, err := dir.Open(t.TempDir(), dir.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	})
}

// Over erasure without the versioned run: gateway/versioning runs the suite
// over erasure with every bucket versioned, and the stack adds nothing
// erasure-specific to it.
func TestErasure(t *testing.T) {
	stacktest.RunUnversioned(t, func(t *testing.T) backends.Backend {
		return erasuretest.Open(t)
	})
}
