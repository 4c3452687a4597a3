//go:build linux

package mount

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestCacheLimit(t *testing.T) {
	parent := t.TempDir()
	c, err := newCacheDir(parent, 100)
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.create()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.create()
	if _, err := a.WriteAt(make([]byte, 60), 0); err != nil {
		t.Fatal(err)
	}
	// Rewriting what is there costs nothing more.
	if _, err := a.WriteAt(make([]byte, 60), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := b.WriteAt(make([]byte, 41), 0); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write past the limit: %v, want ENOSPC", err)
	}
	if _, err := b.WriteAt(make([]byte, 10), 30); err != nil {
		t.Fatalf("write within the limit: %v", err)
	}
	if got := c.Used(); got != 100 {
		t.Errorf("used %d, want 100", got)
	}
	if b.size != 40 {
		t.Errorf("size after a write at 30: %d", b.size)
	}
	// A hole reads as zeros; reads stop at the size.
	p := make([]byte, 50)
	p[0] = 1
	if n, err := b.ReadAt(p, 0); n != 40 || err != nil || p[0] != 0 {
		t.Errorf("ReadAt: %d %v %v", n, err, p[0])
	}
	if err := a.Truncate(10); err != nil {
		t.Fatal(err)
	}
	if got := c.Used(); got != 50 {
		t.Errorf("used after truncate: %d, want 50", got)
	}
	if err := a.Truncate(200); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("truncate past the limit: %v", err)
	}
	a.remove()
	if got := c.Used(); got != 40 {
		t.Errorf("used after remove: %d, want 40", got)
	}
	saved := b.keep("dir/name.txt")
	if got := c.Used(); got != 0 {
		t.Errorf("used after keep: %d, want 0", got)
	}
	if !strings.HasPrefix(filepath.Base(saved), "unsaved-") || !strings.HasSuffix(saved, "name.txt") {
		t.Errorf("kept as %s", saved)
	}
	if fi, err := os.Stat(saved); err != nil || fi.Size() != 40 {
		t.Errorf("kept file: %v %v", fi, err)
	}
	c.close() // the folder stays: it holds the kept file
	if _, err := os.Stat(saved); err != nil {
		t.Errorf("the kept file went with the cache dir: %v", err)
	}
}
