// Package dir is the backend that serves a directory tree of a local or
// mounted file system: every bucket is a folder at the top of the tree and
// every object a plain file at its key. The work is done by
// backends/fsstore; this package gives it the tree through the os package.
package dir

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/strata-storage/strata/backends/fsstore"
)

// Options configure the dir backend.
type Options struct {
	// NoXattrs keeps metadata in sidecar files under the reserved folder
	// even where the file system has extended attributes.
	NoXattrs bool
	// TempMaxAge: leftover temporary files older than this are removed
	// at open; zero means one hour.
	TempMaxAge time.Duration
}

// Open returns the backend that serves the existing directory root.
func Open(root string, opts Options) (*fsstore.Store, error) {
	fsys, err := NewFS(root)
	if err != nil {
		return nil, err
	}
	s, err := fsstore.New(fsys, fsstore.Options{
		NoXattrs:     opts.NoXattrs,
		WindowsNames: runtime.GOOS == "windows",
		TempMaxAge:   opts.TempMaxAge,
	})
	if err != nil {
		fsys.Close()
		return nil, err
	}
	return s, nil
}

// File and directory permissions: what Strata writes is readable by
// everyone who can read the tree.
const (
	fileMode fs.FileMode = 0o644
	dirMode  fs.FileMode = 0o755
)

// FS is an fsstore.FS over a directory, through os.Root: no name, and no
// symbolic link, resolves outside the directory. Names that follow links
// (Open, Stat, ReadDir) are resolved inside their first element, the
// bucket's folder, so a link cannot lead from one bucket into another
// either.
type FS struct {
	root *os.Root
	path string
	// copyRange: the tree is on a local file system where
	// copy_file_range is known to work (see copyRangeSafe).
	copyRange bool
}

var (
	_ fsstore.FS        = (*FS)(nil)
	_ fsstore.DirSyncer = (*FS)(nil)
)

// NewFS opens the existing directory root.
func NewFS(root string) (*FS, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("dir: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("dir: %s is not a directory", abs)
	}
	r, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("dir: %w", err)
	}
	return &FS{root: r, path: abs, copyRange: copyRangeSafe(abs)}, nil
}

// Path returns the absolute path of the tree.
func (d *FS) Path() string { return d.path }

// Close releases the directory.
func (d *FS) Close() error { return d.root.Close() }

// sub runs fn on the root of name's first element and the rest of name.
func (d *FS) sub(name string, fn func(r *os.Root, rest string) error) error {
	top, rest, ok := strings.Cut(name, "/")
	if !ok || top == "." {
		return fn(d.root, filepath.FromSlash(name))
	}
	r, err := d.root.OpenRoot(top)
	if err != nil {
		return err
	}
	defer r.Close()
	return fn(r, filepath.FromSlash(rest))
}

// mapErr gives errors the meanings fsstore.FS promises.
func mapErr(op, name string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrExist) || errors.Is(err, fs.ErrPermission) {
		return err
	}
	if errors.Is(err, syscall.ENOTDIR) {
		return &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("%w (a parent is not a directory)", fs.ErrNotExist)}
	}
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Err != nil && strings.Contains(pe.Err.Error(), "escapes") {
		// os.Root refused a path (a symbolic link) leading outside.
		return &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("%w: a link leads outside its bucket", fs.ErrPermission)}
	}
	return err
}

func (d *FS) Open(name string) (fsstore.File, error) {
	var f *os.File
	err := d.sub(name, func(r *os.Root, rest string) (err error) {
		f, err = r.OpenFile(rest, openFlags, 0)
		return err
	})
	if err != nil {
		return nil, mapErr("open", name, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w (not a regular file)", fs.ErrNotExist)}
	}
	return &file{f: f}, nil
}

func (d *FS) Create(name string) (fsstore.Writer, error) {
	f, err := d.root.OpenFile(filepath.FromSlash(name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return nil, mapErr("create", name, err)
	}
	if runtime.GOOS != "windows" {
		// Not narrowed by the umask.
		if err := f.Chmod(fileMode); err != nil {
			f.Close()
			d.root.Remove(filepath.FromSlash(name))
			return nil, err
		}
	}
	return &writer{f: f, copyRange: d.copyRange}, nil
}

func (d *FS) Mkdir(name string) error {
	n := filepath.FromSlash(name)
	if err := d.root.Mkdir(n, dirMode); err != nil {
		return mapErr("mkdir", name, err)
	}
	if runtime.GOOS != "windows" {
		d.root.Chmod(n, dirMode)
	}
	return nil
}

func (d *FS) Rename(oldname, newname string) error {
	return mapErr("rename", newname, d.root.Rename(filepath.FromSlash(oldname), filepath.FromSlash(newname)))
}

func (d *FS) Remove(name string) error {
	return mapErr("remove", name, d.root.Remove(filepath.FromSlash(name)))
}

func (d *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	var ents []fs.DirEntry
	err := d.sub(name, func(r *os.Root, rest string) error {
		f, err := r.Open(rest)
		if err != nil {
			return err
		}
		defer f.Close()
		ents, err = f.ReadDir(-1)
		return err
	})
	return ents, mapErr("readdir", name, err)
}

func (d *FS) Stat(name string) (fs.FileInfo, error) {
	var fi fs.FileInfo
	err := d.sub(name, func(r *os.Root, rest string) (err error) {
		fi, err = r.Stat(rest)
		return err
	})
	return fi, mapErr("stat", name, err)
}

func (d *FS) Lstat(name string) (fs.FileInfo, error) {
	fi, err := d.root.Lstat(filepath.FromSlash(name))
	return fi, mapErr("lstat", name, err)
}

func (d *FS) Chtimes(name string, mtime time.Time) error {
	return mapErr("chtimes", name, d.root.Chtimes(filepath.FromSlash(name), time.Time{}, mtime))
}

// SyncDir makes the entries of a directory durable (a no-op where
// directories cannot be synced).
func (d *FS) SyncDir(name string) error {
	f, err := d.root.Open(filepath.FromSlash(name))
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// file and writer expose only what fsstore needs: an *os.File given to
// io.Copy would use copy_file_range or sendfile, which only CopyFrom uses,
// on the local file systems where it is known to work.
type file struct{ f *os.File }

func (f *file) Read(p []byte) (int, error)                { return f.f.Read(p) }
func (f *file) Seek(off int64, whence int) (int64, error) { return f.f.Seek(off, whence) }
func (f *file) Close() error                              { return f.f.Close() }
func (f *file) Stat() (fs.FileInfo, error)                { return f.f.Stat() }
func (f *file) ReadAt(p []byte, off int64) (int, error)   { return f.f.ReadAt(p, off) }

type writer struct {
	f         *os.File
	copyRange bool
}

// CopyFrom appends n bytes of src through os.File.ReadFrom, which uses
// copy_file_range (and falls back to a plain copy where the kernel
// cannot).
func (w *writer) CopyFrom(src fsstore.File, n int64) (int64, error) {
	sf, ok := src.(*file)
	if !ok || !w.copyRange {
		return 0, errors.ErrUnsupported
	}
	return w.f.ReadFrom(io.LimitReader(sf.f, n))
}

func (w *writer) Write(p []byte) (int, error) { return w.f.Write(p) }
func (w *writer) Sync() error                 { return w.f.Sync() }
func (w *writer) Stat() (fs.FileInfo, error)  { return w.f.Stat() }
func (w *writer) Close() error                { return w.f.Close() }
