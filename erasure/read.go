package erasure

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"time"

	"github.com/klauspost/reedsolomon"
	"github.com/minio/highwayhash"
	"github.com/strata-storage/strata/backends"
)

// verifyFrame reports whether a [hash][shard] frame is intact.
func verifyFrame(f []byte) bool {
	if len(f) < hashSize {
		return false
	}
	sum := highwayhash.Sum(f[hashSize:], hashKey)
	return subtle.ConstantTimeCompare(sum[:], f[:hashSize]) == 1
}

func (s *Store) HeadObject(ctx context.Context, bucket, key string) (backends.ObjectInfo, error) {
	_, _, _, vs, unlock, err := s.open(bucket, key)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	defer unlock()
	v, err := latest(vs)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	return info(key, v), nil
}

func (s *Store) GetObject(ctx context.Context, bucket, key string, rng *backends.Range) (io.ReadCloser, backends.ObjectInfo, error) {
	st, kp, ms, vs, unlock, err := s.open(bucket, key)
	if err != nil {
		return nil, backends.ObjectInfo{}, err
	}
	defer unlock()
	v, err := latest(vs)
	if err != nil {
		return nil, backends.ObjectInfo{}, err
	}
	rc, err := s.readData(ctx, st, bucket, key, kp, ms, v, rng)
	if err != nil {
		return nil, backends.ObjectInfo{}, err
	}
	return rc, info(key, v), nil
}

// readData opens the range rng of version v's data; the caller holds the
// key's read lock.
func (s *Store) readData(ctx context.Context, st *set, bucket, key, kp string, ms []driveMeta, v *version, rng *backends.Range) (io.ReadCloser, error) {
	off, length, err := rng.Resolve(v.Meta.Size)
	if err != nil {
		return nil, err
	}
	cs := copiesOf(ms, v.WriteID)
	out, nout := pendingDrives(ms)
	if v.DataDir == "" {
		data, degraded, err := decodeInline(v, cs, nout)
		if err != nil && nout > 0 {
			// Too many bad copies among the drives that answered: the
			// slow ones may hold good ones.
			ms = readMetas(st, bucket, kp)
			cs, nout = copiesOf(ms, v.WriteID), 0
			data, degraded, err = decodeInline(v, cs, 0)
		}
		if degraded {
			s.queueHeal(bucket, key)
		}
		if err != nil {
			return nil, err
		}
		return io.NopCloser(bytes.NewReader(data[off : off+length])), nil
	}
	return s.newReader(ctx, st, bucket, key, kp, v, holding(cs), out, off, length)
}

// decodeInline rebuilds a small object from the shards in the drives'
// copies of its version (cs, by drive position), verifying each. It is
// degraded when fewer than all copies are good, not counting the unheard
// drives (whose metadata had not come back).
func decodeInline(v *version, cs []*version, unheard int) ([]byte, bool, error) {
	e := v.Erasure
	if v.Meta.Size == 0 {
		return nil, false, nil
	}
	n := e.Data + e.Parity
	shards := make([][]byte, n)
	good := 0
	for _, c := range cs {
		if c == nil {
			continue
		}
		j := c.Erasure.Index
		if j < 0 || j >= n || !verifyFrame(c.Inline) {
			continue
		}
		shards[j] = c.Inline[hashSize:]
		good++
	}
	degraded := good+unheard < n
	if good < e.Data {
		return nil, true, unavailable("read quorum not met: %d of %d shards intact, %d needed", good, n, e.Data)
	}
	for j := 0; j < e.Data; j++ {
		if shards[j] == nil {
			enc, err := encoder(e.Data, e.Parity)
			if err != nil {
				return nil, degraded, err
			}
			if err := enc.ReconstructData(shards); err != nil {
				return nil, degraded, unavailable("reconstruct: %v", err)
			}
			break
		}
	}
	out := make([]byte, 0, v.Meta.Size)
	for j := 0; j < e.Data && int64(len(out)) < v.Meta.Size; j++ {
		out = append(out, shards[j][:min(len(shards[j]), int(v.Meta.Size)-len(out))]...)
	}
	return out, degraded, nil
}

// objReader streams a range of an object block by block: for each block it
// reads data shards in parallel, verifies them, and replaces a missing or
// corrupt one by a parity shard and reconstruction.
type objReader struct {
	ctx     context.Context
	s       *Store
	st      *set
	bucket  string
	key     string
	kp      string
	v       *version
	has     []bool // by drive position: holds the version
	out     []bool // by drive position: not heard from (nil: none)
	enc     reedsolomon.Encoder
	buf     *blockBuf
	part    int      // index in v.Parts of the open files, -1 none
	files   []*dfile // by shard index
	bad     []bool   // by shard index
	slow    []bool   // by shard index: lost a race to parity, read last
	off     int64    // next byte of the object to return
	end     int64    // end of the range
	pending []byte
	queued  bool
	tainted bool // a shard read may still write into buf: do not reuse it
}

func (s *Store) newReader(ctx context.Context, st *set, bucket, key, kp string, v *version, has, out []bool, off, length int64) (*objReader, error) {
	enc, err := encoder(v.Erasure.Data, v.Erasure.Parity)
	if err != nil {
		return nil, err
	}
	r := &objReader{ctx: ctx, s: s, st: st, bucket: bucket, key: key, kp: kp, v: v, has: has, out: out, enc: enc,
		part: -1, off: off, end: off + length}
	b := bufPool(v.Erasure).Get().(*blockBuf)
	b.refs.Store(1)
	r.buf = b
	// Open the first part now, under the object's lock, so that a
	// concurrent overwrite cannot remove its files in between.
	if length > 0 {
		pi, _ := r.locate(off)
		if err := r.open(pi); err != nil {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}

// locate returns the part holding object offset off and the part's start.
func (r *objReader) locate(off int64) (int, int64) {
	var start int64
	for i, p := range r.v.Parts {
		if off < start+p.Size {
			return i, start
		}
		start += p.Size
	}
	return len(r.v.Parts) - 1, start
}

func (r *objReader) open(pi int) error {
	r.closeFiles()
	e := r.v.Erasure
	n := e.Data + e.Parity
	r.files = make([]*dfile, n)
	r.bad = make([]bool, n)
	r.slow = make([]bool, n)
	name := "part." + strconv.Itoa(r.v.Parts[pi].Number)
	good, out := 0, 0
	for j := range n {
		pos := e.Dist[j]
		if !r.has[pos] {
			r.bad[j] = true
			if r.out != nil && r.out[pos] {
				out++
			}
			continue
		}
		d := r.st.drives[pos]
		f, err := d.open(filepath.Join(d.objDir(r.bucket, r.kp), "~"+r.v.DataDir, name))
		if err != nil {
			r.bad[j] = true
			continue
		}
		r.files[j] = f
		good++
	}
	r.part = pi
	if good+out < n {
		r.degraded()
	}
	if good < e.Data {
		return unavailable("read quorum not met for %q: %d of %d shards reachable, %d needed", r.key, good, n, e.Data)
	}
	return nil
}

func (r *objReader) degraded() {
	if !r.queued {
		r.queued = true
		r.s.queueHeal(r.bucket, r.key)
	}
}

func (r *objReader) closeFiles() {
	for _, f := range r.files {
		if f != nil {
			f.Close()
		}
	}
	r.files = nil
}

func (r *objReader) Close() error {
	r.closeFiles()
	if r.buf != nil && !r.tainted {
		r.buf.release()
	}
	r.buf = nil
	return nil
}

func (r *objReader) Read(p []byte) (int, error) {
	for len(r.pending) == 0 {
		if r.off >= r.end {
			return 0, io.EOF
		}
		if r.buf == nil {
			return 0, errors.New("erasure: read after close")
		}
		if err := r.ctx.Err(); err != nil {
			return 0, err
		}
		if err := r.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.pending)
	r.pending = r.pending[n:]
	r.off += int64(n)
	return n, nil
}

// fill decodes the block holding r.off into r.pending.
func (r *objReader) fill() error {
	pi, pstart := r.locate(r.off)
	if pi != r.part {
		if err := r.open(pi); err != nil {
			return err
		}
	}
	e := r.v.Erasure
	bs := int64(e.BlockSize)
	psize := r.v.Parts[pi].Size
	bi := (r.off - pstart) / bs
	bstart := pstart + bi*bs
	blen := min(bs, psize-bi*bs)
	if err := r.readBlock(bi, blen); err != nil {
		return err
	}
	data := r.buf.in[:blen]
	lo := r.off - bstart
	hi := min(blen, r.end-bstart)
	r.pending = data[lo:hi]
	return nil
}

// hedgeMin is the least time the reads of a block wait for a slow shard
// before parity is read in its place; the wait is four times the first
// shard's read time when that is longer.
const hedgeMin = 50 * time.Millisecond

// shardRead is the outcome of reading one shard's frame of a block.
type shardRead struct {
	j        int
	ok       bool // read whole and verified
	timedOut bool
}

// readBlock reads block bi (blen bytes of data) of the open part into
// r.buf.in. It reads data shards in parallel; a shard that fails or does
// not verify is replaced by another (parity), and so is one that lags
// far behind the others (a slow drive races parity, and loses for the
// rest of this reader). A read left running may still write into its
// frame, so the buffer is then abandoned for the next block.
func (r *objReader) readBlock(bi, blen int64) error {
	if r.tainted {
		r.buf = bufPool(r.v.Erasure).Get().(*blockBuf)
		r.buf.refs.Store(1)
		r.tainted = false
	}
	e := r.v.Erasure
	n := e.Data + e.Parity
	b := r.buf
	b.ss = int(e.shardSize(blen))
	at := bi * int64(b.stride)
	shards := make([][]byte, n)
	for j := range shards {
		shards[j] = b.shard(j)[:0]
	}
	tried := make([]bool, n)
	inflight := make([]bool, n)
	results := make(chan shardRead, n)
	running := 0
	// launch starts reads of up to want more shards, the slow ones last.
	launch := func(want int) {
		for pass := 0; pass < 2; pass++ {
			for j := 0; j < n && want > 0; j++ {
				if tried[j] || r.bad[j] || r.slow[j] != (pass == 1) {
					continue
				}
				tried[j], inflight[j] = true, true
				running++
				want--
				file, f := r.files[j], b.frame(j)
				go func() {
					m, err := file.ReadAt(f, at)
					results <- shardRead{j: j, ok: m == len(f) && (err == nil || err == io.EOF) && verifyFrame(f), timedOut: isTimeout(err)}
				}()
			}
		}
	}
	launch(e.Data)
	began := time.Now()
	var hedge <-chan time.Time
	var hedgeTimer *time.Timer
	defer func() {
		if hedgeTimer != nil {
			hedgeTimer.Stop()
		}
	}()
	good := 0
	for good < e.Data {
		if running == 0 {
			launch(e.Data - good)
			if running == 0 {
				return unavailable("read quorum not met for %q: %d of %d shards of block %d intact, %d needed", r.key, good, n, bi, e.Data)
			}
		}
		select {
		case res := <-results:
			running--
			inflight[res.j] = false
			switch {
			case res.ok:
				shards[res.j] = b.shard(res.j)
				good++
			case res.timedOut:
				// Its drive is offline now; the read may still write
				// into the frame later.
				r.bad[res.j] = true
				shards[res.j] = nil
				r.tainted = true
				r.degraded()
			default:
				r.bad[res.j] = true
				r.degraded()
			}
			if hedge == nil && hedgeTimer == nil && good > 0 && good < e.Data && running > 0 {
				hedgeTimer = time.NewTimer(max(hedgeMin, 4*time.Since(began)))
				hedge = hedgeTimer.C
			}
		case <-hedge:
			hedge = nil
			// Every read still running gets a rival on another shard.
			slow := 0
			for j := range n {
				if inflight[j] {
					slow++
				}
			}
			launch(slow)
		}
	}
	for j := range n {
		if inflight[j] {
			// Left running: its frame is not ours any more, and the
			// drive is slow; the other shards serve the rest of the
			// object when they can. (Not a heal: the shard may be fine.)
			r.slow[j] = true
			shards[j] = nil
			r.tainted = true
		}
	}
	for j := 0; j < e.Data; j++ {
		if len(shards[j]) == 0 {
			if err := r.enc.ReconstructData(shards); err != nil {
				return unavailable("reconstruct block %d of %q: %v", bi, r.key, err)
			}
			break
		}
	}
	out := b.in[:0]
	for j := 0; j < e.Data && int64(len(out)) < blen; j++ {
		out = append(out, shards[j][:min(int64(len(shards[j])), blen-int64(len(out)))]...)
	}
	if int64(len(out)) != blen {
		return fmt.Errorf("erasure: block %d of %q decoded to %d bytes, want %d", bi, r.key, len(out), blen)
	}
	return nil
}
