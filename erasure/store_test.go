package erasure

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/backendtest"
)

func drivePaths(t testing.TB, n int) []string {
	root := t.TempDir()
	paths := make([]string, n)
	for i := range paths {
		paths[i] = filepath.Join(root, fmt.Sprintf("d%d", i))
	}
	mkdirs(t, paths)
	return paths
}

func newStore(t testing.TB, n int, opts Options) (*Store, []string) {
	paths := drivePaths(t, n)
	s, err := open(t, paths, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s, paths
}

func TestSuite(t *testing.T) {
	for _, tc := range []struct {
		drives int
		opts   Options
	}{
		{4, Options{Parity: 2, NoSync: true}},
		{6, Options{NoSync: true}},
	} {
		t.Run(fmt.Sprintf("%d-drives", tc.drives), func(t *testing.T) {
			s, _ := newStore(t, tc.drives, tc.opts)
			backendtest.Run(t, func(t *testing.T) backends.Backend { return s })
		})
	}
}
