package sse

import (
	"io"
	"sync"

	"github.com/strata-storage/strata/backends"
)

// prefetch reads its source ahead in a goroutine, a few chunks at most,
// so that reading the stored bytes and decrypting them overlap.
type prefetch struct {
	src    io.ReadCloser
	chunks chan chunk
	done   chan struct{}
	cur    chunk
	off    int
	once   sync.Once
	wg     sync.WaitGroup
}

type chunk struct {
	buf *[]byte
	n   int
	err error
}

const (
	prefetchChunk = 256 << 10
	prefetchDepth = 3 // chunks read ahead: memory per GET is bounded
)

var chunkPool = sync.Pool{New: func() any { b := make([]byte, prefetchChunk); return &b }}

func newPrefetch(src io.ReadCloser) *prefetch {
	p := &prefetch{src: src, chunks: make(chan chunk, prefetchDepth), done: make(chan struct{})}
	p.wg.Add(1)
	go p.run()
	return p
}

func (p *prefetch) run() {
	defer p.wg.Done()
	defer close(p.chunks)
	for {
		select {
		case <-p.done:
			return
		default:
		}
		b := chunkPool.Get().(*[]byte)
		n, eof, err := backends.ReadBlock(p.src, *b)
		if eof {
			err = io.EOF
		}
		select {
		case p.chunks <- chunk{buf: b, n: n, err: err}:
		case <-p.done:
			chunkPool.Put(b)
			return
		}
		if err != nil {
			return
		}
	}
}

func (p *prefetch) Read(b []byte) (int, error) {
	for p.cur.buf == nil || p.off == p.cur.n {
		if p.cur.buf != nil {
			if p.cur.err != nil {
				return 0, p.cur.err
			}
			chunkPool.Put(p.cur.buf)
			p.cur.buf = nil
		}
		c, ok := <-p.chunks
		if !ok {
			return 0, io.EOF
		}
		p.cur, p.off = c, 0
		if c.n == 0 && c.err != nil {
			return 0, c.err
		}
	}
	n := copy(b, (*p.cur.buf)[p.off:p.cur.n])
	p.off += n
	return n, nil
}

// Close stops the reader goroutine and closes the source.
func (p *prefetch) Close() error {
	var err error
	p.once.Do(func() {
		// The source is closed only once the goroutine is done with it:
		// readers such as the erasure store's are not safe to close
		// during a read.
		close(p.done)
		for c := range p.chunks {
			chunkPool.Put(c.buf)
		}
		p.wg.Wait()
		err = p.src.Close()
	})
	return err
}
