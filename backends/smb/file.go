package smb

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"sync/atomic"
	"time"

	smb2 "github.com/cloudsoda/go-smb2"

	"github.com/strata-storage/strata/backends/fsstore"
)

// handle is an open file. It lives on the connection it was opened on (an
// SMB file id does not survive a reconnect). Its requests cannot take a
// context per call, so each call runs under a watchdog that closes the
// connection when the call outlives the timeout: the call, and every other
// one on that connection, then fails instead of hanging.
type handle struct {
	fs      *FS
	c       *conn
	f       *smb2.File
	name    string
	expired atomic.Bool
}

var (
	_ fsstore.File   = (*handle)(nil)
	_ fsstore.Writer = (*handle)(nil)
	_ io.ReaderAt    = (*handle)(nil)
)

// openFile opens name with the file bound to the FS's long-lived context.
func (f *FS) openFile(idempotent bool, name string, flag int, perm os.FileMode) (*handle, error) {
	var h *handle
	err := f.doConn(idempotent, func(c *conn, _ *smb2.Share) error {
		h = &handle{fs: f, c: c, name: name}
		return h.guard(func() (err error) {
			h.f, err = c.share.WithContext(f.ctx).OpenFile(smbPath(f.path(name)), flag, perm)
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	return h, nil
}

// guard runs fn under the watchdog.
func (h *handle) guard(fn func() error) error {
	t := time.AfterFunc(h.fs.cfg.Timeout, func() {
		h.expired.Store(true)
		h.c.kill()
	})
	err := fn()
	t.Stop()
	if h.expired.Load() {
		return &fs.PathError{Op: "smb", Path: h.name, Err: errors.Join(errTimeout, err)}
	}
	return err
}

var errTimeout = errors.New("the SMB call timed out")

// result maps an error of a call on an open file.
func (h *handle) result(err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	if errors.Is(err, errTimeout) || isConnErr(err) || h.c.dead.Load() {
		h.c.kill()
		return unavailable(h.fs.cfg, err)
	}
	return mapErr(err)
}

func (h *handle) Read(p []byte) (n int, err error) {
	err = h.guard(func() (err error) { n, err = h.f.Read(p); return err })
	return n, h.result(err)
}

func (h *handle) ReadAt(p []byte, off int64) (n int, err error) {
	err = h.guard(func() (err error) { n, err = h.f.ReadAt(p, off); return err })
	return n, h.result(err)
}

func (h *handle) Seek(off int64, whence int) (int64, error) {
	return h.f.Seek(off, whence) // local: the offset is kept by the client
}

func (h *handle) Write(p []byte) (n int, err error) {
	err = h.guard(func() (err error) { n, err = h.f.Write(p); return err })
	return n, h.result(err)
}

func (h *handle) Sync() error {
	return h.result(h.guard(h.f.Sync))
}

func (h *handle) Stat() (fs.FileInfo, error) {
	var fi fs.FileInfo
	err := h.guard(func() (err error) { fi, err = h.f.Stat(); return err })
	return fi, h.result(err)
}

func (h *handle) Close() error {
	if h.c.dead.Load() {
		return nil // the server dropped the handle with the connection
	}
	return h.result(h.guard(h.f.Close))
}
