//go:build linux

package mount

import (
	"bytes"
	"errors"
	"io"
	"os"
	"sync"
)

// partSize is the size of part n (from 1): the base size for the first
// 1000 parts, twice it for the next 1000, and so on, so that the 10,000
// parts S3 allows hold 55,000 base parts (440 GB at 8 MiB) while small
// files still use small parts.
func partSize(base int64, n int) int64 {
	return base * int64(1+(n-1)/1000)
}

// bufPool keeps part buffers for reuse, by size.
var bufPool sync.Map // int64 -> *sync.Pool

func getBuf(size int64) []byte {
	p, _ := bufPool.LoadOrStore(size, &sync.Pool{})
	if b, ok := p.(*sync.Pool).Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, size)
}

func putBuf(b []byte) {
	// Only whole part sizes are kept: a first part grows by append.
	if c := cap(b); c < 5<<20 || c%(1<<20) != 0 {
		return
	}
	p, _ := bufPool.LoadOrStore(int64(cap(b)), &sync.Pool{})
	p.(*sync.Pool).Put(&b)
}

// streamWriter uploads a file written from its start in order, as a
// multipart upload whose parts leave while the next ones are written. A
// file that ends within the first part is sent with one PUT instead.
// Memory: the part being filled and Options.Uploads parts in flight.
type streamWriter struct {
	f    *FS
	key  string
	meta Meta

	size     int64 // bytes written
	buf      []byte
	n        int // parts started
	uploadID string

	wg    sync.WaitGroup
	slots chan struct{} // this file's parts in flight
	mu    sync.Mutex
	parts []Part
	err   error
}

func newStreamWriter(f *FS, key string, meta Meta) *streamWriter {
	return &streamWriter{f: f, key: key, meta: meta, slots: make(chan struct{}, f.opt.Uploads)}
}

func (w *streamWriter) firstErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// write appends p.
func (w *streamWriter) write(p []byte) error {
	for len(p) > 0 {
		ps := partSize(w.f.opt.PartSize, w.n+1)
		if w.buf == nil && w.n > 0 {
			w.buf = getBuf(ps)
		}
		// The first part grows as needed: most files are small.
		k := min(int64(len(p)), ps-int64(len(w.buf)))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		w.size += k
		if int64(len(w.buf)) == ps {
			if err := w.sendPart(); err != nil {
				return err
			}
		}
	}
	return w.firstErr()
}

// sendPart starts the upload of the buffer as the next part.
func (w *streamWriter) sendPart() error {
	if err := w.firstErr(); err != nil {
		return err
	}
	if w.uploadID == "" {
		id, err := w.f.store.CreateMultipart(w.f.ctx(), w.key, w.meta)
		if err != nil {
			return err
		}
		w.uploadID = id
	}
	w.n++
	num, buf := w.n, w.buf
	w.buf = nil
	w.slots <- struct{}{}
	w.f.parts <- struct{}{}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		etag, err := w.f.store.UploadPart(w.f.ctx(), w.key, w.uploadID, num, bytes.NewReader(buf), int64(len(buf)))
		<-w.f.parts
		<-w.slots
		putBuf(buf)
		w.mu.Lock()
		defer w.mu.Unlock()
		if err != nil {
			if w.err == nil {
				w.err = err
			}
			return
		}
		for len(w.parts) < num {
			w.parts = append(w.parts, Part{})
		}
		w.parts[num-1] = Part{Number: num, ETag: etag}
	}()
	return nil
}

// finish stores the object and returns it.
func (w *streamWriter) finish(meta Meta) (Object, error) {
	if w.uploadID == "" {
		o, err := w.f.store.Put(w.f.ctx(), w.key, bytes.NewReader(w.buf), int64(len(w.buf)), meta)
		w.buf = nil
		o.Size = w.size
		return o, err
	}
	if len(w.buf) > 0 {
		if err := w.sendPart(); err != nil {
			w.abort()
			return Object{}, err
		}
	}
	w.wg.Wait()
	if err := w.firstErr(); err != nil {
		w.abort()
		return Object{}, err
	}
	o, err := w.f.store.CompleteMultipart(w.f.ctx(), w.key, w.uploadID, w.parts)
	if err != nil {
		w.abort()
		return Object{}, err
	}
	w.uploadID = ""
	o.Size = w.size
	o.Meta, o.HasMeta = w.meta, true
	return o, nil
}

// abort drops what was written and uploaded.
func (w *streamWriter) abort() {
	w.wg.Wait()
	putBuf(w.buf)
	w.buf = nil
	if w.uploadID != "" {
		if err := w.f.store.AbortMultipart(w.f.ctx(), w.key, w.uploadID); err != nil {
			w.f.log.Warn("aborting an upload", "key", w.key, "err", err)
		}
		w.uploadID = ""
	}
}

// uploadFile stores size bytes of the cache file f at key: one PUT, or a
// multipart upload whose parts are read from the file side by side.
func (f *FS) uploadFile(key string, file *os.File, size int64, meta Meta) (Object, error) {
	if size <= f.opt.PartSize {
		o, err := f.store.Put(f.ctx(), key, io.NewSectionReader(file, 0, size), size, meta)
		o.Size = size
		return o, err
	}
	id, err := f.store.CreateMultipart(f.ctx(), key, meta)
	if err != nil {
		return Object{}, err
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		parts []Part
		errs  []error
		slots = make(chan struct{}, f.opt.Uploads)
	)
	for off, n := int64(0), 1; off < size; n++ {
		l := min(partSize(f.opt.PartSize, n), size-off)
		slots <- struct{}{}
		wg.Add(1)
		go func(n int, off, l int64) {
			defer wg.Done()
			defer func() { <-slots }()
			etag, err := f.store.UploadPart(f.ctx(), key, id, n, io.NewSectionReader(file, off, l), l)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			for len(parts) < n {
				parts = append(parts, Part{})
			}
			parts[n-1] = Part{Number: n, ETag: etag}
		}(n, off, l)
		off += l
		mu.Lock()
		failed := len(errs) > 0
		mu.Unlock()
		if failed {
			break
		}
	}
	wg.Wait()
	if len(errs) > 0 {
		f.store.AbortMultipart(f.ctx(), key, id)
		return Object{}, errors.Join(errs...)
	}
	o, err := f.store.CompleteMultipart(f.ctx(), key, id, parts)
	if err != nil {
		f.store.AbortMultipart(f.ctx(), key, id)
		return Object{}, err
	}
	o.Size, o.Meta, o.HasMeta = size, meta, true
	return o, nil
}
