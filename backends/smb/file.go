package smb

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
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

	// Of a file open for reading: its attributes when it was opened
	// (Open needs them, and Stat answers with them rather than asking
	// the server again), the offset of the next Read, and whether a
	// read came back short. A short SMB read ends at the end of the
	// file, so the next Read answers EOF without a request.
	//
	// After the first read at an offset, reads smaller than readChunk are
	// served from chunks of that size, and while one is being taken the
	// next one is read ahead: rdata is what is left of the current chunk
	// (held in rbuf), ahead the chunk being read.
	fi    fs.FileInfo
	pos   int64
	eof   bool
	seq   bool // a read at pos came before: the next ones read ahead
	rbuf  *[]byte
	rdata []byte
	ahead *fetch

	// Of a file open for writing: writes are gathered into chunks of
	// writeChunk bytes (the most one SMB WRITE carries), and each full
	// chunk is written while the next one fills.
	wb fsstore.WriteBehind
}

// writeChunk and readChunk are the sizes of the writes a writer sends and
// of the reads ahead of a reader: the largest SMB WRITE and READ that
// Windows servers take.
const (
	writeChunk = 1 << 20
	readChunk  = writeChunk
)

var chunkPool = sync.Pool{New: func() any { b := make([]byte, 0, writeChunk); return &b }}

// fetch is a read of one chunk, maybe still in flight.
type fetch struct {
	buf  *[]byte
	off  int64
	n    int
	err  error
	done chan struct{}
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
		h.wb = fsstore.WriteBehind{Size: writeChunk, WriteAt: h.writeAt,
			Get: func() *[]byte { return chunkPool.Get().(*[]byte) },
			Put: func(b *[]byte) { *b = (*b)[:0]; chunkPool.Put(b) }}
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
	if h.fi == nil { // a writer: no offset of its own
		err = h.guard(func() (err error) { n, err = h.f.Read(p); return err })
		return n, h.result(err)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if len(h.rdata) > 0 {
		n = copy(p, h.rdata)
		h.rdata = h.rdata[n:]
		h.pos += int64(n)
		return n, nil
	}
	if h.eof {
		return 0, io.EOF
	}
	h.dropChunk()
	if !h.seq || len(p) >= readChunk || h.pos+int64(len(p)) >= h.fi.Size() {
		// The first read at an offset (a range may want no more), a
		// large read, or the last one: straight into p.
		h.dropAhead()
		err = h.guard(func() (err error) { n, err = h.f.ReadAt(p, h.pos); return err })
		h.pos += int64(n)
		h.eof = err == nil && n < len(p)
		h.seq = true
		return n, h.result(err)
	}
	ft := h.ahead
	h.ahead = nil
	if ft == nil || ft.off != h.pos {
		h.release(ft)
		ft = h.fetch(h.pos)
	}
	<-ft.done
	if ft.err != nil && !(ft.err == io.EOF && ft.n > 0) {
		h.release(ft)
		return 0, h.result(ft.err)
	}
	h.rbuf, h.rdata = ft.buf, (*ft.buf)[:ft.n]
	h.eof = ft.n < readChunk
	if next := h.pos + int64(ft.n); !h.eof && next < h.fi.Size() {
		h.ahead = h.fetch(next)
	}
	n = copy(p, h.rdata)
	h.rdata = h.rdata[n:]
	h.pos += int64(n)
	return n, nil
}

// fetch starts reading the chunk at off.
func (h *handle) fetch(off int64) *fetch {
	ft := &fetch{buf: chunkPool.Get().(*[]byte), off: off, done: make(chan struct{})}
	go func() {
		defer close(ft.done)
		ft.err = h.guard(func() (err error) {
			ft.n, err = h.f.ReadAt((*ft.buf)[:readChunk], off)
			return err
		})
	}()
	return ft
}

// release waits for a fetch and gives its buffer back.
func (h *handle) release(ft *fetch) {
	if ft != nil {
		<-ft.done
		chunkPool.Put(ft.buf)
	}
}

// dropChunk gives back the buffer of the current chunk.
func (h *handle) dropChunk() {
	if h.rbuf != nil {
		chunkPool.Put(h.rbuf)
		h.rbuf, h.rdata = nil, nil
	}
}

// dropAhead waits for the read ahead, if any, and forgets it.
func (h *handle) dropAhead() {
	h.release(h.ahead)
	h.ahead = nil
}

func (h *handle) ReadAt(p []byte, off int64) (n int, err error) {
	err = h.guard(func() (err error) { n, err = h.f.ReadAt(p, off); return err })
	return n, h.result(err)
}

func (h *handle) Seek(off int64, whence int) (int64, error) {
	if h.fi == nil {
		return h.f.Seek(off, whence) // local: the offset is kept by the client
	}
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += h.pos
	case io.SeekEnd:
		off += h.fi.Size()
	default:
		return h.pos, errors.New("smb: bad whence")
	}
	if off < 0 {
		return h.pos, errors.New("smb: negative offset")
	}
	if off != h.pos {
		h.dropChunk()
		h.eof, h.seq = false, false
		h.pos = off
	}
	return off, nil
}

func (h *handle) Write(p []byte) (int, error) { return h.wb.Write(p) }

// writeAt writes one chunk, under the watchdog (in the background).
func (h *handle) writeAt(p []byte, off int64) error {
	return h.result(h.guard(func() error {
		_, err := h.f.WriteAt(p, off)
		return err
	}))
}

func (h *handle) Sync() error {
	if err := h.wb.Flush(); err != nil {
		return err
	}
	return h.result(h.guard(h.f.Sync))
}

func (h *handle) Stat() (fs.FileInfo, error) {
	if h.fi != nil {
		return h.fi, nil
	}
	if err := h.wb.Flush(); err != nil {
		return nil, err
	}
	var fi fs.FileInfo
	err := h.guard(func() (err error) { fi, err = h.f.Stat(); return err })
	return fi, h.result(err)
}

func (h *handle) Close() error {
	h.dropAhead()
	h.dropChunk()
	werr := h.wb.Close()
	if h.c.dead.Load() {
		return werr // the server dropped the handle with the connection
	}
	if err := h.result(h.guard(h.f.Close)); werr == nil {
		werr = err
	}
	return werr
}

// statusInvalidDeviceRequest is the answer to a READ of a folder.
const statusInvalidDeviceRequest = 0xC0000010

// ReadFile reads a small file whole (fsstore.FileReader): CREATE, one
// READ for a file of up to 16 KiB (a short READ ends the file; larger
// files take READs of growing size), CLOSE, where Open would also query
// the file's attributes.
func (f *FS) ReadFile(name string, max int64) ([]byte, error) {
	h, err := f.openRead(name)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	var b []byte
	for chunk := int64(16 << 10); int64(len(b)) < max; chunk = min(chunk*2, readChunk) {
		n := min(chunk, max-int64(len(b)))
		b = append(b, make([]byte, n)...)
		off := int64(len(b)) - n
		got, err := h.ReadAt(b[off:], off)
		b = b[:off+int64(got)]
		if err == io.EOF || err == nil && int64(got) < n {
			break
		}
		if err != nil {
			var re *smb2.ResponseError
			if errors.As(err, &re) && re.Code == statusInvalidDeviceRequest {
				err = &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w (not a regular file)", fs.ErrNotExist)}
			}
			return nil, err
		}
	}
	return b, nil
}
