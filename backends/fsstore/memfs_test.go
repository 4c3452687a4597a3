package fsstore_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-storage/strata/backends/fsstore"
)

// memFS is an in-memory fsstore.FS without links or xattrs, as small as the
// contract allows: it shows that the Store needs nothing from package os,
// which is what the NFS and SMB clients will give it.
type memFS struct {
	mu       sync.Mutex
	root     *node
	readDirs atomic.Int64 // ReadDir calls, to check that listings seek
	coarse   bool         // mtimes in whole seconds, as on FAT or some NAS
}

func (m *memFS) now() time.Time { return m.clock(time.Now()) }

func (m *memFS) clock(t time.Time) time.Time {
	if m.coarse {
		return t.Truncate(time.Second)
	}
	return t
}

type node struct {
	dir      bool
	children map[string]*node
	data     []byte
	mtime    time.Time
}

func newMemFS() *memFS {
	return &memFS{root: &node{dir: true, children: map[string]*node{}, mtime: time.Now()}}
}

func pathErr(op, name string, err error) error { return &fs.PathError{Op: op, Path: name, Err: err} }

// lookup returns the node at name and its parent (held: m.mu).
func (m *memFS) lookup(name string) (parent, n *node, base string, err error) {
	if name == "." {
		return nil, m.root, ".", nil
	}
	elems := strings.Split(name, "/")
	cur := m.root
	for i, e := range elems {
		if !cur.dir {
			return nil, nil, "", fs.ErrNotExist
		}
		next := cur.children[e]
		if i == len(elems)-1 {
			return cur, next, e, nil
		}
		if next == nil {
			return nil, nil, "", fs.ErrNotExist
		}
		cur = next
	}
	panic("unreachable")
}

func (m *memFS) get(op, name string) (*node, error) {
	_, n, _, err := m.lookup(name)
	if err == nil && n == nil {
		err = fs.ErrNotExist
	}
	if err != nil {
		return nil, pathErr(op, name, err)
	}
	return n, nil
}

func (m *memFS) Open(name string) (fsstore.File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.get("open", name)
	if err != nil {
		return nil, err
	}
	if n.dir {
		return nil, pathErr("open", name, fs.ErrNotExist)
	}
	info := n.info(name)
	return &memFile{Reader: bytes.NewReader(n.data), fi: info}, nil
}

func (m *memFS) Create(name string) (fsstore.Writer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	parent, n, base, err := m.lookup(name)
	switch {
	case err != nil || parent == nil || !parent.dir:
		return nil, pathErr("create", name, fs.ErrNotExist)
	case n != nil:
		return nil, pathErr("create", name, fs.ErrExist)
	}
	n = &node{mtime: m.now()}
	parent.children[base] = n
	return &memWriter{m: m, n: n, name: name}, nil
}

func (m *memFS) Mkdir(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	parent, n, base, err := m.lookup(name)
	switch {
	case err != nil || parent == nil || !parent.dir:
		return pathErr("mkdir", name, fs.ErrNotExist)
	case n != nil:
		return pathErr("mkdir", name, fs.ErrExist)
	}
	parent.children[base] = &node{dir: true, children: map[string]*node{}, mtime: time.Now()}
	parent.mtime = time.Now()
	return nil
}

func (m *memFS) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	op, on, ob, err := m.lookup(oldname)
	if err != nil || on == nil {
		return pathErr("rename", oldname, fs.ErrNotExist)
	}
	np, nn, nb, err := m.lookup(newname)
	if err != nil || np == nil || !np.dir {
		return pathErr("rename", newname, fs.ErrNotExist)
	}
	if nn != nil && nn.dir && (!on.dir || len(nn.children) > 0) {
		return pathErr("rename", newname, fs.ErrExist)
	}
	delete(op.children, ob)
	np.children[nb] = on
	return nil
}

func (m *memFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	parent, n, base, err := m.lookup(name)
	if err != nil || n == nil {
		return pathErr("remove", name, fs.ErrNotExist)
	}
	if n.dir && len(n.children) > 0 {
		return pathErr("remove", name, errors.New("directory not empty"))
	}
	delete(parent.children, base)
	return nil
}

func (m *memFS) ReadDir(name string) ([]fs.DirEntry, error) {
	m.readDirs.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.get("readdir", name)
	if err != nil {
		return nil, err
	}
	if !n.dir {
		return nil, pathErr("readdir", name, fs.ErrNotExist)
	}
	out := make([]fs.DirEntry, 0, len(n.children))
	for base, c := range n.children { // map order: any order is allowed
		out = append(out, fs.FileInfoToDirEntry(c.info(base)))
	}
	return out, nil
}

func (m *memFS) Stat(name string) (fs.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.get("stat", name)
	if err != nil {
		return nil, err
	}
	return n.info(name[strings.LastIndexByte(name, '/')+1:]), nil
}

func (m *memFS) Lstat(name string) (fs.FileInfo, error) { return m.Stat(name) }

func (m *memFS) Chtimes(name string, mtime time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.get("chtimes", name)
	if err == nil {
		n.mtime = m.clock(mtime)
	}
	return err
}

type memInfo struct {
	name  string
	size  int64
	dir   bool
	mtime time.Time
}

func (n *node) info(name string) memInfo {
	return memInfo{name: name, size: int64(len(n.data)), dir: n.dir, mtime: n.mtime}
}

func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) ModTime() time.Time { return i.mtime }
func (i memInfo) IsDir() bool        { return i.dir }
func (i memInfo) Sys() any           { return nil }
func (i memInfo) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}

type memFile struct {
	*bytes.Reader
	fi memInfo
}

func (f *memFile) Close() error               { return nil }
func (f *memFile) Stat() (fs.FileInfo, error) { return f.fi, nil }

type memWriter struct {
	m      *memFS
	n      *node
	name   string
	closed bool
}

func (w *memWriter) Write(p []byte) (int, error) {
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	if w.closed {
		return 0, fmt.Errorf("write %s: %w", w.name, fs.ErrClosed)
	}
	// A new slice each time: readers keep the bytes they opened.
	w.n.data = append(w.n.data[:len(w.n.data):len(w.n.data)], p...)
	w.n.mtime = w.m.now()
	return len(p), nil
}

func (w *memWriter) Sync() error { return nil }
func (w *memWriter) Close() error {
	w.closed = true
	return nil
}
func (w *memWriter) Stat() (fs.FileInfo, error) {
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	return w.n.info(w.name), nil
}

var _ io.Seeker = (*memFile)(nil)
