//go:build linux

package mount

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	smount "github.com/strata-storage/strata/mount"
)

// generated is a read-only Store holding the keys big/file-000000 ...
// big/file-(n-1), made up as they are listed, so that a directory of any
// size costs the store nothing. It counts the listing calls.
type generated struct {
	n       int
	lists   atomic.Int64
	maxPage atomic.Int64
}

func (g *generated) name(i int) string { return fmt.Sprintf("big/file-%06d", i) }

func (g *generated) List(ctx context.Context, prefix, delimiter, token string, max int) (smount.ListPage, error) {
	g.lists.Add(1)
	if int64(max) > g.maxPage.Load() {
		g.maxPage.Store(int64(max))
	}
	var p smount.ListPage
	switch {
	case prefix == "" && delimiter == "/":
		p.Prefixes = []string{"big/"}
		return p, nil
	case !strings.HasPrefix(prefix, "big/"):
		return p, nil
	}
	start := 0
	if token != "" {
		start, _ = strconv.Atoi(token)
	}
	for i := start; i < g.n && len(p.Objects) < max; i++ {
		k := g.name(i)
		if strings.HasPrefix(k, prefix) {
			p.Objects = append(p.Objects, smount.Object{Key: k, Size: 1, ModTime: time.Unix(1e9, 0), ETag: "e"})
		}
	}
	if end := start + len(p.Objects); end < g.n && len(p.Objects) == max {
		p.Next = strconv.Itoa(end)
	}
	return p, nil
}

func (g *generated) Head(ctx context.Context, key string) (smount.Object, error) {
	if i, err := strconv.Atoi(strings.TrimPrefix(key, "big/file-")); err == nil && i < g.n && key == g.name(i) {
		return smount.Object{Key: key, Size: 1, ModTime: time.Unix(1e9, 0), ETag: "e", HasMeta: true}, nil
	}
	return smount.Object{}, &smount.Error{Op: "head", Key: key, Errno: syscall.ENOENT, Err: os.ErrNotExist}
}

func (g *generated) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("x"[off:])), nil
}

var errRO = &smount.Error{Op: "write", Errno: syscall.EROFS, Err: os.ErrPermission}

func (g *generated) Put(context.Context, string, io.ReadSeeker, int64, smount.Meta) (smount.Object, error) {
	return smount.Object{}, errRO
}
func (g *generated) CreateMultipart(context.Context, string, smount.Meta) (string, error) {
	return "", errRO
}
func (g *generated) UploadPart(context.Context, string, string, int, io.ReadSeeker, int64) (string, error) {
	return "", errRO
}
func (g *generated) CompleteMultipart(context.Context, string, string, []smount.Part) (smount.Object, error) {
	return smount.Object{}, errRO
}
func (g *generated) AbortMultipart(context.Context, string, string) error { return errRO }
func (g *generated) Copy(context.Context, smount.Object, string, *smount.Meta) (smount.Object, error) {
	return smount.Object{}, errRO
}
func (g *generated) Delete(context.Context, string) error { return errRO }

// TestHugeDirectory lists a directory of 100,000 files through the
// kernel, from a store that makes the keys up: the listing goes page by
// page, and is not kept (it is over the cache's limit), so memory does not
// grow with the directory.
func TestHugeDirectory(t *testing.T) {
	const n = 100000
	g := &generated{n: n}
	dir := t.TempDir()
	fsys, err := smount.Mount(dir, g, smount.Options{ReadOnly: true, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatalf("mount: %v", err)
	}
	defer func() {
		if err := fsys.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
			exec.Command("fusermount3", "-u", "-z", dir).Run()
		}
		fsys.Wait()
	}()
	var out string
	before := heapInUse()
	timed(t, "ls -f of 100,000 files", func() { out = sh(t, dir, `ls -f big | wc -l`) })
	if strings.TrimSpace(out) != fmt.Sprint(n+2) {
		t.Errorf("ls -f | wc -l: %s, want %d", out, n+2)
	}
	pages := g.lists.Load()
	if pages < n/1000 || g.maxPage.Load() > 1000 {
		t.Errorf("%d listing calls of up to %d keys for %d files, want pages of at most 1000", pages, g.maxPage.Load(), n)
	}
	timed(t, "ls -l of 100,000 files", func() { out = sh(t, dir, `ls -l big | tail -n +2 | wc -l`) })
	if strings.TrimSpace(out) != fmt.Sprint(n) {
		t.Errorf("ls -l | wc -l: %s, want %d", out, n)
	}
	if again := g.lists.Load() - pages; again < n/1000 {
		t.Errorf("the second listing made %d calls: the listing of %d entries was kept", again, n)
	}
	if got := sh(t, dir, `cat big/file-099999; stat -c %s big/file-054321`); got != "x1\n" {
		t.Errorf("cat and stat: %q", got)
	}
	t.Logf("heap in use: %d MiB before, %d MiB after listing", before>>20, heapInUse()>>20)
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}
