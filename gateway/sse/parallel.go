package sse

import (
	"fmt"
	"io"
	"maps"
	"reflect"
	"runtime"
	"sync"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/gateway/sio"
)

// Long reads decrypt batches of packages on several cores: each package is
// authenticated on its own and its position is fixed by its sequence
// number, so batches can be opened in any order and released in order.

const (
	batchPackages = 16 // 1 MiB of plaintext per batch
	batchEnc      = batchPackages * sio.PackageSize
	batchesAhead  = 4 // batches read or decrypted ahead of the reader
)

var (
	encBufs   = sync.Pool{New: func() any { b := make([]byte, batchEnc); return &b }}
	plainBufs = sync.Pool{New: func() any { b := make([]byte, batchPackages*sio.PayloadSize); return &b }}
)

// encrypting returns the encrypted stream of sr, the metadata that the
// layers below and the backend are to get with it, and a function to call
// once the backend is done. With several cores, the stream is sealed in
// batches while a goroutine reads sr ahead. Readers upstream complete the
// metadata (size, ETag, checksums, Sys) when they reach the end of the
// plaintext, which then happens in that goroutine: so the layers below get
// a copy, which takes those values (and this layer's own) when they read
// the encrypted stream to its end, as they would have without the
// goroutine; done copies it back for the caller.
func encrypting(sr *sealReader, c sio.Config) (io.Reader, *backends.Meta, func()) {
	outer := sr.meta
	if runtime.GOMAXPROCS(0) == 1 {
		r, err := sio.EncryptReader(sr, c)
		if err != nil {
			return errReader{err}, outer, func() {}
		}
		return r, outer, func() {}
	}
	inner := *outer
	sys := outer.Sys
	inner.Sys = maps.Clone(sys)
	sr.meta, sr.deferred = &inner, true
	p := newParallelEncrypt(sr, c)
	p.atEOF = func() {
		inner.Size, inner.ETag = outer.Size, outer.ETag
		inner.Checksums, inner.ChecksumType = outer.Checksums, outer.ChecksumType
		if reflect.ValueOf(outer.Sys).UnsafePointer() != reflect.ValueOf(sys).UnsafePointer() {
			inner.Sys = outer.Sys // replaced upstream: the map itself, as without the copy
		} else {
			for k, v := range outer.Sys {
				inner.Sys[k] = v
			}
		}
		sr.finish()
	}
	return p, &inner, func() {
		p.Close()
		*outer = inner
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// parallelWorth reports whether a segment of encLen stored bytes is long
// enough to be decrypted in batches.
func parallelWorth(encLen int64) bool {
	return runtime.GOMAXPROCS(0) > 1 && encLen >= 3*batchEnc
}

// batch is the outcome of one batch: n bytes of buf, which goes back to
// pool once read.
type batch struct {
	buf  *[]byte
	pool *sync.Pool
	n    int
	err  error
}

func (b *batch) release() {
	if b.buf != nil {
		b.pool.Put(b.buf)
		b.buf = nil
	}
}

// batches hands out the batches of a producer in order; Close stops the
// producer and its workers, and returns once none runs.
type batches struct {
	results chan chan batch
	stop    chan struct{}
	wg      sync.WaitGroup
	cur     batch
	off     int
	done    bool
	once    sync.Once
	atEOF   func() // run by Read when it first returns io.EOF
}

func newBatches() *batches {
	return &batches{results: make(chan chan batch, batchesAhead), stop: make(chan struct{})}
}

// send queues res, unless the reader is closed.
func (p *batches) send(res chan batch) bool {
	select {
	case p.results <- res:
		return true
	case <-p.stop:
		return false
	}
}

func (p *batches) Read(b []byte) (int, error) {
	for p.cur.buf == nil || p.off == p.cur.n {
		p.cur.release()
		if p.done {
			return 0, io.EOF
		}
		res, ok := <-p.results
		if !ok {
			p.done = true
			if p.atEOF != nil {
				p.atEOF()
			}
			return 0, io.EOF
		}
		p.cur, p.off = <-res, 0
		if p.cur.err != nil {
			p.done = true
			return 0, p.cur.err
		}
	}
	n := copy(b, (*p.cur.buf)[p.off:p.cur.n])
	p.off += n
	return n, nil
}

func (p *batches) Close() error {
	p.once.Do(func() {
		close(p.stop)
		go func() {
			for res := range p.results {
				b := <-res
				b.release()
			}
		}()
		p.wg.Wait()
		p.cur.release()
	})
	return nil
}

// newParallelDecrypt is the plaintext of encLen stored bytes of one stream
// read from src, starting at package seq. final says the bytes end with
// the stream's final package, which is then checked to be there.
func newParallelDecrypt(src io.Reader, key []byte, c sio.Cipher, seq uint32, encLen int64, final bool) *batches {
	p := newBatches()
	workers := make(chan struct{}, runtime.GOMAXPROCS(0))
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(p.results)
		for left := encLen; left > 0; {
			select {
			case <-p.stop:
				return
			default:
			}
			n := min(left, batchEnc)
			left -= n
			last := left == 0
			enc := encBufs.Get().(*[]byte)
			res := make(chan batch, 1)
			_, err := io.ReadFull(src, (*enc)[:n])
			if err != nil {
				encBufs.Put(enc)
				if err == io.EOF || err == io.ErrUnexpectedEOF {
					err = fmt.Errorf("%w: the stored object ends early", sio.ErrAuth)
				}
				res <- batch{err: err}
			} else {
				select {
				case workers <- struct{}{}:
				case <-p.stop:
					encBufs.Put(enc)
					return
				}
				p.wg.Add(1)
				go func(seq uint32, n int64) {
					defer p.wg.Done()
					defer func() { <-workers }()
					res <- open(*enc, n, key, c, seq, last && final)
					encBufs.Put(enc)
				}(seq, n)
			}
			if !p.send(res) || err != nil {
				return
			}
			seq += batchPackages
		}
	}()
	return p
}

// open decrypts the n stored bytes of enc, whole packages from seq on,
// straight into a plaintext buffer.
func open(enc []byte, n int64, key []byte, c sio.Cipher, seq uint32, final bool) batch {
	out := plainBufs.Get().(*[]byte)
	m, err := sio.OpenPackages(*out, enc[:n], sio.Config{Key: key, Cipher: c, SeqNum: seq}, final)
	if err != nil {
		plainBufs.Put(out)
		return batch{err: err}
	}
	return batch{buf: out, pool: &plainBufs, n: m}
}

// newParallelEncrypt is the encrypted stream of src, sealed in batches of
// packages on several cores while src is read (and, upstream, hashed):
// the same bytes sio.EncryptReader gives. Close stops its goroutines; it
// returns once none reads src.
const batchPlain = batchPackages * sio.PayloadSize

func newParallelEncrypt(src io.Reader, c sio.Config) *batches {
	p := newBatches()
	workers := make(chan struct{}, runtime.GOMAXPROCS(0))
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(p.results)
		fail := func(err error) {
			res := make(chan batch, 1)
			res <- batch{err: err}
			p.send(res)
		}
		// Each batch is sealed once the next one is read: only then is it
		// known whether it ends the stream.
		cur := plainBufs.Get().(*[]byte)
		n, err := p.readFull(src, *cur)
		seq := c.SeqNum
		for {
			if err != nil {
				plainBufs.Put(cur)
				fail(err)
				return
			}
			var next *[]byte
			m := 0
			if n == batchPlain {
				next = plainBufs.Get().(*[]byte)
				if m, err = p.readFull(src, *next); err != nil {
					plainBufs.Put(cur)
					plainBufs.Put(next)
					fail(err)
					return
				}
			}
			final := m == 0
			select {
			case workers <- struct{}{}:
			case <-p.stop:
				plainBufs.Put(cur)
				if next != nil {
					plainBufs.Put(next)
				}
				return
			}
			res := make(chan batch, 1)
			p.wg.Add(1)
			go func(plain *[]byte, n int, seq uint32) {
				defer p.wg.Done()
				defer func() { <-workers }()
				out := encBufs.Get().(*[]byte)
				k, err := sio.SealPackages(*out, (*plain)[:n], sio.Config{Key: c.Key, Cipher: c.Cipher, SeqNum: seq}, final)
				plainBufs.Put(plain)
				if err != nil {
					encBufs.Put(out)
					res <- batch{err: err}
					return
				}
				res <- batch{buf: out, pool: &encBufs, n: k}
			}(cur, n, seq)
			if !p.send(res) || final {
				if next != nil {
					plainBufs.Put(next)
				}
				return
			}
			cur, n, seq = next, m, seq+batchPackages
		}
	}()
	return p
}

// readFull reads into b until it is full or src ends (io.EOF is not an
// error here), and gives up when the reader is closed.
func (p *batches) readFull(src io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		select {
		case <-p.stop:
			return n, errClosed
		default:
		}
		m, err := src.Read(b[n:])
		n += m
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

var errClosed = fmt.Errorf("sse: the encrypting reader is closed")
