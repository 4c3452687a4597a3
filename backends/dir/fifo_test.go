//go:build unix

package dir

import (
	"path/filepath"
	"syscall"
	"testing"

	"github.com/strata-storage/strata/backends"
)

// A FIFO in the tree is no object, and opening it does not block.
func TestFIFO(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "bkt", "file"), []byte("x"))
	if err := syscall.Mkfifo(filepath.Join(root, "bkt", "fifo"), 0o644); err != nil {
		t.Skip(err)
	}
	s := open(t, root, Options{})
	if _, _, err := s.GetObject(t.Context(), "bkt", "fifo", nil); !backends.Is(err, backends.NoSuchKey) {
		t.Fatalf("GetObject(fifo): %v", err)
	}
	if keys, _ := listKeys(t, s, "bkt", backends.ListOptions{}); len(keys) != 1 {
		t.Fatalf("keys %q", keys)
	}
	if err := s.DeleteBucket(t.Context(), "bkt"); !backends.Is(err, backends.NotEmpty) {
		t.Fatalf("DeleteBucket with a fifo: %v", err)
	}
}

// setUmask sets the process umask and returns the old one.
func setUmask(mask int) int { return syscall.Umask(mask) }
