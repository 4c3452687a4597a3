//go:build linux

package mount

import (
	"context"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// A directory is a key prefix ending in "/": it exists while some key
// starts with it, or its folder marker (the empty object named by the
// prefix itself) does. mkdir puts the marker; rmdir deletes it.

// maxCachedEntries bounds the directory listings kept to answer lookups:
// a larger directory is listed page by page each time and never held in
// memory whole.
const maxCachedEntries = 20000

// listPage is the number of keys asked for per listing call.
const listPage = 1000

// entry is what a listing tells about one name in a directory.
type entry struct {
	dir bool
	obj Object // for a file
}

// listing is a directory's whole content as listed at a time.
type listing struct {
	at      time.Time
	entries map[string]entry
}

type dirNode struct {
	fs.Inode
	fsys *FS

	mu   sync.Mutex
	a    attrs
	list *listing
	gen  uint64 // changes made through the mount, to discard a listing that raced with one
}

var (
	_ fs.NodeLookuper       = (*dirNode)(nil)
	_ fs.NodeOpendirHandler = (*dirNode)(nil)
	_ fs.NodeGetattrer      = (*dirNode)(nil)
	_ fs.NodeSetattrer      = (*dirNode)(nil)
	_ fs.NodeMkdirer        = (*dirNode)(nil)
	_ fs.NodeCreater        = (*dirNode)(nil)
	_ fs.NodeUnlinker       = (*dirNode)(nil)
	_ fs.NodeRmdirer        = (*dirNode)(nil)
	_ fs.NodeRenamer        = (*dirNode)(nil)
	_ fs.NodeStatfser       = (*dirNode)(nil)
	_ fs.NodeFsyncer        = (*dirNode)(nil)
	_ fs.NodeMknoder        = (*dirNode)(nil)
	_ fs.NodeSymlinker      = (*dirNode)(nil)
	_ fs.NodeLinker         = (*dirNode)(nil)
)

func (d *dirNode) key() (string, bool) { return d.fsys.dirKey(d.EmbeddedInode()) }

// cached returns the listing if it is still fresh.
func (d *dirNode) cached() *listing {
	if d.list != nil && time.Since(d.list.at) < d.fsys.opt.DirTTL {
		return d.list
	}
	d.list = nil
	return nil
}

// note records a change of name made through the mount in the listing.
func (d *dirNode) note(name string, e *entry) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gen++
	if l := d.cached(); l != nil {
		if e == nil {
			delete(l.entries, name)
		} else if len(l.entries) < maxCachedEntries {
			l.entries[name] = *e
		} else {
			d.list = nil
		}
	}
}

func (d *dirNode) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	d.mu.Lock()
	defer d.mu.Unlock()
	fillAttr(&out.Attr, sIFDIR, d.a, 0, 1)
	return 0
}

func (d *dirNode) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	f := d.fsys
	if f.opt.ReadOnly {
		return syscall.EROFS
	}
	d.mu.Lock()
	a := d.a
	d.mu.Unlock()
	a = setAttrs(a, in)
	if f.opt.PosixAttrs && !d.IsRoot() {
		// The attributes live on the folder marker, which this makes if
		// the directory had none.
		key, ok := d.key()
		if !ok {
			return syscall.ENOENT
		}
		meta := Meta{User: withAttrs(nil, a, sIFDIR)}
		if _, err := f.store.Put(f.ctx(), key, strings.NewReader(""), 0, meta); err != nil {
			return toErrno(err)
		}
	}
	if f.opt.PosixAttrs {
		d.mu.Lock()
		d.a = a
		d.mu.Unlock()
	}
	return d.Getattr(ctx, fh, out)
}

// setAttrs applies the attribute changes of a SETATTR.
func setAttrs(a attrs, in *fuse.SetAttrIn) attrs {
	if m, ok := in.GetMode(); ok {
		a.mode = m & 0o7777
	}
	if u, ok := in.GetUID(); ok {
		a.uid = u
	}
	if g, ok := in.GetGID(); ok {
		a.gid = g
	}
	if t, ok := in.GetMTime(); ok {
		a.mtime = t
	}
	return a
}

func (d *dirNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	statfs(out)
	return 0
}

func (d *dirNode) Fsync(ctx context.Context, fh fs.FileHandle, flags uint32) syscall.Errno { return 0 }

func (d *dirNode) Mknod(ctx context.Context, name string, mode, dev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.ENOTSUP
}

func (d *dirNode) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.ENOTSUP
}

func (d *dirNode) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.ENOTSUP
}

// stat finds what name key is: a directory (some key below key+"/"), a
// file (an object at key), or nothing. The two questions go out at once;
// a directory wins over a file of the same name, as in listings.
func (f *FS) stat(key string) (entry, error) {
	var (
		head Object
		herr error
		wg   sync.WaitGroup
	)
	wg.Go(func() { head, herr = f.store.Head(f.ctx(), key) })
	page, lerr := f.store.List(f.ctx(), key+"/", "/", "", 1)
	wg.Wait()
	if lerr == nil && (len(page.Objects) > 0 || len(page.Prefixes) > 0) {
		return entry{dir: true}, nil
	}
	if herr == nil {
		return entry{obj: head}, nil
	}
	if lerr != nil && notFound(herr) {
		return entry{}, lerr
	}
	return entry{}, herr
}

func (d *dirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if e := validName(name); e != 0 {
		return nil, e
	}
	// A file being written that is not stored yet.
	if ch := d.GetChild(name); ch != nil {
		if fn, ok := ch.Operations().(*fileNode); ok && fn.isLocal() {
			fn.fill(&out.Attr)
			return ch, 0
		}
	}
	d.mu.Lock()
	l := d.cached()
	var (
		e  entry
		ok bool
	)
	if l != nil {
		e, ok = l.entries[name]
	}
	d.mu.Unlock()
	if l != nil && !ok {
		return nil, syscall.ENOENT
	}
	if l == nil {
		dk, linked := d.key()
		if !linked {
			return nil, syscall.ENOENT
		}
		var err error
		if e, err = d.fsys.stat(dk + name); err != nil {
			return nil, toErrno(err)
		}
	}
	return d.child(ctx, name, e, out)
}

// child returns the node of name, described by e: the existing one if it
// has the same type, else a new one.
func (d *dirNode) child(ctx context.Context, name string, e entry, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	f := d.fsys
	ch := d.GetChild(name)
	if e.dir {
		if ch != nil && ch.IsDir() {
			if dn, ok := ch.Operations().(*dirNode); ok {
				dn.mu.Lock()
				fillAttr(&out.Attr, sIFDIR, dn.a, 0, 1)
				dn.mu.Unlock()
				return ch, 0
			}
		}
		dn := &dirNode{fsys: f, a: f.defaultAttrs(f.opt.DirMode)}
		dn.a.mtime = f.mounted
		if f.opt.PosixAttrs {
			if dk, ok := d.key(); ok {
				if m, err := f.store.Head(f.ctx(), dk+name+"/"); err == nil {
					dn.a = parseAttrs(dn.a, m.Meta.User)
				}
			}
		}
		in := d.NewInode(ctx, dn, fs.StableAttr{Mode: sIFDIR})
		fillAttr(&out.Attr, sIFDIR, dn.a, 0, 1)
		return in, 0
	}
	obj := e.obj
	if f.opt.PosixAttrs && !obj.HasMeta {
		// An S3 listing has no metadata: ask the object.
		if h, err := f.store.Head(f.ctx(), obj.Key); err == nil {
			obj = h
		} else if notFound(err) {
			return nil, syscall.ENOENT
		}
	}
	if ch != nil && !ch.IsDir() {
		if fn, ok := ch.Operations().(*fileNode); ok {
			fn.setObject(obj)
			fn.fill(&out.Attr)
			return ch, 0
		}
	}
	fn := newFileNode(f, obj)
	in := d.NewInode(ctx, fn, fs.StableAttr{Mode: sIFREG})
	fn.fill(&out.Attr)
	return in, 0
}

func (d *dirNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	f := d.fsys
	if f.opt.ReadOnly {
		return nil, syscall.EROFS
	}
	if e := validName(name); e != 0 {
		return nil, e
	}
	dk, ok := d.key()
	if !ok {
		return nil, syscall.ENOENT
	}
	a := f.newAttrs(ctx, mode, f.opt.DirMode)
	var meta Meta
	if f.opt.PosixAttrs {
		meta.User = withAttrs(nil, a, sIFDIR)
	}
	if _, err := f.store.Put(f.ctx(), dk+name+"/", strings.NewReader(""), 0, meta); err != nil {
		return nil, toErrno(err)
	}
	// A new directory is empty: its listing is known.
	dn := &dirNode{fsys: f, a: a, list: &listing{at: time.Now(), entries: map[string]entry{}}}
	in := d.NewInode(ctx, dn, fs.StableAttr{Mode: sIFDIR})
	d.note(name, &entry{dir: true})
	fillAttr(&out.Attr, sIFDIR, a, 0, 1)
	return in, 0
}

// newAttrs are the attributes of a file or directory made by the caller of
// ctx with mode.
func (f *FS) newAttrs(ctx context.Context, mode, def uint32) attrs {
	a := f.defaultAttrs(def)
	a.mtime = time.Now()
	if f.opt.PosixAttrs {
		a.mode = mode & 0o7777
		if c, ok := ctx.(*fuse.Context); ok {
			a.uid, a.gid = c.Caller.Uid, c.Caller.Gid
		}
	}
	return a
}

func (d *dirNode) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	f := d.fsys
	if f.opt.ReadOnly {
		return nil, nil, 0, syscall.EROFS
	}
	if e := validName(name); e != 0 {
		return nil, nil, 0, e
	}
	if _, ok := d.key(); !ok {
		return nil, nil, 0, syscall.ENOENT
	}
	fn := newLocalFile(f, f.newAttrs(ctx, mode, f.opt.FileMode))
	in := d.NewInode(ctx, fn, fs.StableAttr{Mode: sIFREG})
	fh := fn.open(flags)
	dk, _ := d.key()
	d.note(name, &entry{obj: Object{Key: dk + name, ModTime: fn.a.mtime}})
	fn.fill(&out.Attr)
	return in, fh, 0, 0
}

func (d *dirNode) Unlink(ctx context.Context, name string) syscall.Errno {
	f := d.fsys
	if f.opt.ReadOnly {
		return syscall.EROFS
	}
	dk, ok := d.key()
	if !ok {
		return syscall.ENOENT
	}
	if ch := d.GetChild(name); ch != nil {
		if fn, ok := ch.Operations().(*fileNode); ok {
			fn.unlinked()
		}
	}
	if err := f.store.Delete(f.ctx(), dk+name); err != nil {
		return toErrno(err)
	}
	d.note(name, nil)
	return 0
}

// hasLocalFiles reports whether files below in are being written and not
// stored yet.
func hasLocalFiles(in *fs.Inode) bool {
	for _, ch := range in.Children() {
		switch n := ch.Operations().(type) {
		case *fileNode:
			if n.isLocal() {
				return true
			}
		case *dirNode:
			if hasLocalFiles(ch) {
				return true
			}
		}
	}
	return false
}

func (d *dirNode) Rmdir(ctx context.Context, name string) syscall.Errno {
	f := d.fsys
	if f.opt.ReadOnly {
		return syscall.EROFS
	}
	dk, ok := d.key()
	if !ok {
		return syscall.ENOENT
	}
	key := dk + name + "/"
	if ch := d.GetChild(name); ch != nil && hasLocalFiles(ch) {
		return syscall.ENOTEMPTY
	}
	page, err := f.store.List(f.ctx(), key, "", "", 2)
	if err != nil {
		return toErrno(err)
	}
	for _, o := range page.Objects {
		if o.Key != key {
			return syscall.ENOTEMPTY
		}
	}
	if err := f.store.Delete(f.ctx(), key); err != nil {
		return toErrno(err)
	}
	d.note(name, nil)
	return 0
}

func (d *dirNode) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	h := &dirHandle{d: d}
	if errno := h.reset(); errno != 0 {
		return nil, 0, errno
	}
	return h, 0, 0
}

// dirHandle streams a directory's entries: from the cached listing when it
// is fresh, else page by page from the store. A listing that fits
// maxCachedEntries is kept to answer lookups for DirTTL.
type dirHandle struct {
	d *dirNode

	mu      sync.Mutex
	prefix  string
	names   []string // the current page, in order
	ents    []entry
	i       int
	off     uint64 // entries returned so far
	token   string
	done    bool
	seen    map[string]entry // the whole listing so far; nil past maxCachedEntries
	gen     uint64
	started time.Time
	last    entry
}

var (
	_ fs.FileReaddirenter = (*dirHandle)(nil)
	_ fs.FileLookuper     = (*dirHandle)(nil)
	_ fs.FileSeekdirer    = (*dirHandle)(nil)
)

func (h *dirHandle) reset() syscall.Errno {
	d := h.d
	dk, ok := d.key()
	if !ok {
		return syscall.ENOENT
	}
	h.prefix, h.i, h.off, h.token, h.done = dk, 0, 0, "", false
	h.names = []string{".", ".."}
	h.ents = []entry{{dir: true}, {dir: true}}
	d.mu.Lock()
	defer d.mu.Unlock()
	if l := d.cached(); l != nil {
		names := make([]string, 0, len(l.entries))
		for n := range l.entries {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			h.names = append(h.names, n)
			h.ents = append(h.ents, l.entries[n])
		}
		h.done = true
		h.seen = nil
		return 0
	}
	h.seen = map[string]entry{}
	h.gen = d.gen
	h.started = time.Now()
	return 0
}

// fetch reads the next page of the listing.
func (h *dirHandle) fetch() syscall.Errno {
	f := h.d.fsys
	page, err := f.store.List(f.ctx(), h.prefix, "/", h.token, listPage)
	if err != nil {
		return toErrno(err)
	}
	h.names, h.ents, h.i = h.names[:0], h.ents[:0], 0
	// Objects and prefixes come in two lists; merge them in key order so
	// that a name that is both shows once, as a directory.
	oi, pi := 0, 0
	for oi < len(page.Objects) || pi < len(page.Prefixes) {
		var name string
		var e entry
		if pi < len(page.Prefixes) && (oi == len(page.Objects) || page.Prefixes[pi] < page.Objects[oi].Key) {
			name = strings.TrimSuffix(page.Prefixes[pi][len(h.prefix):], "/")
			e = entry{dir: true}
			pi++
		} else {
			o := page.Objects[oi]
			oi++
			name = o.Key[len(h.prefix):]
			e = entry{obj: o}
		}
		if name == "" || name == "." || name == ".." || strings.Contains(name, "/") || len(name) > 255 {
			continue // the folder marker itself, or a name no file can have
		}
		if h.seen != nil {
			if prev, ok := h.seen[name]; ok {
				if prev.dir || !e.dir {
					continue
				}
				// A directory of the same name as a file shown before:
				// the lookup answers the directory.
			}
			if len(h.seen) >= maxCachedEntries {
				h.seen = nil
			} else {
				h.seen[name] = e
			}
		}
		h.names = append(h.names, name)
		h.ents = append(h.ents, e)
	}
	if f.opt.PosixAttrs {
		h.headPage()
	}
	h.token = page.Next
	if h.token == "" {
		h.done = true
		h.finish()
	}
	return 0
}

// headPage reads the metadata of the page's files that the listing did
// not give (S3 listings have none), several at a time, for their POSIX
// attributes: otherwise each lookup would ask in turn.
func (h *dirHandle) headPage() {
	f := h.d.fsys
	var wg sync.WaitGroup
	slots := make(chan struct{}, 16)
	for i := range h.ents {
		if h.ents[i].dir || h.ents[i].obj.HasMeta {
			continue
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			if o, err := f.store.Head(f.ctx(), h.ents[i].obj.Key); err == nil {
				h.ents[i].obj = o
			}
		})
	}
	wg.Wait()
	if h.seen != nil {
		for i, name := range h.names {
			if !h.ents[i].dir {
				if _, ok := h.seen[name]; ok {
					h.seen[name] = h.ents[i]
				}
			}
		}
	}
}

// finish keeps a complete listing, adds the files being written that
// the store does not have yet, and drops what this mount removed meanwhile.
func (h *dirHandle) finish() {
	d := h.d
	if h.seen == nil {
		return
	}
	for name, ch := range d.Children() {
		if fn, ok := ch.Operations().(*fileNode); ok && fn.isLocal() {
			if _, ok := h.seen[name]; !ok {
				e := entry{obj: Object{Key: h.prefix + name}}
				h.seen[name] = e
				h.names = append(h.names, name)
				h.ents = append(h.ents, e)
			}
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.gen == h.gen && d.fsys.opt.DirTTL > 0 {
		d.list = &listing{at: h.started, entries: h.seen}
	}
	h.seen = nil
}

func (h *dirHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for h.i == len(h.names) {
		if h.done {
			return nil, 0
		}
		if errno := h.fetch(); errno != 0 {
			return nil, errno
		}
	}
	name, e := h.names[h.i], h.ents[h.i]
	h.i++
	h.off++
	h.last = e
	mode := uint32(sIFREG)
	if e.dir {
		mode = sIFDIR
	}
	return &fuse.DirEntry{Name: name, Mode: mode, Off: h.off}, 0
}

// Lookup answers READDIRPLUS for the entry just returned, from the
// listing: no request per file.
func (h *dirHandle) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	h.mu.Lock()
	e := h.last
	h.mu.Unlock()
	if ch := h.d.GetChild(name); ch != nil {
		if fn, ok := ch.Operations().(*fileNode); ok && fn.isLocal() {
			fn.fill(&out.Attr)
			return ch, 0
		}
	}
	return h.d.child(ctx, name, e, out)
}

// Seekdir restarts the listing and skips to off (telldir/seekdir, NFS
// export): costly for a large directory, rare in practice.
func (h *dirHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	h.mu.Lock()
	if off == h.off {
		h.mu.Unlock()
		return 0
	}
	if errno := h.reset(); errno != 0 {
		h.mu.Unlock()
		return errno
	}
	h.mu.Unlock()
	for h.off < off {
		de, errno := h.Readdirent(ctx)
		if errno != 0 {
			return errno
		}
		if de == nil {
			break
		}
	}
	return 0
}
