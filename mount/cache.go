//go:build linux

package mount

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// cacheDir holds the write-back cache files of one mount, in a folder of
// its own under the --cache-dir, and counts their bytes against a limit.
type cacheDir struct {
	dir   string
	limit int64

	mu   sync.Mutex
	used int64
}

func newCacheDir(parent string, limit int64) (*cacheDir, error) {
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return nil, fmt.Errorf("cache dir: %w", err)
	}
	dir, err := os.MkdirTemp(parent, "strata-mount-")
	if err != nil {
		return nil, fmt.Errorf("cache dir: %w", err)
	}
	return &cacheDir{dir: dir, limit: limit}, nil
}

// close removes the mount's folder; files saved there because their
// upload failed stay, and so does the folder then.
func (c *cacheDir) close() {
	os.Remove(c.dir)
}

// reserve counts n more bytes, or fails with ENOSPC past the limit.
func (c *cacheDir) reserve(n int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.used+n > c.limit {
		return syscall.ENOSPC
	}
	c.used += n
	return nil
}

func (c *cacheDir) release(n int64) {
	c.mu.Lock()
	c.used -= n
	c.mu.Unlock()
}

// Used returns the bytes counted now.
func (c *cacheDir) Used() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}

// cacheFile is the local copy of one file's content.
type cacheFile struct {
	c     *cacheDir
	f     *os.File
	size  int64 // length of the content
	alloc int64 // bytes counted against the limit: the largest size reached
}

func (c *cacheDir) create() (*cacheFile, error) {
	f, err := os.CreateTemp(c.dir, "file-")
	if err != nil {
		return nil, err
	}
	return &cacheFile{c: c, f: f}, nil
}

// grow counts the content growing to end.
func (cf *cacheFile) grow(end int64) error {
	if end <= cf.alloc {
		return nil
	}
	if err := cf.c.reserve(end - cf.alloc); err != nil {
		return err
	}
	cf.alloc = end
	return nil
}

func (cf *cacheFile) WriteAt(p []byte, off int64) (int, error) {
	end := off + int64(len(p))
	if err := cf.grow(end); err != nil {
		return 0, err
	}
	n, err := cf.f.WriteAt(p, off)
	if end := off + int64(n); end > cf.size {
		cf.size = end
	}
	return n, err
}

func (cf *cacheFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= cf.size {
		return 0, nil
	}
	if rest := cf.size - off; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := cf.f.ReadAt(p, off)
	if n == len(p) {
		err = nil
	}
	return n, err
}

func (cf *cacheFile) Truncate(size int64) error {
	if err := cf.grow(size); err != nil {
		return err
	}
	if err := cf.f.Truncate(size); err != nil {
		return err
	}
	cf.size = size
	if size < cf.alloc {
		cf.c.release(cf.alloc - size)
		cf.alloc = size
	}
	return nil
}

// remove deletes the file and returns its bytes.
func (cf *cacheFile) remove() {
	cf.f.Close()
	os.Remove(cf.f.Name())
	cf.c.release(cf.alloc)
	cf.alloc = 0
}

// keep closes the file but leaves it on disk under a name that tells
// what it held: the content of a file whose upload failed.
func (cf *cacheFile) keep(key string) string {
	cf.f.Close()
	name := filepath.Join(cf.c.dir, fmt.Sprintf("unsaved-%s-%s", time.Now().Format("20060102T150405"),
		filepath.Base(key)))
	if err := os.Rename(cf.f.Name(), name); err != nil {
		name = cf.f.Name()
	}
	cf.c.release(cf.alloc)
	cf.alloc = 0
	return name
}
