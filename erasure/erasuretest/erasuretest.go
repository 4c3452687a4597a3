// Package erasuretest opens small erasure stores over temporary drives for
// the tests of packages that run over the erasure store.
package erasuretest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-storage/strata/erasure"
)

// Open returns a store of 4 temporary drives with parity 2, without fsync.
func Open(t testing.TB) *erasure.Store {
	t.Helper()
	root := t.TempDir()
	paths := make([]string, 4)
	for i := range paths {
		paths[i] = filepath.Join(root, fmt.Sprintf("d%d", i))
		if err := os.MkdirAll(paths[i], 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s, err := erasure.Open(paths, erasure.Options{Parity: 2, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
