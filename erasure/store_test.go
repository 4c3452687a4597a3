package erasure

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sync"
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

// Buckets found are remembered, and a deletion is seen at once, also by
// lookups that ran while it happened.
func TestBucketKnownUntilDeleted(t *testing.T) {
	s, _ := newStore(t, 4, Options{Parity: 2, NoSync: true})
	defer s.Close()
	ctx := t.Context()
	for round := range 20 {
		if err := s.CreateBucket(ctx, "b"); err != nil {
			t.Fatal(round, err)
		}
		if _, err := s.HeadBucket(ctx, "b"); err != nil {
			t.Fatal(round, err)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
						s.HeadBucket(ctx, "b")
					}
				}
			}()
		}
		err := s.DeleteBucket(ctx, "b")
		close(stop)
		wg.Wait()
		if err != nil {
			t.Fatal(round, err)
		}
		if _, err := s.HeadBucket(ctx, "b"); !backends.Is(err, backends.NoSuchBucket) {
			t.Fatalf("round %d: head after delete: %v", round, err)
		}
		if _, err := s.PutObject(ctx, "b", "k", bytes.NewReader([]byte("x")), backends.PutOptions{}); !backends.Is(err, backends.NoSuchBucket) {
			t.Fatalf("round %d: put after delete: %v", round, err)
		}
	}
}
