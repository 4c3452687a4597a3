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
		m, eof, rerr := backends.ReadBlock(r, b.in)
		if rerr != nil {
			pool.Put(b)
			finish()
			return total, errs, rerr
		}
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
		if eof {
			break
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
	vs, err := s.put(ctx, bucket, key, "null", data, opts)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	return info(key, &vs[0]), nil
}

// PutVersion writes data as version id of key (backends.VersionStore).
func (s *Store) PutVersion(ctx context.Context, bucket, key, id string, data io.Reader, opts backends.PutOptions) (backends.ObjectInfo, error) {
	vs, err := s.put(ctx, bucket, key, id, data, opts)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	return versionInfo(key, vs, 0), nil
}

// put writes data as version id of key and returns the key's versions.
func (s *Store) put(ctx context.Context, bucket, key, id string, data io.Reader, opts backends.PutOptions) ([]version, error) {
	kp, err := keyPath(key)
	if err != nil {
		return nil, err
	}
	if err := s.checkBucket(bucket); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
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
	m, eof, err := backends.ReadBlock(data, head)
	var w *staged
	switch {
	case err != nil:
	case eof:
		w, err = s.stageInline(st, e, wid, head[:m])
	default:
		w, err = s.stageData(ctx, st, e, wid, "part.1", io.MultiReader(bytes.NewReader(head[:m]), data))
	}
	if err != nil {
		return nil, err
	}
	v := version{ID: id, WriteID: wid, Erasure: e, Meta: *meta}
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
	wid    string // the write ID of the new version
	e      erasureInfo
	ok     []bool   // by drive position
	inline [][]byte // by shard index
	size   int64
	data   bool // a data dir tmp/<wid> is staged
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
	w := &staged{wid: wid, e: e, ok: make([]bool, n), data: true}
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

func (s *Store) stageInline(st *set, e erasureInfo, wid string, data []byte) (*staged, error) {
	frames, err := encodeInline(e, data)
	if err != nil {
		return nil, err
	}
	w := &staged{wid: wid, e: e, ok: make([]bool, len(st.drives)), inline: frames, size: int64(len(data))}
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
	})
}

// commit publishes the staged version v of key, taking the key's lock.
func (s *Store) commit(st *set, bucket, key, kp string, w *staged, v version, opts *backends.PutOptions) ([]version, error) {
	l := s.lock(bucket, key)
	l.Lock()
	defer l.Unlock()
	return s.commitLocked(st, bucket, key, kp, w, v, opts)
}

// commitLocked adds the staged version v to the key's versions (a "null"
// v replaces the null version), after checking opts' preconditions
// against the newest version; the caller holds the key's lock.
func (s *Store) commitLocked(st *set, bucket, key, kp string, w *staged, v version, opts *backends.PutOptions) ([]version, error) {
	return s.apply(st, bucket, key, kp, w, v.ID == "null", func(cur []version) ([]version, error) {
		if opts != nil {
			if err := checkCond(cur, key, opts); err != nil {
				return nil, err
			}
		}
		return withVersion(cur, v), nil
	})
}

// withVersion returns vs with v as the newest version; a null v replaces
// the null version.
func withVersion(vs []version, v version) []version {
	out := make([]version, 0, len(vs)+1)
	out = append(out, v)
	for _, o := range vs {
		if o.ID != v.ID {
			out = append(out, o)
		}
	}
	return out
}

// apply changes the version list of key under its lock: edit gets the list
// that the drives agree on (nil when there is none) and returns the new
// one, which every drive then publishes (by rename: the staged data dir of
// w first, when there is one, then meta.json), dropping the data dirs that
// no version uses any more. An empty new list removes the object. The
// change needs write quorum. An edit that replaces or removes the null
// version (nullEdit) of a key whose versions cannot be read goes on, with
// no current list, when the drives that answer hold only a null version;
// otherwise it fails, keeping versions that may come back.
func (s *Store) apply(st *set, bucket, key, kp string, w *staged, nullEdit bool, edit func(cur []version) ([]version, error)) ([]version, error) {
	fail := func(err error) ([]version, error) {
		if w != nil {
			s.discard(st, w)
		}
		return nil, err
	}
	ms := readMetas(st, bucket, kp)
	cur, err := currentOf(ms, key, nullEdit)
	if err != nil {
		return fail(err)
	}
	nl, err := edit(cur)
	if err != nil {
		return fail(err)
	}
	if len(nl) == 0 {
		if err := s.deleteLocked(st, bucket, key, kp); err != nil {
			return nil, err
		}
		return nil, nil
	}
	e := nl[0].Erasure
	if w != nil {
		e = w.e
	}
	keep := map[string]bool{}
	for _, v := range nl {
		if v.DataDir != "" {
			keep[v.DataDir] = true
		}
	}
	gen := newUUID()
	errs := make([]error, len(st.drives))
	parallel(len(st.drives), func(pos int) {
		d := st.drives[pos]
		if w != nil && !w.ok[pos] || !d.present() {
			errs[pos] = errNoDrive
			return
		}
		data, err := encodeMeta(localize(nl, pos, ms[pos].vs, w))
		if err == nil {
			err = d.writeFile(d.tmp(gen+".meta"), data, !s.opts.NoSync)
		}
		if err == nil {
			dataWID := ""
			if w != nil && w.data {
				dataWID = w.wid
			}
			err = d.publish(bucket, kp, gen, dataWID, ms[pos].vs, keep, !s.opts.NoSync)
		}
		if err != nil {
			d.remove(d.tmp(gen + ".meta"))
			if w != nil && w.data {
				d.removeAll(d.tmp(w.wid))
			}
		}
		errs[pos] = err
	})
	okN := 0
	for _, err := range errs {
		if err == nil {
			okN++
		}
	}
	if okN < len(st.drives) {
		s.queueHeal(bucket, key)
	}
	if okN < writeQuorum(e) {
		return nil, quorumErr(okN, len(st.drives))
	}
	return nl, nil
}

// currentOf resolves the versions of key from the metas read from its
// drives: none when it has no object, or when a write of the null version
// (nullEdit) finds nothing but null versions it cannot resolve.
func currentOf(ms []driveMeta, key string, nullEdit bool) ([]version, error) {
	cur, err := resolve(ms, key)
	switch {
	case err == nil:
		return cur, nil
	case backends.Is(err, backends.NoSuchKey):
		return nil, nil
	case nullEdit && onlyNull(ms):
		return nil, nil
	}
	return nil, err
}

// current reads and resolves the versions of key, for a caller that holds
// the key's lock (see currentOf).
func (s *Store) current(st *set, bucket, key, kp string, nullEdit bool) ([]version, error) {
	return currentOf(readMetas(st, bucket, kp), key, nullEdit)
}

// onlyNull reports whether every drive that answered holds nothing but a
// null version.
func onlyNull(ms []driveMeta) bool {
	for _, m := range ms {
		if m.err == nil && (len(m.vs) != 1 || m.vs[0].ID != "null") {
			return false
		}
	}
	return true
}

// localize returns the version list nl as the drive at pos keeps it: each
// version with this drive's shard index, and the drive's own inline shard
// (from the staged write w for the new version, else from the drive's old
// list own; a drive that lacked a version gets none, which reads take for a
// missing shard and heal rebuilds).
func localize(nl []version, pos int, own []version, w *staged) []version {
	out := make([]version, len(nl))
	for i, v := range nl {
		v.Erasure.Index = shardOf(v.Erasure, pos)
		v.Inline = nil
		switch {
		case w != nil && v.WriteID == w.wid:
			if w.inline != nil && v.Erasure.Index >= 0 {
				v.Inline = w.inline[v.Erasure.Index]
			}
		case v.DataDir == "" && !v.DeleteMarker:
			src := v.WriteID
			if v.from != "" {
				src = v.from
			}
			for _, o := range own {
				if o.WriteID == src && o.Erasure.Index == v.Erasure.Index {
					v.Inline = o.Inline
					break
				}
			}
		}
		v.from = ""
		out[i] = v
	}
	return out
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

// checkCond checks the preconditions of a write against the newest
// version of cur (a delete marker counts as no object).
func checkCond(cur []version, key string, opts *backends.PutOptions) error {
	if !opts.IfNoneMatch && opts.IfMatch == "" {
		return nil
	}
	var v *version
	if len(cur) > 0 && !cur[0].DeleteMarker {
		v = &cur[0]
	}
	if opts.IfNoneMatch && v != nil {
		return backends.Errorf(backends.PreconditionFailed, "an object exists at %q", key)
	}
	if opts.IfMatch != "" {
		if v == nil {
			return backends.Errorf(backends.NoSuchKey, "no object at %q to match", key) // as S3 answers
		}
		if strings.Trim(opts.IfMatch, `"`) != v.Meta.ETag {
			return backends.Errorf(backends.PreconditionFailed, "the object's ETag does not match")
		}
	}
	return nil
}

// publish moves a staged meta.json (tmp/<gen>.meta) and, when dataWID is
// set, its staged data dir (tmp/<dataWID>) into place on one drive, then
// removes the data dirs of the drive's old list (old, read under the same
// lock) that no version uses any more (not in keep). With
// sync, the renames are durable before it returns (the folder is synced
// after the metadata's rename, which comes after the data's).
func (d *drive) publish(bucket, kp, gen, dataWID string, old []version, keep map[string]bool, sync bool) error {
	bdir := d.bucketDir(bucket)
	if _, err := d.stat(bdir); err != nil {
		return err // never re-create a removed drive or bucket
	}
	objDir := d.objDir(bucket, kp)
	moved := dataWID == ""
	var err error
	for try := 0; try < 10; try++ {
		if err = d.mkdirAll(objDir); err != nil {
			return err
		}
		if !moved {
			err = d.rename(d.tmp(dataWID), filepath.Join(objDir, "~"+dataWID))
			if errors.Is(err, fs.ErrNotExist) {
				continue // a delete removed the empty folder meanwhile
			}
			if err != nil {
				return err
			}
			moved = true
		}
		err = d.renameSync(d.tmp(gen+".meta"), filepath.Join(objDir, metaName), sync)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		break
	}
	if err != nil {
		return fmt.Errorf("publish on %s: %w", d.path, err)
	}
	for _, o := range old {
		if o.DataDir != "" && !keep[o.DataDir] {
			d.removeAll(filepath.Join(objDir, "~"+o.DataDir))
		}
	}
	return nil
}
