package stack_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/dir"
	"github.com/strata-storage/strata/erasure"
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
		var paths []string
		for i := range 4 {
			p := filepath.Join(t.TempDir(), fmt.Sprintf("d%d", i))
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			paths = append(paths, p)
		}
		s, err := erasure.Open(paths, erasure.Options{Parity: 2, NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
