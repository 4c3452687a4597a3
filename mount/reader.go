//go:build linux

package mount

import (
	"io"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// Read-ahead: reads that follow each other go on in the current ranged
// GET, whose range doubles each time one is read to its end (firstRead or
// minRange up to maxRange); a goroutine reads the body up to maxAhead
// bytes before the reader, so the network and the kernel work side by
// side. A read far from the current position starts a small range.
//
// The kernel sends its read-ahead requests concurrently, so they may come
// slightly out of order: the last recentBytes read are kept to answer a
// request just behind the position, and a request a little ahead skips
// forward in the stream (keeping what it skips). A request that falls in
// one chunk is answered from the chunk itself, without a copy.
const (
	minRange    = 256 << 10
	firstRead   = 1 << 20 // the first range from offset 0: most files are read whole
	maxRange    = 512 << 20
	chunkSize   = 1 << 20
	maxAhead    = 16 << 20
	maxSkip     = 4 << 20
	recentBytes = 8 << 20
)

// chunkBuf is a buffer of the read-ahead, shared by the reader and the
// replies being sent from it.
type chunkBuf struct {
	b    []byte
	refs atomic.Int32
}

var chunkPool = sync.Pool{New: func() any { return &chunkBuf{b: make([]byte, chunkSize)} }}

func getChunk() *chunkBuf {
	c := chunkPool.Get().(*chunkBuf)
	c.refs.Store(1)
	return c
}

func (c *chunkBuf) release() {
	if c.refs.Add(-1) == 0 {
		chunkPool.Put(c)
	}
}

// span is a piece of the object held in a chunk.
type span struct {
	off int64
	n   int
	c   *chunkBuf
}

func (s span) end() int64       { return s.off + int64(s.n) }
func (s span) bytes() []byte    { return s.c.b[:s.n] }
func (s span) has(p int64) bool { return p >= s.off && p < s.end() }

// fileReader reads an object through ranged GETs for one open file.
type fileReader struct {
	f   *FS
	mu  sync.Mutex
	st  *rangeStream
	rng int64 // size of the last range
	// recent holds the last chunks the stream gave, in order.
	recent []span
	held   int
	key    string
	tail   int64 // end of the last range opened
}

func (r *fileReader) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.st != nil {
		r.st.close()
		r.st = nil
	}
	r.dropRecent()
}

func (r *fileReader) dropRecent() {
	for _, s := range r.recent {
		s.c.release()
	}
	r.recent, r.held = nil, 0
}

func (r *fileReader) find(p int64) (span, bool) {
	for i := len(r.recent) - 1; i >= 0; i-- {
		if r.recent[i].has(p) {
			return r.recent[i], true
		}
	}
	return span{}, false
}

// keep adds a chunk the stream gave to the recent ones.
func (r *fileReader) keep(s span) {
	r.recent = append(r.recent, s)
	r.held += s.n
	for r.held > recentBytes && len(r.recent) > 1 {
		r.held -= r.recent[0].n
		r.recent[0].c.release()
		r.recent = r.recent[1:]
	}
}

// chunkResult is a reply straight from chunks: go-fuse writes the slices
// to the kernel (it takes a result with Slices as it is, and calls Done
// once it is sent), and the chunks stay out of the pool until then.
type chunkResult struct {
	chunks []*chunkBuf
	slices [][]byte
	size   int
}

func (c *chunkResult) Slices() ([][]byte, fuse.Status) { return c.slices, fuse.OK }
func (c *chunkResult) Size() int                       { return c.size }

func (c *chunkResult) Bytes(buf []byte) ([]byte, fuse.Status) {
	buf = buf[:0]
	for _, s := range c.slices {
		buf = append(buf, s...)
	}
	return buf, fuse.OK
}

func (c *chunkResult) Done() {
	for _, ch := range c.chunks {
		ch.release()
	}
	c.chunks = nil
}

// read answers a read of n bytes at off of the object key of the given
// size with the chunks that hold them, without copying.
func (r *fileReader) read(key string, size int64, n int, off int64) (fuse.ReadResult, error) {
	if off >= size {
		return fuse.ReadResultData(nil), nil
	}
	n = int(min(int64(n), size-off))
	r.mu.Lock()
	defer r.mu.Unlock()
	if key != r.key {
		// Renamed, or a new object: nothing held is of use.
		if r.st != nil {
			r.st.close()
			r.st = nil
		}
		r.dropRecent()
		r.key = key
	}
	res := &chunkResult{}
	for res.size < n {
		pos := off + int64(res.size)
		s, err := r.at(key, pos, int64(n-res.size), size)
		if err != nil {
			if err == io.ErrUnexpectedEOF && res.size > 0 {
				// The object is shorter than it was (read twice): a
				// short read tells the kernel where it ends now.
				return res, nil
			}
			// Any other error fails the whole read: the kernel would
			// take a short read for the end of the file, and a copy
			// would end quietly truncated instead of failing.
			res.Done()
			return nil, err
		}
		b := s.bytes()[pos-s.off:]
		b = b[:min(len(b), n-res.size)]
		s.c.refs.Add(1)
		res.chunks = append(res.chunks, s.c)
		res.slices = append(res.slices, b)
		res.size += len(b)
	}
	return res, nil
}

// at returns the chunk holding pos, reading on in the stream or starting
// a new range (of at least want bytes) as needed. A range whose body ends
// early (a connection cut mid-response) is opened again at pos, once.
func (r *fileReader) at(key string, pos, want, size int64) (span, error) {
	s, err := r.atOnce(key, pos, want, size)
	if err == io.ErrUnexpectedEOF {
		slog.Debug("read: range ended early, reading it again", "key", key, "off", pos)
		s, err = r.atOnce(key, pos, want, size)
	}
	return s, err
}

func (r *fileReader) atOnce(key string, pos, want, size int64) (span, error) {
	if s, ok := r.find(pos); ok {
		return s, nil
	}
	st := r.st
	switch {
	case st != nil && pos >= st.pos && pos < st.end && pos-st.pos <= maxSkip:
		// In the stream, or a little ahead of it.
	case r.rng > 0 && pos >= r.tail && pos-r.tail <= maxSkip && r.tail < size:
		// At (or a little past) the end of the last range: the reader
		// goes on in order; the next range is twice as long.
		if st != nil {
			st.close()
			r.st = nil
		}
		if err := r.open(key, r.tail, min(r.rng*2, maxRange), size); err != nil {
			return span{}, err
		}
	default:
		if st != nil {
			st.close()
			r.st = nil
		}
		n := int64(minRange)
		if pos == 0 {
			n = firstRead
		}
		if err := r.open(key, pos, max(n, want), size); err != nil {
			return span{}, err
		}
	}
	st = r.st
	for {
		s, err := st.next()
		if s.c != nil {
			r.keep(s)
			if s.has(pos) {
				return s, nil
			}
		}
		if err != nil {
			st.close()
			r.st = nil
			if err == io.EOF {
				err = io.ErrUnexpectedEOF // the object is shorter than it was
			}
			return span{}, err
		}
	}
}

// open starts a range of n bytes at off (no further than size).
func (r *fileReader) open(key string, off, n, size int64) error {
	n = min(n, size-off)
	st, err := r.f.openRange(key, off, n)
	if err != nil {
		return err
	}
	r.st, r.rng, r.tail = st, n, off+n
	return nil
}

// rangeStream is one ranged GET, read ahead by a goroutine in chunks.
type rangeStream struct {
	pos, end int64 // offset after the chunks taken; end of the range
	body     io.ReadCloser
	chunks   chan chunk
	stop     chan struct{}
	once     sync.Once
}

type chunk struct {
	s   span
	err error
}

func (f *FS) openRange(key string, off, n int64) (*rangeStream, error) {
	body, err := f.store.Get(f.ctx(), key, off, n)
	if err != nil {
		return nil, err
	}
	ahead := int(min(n, maxAhead) / chunkSize)
	s := &rangeStream{pos: off, end: off + n, body: body,
		chunks: make(chan chunk, max(ahead, 1)), stop: make(chan struct{})}
	go s.pump(off, n)
	return s, nil
}

// pump reads the body into chunks until the range ends, an error, or stop.
func (s *rangeStream) pump(off, n int64) {
	defer close(s.chunks)
	for n > 0 {
		c := getChunk()
		k, err := io.ReadFull(s.body, c.b[:min(int64(chunkSize), n)])
		n -= int64(k)
		if err == io.ErrUnexpectedEOF || (err == io.EOF && k == 0) {
			err = io.EOF
		}
		var ch chunk
		if k > 0 {
			ch.s = span{off: off, n: k, c: c}
			off += int64(k)
		} else {
			c.release()
		}
		ch.err = err
		select {
		case s.chunks <- ch:
		case <-s.stop:
			if ch.s.c != nil {
				ch.s.c.release()
			}
			return
		}
		if err != nil {
			return
		}
	}
}

// next returns the next chunk; io.EOF after the last.
func (s *rangeStream) next() (span, error) {
	c, ok := <-s.chunks
	if !ok {
		return span{}, io.EOF
	}
	s.pos += int64(c.s.n)
	if c.err == io.EOF && s.pos >= s.end {
		c.err = nil
	}
	return c.s, c.err
}

func (s *rangeStream) close() {
	s.once.Do(func() {
		close(s.stop)
		s.body.Close()
		for c := range s.chunks {
			if c.s.c != nil {
				c.s.c.release()
			}
		}
	})
}
