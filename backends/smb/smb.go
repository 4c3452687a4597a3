// Package smb is the backend that serves a folder of an SMB2/3 share (a
// Windows file server, Samba, a NAS) without mounting it: Strata is the SMB
// client. Every bucket is a folder and every object a plain file at its
// key, exactly as with the directory backend; the object logic is
// backends/fsstore, and this package gives it the share as an fsstore.FS.
package smb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	smb2 "github.com/cloudsoda/go-smb2"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/fsstore"
)

// Config is the configuration of an SMB backend, as in the config file:
//
//	{type: smb, host: fs1, share: data, user: strata, password: ${SMB_PASSWORD}, domain: CORP}
type Config struct {
	Host     string `yaml:"host"`
	Port     int    `yaml:"port"` // default 445
	Share    string `yaml:"share"`
	User     string `yaml:"user"`
	Password string `yaml:"password"`
	Domain   string `yaml:"domain"`
	// Path is an optional folder of the share (slash-separated) that holds
	// the buckets; it is created if missing. Empty: the share's root.
	Path string `yaml:"path"`
	// RequireSigning makes the client refuse a server that does not sign.
	// Signing (and SMB3 encryption) is always used when the server asks.
	RequireSigning bool `yaml:"require_signing"`
	// MaxConns is the number of TCP connections to the server; requests
	// are multiplexed over them. Default 4.
	MaxConns int `yaml:"max_conns"`
	// Timeout bounds every SMB call (and every connection attempt): a
	// server that does not answer within it makes the request fail with
	// an Unavailable error. Default 30s.
	Timeout time.Duration `yaml:"timeout"`
	// TempMaxAge: leftover temporary files older than this are removed
	// when the backend opens; zero means one hour.
	TempMaxAge time.Duration `yaml:"temp_max_age"`
}

func (c *Config) setDefaults() error {
	if c.Host == "" {
		return errors.New("smb: host is required")
	}
	if c.Share == "" {
		return errors.New("smb: share is required")
	}
	if strings.ContainsAny(c.Share, `/\`) {
		return fmt.Errorf("smb: share %q must be a share name, not a path (use path: for a folder)", c.Share)
	}
	if c.Port == 0 {
		c.Port = 445
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 4
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	p := strings.Trim(strings.ReplaceAll(c.Path, `\`, "/"), "/")
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return fmt.Errorf("smb: path %q must not hold . or ..", c.Path)
		}
	}
	c.Path = p
	return nil
}

// Open connects to the share and returns the backend that serves Path of
// it. The connection is checked (and Path made) before Open returns.
func Open(ctx context.Context, cfg Config) (*fsstore.Store, error) {
	fsys, err := NewFS(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s, err := fsstore.New(fsys, fsstore.Options{
		NoXattrs: true, // SMB has no POSIX xattrs: metadata goes to sidecar files
		// SMB names cannot hold \ : * ? " < > |, end in a dot or a space,
		// or be a device name: such keys are refused with InvalidKey.
		WindowsNames: true,
		TempMaxAge:   cfg.TempMaxAge,
	})
	if err != nil {
		fsys.Close()
		return nil, err
	}
	// Without the probe, names are checked as on a share that ignores
	// case: slower, never wrong.
	fsys.probeCase()
	return s, nil
}

// FS is an fsstore.FS over a folder of an SMB share.
//
// SMB servers compare names without case. FS keeps keys that differ only
// in case from ever sharing a file: a write, a folder creation or a delete
// whose name matches an existing entry only when case is ignored fails with
// a Conflict error (see checkCase).
type FS struct {
	cfg  Config
	pool *pool

	ctx    context.Context // ends at Close; the context of open files
	cancel context.CancelFunc

	dirs fsstore.FolderCache[fs.FileInfo] // folders found by Stat (see dirCacheTTL)

	mu    sync.Mutex
	exact map[string]bool // folders (FS names) known to exist with this exact case

	caseSensitive atomic.Bool // the share compares names with case: no checkCase
}

var _ fsstore.FS = (*FS)(nil)

// NewFS connects to the share and makes cfg.Path if it is missing.
func NewFS(ctx context.Context, cfg Config) (*FS, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	base, cancel := context.WithCancel(context.Background())
	f := &FS{cfg: cfg, pool: newPool(cfg), ctx: base, cancel: cancel, exact: map[string]bool{}}
	f.dirs.TTL = dirCacheTTL
	// The first connection: one attempt, so that a wrong password or
	// host is reported at once.
	dctx, dcancel := context.WithTimeout(ctx, cfg.Timeout)
	c, err := f.pool.dial(dctx)
	dcancel()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("smb: %w", err)
	}
	s := f.pool.slots[0]
	s.sem <- struct{}{}
	s.c = c
	<-s.sem
	if cfg.Path != "" {
		p := ""
		for _, seg := range strings.Split(cfg.Path, "/") {
			p = join(p, seg)
			err := f.do(false, func(sh *smb2.Share) error { return sh.Mkdir(smbPath(p), 0o755) })
			if err != nil && !errors.Is(err, fs.ErrExist) {
				f.Close()
				return nil, fmt.Errorf("smb: cannot create the folder %q of share %q: %w", p, cfg.Share, err)
			}
		}
		fi, err := f.statRaw(cfg.Path)
		if err != nil || !fi.IsDir() {
			f.Close()
			return nil, fmt.Errorf("smb: %q on share %q is not a folder (%v)", cfg.Path, cfg.Share, err)
		}
	}
	return f, nil
}

// Close closes the connections.
func (f *FS) Close() error {
	f.cancel()
	return f.pool.close()
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "/" + b
}

func smbPath(p string) string { return strings.ReplaceAll(p, "/", `\`) }

// path is the share path of an FS name.
func (f *FS) path(name string) string {
	if name == "." || name == "" {
		return f.cfg.Path
	}
	return join(f.cfg.Path, name)
}

// do runs op on a connection with the call timeout. A connection that fails
// or times out is closed; an idempotent op is tried once more on a new one.
func (f *FS) do(idempotent bool, op func(*smb2.Share) error) error {
	return f.doConn(idempotent, func(c *conn, sh *smb2.Share) error { return op(sh) })
}

func (f *FS) doConn(idempotent bool, op func(*conn, *smb2.Share) error) error {
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(f.ctx, f.cfg.Timeout)
		c, err := f.pool.get(ctx)
		if err != nil {
			cancel()
			return unavailable(f.cfg, err)
		}
		err = op(c, c.share.WithContext(ctx))
		timedOut := ctx.Err() != nil
		cancel()
		if err == nil {
			return nil
		}
		if timedOut || isConnErr(err) || c.dead.Load() {
			c.kill()
			// Every connection of the pool may have died with the
			// server: try each once. A request that could not even be
			// sent is safe to repeat whatever it does.
			if (idempotent || notSent(err)) && attempt <= f.cfg.MaxConns && !timedOut && f.ctx.Err() == nil {
				continue
			}
			return unavailable(f.cfg, err)
		}
		return mapErr(err)
	}
}

// isConnErr reports whether err means the connection is gone (rather than
// an answer from the server).
func isConnErr(err error) bool {
	var te *smb2.TransportError
	var ne net.Error
	return errors.As(err, &te) || errors.As(err, &ne) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, context.DeadlineExceeded)
}

// notSent reports whether err is a failure to write the request to the
// socket (the server never saw it).
func notSent(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "write" || errors.Is(err, net.ErrClosed)
}

func unavailable(cfg Config, err error) error {
	if errors.Is(err, errClosed) {
		return err
	}
	var re *smb2.ResponseError
	if errors.As(err, &re) {
		// A refusal at connection time (bad password, share gone).
		return backends.Wrap(backends.Unavailable, err, fmt.Sprintf("smb: cannot connect to share %q on %s", cfg.Share, cfg.Host))
	}
	return backends.Wrap(backends.Unavailable, err, fmt.Sprintf("smb: the server %s:%d does not answer within %v or dropped the connection", cfg.Host, cfg.Port, cfg.Timeout))
}

// NTSTATUS codes that the library does not map to fs errors.
const (
	statusObjectNameInvalid = 0xC0000033
	statusDeletePending     = 0xC0000056
	statusFileIsADirectory  = 0xC00000BA
	statusDirNotEmpty       = 0xC0000101
	statusNotADirectory     = 0xC0000103
)

// mapErr gives server answers the meanings fsstore.FS promises.
func mapErr(err error) error {
	var re *smb2.ResponseError
	if !errors.As(err, &re) {
		return err
	}
	switch re.Code {
	case statusObjectNameInvalid, statusDeletePending, statusFileIsADirectory, statusNotADirectory:
		return fmt.Errorf("%w (%v)", fs.ErrNotExist, err)
	case statusDirNotEmpty:
		return fmt.Errorf("%w: the folder is not empty (%v)", fs.ErrExist, err)
	}
	return err
}

const statusSharingViolation = 0xC0000043

// whileBusy runs fn again, with a short backoff, while the server says the
// file is in use by another open (Windows sharing rules: SMB servers refuse
// to replace, or open, a file that another handle holds without sharing
// that access). Readers and writers of one key through the same Store
// meet these briefly; the wait is bounded by the timeout (at most 10s).
func (f *FS) whileBusy(deniedToo bool, fn func() error) error {
	deadline := time.Now().Add(min(f.cfg.Timeout, 10*time.Second))
	wait := 2 * time.Millisecond
	for {
		err := fn()
		var re *smb2.ResponseError
		busy := errors.As(err, &re) && re.Code == statusSharingViolation ||
			deniedToo && errors.Is(err, fs.ErrPermission)
		if !busy || time.Now().After(deadline) || f.ctx.Err() != nil {
			return err
		}
		time.Sleep(wait)
		wait = min(wait*2, 100*time.Millisecond)
	}
}

func (f *FS) statRaw(p string) (fs.FileInfo, error) {
	var fi fs.FileInfo
	err := f.do(true, func(sh *smb2.Share) (err error) {
		fi, err = sh.Stat(smbPath(p))
		return err
	})
	return fi, err
}

// openRead opens name for reading, waiting while a writer holds it.
func (f *FS) openRead(name string) (*handle, error) {
	var h *handle
	err := f.whileBusy(false, func() (err error) {
		h, err = f.openFile(true, name, 0, 0)
		return err
	})
	return h, err
}

func (f *FS) Open(name string) (fsstore.File, error) {
	h, err := f.openRead(name)
	if err != nil {
		return nil, err
	}
	fi, err := h.Stat()
	if err != nil {
		h.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		h.Close()
		return nil, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w (not a regular file)", fs.ErrNotExist)}
	}
	h.fi = fi
	return h, nil
}

func (f *FS) Create(name string) (fsstore.Writer, error) {
	h, err := f.openFile(false, name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644) // read access: Stat needs FILE_READ_ATTRIBUTES
	if err != nil {
		return nil, f.missing(err, name)
	}
	return h, nil
}

func (f *FS) Mkdir(name string) error {
	if err := f.checkCase(name); err != nil {
		return err
	}
	err := f.do(false, func(sh *smb2.Share) error { return sh.Mkdir(smbPath(f.path(name)), 0o755) })
	if err == nil {
		f.remember(name)
	}
	return f.missing(err, name)
}

func (f *FS) Rename(oldname, newname string) error {
	if err := f.checkCase(newname); err != nil {
		return err
	}
	// A reader of the old file (opened by this library without
	// FILE_SHARE_DELETE) makes the server refuse the replace with access
	// denied until it closes.
	err := f.whileBusy(true, func() error {
		return f.do(false, func(sh *smb2.Share) error {
			return sh.Rename(smbPath(f.path(oldname)), smbPath(f.path(newname)))
		})
	})
	f.dirs.ForgetTree(oldname)
	f.dirs.ForgetTree(newname)
	if err == nil {
		f.forget(oldname)
	}
	return f.missing(err, oldname, newname)
}

func (f *FS) Remove(name string) error {
	if err := f.checkCase(name); err != nil {
		return err
	}
	// A reader that has the file open makes the server refuse, as for
	// Rename, until it closes.
	err := f.whileBusy(false, func() error {
		return f.do(false, func(sh *smb2.Share) error { return sh.Remove(smbPath(f.path(name))) })
	})
	f.dirs.ForgetTree(name)
	if err == nil {
		f.forget(name)
	}
	return err
}

func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	var fis []fs.FileInfo
	err := f.do(true, func(sh *smb2.Share) (err error) {
		fis, err = sh.ReadDir(smbPath(f.path(name)))
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]fs.DirEntry, len(fis))
	for i, fi := range fis {
		out[i] = fs.FileInfoToDirEntry(fi)
	}
	return out, nil
}

// Stat answers for a folder from the cache of folders when it can (see
// dirCacheTTL).
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	if fi, ok := f.dirs.Get(name); ok {
		return fi, nil
	}
	fi, err := f.statRaw(f.path(name))
	if err == nil && fi.IsDir() {
		f.dirs.Put(name, fi)
	}
	return fi, err
}

// Lstat is Stat: an SMB client sees a link on the server as what it
// points to (Samba follows links itself, inside the share).
func (f *FS) Lstat(name string) (fs.FileInfo, error) { return f.Stat(name) }

// dirCacheTTL is how long a folder found by Stat is taken to be there
// without asking the server again. Each write checks the folders of its
// key's bucket and parent (an SMB stat is a CREATE and a CLOSE: two round
// trips each); another client's removal of a folder is seen after at most
// this long, and at once when a create, mkdir or rename below it fails.
const dirCacheTTL = 2 * time.Second

// missing drops the folders on the way to each name from the cache when
// err says a name, or a folder on its way, is not there: one of them may
// be gone.
func (f *FS) missing(err error, names ...string) error {
	if errors.Is(err, fs.ErrNotExist) {
		for _, name := range names {
			f.dirs.ForgetParents(name)
		}
	}
	return err
}

func (f *FS) Chtimes(name string, mtime time.Time) error {
	return f.do(true, func(sh *smb2.Share) error { return sh.Chtimes(smbPath(f.path(name)), mtime, mtime) })
}
