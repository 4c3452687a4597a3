//go:build linux

package mount

import (
	"context"
	"io"
	"maps"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// A file is an object. Its content is either in the store (reads are
// ranged GETs) or held here while it changes:
//
//   - a file written from its start in order (cp, tar, dd) streams out as
//     a multipart upload while it is written (streamWriter);
//   - anything else (writes elsewhere, truncate to a length, reads of a
//     file being written, appends to an existing object) goes through a
//     cache file under --cache-dir holding the whole content, downloaded
//     first if the object exists.
//
// The content is stored on flush (close), fsync, and the last release.

type fileNode struct {
	fs.Inode
	fsys *FS

	mu    sync.Mutex
	obj   Object    // the object as last seen in the store
	objAt time.Time // when obj was read
	a     attrs
	// attrsDirty: a holds attributes (--posix-attrs) not stored yet.
	attrsDirty bool

	opens int
	// local: the content is held here, and size is its length: a new or
	// truncated file, a stream, a cache file.
	local  bool
	size   int64
	dirty  bool // the content held here is not stored yet
	stream *streamWriter
	cache  *cacheFile
	// werr is a failed stream: the content is lost; the next flush
	// reports it.
	werr    error
	deleted bool
	// pageETag is the ETag of the content the kernel's page cache holds.
	pageETag string
}

var (
	_ fs.NodeGetattrer = (*fileNode)(nil)
	_ fs.NodeSetattrer = (*fileNode)(nil)
	_ fs.NodeOpener    = (*fileNode)(nil)
	_ fs.NodeReader    = (*fileNode)(nil)
	_ fs.NodeWriter    = (*fileNode)(nil)
	_ fs.NodeFlusher   = (*fileNode)(nil)
	_ fs.NodeFsyncer   = (*fileNode)(nil)
	_ fs.NodeReleaser  = (*fileNode)(nil)
)

// fileHandle is one open of a file.
type fileHandle struct {
	r     *fileReader
	write bool
}

func newFileNode(f *FS, obj Object) *fileNode {
	n := &fileNode{fsys: f}
	n.setObjectLocked(obj)
	return n
}

// newLocalFile is a file just created: empty, and not stored until it is
// flushed.
func newLocalFile(f *FS, a attrs) *fileNode {
	return &fileNode{fsys: f, a: a, local: true, dirty: true, attrsDirty: f.opt.PosixAttrs}
}

func (n *fileNode) attrsOf(obj Object) attrs {
	a := n.fsys.defaultAttrs(n.fsys.opt.FileMode)
	a.mtime = obj.ModTime
	if n.fsys.opt.PosixAttrs && obj.HasMeta {
		a = parseAttrs(a, obj.Meta.User)
	}
	return a
}

// setObject records what the store says about the file, unless the file
// holds changes of its own.
func (n *fileNode) setObject(obj Object) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.local || n.dirty || n.attrsDirty {
		return
	}
	n.setObjectLocked(obj)
}

func (n *fileNode) setObjectLocked(obj Object) {
	n.obj, n.objAt = obj, time.Now()
	n.a = n.attrsOf(obj)
}

// isLocal reports whether the file has content not stored yet.
func (n *fileNode) isLocal() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.dirty || n.stream != nil
}

func (n *fileNode) sizeLocked() int64 {
	if n.local {
		return n.size
	}
	return n.obj.Size
}

func (n *fileNode) fill(out *fuse.Attr) {
	n.mu.Lock()
	defer n.mu.Unlock()
	fillAttr(out, sIFREG, n.a, n.sizeLocked(), 1)
}

func (n *fileNode) key() (string, bool) { return n.fsys.fileKey(n.EmbeddedInode()) }

// refresh reads the object again when what is known of it is older than
// the attribute TTL.
func (n *fileNode) refresh() syscall.Errno {
	n.mu.Lock()
	stale := !n.local && !n.dirty && !n.deleted && time.Since(n.objAt) >= n.fsys.opt.AttrTTL
	n.mu.Unlock()
	if !stale {
		return 0
	}
	key, ok := n.key()
	if !ok {
		return 0
	}
	obj, err := n.fsys.store.Head(n.fsys.ctx(), key)
	if err != nil {
		return toErrno(err)
	}
	n.setObject(obj)
	return 0
}

func (n *fileNode) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	if errno := n.refresh(); errno != 0 {
		return errno
	}
	n.fill(&out.Attr)
	return 0
}

func (n *fileNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	write := flags&syscall.O_ACCMODE != syscall.O_RDONLY
	if write && n.fsys.opt.ReadOnly {
		return nil, 0, syscall.EROFS
	}
	// Close-to-open: a file opened sees the object as it is now (within
	// the attribute TTL).
	if errno := n.refresh(); errno != 0 {
		return nil, 0, errno
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if write && flags&syscall.O_TRUNC != 0 {
		if err := n.truncateLocked(0); err != nil {
			return nil, 0, toErrno(err)
		}
	}
	// The kernel keeps the pages it has of the same content.
	keep := n.local || (n.obj.ETag != "" && n.obj.ETag == n.pageETag)
	if !n.local {
		n.pageETag = n.obj.ETag
	}
	fh := n.openLocked(flags)
	if keep {
		return fh, fuse.FOPEN_KEEP_CACHE, 0
	}
	return fh, 0, 0
}

func (n *fileNode) open(flags uint32) *fileHandle {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.openLocked(flags)
}

func (n *fileNode) openLocked(flags uint32) *fileHandle {
	n.opens++
	if n.opens == 1 {
		n.fsys.setOpen(n, true)
	}
	return &fileHandle{r: &fileReader{f: n.fsys}, write: flags&syscall.O_ACCMODE != syscall.O_RDONLY}
}

func (n *fileNode) Read(ctx context.Context, fh fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h, ok := fh.(*fileHandle)
	if !ok {
		return nil, syscall.EBADF
	}
	n.mu.Lock()
	if n.stream != nil {
		// Reading what is being streamed out: hold it here instead.
		if err := n.toCacheLocked(); err != nil {
			n.mu.Unlock()
			return nil, toErrno(err)
		}
	}
	if n.cache != nil {
		k, err := n.cache.ReadAt(dest, off)
		n.mu.Unlock()
		if err != nil {
			return nil, toErrno(err)
		}
		return fuse.ReadResultData(dest[:k]), 0
	}
	if n.local {
		n.mu.Unlock()
		return fuse.ReadResultData(nil), 0 // new or truncated: empty
	}
	size := n.obj.Size
	n.mu.Unlock()
	key, ok := n.key()
	if !ok {
		return nil, syscall.ENOENT
	}
	res, err := h.r.read(key, size, len(dest), off)
	if err != nil {
		n.fsys.log.Warn("read", "key", key, "off", off, "err", err)
		return nil, toErrno(err)
	}
	return res, 0
}

func (n *fileNode) Write(ctx context.Context, fh fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	if n.fsys.opt.ReadOnly {
		return 0, syscall.EROFS
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.werr != nil {
		return 0, toErrno(n.werr)
	}
	var err error
	switch {
	case n.cache != nil:
		_, err = n.cache.WriteAt(data, off)
	case n.stream != nil && off == n.stream.size:
		if err = n.stream.write(data); err != nil {
			n.stream.abort()
			n.stream = nil
			n.werr = err
		}
	case n.stream == nil && n.sizeLocked() == 0 && off == 0 && !n.deleted:
		// Written from the start of an empty file: stream it out.
		key, ok := n.key()
		if !ok {
			return 0, syscall.ENOENT
		}
		n.size = 0
		n.stream = newStreamWriter(n.fsys, key, n.metaLocked(key))
		if err = n.stream.write(data); err != nil {
			n.stream.abort()
			n.stream = nil
			n.werr = err
		}
	default:
		if err = n.toCacheLocked(); err == nil {
			_, err = n.cache.WriteAt(data, off)
		}
	}
	if err != nil {
		return 0, toErrno(err)
	}
	n.local, n.dirty = true, true
	n.size = max(n.size, off+int64(len(data)))
	n.a.mtime = time.Now()
	return uint32(len(data)), 0
}

// toCacheLocked moves the content into a cache file: what a stream holds
// (publishing it first if parts went out already), or the object, read
// whole.
func (n *fileNode) toCacheLocked() error {
	if n.cache != nil {
		return nil
	}
	f := n.fsys
	if n.stream != nil && n.stream.uploadID != "" {
		// Parts are out: store what was written, then read it back.
		if err := n.syncLocked(); err != nil {
			return err
		}
	}
	cf, err := f.cache.create()
	if err != nil {
		return err
	}
	switch {
	case n.stream != nil:
		if _, err = cf.WriteAt(n.stream.buf, 0); err == nil {
			n.stream.abort() // nothing went out: this only drops the buffer
			n.stream = nil
		}
	case n.deleted:
		if n.local {
			err = cf.Truncate(n.size)
		}
	case n.local:
		err = cf.Truncate(n.size) // empty
	case n.obj.Size > 0:
		err = n.downloadLocked(cf)
	}
	if err != nil {
		cf.remove()
		return err
	}
	n.cache = cf
	n.local, n.size = true, cf.size
	return nil
}

// downloadLocked copies the object into cf.
func (n *fileNode) downloadLocked(cf *cacheFile) error {
	key, ok := n.key()
	if !ok {
		return syscall.ENOENT
	}
	size := n.obj.Size
	if err := cf.grow(size); err != nil {
		return err
	}
	body, err := n.fsys.store.Get(n.fsys.ctx(), key, 0, size)
	if err != nil {
		return err
	}
	defer body.Close()
	k, err := io.Copy(io.NewOffsetWriter(cf, 0), body)
	if err != nil {
		return err
	}
	if k != size {
		return io.ErrUnexpectedEOF
	}
	return nil
}

// metaLocked is the metadata to store the file with: its attributes with
// --posix-attrs, over the metadata the object had.
func (n *fileNode) metaLocked(key string) Meta {
	var m Meta
	if n.obj.HasMeta {
		m.ContentType = n.obj.Meta.ContentType
		m.User = maps.Clone(n.obj.Meta.User)
	}
	if n.fsys.opt.PosixAttrs {
		m.User = withAttrs(m.User, n.a, sIFREG)
	}
	return m
}

// truncateLocked changes the length of the content to size.
func (n *fileNode) truncateLocked(size int64) error {
	cur := n.sizeLocked()
	switch {
	case size == cur && (size > 0 || n.local || n.obj.Size == 0) && n.werr == nil:
		return nil
	case size == 0:
		if n.stream != nil {
			n.stream.abort()
			n.stream = nil
		}
		if n.cache != nil {
			if err := n.cache.Truncate(0); err != nil {
				return err
			}
		}
		n.werr = nil
	default:
		if err := n.toCacheLocked(); err != nil {
			return err
		}
		if err := n.cache.Truncate(size); err != nil {
			return err
		}
	}
	n.local, n.dirty, n.size = true, true, size
	n.a.mtime = time.Now()
	return nil
}

func (n *fileNode) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	f := n.fsys
	if f.opt.ReadOnly {
		return syscall.EROFS
	}
	n.mu.Lock()
	defer func() {
		n.mu.Unlock()
		n.fill(&out.Attr)
	}()
	if sz, ok := in.GetSize(); ok {
		if err := n.truncateLocked(int64(sz)); err != nil {
			return toErrno(err)
		}
	}
	if f.opt.PosixAttrs {
		if a := setAttrs(n.a, in); a != n.a {
			n.a, n.attrsDirty = a, true
		}
	}
	// Without an open file to flush it later, store it now.
	if n.opens == 0 {
		err := n.syncLocked()
		n.dropCacheLocked()
		if err != nil {
			return toErrno(err)
		}
	}
	return 0
}

func (n *fileNode) Flush(ctx context.Context, fh fs.FileHandle) syscall.Errno {
	if h, ok := fh.(*fileHandle); ok && !h.write {
		return 0
	}
	return toErrno(n.sync())
}

func (n *fileNode) Fsync(ctx context.Context, fh fs.FileHandle, flags uint32) syscall.Errno {
	return toErrno(n.sync())
}

func (n *fileNode) Release(ctx context.Context, fh fs.FileHandle) syscall.Errno {
	if h, ok := fh.(*fileHandle); ok {
		h.r.close()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.opens--
	if n.opens > 0 {
		return 0
	}
	if err := n.syncLocked(); err != nil {
		key, _ := n.key()
		if n.cache != nil && n.dirty {
			saved := n.cache.keep(key)
			n.cache = nil
			n.fsys.log.Error("storing a file failed; its content is kept in the cache dir", "key", key, "saved", saved, "err", err)
		} else {
			n.fsys.log.Error("storing a file failed", "key", key, "err", err)
		}
		n.resetLocked()
	}
	n.dropCacheLocked()
	n.fsys.setOpen(n, false)
	return 0
}

// dropCacheLocked removes a cache file that holds nothing unsaved, when no
// one has the file open.
func (n *fileNode) dropCacheLocked() {
	if n.cache != nil && !n.dirty && n.opens == 0 {
		n.cache.remove()
		n.cache = nil
		n.local = false
	}
}

// resetLocked forgets local content that cannot be stored: the file shows
// what the store has.
func (n *fileNode) resetLocked() {
	if n.stream != nil {
		n.stream.abort()
		n.stream = nil
	}
	if n.cache != nil {
		n.cache.remove()
		n.cache = nil
	}
	n.local, n.dirty, n.attrsDirty, n.size, n.werr = false, false, false, 0, nil
	n.objAt = time.Time{}
	n.pageETag = ""
}

func (n *fileNode) sync() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.syncLocked()
}

// syncLocked stores what the file holds and returns when it is stored.
func (n *fileNode) syncLocked() error {
	f := n.fsys
	if n.werr != nil {
		err := n.werr
		n.resetLocked()
		return err
	}
	if n.deleted {
		if n.stream != nil {
			n.stream.abort()
			n.stream = nil
		}
		n.dirty, n.attrsDirty = false, false
		return nil
	}
	if !n.dirty && !n.attrsDirty {
		return nil
	}
	key, ok := n.key()
	if !ok {
		return nil
	}
	meta := n.metaLocked(key)
	var (
		o   Object
		err error
	)
	switch {
	case n.stream != nil:
		o, err = n.stream.finish(meta)
		n.stream = nil
		if err != nil {
			n.resetLocked()
			return err
		}
		if f.opt.PosixAttrs && n.attrsDirty && o.Meta.User[metaMtime] != meta.User[metaMtime] {
			// Attributes changed after the upload began.
			o, err = f.store.Copy(f.ctx(), o, key, &meta)
			if err != nil {
				return err
			}
		}
	case n.dirty && n.cache != nil:
		o, err = f.uploadFile(key, n.cache.f, n.cache.size, meta)
	case n.dirty:
		o, err = f.store.Put(f.ctx(), key, strings.NewReader(""), 0, meta)
	default: // attributes only
		src := n.obj
		src.Key = key
		o, err = f.store.Copy(f.ctx(), src, key, &meta)
	}
	if err != nil {
		return err
	}
	o.Key, o.Size = key, n.sizeLocked()
	if o.ModTime.IsZero() {
		o.ModTime = time.Now()
	}
	o.Meta, o.HasMeta = meta, true
	n.dirty, n.attrsDirty = false, false
	n.obj, n.objAt = o, time.Now()
	n.pageETag = o.ETag // the kernel's pages are this content
	if n.cache == nil {
		n.local = false
	}
	n.noteParent(o)
	return nil
}

// noteParent updates the parent's listing with the stored object.
func (n *fileNode) noteParent(o Object) {
	name, p := n.Parent()
	if p == nil {
		return
	}
	if d, ok := p.Operations().(*dirNode); ok {
		d.note(name, &entry{obj: o})
	}
}

// unlinked marks the file removed: nothing it holds is stored any more.
func (n *fileNode) unlinked() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.deleted = true
	if n.stream != nil {
		n.stream.abort()
		n.stream = nil
	}
	n.dirty, n.attrsDirty = false, false
}

// moveTo renames the file's object from src to dst: server-side copy,
// then delete.
func (n *fileNode) moveTo(src, dst string) error {
	f := n.fsys
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.syncLocked(); err != nil {
		return err
	}
	obj := n.obj
	obj.Key = src
	o, err := f.store.Copy(f.ctx(), obj, dst, nil)
	if err != nil {
		return err
	}
	if err := f.store.Delete(f.ctx(), src); err != nil {
		return err
	}
	o.Size = obj.Size
	if o.ETag == "" {
		o.ETag = obj.ETag
	}
	o.Meta, o.HasMeta = obj.Meta, obj.HasMeta
	n.obj, n.objAt = o, time.Now()
	if n.pageETag == obj.ETag {
		n.pageETag = o.ETag
	}
	return nil
}
