//go:build linux

package mount

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Options configure a mount. The zero value of a field means its default.
type Options struct {
	// Prefix is the key prefix shown as the root ("" for the whole
	// bucket; otherwise ending in "/").
	Prefix   string
	ReadOnly bool
	// AllowOther lets users other than the one who mounted use it
	// (needs user_allow_other in /etc/fuse.conf for non-root).
	AllowOther bool
	// UID and GID own every file (unless PosixAttrs finds an owner in
	// the object's metadata).
	UID, GID uint32
	// FileMode and DirMode are the permission bits shown (default 0644
	// and 0755) unless PosixAttrs finds a mode.
	FileMode, DirMode uint32
	// AttrTTL: how long attributes (size, mtime) are trusted, by the
	// kernel and by the mount, before the object is asked again.
	// Default one minute; negative: not cached.
	AttrTTL time.Duration
	// DirTTL: how long a directory listing answers lookups, and a
	// failed lookup is remembered. Default one minute; negative: not
	// cached.
	DirTTL time.Duration
	// PosixAttrs keeps mode, uid, gid and mtime in object metadata.
	PosixAttrs bool
	// CacheDir holds the write-back cache files (a folder of its own is
	// made inside it for each mount). Default os.TempDir().
	CacheDir string
	// CacheSize bounds the bytes in write-back cache files; a write past
	// it fails with ENOSPC. Default 4 GiB.
	CacheSize int64
	// PartSize is the size of the parts of multipart uploads (default 8
	// MiB; it grows past part 1000 so that 10,000 parts hold 440 GB).
	PartSize int64
	// Uploads is how many parts of one file are uploaded at once
	// (default 4).
	Uploads int
	// Name is shown as the source in /proc/mounts and df
	// (default "strata").
	Name string
	// Debug logs every FUSE request.
	Debug  bool
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.FileMode == 0 {
		o.FileMode = 0o644
	}
	if o.DirMode == 0 {
		o.DirMode = 0o755
	}
	if o.AttrTTL == 0 {
		o.AttrTTL = time.Minute
	}
	if o.DirTTL == 0 {
		o.DirTTL = time.Minute
	}
	o.AttrTTL = max(o.AttrTTL, 0)
	o.DirTTL = max(o.DirTTL, 0)
	if o.CacheDir == "" {
		o.CacheDir = os.TempDir()
	}
	if o.CacheSize <= 0 {
		o.CacheSize = 4 << 30
	}
	if o.PartSize <= 0 {
		o.PartSize = 8 << 20
	}
	o.PartSize = max(o.PartSize, 5<<20)
	if o.Uploads <= 0 {
		o.Uploads = 4
	}
	if o.Name == "" {
		o.Name = "strata"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Prefix != "" && !strings.HasSuffix(o.Prefix, "/") {
		o.Prefix += "/"
	}
}

// FS is a mounted file system.
type FS struct {
	store Store
	opt   Options
	log   *slog.Logger
	root  *dirNode
	cache *cacheDir
	srv   *fuse.Server

	// parts limits the part buffers in flight across all files.
	parts chan struct{}

	mu   sync.Mutex
	open map[*fileNode]struct{} // open files: what they hold is stored on Sync

	mounted time.Time // the time directories without one show
}

// Mount mounts the store at mountpoint and serves it until Unmount (or an
// unmount from outside: umount, fusermount3 -u). Calls to the store
// should already be bounded (WithTimeout).
func Mount(mountpoint string, store Store, opt Options) (*FS, error) {
	f, err := newFS(store, opt)
	if err != nil {
		return nil, err
	}
	o := f.opt
	fopts := []string{"default_permissions"}
	if o.ReadOnly {
		fopts = append(fopts, "ro")
	}
	attrTTL, dirTTL := o.AttrTTL, o.DirTTL
	srv, err := fs.Mount(mountpoint, f.root, &fs.Options{
		MountOptions: fuse.MountOptions{
			AllowOther:   o.AllowOther,
			Options:      fopts,
			FsName:       o.Name,
			Name:         "strata",
			MaxWrite:     1 << 20,
			MaxReadAhead: 1 << 20,
			// Replies come from memory: splicing has nothing to move,
			// and go-fuse logs each 1 MiB reply it cannot splice.
			DisableSplice:     true,
			DisableXAttrs:     true,
			DirectMount:       true,
			Debug:             o.Debug,
			Logger:            fuseLogger(o),
			ExtraCapabilities: fuse.CAP_ATOMIC_O_TRUNC,
		},
		EntryTimeout:    &attrTTL,
		AttrTimeout:     &attrTTL,
		NegativeTimeout: &dirTTL,
		UID:             o.UID,
		GID:             o.GID,
	})
	if err != nil {
		f.cache.close()
		return nil, fmt.Errorf("mount %s: %w", mountpoint, err)
	}
	f.srv = srv
	setReadAhead(mountpoint, readAheadKB)
	return f, nil
}

// readAheadKB is the kernel's read-ahead for the mount: FUSE starts at
// 128 KiB, which makes reads of 128 KiB; larger ones mean fewer round trips
// through the kernel.
const readAheadKB = 1024

// setReadAhead sets the read-ahead of the mount's backing device (root
// only; otherwise the kernel's default stays).
func setReadAhead(mountpoint string, kb int) {
	var st syscall.Stat_t
	if err := syscall.Stat(mountpoint, &st); err != nil {
		return
	}
	dev := uint64(st.Dev)
	major := (dev >> 8) & 0xfff
	minor := (dev & 0xff) | ((dev >> 12) & 0xfff00)
	os.WriteFile(fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", major, minor), []byte(fmt.Sprint(kb)), 0)
}

// fuseLogger sends go-fuse's messages to the mount's log: every request at
// debug level with Options.Debug, else only what it finds amiss.
func fuseLogger(o Options) *log.Logger {
	if o.Debug {
		return log.New(os.Stderr, "fuse: ", log.Lmicroseconds)
	}
	return slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn)
}

func newFS(store Store, opt Options) (*FS, error) {
	opt.setDefaults()
	c, err := newCacheDir(opt.CacheDir, opt.CacheSize)
	if err != nil {
		return nil, err
	}
	f := &FS{
		store: store, opt: opt, log: opt.Logger, cache: c,
		parts: make(chan struct{}, 16),
		open:  map[*fileNode]struct{}{},
	}
	f.mounted = time.Now()
	f.root = &dirNode{fsys: f, a: f.defaultAttrs(opt.DirMode & 0o7777)}
	f.root.a.mtime = f.mounted
	return f, nil
}

func (f *FS) defaultAttrs(mode uint32) attrs {
	return attrs{mode: mode, uid: f.opt.UID, gid: f.opt.GID}
}

// Wait returns when the file system is unmounted and what files still
// held (after a lazy unmount) is stored.
func (f *FS) Wait() {
	f.srv.Wait()
	if err := f.Sync(); err != nil {
		f.log.Error("storing open files after the unmount", "err", err)
	}
	f.cache.close()
}

// Unmount stores what open files hold, then unmounts. It fails (EBUSY)
// while files are open or a process has its working directory inside.
func (f *FS) Unmount() error {
	if err := f.Sync(); err != nil {
		f.log.Error("storing open files before unmount", "err", err)
	}
	return f.srv.Unmount()
}

// Sync stores what every open file holds that is not stored yet.
func (f *FS) Sync() error {
	f.mu.Lock()
	nodes := make([]*fileNode, 0, len(f.open))
	for n := range f.open {
		nodes = append(nodes, n)
	}
	f.mu.Unlock()
	var errs []error
	for _, n := range nodes {
		if err := n.sync(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (f *FS) setOpen(n *fileNode, on bool) {
	f.mu.Lock()
	if on {
		f.open[n] = struct{}{}
	} else {
		delete(f.open, n)
	}
	f.mu.Unlock()
}

// relPath is the path of in below the root, false when it was removed.
func (f *FS) relPath(in *fs.Inode) (string, bool) {
	root := f.root.EmbeddedInode()
	var segs []string
	for p := in; p != root; {
		name, parent := p.Parent()
		if parent == nil {
			return "", false
		}
		segs = append(segs, name)
		p = parent
	}
	for i, j := 0, len(segs)-1; i < j; i, j = i+1, j-1 {
		segs[i], segs[j] = segs[j], segs[i]
	}
	return strings.Join(segs, "/"), true
}

// fileKey is the object key of a file node.
func (f *FS) fileKey(in *fs.Inode) (string, bool) {
	p, ok := f.relPath(in)
	return f.opt.Prefix + p, ok
}

// dirKey is the key prefix of a directory node: "" or ending in "/".
func (f *FS) dirKey(in *fs.Inode) (string, bool) {
	p, ok := f.relPath(in)
	if !ok || p == "" {
		return f.opt.Prefix, ok
	}
	return f.opt.Prefix + p + "/", true
}

// ctx is the context of a call to the store. It does not derive from the
// FUSE request: the Go runtime's own signals interrupt requests of Go
// programs all the time, and an upload must not stop because of that.
// WithTimeout bounds the calls.
func (f *FS) ctx() context.Context { return context.Background() }

// validName refuses names that cannot be part of a key.
func validName(name string) syscall.Errno {
	switch {
	case len(name) > 255:
		return syscall.ENAMETOOLONG
	case name == "" || name == "." || name == "..":
		return syscall.EINVAL
	}
	return 0
}

func fillAttr(out *fuse.Attr, mode uint32, a attrs, size int64, nlink uint32) {
	out.Mode = mode | a.mode
	out.Size = uint64(size)
	out.Blocks = (uint64(size) + 511) / 512
	out.Blksize = 1 << 20
	out.Nlink = nlink
	out.Owner = fuse.Owner{Uid: a.uid, Gid: a.gid}
	t := a.mtime
	out.SetTimes(&t, &t, &t)
}

// statfs reports a large, mostly free file system, so that tools that
// check free space (cp, rsync, installers) go ahead.
func statfs(out *fuse.StatfsOut) {
	const bs = 1 << 20
	out.Bsize = bs
	out.Frsize = bs
	out.Blocks = 1 << 30 // 1 PiB
	out.Bfree = 1 << 30
	out.Bavail = 1 << 30
	out.Files = 1 << 40
	out.Ffree = 1 << 40
	out.NameLen = 255
}
