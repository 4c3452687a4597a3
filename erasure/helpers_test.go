package erasure

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

func init() {
	// The store logs drives going offline and coming back, which the
	// fault tests do all the time.
	if os.Getenv("STRATA_TEST_LOG") == "" {
		slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
}

func mkdirs(t testing.TB, paths []string) {
	for _, p := range paths {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// readVersion reads an object's latest version from its folder on a drive.
func readVersion(objDir string) (*version, error) {
	vs, err := readVersionsAt(objDir)
	if err != nil {
		return nil, err
	}
	return &vs[0], nil
}

// readVersionsAt reads all of an object's versions from its folder on a
// drive.
func readVersionsAt(objDir string) ([]version, error) {
	data, err := os.ReadFile(filepath.Join(objDir, metaName))
	if err != nil {
		return nil, err
	}
	return decodeMeta(data)
}

// verifyShardFile checks a shard file's size and every block's hash.
func verifyShardFile(path string, e erasureInfo, size int64) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || fi.Size() != e.shardFileSize(size) {
		return false
	}
	return verifyShards(f, e, size)
}

// open is Open for a test: the store is closed when the test ends, before
// its drives' temp dirs are removed.
func open(t testing.TB, paths []string, opts Options) (*Store, error) {
	s, err := Open(paths, opts)
	if err == nil {
		t.Cleanup(func() { s.Close() })
	}
	return s, err
}
