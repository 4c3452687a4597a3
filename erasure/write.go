package erasure

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/reedsolomon"
	"github.com/minio/highwayhash"
	"github.com/strata-storage/strata/backends"
)

// ---- encoders and buffers ----

var encoders sync.Map // [2]int{data, parity} -> reedsolomon.Encoder

func encoder(d, p int) (reedsolomon.Encoder, error) {
	k := [2]int{d, p}
	if e, ok := encoders.Load(k); ok {
		return e.(reedsolomon.Encoder), nil
	}
	e, err := reedsolomon.New(d, p)
	if err != nil {
		return nil, err
	}
	encoders.Store(k, e)
	return e, nil
}

// blockBuf holds one erasure block: the data as read, and every shard
// framed as [hash][shard]. It goes back to its pool when every drive
// writer is done with it.
type blockBuf struct {
	in     []byte
	frames []byte
	stride int // hashSize + full shard size
	ss     int // shard size of this block
	refs   atomic.Int32
	pool   *sync.Pool
}

func (b *blockBuf) frame(i int) []byte {
	return b.frames[i*b.stride : i*b.stride+hashSize+b.ss]
}

func (b *blockBuf) shard(i int) []byte { return b.frame(i)[hashSize:] }

func (b *blockBuf) release() {
	if b.refs.Add(-1) == 0 {
		b.pool.Put(b)
	}
}

var pools sync.Map // [3]int{data, parity, blockSize} -> *sync.Pool

func bufPool(e erasureInfo) *sync.Pool {
	k := [3]int{e.Data, e.Parity, e.BlockSize}
	if p, ok := pools.Load(k); ok {
		return p.(*sync.Pool)
	}
	p := &sync.Pool{}
	stride := hashSize + int(e.shardSize(int64(e.BlockSize)))
	p.New = func() any {
		return &blockBuf{in: make([]byte, e.BlockSize), frames: make([]byte, (e.Data+e.Parity)*stride), stride: stride, pool: p}
	}
	actual, _ := pools.LoadOrStore(k, p)
	return actual.(*sync.Pool)
}

// encodeBlock codes b.in[:n] into the shards of b and hashes them.
func encodeBlock(enc reedsolomon.Encoder, e erasureInfo, b *blockBuf, n int) error {
	b.ss = int(e.shardSize(int64(n)))
	shards := make([][]byte, e.Data+e.Parity)
	for i := range shards {
		shards[i] = b.shard(i)
		if i < e.Data {
			lo := min(i*b.ss, n)
			hi := min(lo+b.ss, n)
			c := copy(shards[i], b.in[lo:hi])
			clear(shards[i][c:])
		}
	}
	return enc.Encode(shards)
}

func hashFrame(f []byte) {
	sum := highwayhash.Sum(f[hashSize:], hashKey)
	copy(f[:hashSize], sum[:])
}

var errNoDrive = errors.New("drive offline")

// encodeStream reads r to EOF in erasure blocks and writes shard i to
// files[i] (nil: that drive is out), each drive in its own goroutine
// through a small bounded queue. It returns the bytes read and, per shard,
// the drive's error.
func encodeStream(ctx context.Context, e erasureInfo, r io.Reader, files []*dfile) (int64, []error, error) {
	enc, err := encoder(e.Data, e.Parity)
	if err != nil {
		return 0, nil, err
	}
	n := e.Data + e.Parity
	pool := bufPool(e)
	errs := make([]error, n)
	var failed atomic.Int32
	chans := make([]chan *blockBuf, n)
	var wg sync.WaitGroup
	for i := range n {
		if files[i] == nil {
			errs[i] = errNoDrive
			failed.Add(1)
			continue
		}
		chans[i] = make(chan *blockBuf, 2)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range chans[i] {
				if errs[i] == nil {
					f := b.frame(i)
					hashFrame(f)
					if _, err := files[i].Write(f); err != nil {
						errs[i] = err
						failed.Add(1)
						if isTimeout(err) {
							// The write may still read b: b never
							// goes back to the pool.
							continue
						}
					}
				}
				b.release()
			}
		}()
	}
	finish := func() {
		for _, c := range chans {
			if c != nil {
				close(c)
			}
		}
		wg.Wait()
	}
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			finish()
			return total, errs, err
		}
		if n-int(failed.Load()) < writeQuorum(e) {
			finish()
			return total, errs, quorumErr(n-int(failed.Load()), n)
		}
		b := pool.Get().(*blockBuf)
		m, rerr := io.ReadFull(r, b.in)
		if m > 0 {
			total += int64(m)
			if err := encodeBlock(enc, e, b, m); err != nil {
				pool.Put(b)
				finish()
				return total, errs, err
			}
			live := 0
			for _, c := range chans {
				if c != nil {
					live++
				}
			}
			b.refs.Store(int32(live))
			for _, c := range chans {
				if c != nil {
					c <- b
				}
			}
		} else {
			pool.Put(b)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			finish()
			return total, errs, rerr
		}
	}
	finish()
	return total, errs, nil
}

func quorumErr(ok, n int) error {
	return unavailable("write quorum not met: %d of %d drives", ok, n)
}

// encodeInline codes a small object into one framed shard per shard index.
func encodeInline(e erasureInfo, data []byte) ([][]byte, error) {
	out := make([][]byte, e.Data+e.Parity)
	if len(data) == 0 {
		return out, nil
	}
	enc, err := encoder(e.Data, e.Parity)
	if err != nil {
		return nil, err
	}
	ss := int(e.shardSize(int64(len(data))))
	shards := make([][]byte, len(out))
	for i := range out {
		out[i] = make([]byte, hashSize+ss)
		shards[i] = out[i][hashSize:]
		if i < e.Data {
			lo := min(i*ss, len(data))
			copy(shards[i], data[lo:min(lo+ss, len(data))])
		}
	}
	if err := enc.Encode(shards); err != nil {
		return nil, err
	}
	for _, f := range out {
		hashFrame(f)
	}
	return out, nil
}

// ---- PutObject ----

var headPool = sync.Pool{New: func() any { b := make([]byte, InlineLimit+1); return &b }}

func (s *Store) PutObject(ctx context.Context, bucket, key string, data io.Reader, opts backends.PutOptions) (backends.ObjectInfo, error) {
	kp, err := keyPath(key)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	if err := s.checkBucket(bucket); err != nil {
		return backends.ObjectInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return backends.ObjectInfo{}, err
	}
	meta := opts.Meta
	if meta == nil {
		meta = &backends.Meta{}
	}
	st := s.setFor(bucket, key)
	e := s.layoutFor(st, bucket, key, meta.StorageClass)
	wid := newUUID()

	hp := headPool.Get().(*[]byte)
	defer headPool.Put(hp)
	head := *hp
	m, rerr := io.ReadFull(data, head)
	var w *staged
	switch rerr {
	case nil:
		w, err = s.stageData(ctx, st, e, wid, "part.1", io.MultiReader(bytes.NewReader(head[:m]), data))
	case io.EOF, io.ErrUnexpectedEOF:
		w, err = s.stageInline(st, e, head[:m])
	default:
		err = rerr
	}
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	v := version{ID: "null", WriteID: wid, Erasure: e, Meta: *meta}
	v.Meta.Size = w.size
	v.Meta.ModTime = time.Now().UTC()
	v.Meta.Parts = cloneParts(meta.Parts)
	if w.size > InlineLimit {
		v.DataDir = wid
		v.Parts = []partLayout{{Number: 1, Size: w.size}}
	}
	return s.commit(st, bucket, key, kp, w, v, &opts)
}

func cloneParts(p []backends.PartInfo) []backends.PartInfo {
	if len(p) == 0 {
		return nil
	}
	return append([]backends.PartInfo(nil), p...)
}

// staged is a write waiting in the drives' staging areas: per drive
// position, whether the drive has it, and the inline shards.
type staged struct {
	wid    string
	ok     []bool   // by drive position
	inline [][]byte // by shard index
	size   int64
	data   bool // a data dir tmp/<wid> is staged
	// dataDir is the data dir of the new version; publish removes the old
	// version's data dir when it differs.
	dataDir string
}

func (w *staged) count() int {
	n := 0
	for _, ok := range w.ok {
		if ok {
			n++
		}
	}
	return n
}

// stageData encodes r into tmp/<wid>/<name> on every drive of the set.
func (s *Store) stageData(ctx context.Context, st *set, e erasureInfo, wid, name string, r io.Reader) (*staged, error) {
	n := len(st.drives)
	files := make([]*dfile, n) // by shard index
	parallel(n, func(j int) {
		d := st.drives[e.Dist[j]]
		dir := d.tmp(wid)
		if err := d.mkdir(dir); err != nil {
			return
		}
		f, err := d.create(filepath.Join(dir, name), os.O_EXCL)
		if err != nil {
			return
		}
		files[j] = f
	})
	w := &staged{wid: wid, ok: make([]bool, n), data: true}
	size, errs, err := encodeStream(ctx, e, r, files)
	for j, f := range files {
		if f == nil {
			continue
		}
		if errs[j] == nil && err == nil && !s.opts.NoSync {
			errs[j] = f.Sync()
		}
		if cerr := f.Close(); errs[j] == nil {
			errs[j] = cerr
		}
		if errs[j] == nil {
			w.ok[e.Dist[j]] = true
		}
	}
	w.size = size
	if err == nil && w.count() < writeQuorum(e) {
		err = quorumErr(w.count(), n)
	}
	if err != nil {
		s.discard(st, w)
		return nil, err
	}
	return w, nil
}

func (s *Store) stageInline(st *set, e erasureInfo, data []byte) (*staged, error) {
	frames, err := encodeInline(e, data)
	if err != nil {
		return nil, err
	}
	w := &staged{ok: make([]bool, len(st.drives)), inline: frames, size: int64(len(data))}
	for i, d := range st.drives {
		w.ok[i] = d.present()
	}
	if w.count() < writeQuorum(e) {
		return nil, quorumErr(w.count(), len(st.drives))
	}
	return w, nil
}

// discard removes a staged write from every drive.
func (s *Store) discard(st *set, w *staged) {
	parallel(len(st.drives), func(i int) {
		d := st.drives[i]
		if w.data {
			d.removeAll(d.tmp(w.wid))
		}
		d.remove(d.tmp(w.wid + ".meta"))
	})
}

// commit writes the per-drive meta.json into staging, then, under the
// object's lock, checks the preconditions and publishes on every drive by
// rename: the data dir first, then meta.json, so readers see the old
// version or the new one.
func (s *Store) stageMetas(st *set, w *staged, v version) error {
	w.wid = v.WriteID
	w.dataDir = v.DataDir
	e := v.Erasure
	for pos, d := range st.drives {
		if !w.ok[pos] {
			continue
		}
		dv := v
		dv.Erasure.Index = shardOf(e, pos)
		if w.inline != nil {
			dv.Inline = w.inline[dv.Erasure.Index]
		}
		data, err := encodeMeta([]version{dv})
		if err == nil {
			err = d.writeFile(d.tmp(w.wid+".meta"), data, !s.opts.NoSync)
		}
		if err != nil {
			w.ok[pos] = false
		}
	}
	if w.count() < writeQuorum(e) {
		s.discard(st, w)
		return quorumErr(w.count(), len(st.drives))
	}
	return nil
}

func (s *Store) commit(st *set, bucket, key, kp string, w *staged, v version, opts *backends.PutOptions) (backends.ObjectInfo, error) {
	if err := s.stageMetas(st, w, v); err != nil {
		return backends.ObjectInfo{}, err
	}
	l := s.lock(bucket, key)
	l.Lock()
	defer l.Unlock()
	if opts != nil {
		if err := checkCond(st, bucket, kp, key, opts); err != nil {
			s.discard(st, w)
			return backends.ObjectInfo{}, err
		}
	}
	return s.publish(st, bucket, key, kp, w, v)
}

// commitLocked is commit for a caller that holds the object's lock.
func (s *Store) commitLocked(st *set, bucket, key, kp string, w *staged, v version) (backends.ObjectInfo, error) {
	if err := s.stageMetas(st, w, v); err != nil {
		return backends.ObjectInfo{}, err
	}
	return s.publish(st, bucket, key, kp, w, v)
}

func (s *Store) publish(st *set, bucket, key, kp string, w *staged, v version) (backends.ObjectInfo, error) {
	e := v.Erasure
	errs := make([]error, len(st.drives))
	parallel(len(st.drives), func(pos int) {
		if !w.ok[pos] {
			errs[pos] = errNoDrive
			return
		}
		errs[pos] = st.drives[pos].publish(bucket, kp, w.wid, w.data, w.dataDir, !s.opts.NoSync)
	})
	okN := 0
	for pos, err := range errs {
		if err == nil {
			okN++
		} else if w.ok[pos] {
			st.drives[pos].removeAll(st.drives[pos].tmp(w.wid))
			st.drives[pos].remove(st.drives[pos].tmp(w.wid + ".meta"))
		}
	}
	if okN < len(st.drives) {
		s.queueHeal(bucket, key)
	}
	if okN < writeQuorum(e) {
		return backends.ObjectInfo{}, quorumErr(okN, len(st.drives))
	}
	return info(key, &v), nil
}

// shardOf returns the shard index that the drive at pos holds.
func shardOf(e erasureInfo, pos int) int {
	for j, p := range e.Dist {
		if p == pos {
			return j
		}
	}
	return -1
}

func checkCond(st *set, bucket, kp, key string, opts *backends.PutOptions) error {
	if !opts.IfNoneMatch && opts.IfMatch == "" {
		return nil
	}
	v, _, err := resolve(readMetas(st, bucket, kp), key)
	if err != nil && !backends.Is(err, backends.NoSuchKey) {
		return err
	}
	if opts.IfNoneMatch && err == nil {
		return backends.Errorf(backends.PreconditionFailed, "an object exists at %q", key)
	}
	if opts.IfMatch != "" {
		if err != nil {
			return backends.Errorf(backends.PreconditionFailed, "no object at %q to match", key)
		}
		if strings.Trim(opts.IfMatch, `"`) != v.Meta.ETag {
			return backends.Errorf(backends.PreconditionFailed, "the object's ETag does not match")
		}
	}
	return nil
}

// publish moves a staged version into place on one drive and removes the
// data of the version it replaces. With sync, the renames are durable
// before it returns (the folder is synced after the metadata's rename,
// which comes after the data's).
func (d *drive) publish(bucket, kp, wid string, data bool, dataDir string, sync bool) error {
	bdir := d.bucketDir(bucket)
	if _, err := d.stat(bdir); err != nil {
		return err // never re-create a removed drive or bucket
	}
	objDir := d.objDir(bucket, kp)
	old, _ := d.readVersion(objDir)
	moved := !data
	var err error
	for try := 0; try < 10; try++ {
		if err = d.mkdirAll(objDir); err != nil {
			return err
		}
		if !moved {
			err = d.rename(d.tmp(wid), filepath.Join(objDir, "~"+wid))
			if errors.Is(err, fs.ErrNotExist) {
				continue // a delete removed the empty folder meanwhile
			}
			if err != nil {
				return err
			}
			moved = true
		}
		err = d.renameSync(d.tmp(wid+".meta"), filepath.Join(objDir, metaName), sync)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		break
	}
	if err != nil {
		return fmt.Errorf("publish on %s: %w", d.path, err)
	}
	if old != nil && old.DataDir != "" && old.DataDir != dataDir {
		d.removeAll(filepath.Join(objDir, "~"+old.DataDir))
	}
	return nil
}
