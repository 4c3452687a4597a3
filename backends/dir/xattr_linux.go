package dir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"

	"github.com/strata-storage/strata/backends/fsstore"
)

// Extended attributes on Linux, through the open file so that they belong
// to exactly the data read or written. Elsewhere the files do not implement
// fsstore.Xattrs and the Store keeps metadata in sidecar files.

var (
	_ fsstore.Xattrs = (*file)(nil)
	_ fsstore.Xattrs = (*writer)(nil)
)

func (f *file) GetXattr(name string) ([]byte, error)   { return getXattr(f.f, name) }
func (f *file) SetXattr(name string, v []byte) error   { return setXattr(f.f, name, v) }
func (f *file) RemoveXattr(name string) error          { return removeXattr(f.f, name) }
func (w *writer) GetXattr(name string) ([]byte, error) { return getXattr(w.f, name) }
func (w *writer) SetXattr(name string, v []byte) error { return setXattr(w.f, name, v) }
func (w *writer) RemoveXattr(name string) error        { return removeXattr(w.f, name) }

func withFd(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

func xattrErr(op, name string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.ENODATA):
		return fmt.Errorf("%s %s: %w", op, name, fs.ErrNotExist)
	case errors.Is(err, unix.ENOTSUP):
		return fmt.Errorf("%s %s: %w", op, name, errors.ErrUnsupported)
	}
	return fmt.Errorf("%s %s: %w", op, name, err)
}

func getXattr(f *os.File, name string) ([]byte, error) {
	buf := make([]byte, 4096)
	for {
		var n int
		err := withFd(f, func(fd int) (err error) {
			n, err = unix.Fgetxattr(fd, name, buf)
			return err
		})
		if errors.Is(err, unix.ERANGE) && len(buf) < 1<<16 {
			var size int
			if err := withFd(f, func(fd int) (err error) {
				size, err = unix.Fgetxattr(fd, name, nil)
				return err
			}); err != nil {
				return nil, xattrErr("getxattr", name, err)
			}
			buf = make([]byte, max(size, 2*len(buf)))
			continue
		}
		if err != nil {
			return nil, xattrErr("getxattr", name, err)
		}
		return buf[:n], nil
	}
}

func setXattr(f *os.File, name string, v []byte) error {
	return xattrErr("setxattr", name, withFd(f, func(fd int) error { return unix.Fsetxattr(fd, name, v, 0) }))
}

func removeXattr(f *os.File, name string) error {
	return xattrErr("removexattr", name, withFd(f, func(fd int) error { return unix.Fremovexattr(fd, name) }))
}
