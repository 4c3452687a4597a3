package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-storage/strata/backends"
)

// Uploads are buffered in memory up to Config.PartSize, in pooled blocks,
// so that a small object takes little memory and none is allocated per
// request once the pool is warm. S3 needs the length of a body before the
// body, and a body it can read twice (signing over plain HTTP hashes it
// first; retries send it again): a buffer gives both. A PUT larger than a
// part becomes a multipart upload; an uploaded part larger than the buffer
// (S3 allows up to 5 GiB) goes to a temporary file.

const blockSize = 256 << 10

type block = [blockSize]byte

var blockPool = sync.Pool{New: func() any { return new(block) }}

// partBuf holds up to one part of data.
type partBuf struct {
	blocks []*block
	n      int64
}

// fill reads r until the buffer holds limit bytes or r ends; eof says that
// r returned io.EOF. An error of r is returned as it is: it is the
// client's (gone away, bad checksum), with its kind.
func (p *partBuf) fill(r io.Reader, limit int64) (eof bool, err error) {
	for p.n < limit {
		i, off := int(p.n/blockSize), int(p.n%blockSize)
		if i == len(p.blocks) {
			p.blocks = append(p.blocks, blockPool.Get().(*block))
		}
		end := blockSize
		if rem := limit - p.n; int64(end-off) > rem {
			end = off + int(rem)
		}
		n, err := r.Read(p.blocks[i][off:end])
		p.n += int64(n)
		if err == io.EOF {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
	return false, nil
}

func (p *partBuf) ReadAt(b []byte, off int64) (int, error) {
	if off >= p.n {
		return 0, io.EOF
	}
	total := 0
	for len(b) > 0 && off < p.n {
		i, o := int(off/blockSize), int(off%blockSize)
		end := blockSize
		if rem := p.n - off; int64(end-o) > rem {
			end = o + int(rem)
		}
		k := copy(b, p.blocks[i][o:end])
		b, off, total = b[k:], off+int64(k), total+k
	}
	if len(b) > 0 {
		return total, io.EOF
	}
	return total, nil
}

// writeTo writes the buffer's bytes to w.
func (p *partBuf) writeTo(w io.Writer) error {
	_, err := io.Copy(w, io.NewSectionReader(p, 0, p.n))
	return err
}

func (p *partBuf) release() {
	for _, b := range p.blocks {
		blockPool.Put(b)
	}
	p.blocks, p.n = nil, 0
}

// watchdog calls cancel when kick has not been called for d.
type watchdog struct {
	t     *time.Timer
	d     time.Duration
	fired atomic.Bool
}

func newWatchdog(d time.Duration, cancel func()) *watchdog {
	w := &watchdog{d: d}
	w.t = time.AfterFunc(d, func() {
		w.fired.Store(true)
		cancel()
	})
	return w
}

// err returns err as Unavailable if the watchdog canceled the request.
func (w *watchdog) err(err error) error {
	if err != nil && w.fired.Load() {
		return backends.Wrap(backends.Unavailable, err, fmt.Sprintf("s3: no data moved for %v", w.d))
	}
	return err
}

func (w *watchdog) kick() { w.t.Reset(w.d) }
func (w *watchdog) stop() { w.t.Stop() }

var errDetached = errors.New("s3: request body used after its request ended")

// body is a request body over a buffer or file: seekable, so that the SDK
// can hash it and retry. Once detached it reads nothing, so that its
// buffer can go back to the pool although the HTTP transport may still
// hold it. Every read kicks the watchdog: a request whose body stops
// moving (the service or the network stalled) is canceled.
type body struct {
	mu        sync.Mutex
	src       io.ReaderAt
	size, off int64
	detached  bool
	wd        *watchdog
}

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.detached {
		return 0, errDetached
	}
	if b.off >= b.size {
		// Sent: the wait for the answer is bounded by the transport's
		// response timeout.
		b.wd.stop()
		return 0, io.EOF
	}
	b.wd.kick()
	if rem := b.size - b.off; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := b.src.ReadAt(p, b.off)
	b.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (b *body) Seek(offset int64, whence int) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.detached {
		return 0, errDetached
	}
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += b.off
	case io.SeekEnd:
		offset += b.size
	default:
		return 0, errors.New("s3: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("s3: negative position")
	}
	b.off = offset
	b.wd.kick()
	return offset, nil
}

func (b *body) detach() {
	b.mu.Lock()
	b.detached = true
	b.wd.stop()
	b.mu.Unlock()
}

// sendBody runs fn with a body over src: fn's context is canceled when the
// body stops moving for the idle timeout. After fn, src is no longer read.
func (b *Backend) sendBody(ctx context.Context, src io.ReaderAt, size int64, fn func(ctx context.Context, body io.ReadSeeker) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bd := &body{src: src, size: size, wd: newWatchdog(b.cfg.IdleTimeout, cancel)}
	err := fn(ctx, bd)
	bd.detach()
	return bd.wd.err(err)
}

// spool is a part too large for memory, in an unlinked temporary file.
type spool struct {
	f    *os.File
	name string // still to remove (systems that cannot unlink open files)
	n    int64
}

// spoolPart writes first and the rest of r to a temporary file, at most
// maxPartSize bytes in all.
func (b *Backend) spoolPart(first *partBuf, r io.Reader) (*spool, error) {
	f, err := os.CreateTemp(b.cfg.SpoolDir, "strata-s3-part-*")
	if err != nil {
		return nil, backends.Wrap(backends.Internal, err, "s3: spool a part")
	}
	s := &spool{f: f}
	if os.Remove(f.Name()) != nil {
		s.name = f.Name()
	}
	if err := first.writeTo(f); err != nil {
		s.close()
		return nil, backends.Wrap(backends.Internal, err, "s3: spool a part")
	}
	n, err := io.Copy(fileWriter{f}, io.LimitReader(r, maxPartSize-first.n+1))
	if err != nil {
		s.close()
		// Reading from the client failed: its error, with its kind.
		var we *writeError
		if errors.As(err, &we) {
			return nil, backends.Wrap(backends.Internal, we.err, "s3: spool a part")
		}
		return nil, err
	}
	s.n = first.n + n
	if s.n > maxPartSize {
		s.close()
		return nil, backends.Errorf(backends.EntityTooLarge, "Your proposed upload exceeds the maximum allowed object size.")
	}
	return s, nil
}

func (s *spool) ReadAt(p []byte, off int64) (int, error) { return s.f.ReadAt(p, off) }

func (s *spool) close() {
	s.f.Close()
	if s.name != "" {
		os.Remove(s.name)
	}
}

// writeError marks an error of the spool file, not of the reader.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }

type fileWriter struct{ f *os.File }

func (w fileWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		err = &writeError{err}
	}
	return n, err
}
