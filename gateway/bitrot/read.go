package bitrot

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"sync"

	"github.com/minio/highwayhash"

	"github.com/strata-storage/strata/backends"
)

// maxTries bounds the reads of an object that is replaced while it is
// being opened.
const maxTries = 3

// GetObject reads the blocks that hold the range, verifies each before
// any of its bytes are returned, and trims them to the range. The first
// block is verified before GetObject returns, so damage there is an
// error before a response has started.
func (l *Layer) GetObject(ctx context.Context, bucket, key string, rng *backends.Range) (io.ReadCloser, backends.ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return nil, backends.ObjectInfo{}, err
	}
	if l.passThrough(bucket) {
		return l.Backend.GetObject(ctx, bucket, key, rng)
	}
	o, err := l.open(ctx, bucket, key, rng, nil)
	if err != nil {
		return nil, o.info, err
	}
	if o.v == nil {
		l.unverified.Add(1)
		l.log.Debug("bitrot: read unverified", "bucket", bucket, "key", key, "why", o.unverified)
	}
	return o.r, o.info, nil
}

// opened is an object opened for a verified read.
type opened struct {
	info       backends.ObjectInfo
	r          io.ReadCloser
	v          *verifier // nil when the object is read unverified
	unverified string    // why not, when v is nil
}

// open opens the range of an object for a verified read; progress, when
// not nil, is told the length of each block verified.
func (l *Layer) open(ctx context.Context, bucket, key string, rng *backends.Range, progress func(int64)) (opened, error) {
	// Ask the backend for whole blocks. For a plain object the block
	// boundaries follow from the range alone; a suffix range needs the
	// size first, and a multipart object whose parts are not multiples of
	// the block size is read again with the exact range.
	req := rng
	if rng != nil {
		if rng.Start >= 0 {
			req = &backends.Range{Start: rng.Start - rng.Start%l.bs, End: -1}
			if rng.End >= 0 && rng.End < math.MaxInt64-l.bs {
				req.End = rng.End - rng.End%l.bs + l.bs - 1
			}
		} else if info, err := l.Backend.HeadObject(ctx, bucket, key); err != nil {
			return opened{info: info}, err
		} else if rec, err := parseRecord(info.Sys); err == nil && rec.size == info.Size {
			if off, n, err := rng.Resolve(info.Size); err == nil {
				first, last, _ := rec.layout().bounds(off, off+n)
				req = &backends.Range{Start: first.off, End: last.off + last.len - 1}
			}
		}
	}
	for try := 1; ; try++ {
		body, info, err := l.Backend.GetObject(ctx, bucket, key, req)
		if err != nil {
			return opened{info: info}, err
		}
		off, length, err := rng.Resolve(info.Size)
		if err != nil {
			body.Close()
			return opened{info: info}, err
		}
		fOff, fLen, err := req.Resolve(info.Size)
		if err != nil { // cannot be: the backend took req
			body.Close()
			return opened{info: info}, err
		}
		rec, perr := parseRecord(info.Sys)
		switch {
		case errors.Is(perr, errNoRecord):
			return l.openUnverified(body, info, off-fOff, length, "no hashes"), nil
		case errors.Is(perr, errNewer):
			l.log.Warn("bitrot: the object's hashes are of a newer format; read unverified", "bucket", bucket, "key", key)
			return l.openUnverified(body, info, off-fOff, length, "hashes of a newer format"), nil
		case perr != nil:
			body.Close()
			l.corrupt.Add(1)
			l.log.Error("bitrot: the object's hash record is damaged", "bucket", bucket, "key", key, "err", perr)
			return opened{info: info}, errCorrupt()
		case rec.size != info.Size:
			body.Close()
			l.corrupt.Add(1)
			l.log.Error("bitrot: the object's size differs from the size its hashes cover",
				"bucket", bucket, "key", key, "size", info.Size, "hashed", rec.size)
			return opened{info: info}, errCorrupt()
		}
		if length == 0 {
			body.Close()
			return opened{info: info, r: io.NopCloser(bytes.NewReader(nil)), v: &verifier{}}, nil
		}
		lo := rec.layout()
		first, last, _ := lo.bounds(off, off+length)
		if first.off < fOff || last.off+last.len > fOff+fLen {
			body.Close()
			if try >= maxTries {
				return opened{info: info}, backends.Errorf(backends.Unavailable, "the object changed while it was opened; try again")
			}
			req = &backends.Range{Start: first.off, End: last.off + last.len - 1}
			continue
		}
		if d := first.off - fOff; d > 0 {
			if _, err := io.CopyN(io.Discard, body, d); err != nil {
				body.Close()
				return opened{info: info}, err
			}
		}
		hs, err := l.openHashes(ctx, bucket, rec, first.idx, last.idx)
		if err != nil {
			if backends.Is(err, backends.NoSuchKey) {
				l.log.Warn("bitrot: the object's hash object is missing; read unverified", "bucket", bucket, "key", key, "id", rec.ref)
				return l.openUnverified(body, info, off-first.off, length, "hash object missing"), nil
			}
			body.Close()
			if backends.Is(err, backends.Corrupt) {
				l.corrupt.Add(1)
				l.log.Error("bitrot: the object's hash object is damaged", "bucket", bucket, "key", key, "id", rec.ref)
			}
			return opened{info: info}, err
		}
		v := &verifier{l: l, bucket: bucket, key: key, body: body, hs: hs,
			skip: off - first.off, remain: length, bad: -1, progress: progress}
		it := lo.iter(off, off+length)
		if last.idx-first.idx >= 2 {
			v.readAhead(it)
		} else {
			v.it = it
		}
		if err := v.fill(); err != nil {
			v.Close()
			return opened{info: info, v: v}, err
		}
		return opened{info: info, r: v, v: v}, nil
	}
}

// openUnverified returns body, from which skip bytes are dropped first, limited
// to length bytes.
func (l *Layer) openUnverified(body io.ReadCloser, info backends.ObjectInfo, skip, length int64, why string) opened {
	r := &limited{body: body, skip: skip, n: length}
	return opened{info: info, r: r, unverified: why}
}

// limited drops skip bytes, then reads n.
type limited struct {
	body    io.ReadCloser
	skip, n int64
}

func (r *limited) Read(p []byte) (int, error) {
	if r.skip > 0 {
		if _, err := io.CopyN(io.Discard, r.body, r.skip); err != nil {
			return 0, err
		}
		r.skip = 0
	}
	if r.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	n, err := r.body.Read(p)
	r.n -= int64(n)
	if err == io.EOF && r.n > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (r *limited) Close() error { return r.body.Close() }

// hashSource gives the expected hashes one block after the other.
type hashSource interface {
	next() ([]byte, error)
	close()
}

type inlineHashes struct{ b []byte }

func (h *inlineHashes) next() ([]byte, error) {
	if len(h.b) < HashSize {
		return nil, errCorrupt()
	}
	s := h.b[:HashSize]
	h.b = h.b[HashSize:]
	return s, nil
}

func (h *inlineHashes) close() {}

type objectHashes struct {
	body io.ReadCloser
	r    *bufio.Reader
	buf  [HashSize]byte
}

func (h *objectHashes) next() ([]byte, error) {
	if _, err := io.ReadFull(h.r, h.buf[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, errCorrupt()
		}
		return nil, err
	}
	return h.buf[:], nil
}

func (h *objectHashes) close() { h.body.Close() }

// openHashes returns the hashes of blocks first..last of rec.
func (l *Layer) openHashes(ctx context.Context, bucket string, rec *record, first, last int) (hashSource, error) {
	if rec.ref == "" {
		return &inlineHashes{b: rec.inline[first*HashSize : (last+1)*HashSize]}, nil
	}
	hdr := int64(len(hashObjectHeader))
	body, info, err := l.Backend.GetObject(ctx, bucket, hashKey(rec.ref),
		&backends.Range{Start: hdr + int64(first)*HashSize, End: hdr + int64(last+1)*HashSize - 1})
	if err != nil {
		if backends.Is(err, backends.InvalidRange) {
			return nil, errCorrupt()
		}
		return nil, err
	}
	if info.Size != hdr+int64(rec.blocks())*HashSize {
		body.Close()
		return nil, errCorrupt()
	}
	return &objectHashes{body: body, r: bufio.NewReaderSize(body, 4096)}, nil
}

func (l *Layer) getBuf(n int64) *[]byte {
	if n > l.bs {
		b := make([]byte, n)
		return &b
	}
	return l.pool.Get().(*[]byte)
}

func (l *Layer) putBuf(b *[]byte) {
	if b != nil && int64(cap(*b)) == l.bs {
		l.pool.Put(b)
	}
}

// verifier is the reader of a verified range.
type verifier struct {
	l           *Layer
	bucket, key string
	body        io.ReadCloser
	hs          hashSource
	it          *blockIter // read synchronously when set

	skip   int64 // bytes of the next block before the range
	remain int64 // bytes of the range not yet returned
	cur    []byte
	curBuf *[]byte
	err    error

	// bad is the index of the first block that failed, -1 when none.
	bad    int
	badOff int64

	// Read-ahead: a goroutine reads the next blocks from the backend while
	// the reader verifies and returns the current one.
	ch     chan rawBlock
	stop   chan struct{}
	wg     sync.WaitGroup
	closed bool

	// progress, when set, is told of each verified block's length.
	progress func(n int64)
}

type rawBlock struct {
	buf *[]byte
	b   block
	err error
}

func (v *verifier) readAhead(it *blockIter) {
	v.ch = make(chan rawBlock, 2)
	v.stop = make(chan struct{})
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		defer close(v.ch)
		for {
			select {
			case <-v.stop:
				return
			default:
			}
			b, ok := it.next()
			if !ok {
				return
			}
			buf := v.l.getBuf(b.len)
			_, err := io.ReadFull(v.body, (*buf)[:b.len])
			select {
			case v.ch <- rawBlock{buf: buf, b: b, err: err}:
			case <-v.stop:
				v.l.putBuf(buf)
				return
			}
			if err != nil {
				return
			}
		}
	}()
}

func (v *verifier) nextRaw() rawBlock {
	if v.ch != nil {
		rb, ok := <-v.ch
		if !ok {
			return rawBlock{err: io.ErrUnexpectedEOF}
		}
		return rb
	}
	b, ok := v.it.next()
	if !ok {
		return rawBlock{err: io.ErrUnexpectedEOF}
	}
	buf := v.l.getBuf(b.len)
	_, err := io.ReadFull(v.body, (*buf)[:b.len])
	return rawBlock{buf: buf, b: b, err: err}
}

// nextBlock reads and verifies the next block into cur.
func (v *verifier) nextBlock() error {
	rb := v.nextRaw()
	if rb.err != nil {
		v.l.putBuf(rb.buf)
		if rb.err == io.EOF || rb.err == io.ErrUnexpectedEOF {
			// The backend returned fewer bytes than the object has.
			v.bad, v.badOff = rb.b.idx, rb.b.off
			v.l.corrupt.Add(1)
			v.l.log.Error("bitrot: the object's data ends before its size", "bucket", v.bucket, "key", v.key,
				"block", rb.b.idx, "offset", rb.b.off)
			return errCorrupt()
		}
		return rb.err
	}
	data := (*rb.buf)[:rb.b.len]
	want, err := v.hs.next()
	if err != nil {
		v.l.putBuf(rb.buf)
		if backends.Is(err, backends.Corrupt) {
			v.bad, v.badOff = rb.b.idx, rb.b.off
			v.l.corrupt.Add(1)
			v.l.log.Error("bitrot: the object's hash object ends early", "bucket", v.bucket, "key", v.key, "block", rb.b.idx)
		}
		return err
	}
	sum := highwayhash.Sum(data, Key)
	if !bytes.Equal(sum[:], want) {
		v.l.putBuf(rb.buf)
		v.bad, v.badOff = rb.b.idx, rb.b.off
		v.l.corrupt.Add(1)
		v.l.log.Error("bitrot: data failed its integrity check", "bucket", v.bucket, "key", v.key,
			"block", rb.b.idx, "offset", rb.b.off, "length", rb.b.len)
		return errCorrupt()
	}
	v.l.verified.Add(1)
	if v.progress != nil {
		v.progress(rb.b.len)
	}
	start := v.skip
	v.skip = 0
	end := min(rb.b.len, start+v.remain)
	v.cur, v.curBuf = data[start:end], rb.buf
	return nil
}

// fill makes sure cur holds bytes, unless the range is done.
func (v *verifier) fill() error {
	for len(v.cur) == 0 {
		if v.remain == 0 {
			return io.EOF
		}
		if v.err != nil {
			return v.err
		}
		if v.curBuf != nil {
			v.l.putBuf(v.curBuf)
			v.curBuf = nil
		}
		if err := v.nextBlock(); err != nil {
			v.err = err
			return err
		}
	}
	return nil
}

func (v *verifier) Read(p []byte) (int, error) {
	if err := v.fill(); err != nil {
		return 0, err
	}
	n := copy(p, v.cur)
	v.cur = v.cur[n:]
	v.remain -= int64(n)
	return n, nil
}

// drain verifies the rest of the range without returning it.
func (v *verifier) drain() error {
	for {
		if err := v.fill(); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		v.remain -= int64(len(v.cur))
		v.cur = nil
	}
}

func (v *verifier) Close() error {
	if v.closed || v.l == nil {
		return nil
	}
	v.closed = true
	if v.stop != nil {
		close(v.stop)
	}
	// The body is closed only once the read-ahead is done with it: readers
	// such as the NFS and erasure ones must not be closed during a read.
	// The read in flight ends on its own (the backends' calls have
	// deadlines).
	if v.ch != nil {
		for rb := range v.ch {
			v.l.putBuf(rb.buf)
		}
	}
	v.wg.Wait()
	err := v.body.Close()
	v.l.putBuf(v.curBuf)
	v.cur, v.curBuf = nil, nil
	v.hs.close()
	return err
}
