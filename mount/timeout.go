//go:build linux

package mount

import (
	"context"
	"io"
	"sync"
	"syscall"
	"time"
)

// WithTimeout returns a Store whose calls fail with ErrTimeout (EIO to the
// file system) when the store makes no progress for d: no answer to a
// call, or no bytes of a body read or sent for that long. The limit is on
// silence, not on the whole call, so a large part upload or a long read
// over a slow link still completes, while a dead or frozen server cannot
// hang a reader or a writer.
func WithTimeout(s Store, d time.Duration) Store {
	if d <= 0 {
		return s
	}
	return &timeoutStore{s: s, d: d}
}

type timeoutStore struct {
	s Store
	d time.Duration
}

// watchdog cancels its context when kick was not called for d.
type watchdog struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	d      time.Duration
	mu     sync.Mutex
	timer  *time.Timer
	done   bool
}

func newWatchdog(parent context.Context, d time.Duration) *watchdog {
	ctx, cancel := context.WithCancelCause(parent)
	w := &watchdog{ctx: ctx, cancel: cancel, d: d}
	w.timer = time.AfterFunc(d, func() { cancel(ErrTimeout) })
	return w
}

func (w *watchdog) kick() {
	w.mu.Lock()
	if !w.done {
		w.timer.Reset(w.d)
	}
	w.mu.Unlock()
}

func (w *watchdog) stop() {
	w.mu.Lock()
	w.done = true
	w.timer.Stop()
	w.mu.Unlock()
	w.cancel(nil)
}

// err returns ErrTimeout, wrapped as a store error, when the watchdog fired;
// otherwise err.
func (w *watchdog) err(op, key string, err error) error {
	if err != nil && context.Cause(w.ctx) == ErrTimeout {
		return &Error{Op: op, Key: key, Errno: syscall.EIO, Err: ErrTimeout}
	}
	return err
}

// kickReader kicks the watchdog on every read of the body it sends.
type kickReader struct {
	r io.ReadSeeker
	w *watchdog
}

func (k *kickReader) Read(p []byte) (int, error) {
	n, err := k.r.Read(p)
	k.w.kick()
	return n, err
}

func (k *kickReader) Seek(off int64, whence int) (int64, error) { return k.r.Seek(off, whence) }

func (t *timeoutStore) List(ctx context.Context, prefix, delimiter, token string, max int) (ListPage, error) {
	w := newWatchdog(ctx, t.d)
	defer w.stop()
	p, err := t.s.List(w.ctx, prefix, delimiter, token, max)
	return p, w.err("list", prefix, err)
}

func (t *timeoutStore) Head(ctx context.Context, key string) (Object, error) {
	w := newWatchdog(ctx, t.d)
	defer w.stop()
	o, err := t.s.Head(w.ctx, key)
	return o, w.err("head", key, err)
}

func (t *timeoutStore) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	w := newWatchdog(ctx, t.d)
	rc, err := t.s.Get(w.ctx, key, off, n)
	if err != nil {
		w.stop()
		return nil, w.err("get", key, err)
	}
	w.kick()
	return &timedBody{rc: rc, w: w, key: key}, nil
}

// timedBody is a body whose reads keep the watchdog quiet; a read that
// waits longer than the limit fails.
type timedBody struct {
	rc  io.ReadCloser
	w   *watchdog
	key string
}

func (b *timedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.w.kick()
	if err != nil && err != io.EOF {
		err = b.w.err("get", b.key, err)
	}
	return n, err
}

func (b *timedBody) Close() error {
	err := b.rc.Close()
	b.w.stop()
	return err
}

func (t *timeoutStore) Put(ctx context.Context, key string, body io.ReadSeeker, size int64, meta Meta) (Object, error) {
	w := newWatchdog(ctx, t.d)
	defer w.stop()
	o, err := t.s.Put(w.ctx, key, &kickReader{body, w}, size, meta)
	return o, w.err("put", key, err)
}

func (t *timeoutStore) CreateMultipart(ctx context.Context, key string, meta Meta) (string, error) {
	w := newWatchdog(ctx, t.d)
	defer w.stop()
	id, err := t.s.CreateMultipart(w.ctx, key, meta)
	return id, w.err("create multipart upload", key, err)
}

func (t *timeoutStore) UploadPart(ctx context.Context, key, uploadID string, number int, body io.ReadSeeker, size int64) (string, error) {
	w := newWatchdog(ctx, t.d)
	defer w.stop()
	etag, err := t.s.UploadPart(w.ctx, key, uploadID, number, &kickReader{body, w}, size)
	return etag, w.err("upload part", key, err)
}

func (t *timeoutStore) CompleteMultipart(ctx context.Context, key, uploadID string, parts []Part) (Object, error) {
	// Joining the parts may take the server a while for a large object:
	// allow one limit per 100 parts.
	w := newWatchdog(ctx, t.d*time.Duration(1+len(parts)/100))
	defer w.stop()
	o, err := t.s.CompleteMultipart(w.ctx, key, uploadID, parts)
	return o, w.err("complete multipart upload", key, err)
}

func (t *timeoutStore) AbortMultipart(ctx context.Context, key, uploadID string) error {
	w := newWatchdog(ctx, t.d)
	defer w.stop()
	return w.err("abort multipart upload", key, t.s.AbortMultipart(w.ctx, key, uploadID))
}

func (t *timeoutStore) Copy(ctx context.Context, src Object, dst string, meta *Meta) (Object, error) {
	// A server-side copy sends nothing until it is done: allow one limit
	// per 256 MiB copied.
	w := newWatchdog(ctx, t.d*time.Duration(1+src.Size>>28))
	defer w.stop()
	o, err := t.s.Copy(w.ctx, src, dst, meta)
	return o, w.err("copy", src.Key, err)
}

func (t *timeoutStore) Delete(ctx context.Context, key string) error {
	w := newWatchdog(ctx, t.d)
	defer w.stop()
	return w.err("delete", key, t.s.Delete(w.ctx, key))
}
