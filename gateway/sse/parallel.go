package sse

import (
	"fmt"
	"io"
	"runtime"
	"sync"

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

// parallelWorth reports whether a segment of encLen stored bytes is long
// enough to be decrypted in batches.
func parallelWorth(encLen int64) bool {
	return runtime.GOMAXPROCS(0) > 1 && encLen >= 3*batchEnc
}

type batch struct {
	plain *[]byte
	n     int
	err   error
}

// parallelDecrypt is the plaintext of encLen stored bytes of one stream
// read from src, starting at package seq. final says the bytes end with
// the stream's final package, which is then checked to be there.
type parallelDecrypt struct {
	results chan chan batch
	stop    chan struct{}
	wg      sync.WaitGroup
	cur     batch
	off     int
	done    bool
	once    sync.Once
}

func newParallelDecrypt(src io.Reader, key []byte, c sio.Cipher, seq uint32, encLen int64, final bool) *parallelDecrypt {
	p := &parallelDecrypt{results: make(chan chan batch, batchesAhead), stop: make(chan struct{})}
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
			select {
			case p.results <- res:
			case <-p.stop:
				return
			}
			if err != nil {
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
	return batch{plain: out, n: m}
}

func (p *parallelDecrypt) Read(b []byte) (int, error) {
	for p.cur.plain == nil || p.off == p.cur.n {
		if p.cur.plain != nil {
			plainBufs.Put(p.cur.plain)
			p.cur.plain = nil
		}
		if p.done {
			return 0, io.EOF
		}
		res, ok := <-p.results
		if !ok {
			p.done = true
			return 0, io.EOF
		}
		p.cur, p.off = <-res, 0
		if p.cur.err != nil {
			p.done = true
			return 0, p.cur.err
		}
	}
	n := copy(b, (*p.cur.plain)[p.off:p.cur.n])
	p.off += n
	return n, nil
}

// Close stops the goroutines; it returns once none uses the source.
func (p *parallelDecrypt) Close() error {
	p.once.Do(func() {
		close(p.stop)
		go func() {
			for res := range p.results {
				if b := <-res; b.plain != nil {
					plainBufs.Put(b.plain)
				}
			}
		}()
		p.wg.Wait()
		if p.cur.plain != nil {
			plainBufs.Put(p.cur.plain)
			p.cur.plain = nil
		}
	})
	return nil
}
