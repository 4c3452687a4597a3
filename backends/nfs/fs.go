package nfs

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/strata-storage/strata/backends/fsstore"
	nfsc "github.com/willscott/go-nfs-client/nfs"
)

// What Strata writes is readable by everyone who can read the share.
const (
	fileMode = 0o644
	dirMode  = 0o755

	// dirCacheTTL bounds how long a directory's handle and attributes are
	// reused without a LOOKUP; another client renaming or removing
	// folders is seen after it.
	dirCacheTTL = 2 * time.Second
	maxLinks    = 40
)

// FS is an fsstore.FS over an NFSv3 export. Names are resolved by LOOKUP
// from the export's root handle; symbolic links are followed inside the
// first element of a name (the bucket's folder), like backends/dir.
type FS struct {
	c    *client
	root []byte
	cfg  Config

	cache fsstore.FolderCache[cachedDir] // folder handles (see dirCacheTTL)

	mu    sync.Mutex
	tmpFH map[string][]byte      // handles of the folders of tmp/
	kept  map[string]*time.Timer // links in the tmp folders, removed after ReadGrace
}

type cachedDir struct {
	fh []byte
	a  attr
}

var _ fsstore.FS = (*FS)(nil)

// Close closes the connections.
func (f *FS) Close() error {
	f.mu.Lock()
	kept := f.kept
	f.kept = nil
	f.mu.Unlock()
	for name, t := range kept {
		if t.Stop() {
			f.dropKept(name)
		}
	}
	f.c.nfs.close()
	return nil
}

// keep gives the regular file dir/name a second name in a folder of
// fsstore.TempFolder, removed after Config.ReadGrace, so that a reader
// that opened it can go on reading after a rename replaced it or it was
// removed. NFSv3 servers forget a file when its last name goes (the
// kernel client's "silly rename" does the same for its own opens); a
// Strata reader holds only a file handle. Best effort: an error leaves
// the file as it is.
func (f *FS) keep(dir []byte, name string) {
	if f.cfg.ReadGrace < 0 {
		return
	}
	fh, a, err := f.c.lookup(dir, name)
	if err != nil || a.typ != nfsc.NF3Reg {
		return
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	id := hex.EncodeToString(rnd[:])
	folder := fsstore.TempFolder(id)
	tmp, err := f.tmpFolder(folder)
	if err != nil {
		return
	}
	link := ".nfs-kept-" + id
	if err := f.c.link(fh, tmp, link); err != nil {
		if errors.Is(err, errStale) || errors.Is(err, fs.ErrNotExist) {
			f.mu.Lock()
			delete(f.tmpFH, folder)
			f.mu.Unlock()
		}
		return
	}
	kept := folder + "/" + link
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.kept == nil {
		f.kept = make(map[string]*time.Timer)
	}
	f.kept[kept] = time.AfterFunc(f.cfg.ReadGrace, func() {
		f.mu.Lock()
		delete(f.kept, kept)
		f.mu.Unlock()
		f.dropKept(kept)
	})
}

// tmpFolder returns the handle of a folder of tmp/, made if missing.
func (f *FS) tmpFolder(folder string) ([]byte, error) {
	f.mu.Lock()
	fh := f.tmpFH[folder]
	f.mu.Unlock()
	if fh != nil {
		return fh, nil
	}
	fh, _, err := f.walk(folder, true)
	if errors.Is(err, fs.ErrNotExist) {
		if err = f.Mkdir(folder); err == nil || errors.Is(err, fs.ErrExist) {
			fh, _, err = f.walk(folder, true)
		}
	}
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	if f.tmpFH == nil {
		f.tmpFH = make(map[string][]byte)
	}
	f.tmpFH[folder] = fh
	f.mu.Unlock()
	return fh, nil
}

// dropKept removes a link made by keep (its name in the FS).
func (f *FS) dropKept(kept string) {
	folder, link := path.Split(kept)
	f.mu.Lock()
	tmp := f.tmpFH[strings.TrimSuffix(folder, "/")]
	f.mu.Unlock()
	if tmp != nil {
		f.c.remove(tmp, link, false)
	}
}

// cached returns the handle and attributes of the directory p when they
// are in the cache.
func (f *FS) cached(p string) ([]byte, attr) {
	c, _ := f.cache.Get(p)
	return c.fh, c.a
}

// walk resolves name to a handle and its attributes, following links in
// every element but the last, and in the last too if follow is set. A name
// that leads out of its first element is refused.
func (f *FS) walk(name string, follow bool) ([]byte, attr, error) {
	fh, a, usedCache, err := f.walk1(name, follow, true)
	if err != nil && usedCache && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, errStale)) && !errors.Is(err, errSurelyMissing) {
		f.cache.Clear()
		fh, a, _, err = f.walk1(name, follow, false)
	}
	return fh, a, err
}

func (f *FS) walk1(name string, follow, useCache bool) (fh []byte, a attr, usedCache bool, err error) {
	if name == "." || name == "" {
		a, err = f.c.getattr(f.root)
		return f.root, a, false, err
	}
	rest := strings.Split(name, "/")
	// stack of resolved directories: handles and names
	fhs := [][]byte{f.root}
	names := []string{}
	links := 0
	topCached := false // fhs's last handle came from the cache
	for len(rest) > 0 {
		el := rest[0]
		rest = rest[1:]
		switch el {
		case "", ".":
			if len(rest) == 0 && len(names) > 0 {
				// trailing "." of a link target: the current directory
				fh = fhs[len(fhs)-1]
				a, err = f.c.getattr(fh)
				return fh, a, usedCache, err
			}
			continue
		case "..":
			if len(names) <= 1 {
				return nil, a, usedCache, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w: a link leads outside its bucket", fs.ErrPermission)}
			}
			fhs, names = fhs[:len(fhs)-1], names[:len(names)-1]
			topCached = false
			if len(rest) == 0 {
				fh = fhs[len(fhs)-1]
				a, err = f.c.getattr(fh)
				return fh, a, usedCache, err
			}
			continue
		}
		dir := fhs[len(fhs)-1]
		last := len(rest) == 0
		p := strings.Join(append(names[:len(names):len(names)], el), "/")
		if useCache {
			if c, ca := f.cached(p); c != nil {
				usedCache = true
				if last {
					return c, ca, true, nil
				}
				fhs, names = append(fhs, c), append(names, el)
				topCached = true
				continue
			}
		}
		fh, a, err = f.c.lookup(dir, el)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && (!topCached || f.stillAt(fhs, names)) {
				err = fmt.Errorf("%w%w", errSurelyMissing, err)
			}
			return nil, a, usedCache, err
		}
		if a.typ == nfsc.NF3Lnk && (!last || follow) {
			if links++; links > maxLinks {
				return nil, a, usedCache, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w: too many links", fs.ErrNotExist)}
			}
			target, err := f.c.readlink(fh)
			if err != nil {
				return nil, a, usedCache, err
			}
			if strings.HasPrefix(target, "/") || len(names) == 0 {
				return nil, a, usedCache, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w: a link leads outside its bucket", fs.ErrPermission)}
			}
			rest = append(strings.Split(target, "/"), rest...)
			continue
		}
		if last {
			if a.typ == nfsc.NF3Dir {
				f.cache.Put(p, cachedDir{fh, a})
			}
			return fh, a, usedCache, nil
		}
		if a.typ != nfsc.NF3Dir {
			return nil, a, usedCache, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w (a parent is not a directory)", fs.ErrNotExist)}
		}
		f.cache.Put(p, cachedDir{fh, a})
		fhs, names = append(fhs, fh), append(names, el)
		topCached = false
	}
	fh = fhs[len(fhs)-1]
	a, err = f.c.getattr(fh)
	return fh, a, usedCache, err
}

// errSurelyMissing marks a "no such file" from a folder handle that walk1
// has just looked up, or took from the cache and then checked (the folder
// is still the one at its path): the answer stands, and walk need not look
// again from the root.
var errSurelyMissing = errors.New("")

// stillAt reports whether the top folder of a walk's stack, whose handle
// came from the cache, is still the one its path names: a LOOKUP of its
// name in the folder above gives the same handle. A name missing from a
// folder that another client has since moved away and replaced by a new
// one would otherwise be missing by mistake until the cache expires; one
// LOOKUP settles it, where looking again from the root (and dropping the
// cache, which every other request then pays for) would cost the depth of
// the name.
func (f *FS) stillAt(fhs [][]byte, names []string) bool {
	if len(fhs) < 2 || len(names) != len(fhs)-1 {
		return false
	}
	fh, _, err := f.c.lookup(fhs[len(fhs)-2], names[len(names)-1])
	return err == nil && bytes.Equal(fh, fhs[len(fhs)-1])
}

// dirStillAt is stillAt for the folder holding name, whose handle fh came
// from the cache; false when the folder above it is not in the cache.
func (f *FS) dirStillAt(name string, fh []byte) bool {
	dir := path.Dir(name)
	up, base := path.Split(dir)
	upFH := f.root
	if up = strings.TrimSuffix(up, "/"); up != "" {
		if upFH, _ = f.cached(up); upFH == nil {
			return false
		}
	}
	return f.stillAt([][]byte{upFH, fh}, []string{base})
}

// parent resolves the folder holding name and returns its handle and
// name's last element; cached says the handle came from the cache of
// directory handles (and may be stale).
func (f *FS) parent(name string) (fh []byte, base string, cached bool, err error) {
	dir, base := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	if base == "" || base == "." || base == ".." {
		return nil, "", false, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if dir == "" {
		return f.root, base, false, nil
	}
	if fh, _ := f.cached(dir); fh != nil {
		return fh, base, true, nil
	}
	fh, a, err := f.walk(dir, true)
	if err != nil {
		return nil, "", false, err
	}
	if a.typ != nfsc.NF3Dir {
		return nil, "", false, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w (a parent is not a directory)", fs.ErrNotExist)}
	}
	return fh, base, false, nil
}

// inParent runs op on the folder holding name. When the folder's handle
// came from the cache and op finds it stale or gone (another client
// removed or replaced the folder), the cache is dropped and op runs once
// more on a fresh lookup.
func (f *FS) inParent(name string, op func(dir []byte, base string) error) error {
	dir, base, cached, err := f.parent(name)
	if err != nil {
		return err
	}
	err = op(dir, base)
	if cached && (errors.Is(err, errStale) || errors.Is(err, fs.ErrNotExist) && !f.dirStillAt(name, dir)) {
		f.cache.Clear()
		if dir, base, _, err = f.parent(name); err != nil {
			return err
		}
		err = op(dir, base)
	}
	return err
}

func (f *FS) Open(name string) (fsstore.File, error) {
	fh, a, err := f.walk(name, true)
	if err != nil {
		return nil, err
	}
	if a.typ != nfsc.NF3Reg {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w (not a regular file)", fs.ErrNotExist)}
	}
	return &file{c: f.c, fh: fh, info: newInfo(path.Base(name), a)}, nil
}

// ReadFile reads a small file whole (fsstore.FileReader): a LOOKUP and
// READs of the size it gave. The Store reads its sidecars and records this
// way; those are replaced without a name kept for readers (see Rename), so
// a file replaced between the LOOKUP and a READ (a stale handle) is looked
// up and read again.
func (f *FS) ReadFile(name string, max int64) ([]byte, error) {
	for try := 0; ; try++ {
		b, err := f.readFile(name, max)
		if !errors.Is(err, errStale) || try == 2 {
			return b, err
		}
	}
}

func (f *FS) readFile(name string, max int64) ([]byte, error) {
	fh, a, err := f.walk(name, true)
	if err != nil {
		return nil, err
	}
	if a.typ != nfsc.NF3Reg {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w (not a regular file)", fs.ErrNotExist)}
	}
	// One byte more than the size, so that a file that grew meanwhile is
	// read to its end (short of max).
	b := make([]byte, min(int64(a.size)+1, max))
	n := 0
	for n < len(b) {
		m, eof, err := f.c.read(fh, uint64(n), b[n:min(len(b), n+int(f.c.rtsize))])
		n += m
		if err != nil {
			return nil, err
		}
		if eof || m == 0 {
			break
		}
		if n == len(b) && int64(n) < max {
			b = append(b, make([]byte, min(int64(len(b)), max-int64(n)))...)
		}
	}
	return b[:n], nil
}

func (f *FS) Create(name string) (fsstore.Writer, error) {
	var fh []byte
	err := f.inParent(name, func(dir []byte, base string) (err error) {
		fh, err = f.c.create(dir, base, fileMode)
		return err
	})
	if err != nil {
		return nil, err
	}
	w := &writer{c: f.c, fh: fh, name: path.Base(name)}
	size := f.c.wtsize
	w.wb = fsstore.WriteBehind{Size: int(size), WriteAt: w.writeAt,
		Get: func() *[]byte { return f.c.chunk(size) }, Put: f.c.putChunk}
	return w, nil
}

func (f *FS) Mkdir(name string) error {
	return f.inParent(name, func(dir []byte, base string) error {
		return f.c.mkdir(dir, base, dirMode)
	})
}

func (f *FS) Rename(oldname, newname string) error {
	err := f.inParent(oldname, func(od []byte, ob string) error {
		return f.inParent(newname, func(nd []byte, nb string) error {
			// The Store's own files (sidecars, records) are read
			// whole at once (ReadFile, which reads again a file
			// replaced under it): no second name for them.
			if !strings.HasPrefix(newname, fsstore.SysDir+"/") {
				f.keep(nd, nb)
			}
			return f.c.rename(od, ob, nd, nb)
		})
	})
	// A folder may have moved, or been replaced by one.
	f.cache.ForgetTree(oldname)
	f.cache.ForgetTree(newname)
	return err
}

func (f *FS) Remove(name string) error {
	isDir := false
	err := f.inParent(name, func(dir []byte, base string) error {
		_, a, err := f.c.lookup(dir, base)
		if err != nil {
			return err
		}
		isDir = a.typ == nfsc.NF3Dir
		if a.typ == nfsc.NF3Reg && !strings.HasPrefix(name, fsstore.SysDir+"/") {
			f.keep(dir, base)
		}
		return f.c.remove(dir, base, isDir)
	})
	if isDir {
		f.cache.ForgetTree(name)
	}
	return err
}

func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	fh, a, err := f.walk(name, true)
	if err != nil {
		return nil, err
	}
	if a.typ != nfsc.NF3Dir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fmt.Errorf("%w (not a directory)", fs.ErrNotExist)}
	}
	ents, err := f.c.readdir(fh)
	if err != nil {
		return nil, err
	}
	out := make([]fs.DirEntry, 0, len(ents))
	for _, e := range ents {
		if !e.hasAttr {
			// The server left the attributes out: ask for them.
			_, at, err := f.c.lookup(fh, e.name)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, err
			}
			e.attr = at
		}
		out = append(out, fs.FileInfoToDirEntry(newInfo(e.name, e.attr)))
	}
	return out, nil
}

func (f *FS) Stat(name string) (fs.FileInfo, error) {
	_, a, err := f.walk(name, true)
	if err != nil {
		return nil, err
	}
	return newInfo(path.Base(name), a), nil
}

func (f *FS) Lstat(name string) (fs.FileInfo, error) {
	_, a, err := f.walk(name, false)
	if err != nil {
		return nil, err
	}
	return newInfo(path.Base(name), a), nil
}

func (f *FS) Chtimes(name string, mtime time.Time) error {
	fh, _, err := f.walk(name, false)
	if err != nil {
		return err
	}
	return f.c.setattr(fh, -1, mtime)
}

// info is an fs.FileInfo from NFS attributes.
type info struct {
	name string
	a    attr
}

func newInfo(name string, a attr) *info { return &info{name, a} }

func (i *info) Name() string       { return i.name }
func (i *info) Size() int64        { return int64(i.a.size) }
func (i *info) ModTime() time.Time { return i.a.mtime }
func (i *info) IsDir() bool        { return i.a.typ == nfsc.NF3Dir }
func (i *info) Sys() any           { return nil }
func (i *info) Mode() fs.FileMode {
	m := fs.FileMode(i.a.mode & 0o777)
	switch i.a.typ {
	case nfsc.NF3Reg:
	case nfsc.NF3Dir:
		m |= fs.ModeDir
	case nfsc.NF3Lnk:
		m |= fs.ModeSymlink
	case nfsc.NF3FIFO:
		m |= fs.ModeNamedPipe
	case nfsc.NF3Sock:
		m |= fs.ModeSocket
	case nfsc.NF3Chr:
		m |= fs.ModeDevice | fs.ModeCharDevice
	default:
		m |= fs.ModeDevice
	}
	return m
}

// file reads a regular file. The first read at an offset asks for what it
// needs; the reads after it that are smaller than the server's READ size
// are served from chunks of that size, and while one is being taken the
// next one is read ahead (at most two chunks per file, from the client's
// pool).
type file struct {
	c     *client
	fh    []byte
	info  *info
	off   int64
	buf   *[]byte // a chunk: data at bOff, valid up to len(*buf)
	bOff  int64
	eof   bool // the server said EOF at bOff+len(*buf) (or at off, with no chunk)
	seq   bool // a read at off came before: small reads use chunks
	ahead *fetch
}

// fetch is a READ of one chunk, maybe still in flight.
type fetch struct {
	buf  *[]byte
	off  int64
	eof  bool
	err  error
	done chan struct{}
}

func (r *file) buffered() []byte {
	if r.buf == nil {
		return nil
	}
	return *r.buf
}

func (r *file) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if b := r.buffered(); r.off >= r.bOff && r.off < r.bOff+int64(len(b)) {
		n := copy(p, b[r.off-r.bOff:])
		r.off += int64(n)
		return n, nil
	}
	if r.eof && r.off == r.bOff+int64(len(r.buffered())) {
		return 0, io.EOF
	}
	rtsize := int(r.c.rtsize)
	if !r.seq || len(p) >= rtsize || r.off+int64(len(p)) >= r.info.Size() {
		// The first read at an offset (a range may want no more), a
		// large read, or the last one: straight into p.
		r.drop()
		n, eof, err := r.c.read(r.fh, uint64(r.off), p[:min(len(p), rtsize)])
		r.off += int64(n)
		r.seq = true
		if err == nil && n == 0 {
			err = io.EOF
		}
		if eof && n > 0 {
			r.bOff, r.eof = r.off, true
		}
		return n, err
	}
	ft := r.ahead
	r.ahead = nil
	if ft == nil || ft.off != r.off {
		r.c.release(ft)
		ft = r.fetch(r.off)
	}
	<-ft.done
	r.drop()
	if ft.err != nil {
		r.c.release(ft)
		return 0, ft.err
	}
	r.buf, r.bOff, r.eof = ft.buf, ft.off, ft.eof
	b := *r.buf
	if len(b) == 0 {
		return 0, io.EOF
	}
	if next := r.bOff + int64(len(b)); !r.eof && next < r.info.Size() {
		r.ahead = r.fetch(next)
	}
	n := copy(p, b)
	r.off += int64(n)
	return n, nil
}

// fetch starts a READ of the chunk at off.
func (r *file) fetch(off int64) *fetch {
	ft := &fetch{buf: r.c.chunk(r.c.rtsize), off: off, done: make(chan struct{})}
	go func() {
		defer close(ft.done)
		b := (*ft.buf)[:r.c.rtsize]
		var n int
		n, ft.eof, ft.err = r.c.read(r.fh, uint64(off), b)
		*ft.buf = b[:n]
		if ft.err == nil && n == 0 {
			ft.eof = true
		}
	}()
	return ft
}

// drop gives back the current chunk (the read ahead stays).
func (r *file) drop() {
	if r.buf != nil {
		r.bOff += int64(len(*r.buf))
		r.c.putChunk(r.buf)
		r.buf = nil
	}
}

func (r *file) ReadAt(p []byte, off int64) (int, error) {
	total := 0
	for total < len(p) {
		chunk := p[total:min(len(p), total+int(r.c.rtsize))]
		n, eof, err := r.c.read(r.fh, uint64(off)+uint64(total), chunk)
		total += n
		if err != nil {
			return total, err
		}
		if n == 0 || (eof && total < len(p)) {
			return total, io.EOF
		}
	}
	return total, nil
}

func (r *file) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += r.off
	case io.SeekEnd:
		off += r.info.Size()
	default:
		return r.off, errors.New("nfs: bad whence")
	}
	if off < 0 {
		return r.off, errors.New("nfs: negative offset")
	}
	if off != r.off {
		r.seq = false
	}
	r.off = off
	return off, nil
}

func (r *file) Close() error {
	r.c.release(r.ahead)
	r.ahead = nil
	if r.buf != nil {
		r.c.putChunk(r.buf)
		r.buf = nil
	}
	return nil
}

func (r *file) Stat() (fs.FileInfo, error) { return r.info, nil }

// writer sends UNSTABLE WRITEs of the server's preferred size and makes
// them durable with COMMIT in Sync. Each WRITE reply carries the server's
// write verifier; if COMMIT returns another one, the server restarted and
// may have lost data, and Sync fails.
//
// Writes are gathered into a chunk of that size; a full chunk is written
// in the background while the next one fills (at most two chunks per
// file, from the client's pool). An error of a WRITE is returned by the
// next Write, or by Sync at the latest.
type writer struct {
	c      *client
	fh     []byte
	name   string
	wb     fsstore.WriteBehind
	verf   uint64 // of the last WRITE (set in the background, read after wb.Wait)
	verfOK bool
	dirty  bool // unstable data sent since the last COMMIT
	info   *info
}

func (w *writer) Write(p []byte) (int, error) { return w.wb.Write(p) }

// writeAt sends a chunk in UNSTABLE WRITEs (one, unless the server takes
// less), in the background.
func (w *writer) writeAt(data []byte, off int64) error {
	at := uint64(off)
	for len(data) > 0 {
		n, how, verf, err := w.c.write(w.fh, at, data, stableUnstable)
		if err == nil && n == 0 {
			err = errors.New("nfs: the server wrote nothing")
		}
		if err == nil && how != stableFileSync {
			if w.verfOK && verf != w.verf {
				err = errors.New("nfs: the server restarted during the write (write verifier changed); data may be lost")
			}
			w.verf, w.verfOK, w.dirty = verf, true, true
		}
		if err != nil {
			return err
		}
		at += uint64(n)
		data = data[n:]
	}
	return nil
}

func (w *writer) Sync() error {
	if err := w.wb.Flush(); err != nil {
		return err
	}
	if w.dirty {
		verf, err := w.c.commit(w.fh)
		if err == nil && verf != w.verf {
			err = errors.New("nfs: the server restarted before COMMIT (write verifier changed); data may be lost")
		}
		if err != nil {
			w.wb.Fail(err)
			return err
		}
		w.dirty = false
	}
	a, err := w.c.getattr(w.fh)
	if err != nil {
		return err
	}
	w.info = newInfo(w.name, a)
	return nil
}

func (w *writer) Stat() (fs.FileInfo, error) {
	w.wb.Wait()
	if w.info != nil && !w.dirty && w.wb.Buffered() == 0 {
		return w.info, nil
	}
	a, err := w.c.getattr(w.fh)
	if err != nil {
		return nil, err
	}
	a.size = max(a.size, uint64(w.wb.End()))
	return newInfo(w.name, a), nil
}

func (w *writer) Close() error {
	err := w.wb.Close()
	w.wb.Fail(errors.New("nfs: write to a closed file"))
	return err
}
