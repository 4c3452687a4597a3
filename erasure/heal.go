package erasure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/strata-storage/strata/backends"
)

// HealResult says what HealObject did.
type HealResult struct {
	// Drives is the number of drives of the object's set.
	Drives int
	// Healed is the number of drives whose shard or metadata was rebuilt.
	Healed int
	// Removed is true when a dangling object (below read quorum, not
	// readable) was removed from the drives that still held it.
	Removed bool
}

// HealSummary says what Heal did.
type HealSummary struct {
	// Buckets is the number of buckets walked.
	Buckets int `json:"buckets"`
	// Total is the number of objects found to check (counted before the
	// heal starts; objects written meanwhile may add to Objects).
	Total int `json:"total"`
	// Objects is the number of objects checked so far.
	Objects int `json:"objects"`
	// Healed is the number of objects that had a shard or metadata rebuilt
	// (or, dangling, were removed).
	Healed int `json:"healed"`
	// Shards is the number of shards and metadata copies rewritten.
	Shards int `json:"shards"`
	// Removed is the number of dangling objects removed (held by fewer
	// drives than a read needs: never readable).
	Removed int `json:"removed"`
	// Failed is the number of objects that could not be healed now (a
	// drive offline or failing): a later heal may succeed.
	Failed int `json:"failed"`
	// Unrecoverable is the number of objects with fewer intact shards
	// than needed to rebuild them, all drives of their set online.
	Unrecoverable int `json:"unrecoverable"`
}

// HealOptions choose what Heal heals and how it reports.
type HealOptions struct {
	// Bucket limits the heal to one bucket; "" heals every bucket.
	Bucket string
	// Prefix limits the heal to the keys starting with it.
	Prefix string
	// Progress, when not nil, is called after every object with the
	// counts so far.
	Progress func(HealSummary)
	// Problem, when not nil, is called for every object that could not be
	// healed.
	Problem func(HealProblem)
}

// HealProblem is an object that could not be healed.
type HealProblem struct {
	Bucket, Key string
	// Unrecoverable: fewer intact shards than the object needs, with every
	// drive of its set online; otherwise the heal may work later.
	Unrecoverable bool
	Err           error
}

// ErrUnrecoverable is in the error of HealObject when the object has fewer
// intact shards (or metadata copies) than it needs, with every drive of its
// set online: it cannot be rebuilt.
var ErrUnrecoverable = errors.New("not enough intact shards to rebuild the object")

// unrecoverable marks err as ErrUnrecoverable when every drive of st is
// online (an offline drive may still come back with the missing shards).
func unrecoverable(st *set, err error) error {
	for _, d := range st.drives {
		if !d.present() {
			return err
		}
	}
	return fmt.Errorf("%w: %w", ErrUnrecoverable, err)
}

// HealObject checks every shard and the metadata of an object on every
// drive of its set, verifying every block, and rebuilds what is missing
// or corrupt from the intact shards.
func (s *Store) HealObject(ctx context.Context, bucket, key string) (HealResult, error) {
	kp, err := keyPath(key)
	if err != nil {
		return HealResult{}, err
	}
	if err := s.checkBucket(bucket); err != nil {
		return HealResult{}, err
	}
	st := s.setFor(bucket, key)
	s.reviveSet(st)
	s.healBucket(bucket)
	// A first look without the key's lock: writers of the key do not
	// wait on the deep verify of an object that is whole. Only an object
	// that needs work is looked at again, and repaired, under the lock.
	if res, err := s.healObject(ctx, st, bucket, key, kp, true); err == nil {
		return res, nil
	}
	l := s.lock(bucket, key)
	l.Lock()
	defer l.Unlock()
	return s.healObject(ctx, st, bucket, key, kp, false)
}

// errNeedsWork is the answer of a look at an object that is not whole.
var errNeedsWork = errors.New("heal: the object needs repair")

// healObject is HealObject on set st. With look, it changes nothing and
// fails (errNeedsWork, or the error met) unless the object is whole;
// without it, the caller holds the key's lock and it repairs.
func (s *Store) healObject(ctx context.Context, st *set, bucket, key, kp string, look bool) (HealResult, error) {
	res := HealResult{Drives: len(st.drives)}
	ms := readMetas(st, bucket, kp)
	vs, err := resolve(ms, key)
	if backends.Is(err, backends.NoSuchKey) {
		for pos, m := range ms {
			if m.err == nil || errors.Is(m.err, errCorruptMeta) {
				if look {
					return res, errNeedsWork
				}
				st.drives[pos].deleteObject(bucket, kp)
				res.Removed = true
			}
		}
		s.unqueueHeal(bucket, key)
		return res, nil
	}
	if err != nil {
		return res, unrecoverable(st, err)
	}
	lk := listKey(vs)
	n := len(st.drives)
	// need[pos]: the drive's meta must be rewritten (its list differs, or
	// an inline shard in it is bad); healed[pos]: something was rebuilt.
	need := make([]bool, n)
	healed := make([]bool, n)
	for pos := range st.drives {
		need[pos] = st.drives[pos].present() && (ms[pos].err != nil || listKey(ms[pos].vs) != lk)
	}
	if look && slices.Contains(need, true) {
		return res, errNeedsWork // a list to rewrite: verify once, under the lock
	}
	// frames[i]: rebuilt inline shards of version i, by shard index.
	frames := make([][][]byte, len(vs))
	for i := range vs {
		v := &vs[i]
		if v.DeleteMarker {
			continue
		}
		e := v.Erasure
		cs := copiesOf(ms, v.WriteID)
		has := holding(cs)
		if v.DataDir == "" {
			if v.Meta.Size == 0 {
				continue
			}
			bad := make([]bool, n)
			anyBad := false
			for pos := range st.drives {
				if st.drives[pos].present() && (cs[pos] == nil || !verifyFrame(cs[pos].Inline)) {
					bad[pos], anyBad = true, true
				}
			}
			if !anyBad {
				continue
			}
			if look {
				return res, errNeedsWork
			}
			fr, err := s.rebuildInline(v, cs, bad)
			if err != nil {
				return res, unrecoverable(st, err)
			}
			frames[i] = fr
			for pos := range bad {
				if bad[pos] {
					need[pos] = true
				}
			}
			continue
		}
		badPart := make([][]bool, n)
		for pos := range st.drives {
			if !st.drives[pos].present() {
				continue // an absent drive is healed when it is back
			}
			badPart[pos] = make([]bool, len(v.Parts))
			for pi, p := range v.Parts {
				badPart[pos][pi] = !has[pos] || !st.drives[pos].verifyShardFile(partPath(st.drives[pos], bucket, kp, v, p.Number), e, p.Size)
			}
		}
		for pi, p := range v.Parts {
			var targets []int
			for pos := range badPart {
				if badPart[pos] != nil && badPart[pos][pi] {
					targets = append(targets, pos)
				}
			}
			if len(targets) == 0 {
				continue
			}
			if look {
				return res, errNeedsWork
			}
			if err := s.rebuildPart(ctx, st, bucket, kp, v, p, pi, badPart, targets); err != nil {
				if errors.Is(err, errTooFewShards) {
					err = unrecoverable(st, err)
				}
				return res, err
			}
			for _, pos := range targets {
				healed[pos] = true
			}
		}
	}
	for pos := range st.drives {
		if need[pos] {
			if err := s.writeMeta(st.drives[pos], bucket, kp, vs, pos, ms[pos].vs, frames); err == nil {
				healed[pos] = true
			}
		}
		if healed[pos] {
			res.Healed++
		}
	}
	// Data dirs that no version uses (a crash between the two renames of
	// a publish leaves one) go. Without look, the object's lock is held:
	// no publish is under way (with it, one may be: a data dir that a
	// publish has not yet named is only reported).
	var stale atomic.Bool
	parallel(len(st.drives), func(pos int) {
		d := st.drives[pos]
		if !d.present() {
			return
		}
		objDir := d.objDir(bucket, kp)
		ents, _ := d.readDir(objDir)
		for _, ent := range ents {
			if isStaleDataDir(ent.Name(), vs) {
				stale.Store(true)
				if !look {
					d.removeAll(filepath.Join(objDir, ent.Name()))
				}
			}
		}
	})
	if look && stale.Load() {
		return res, errNeedsWork
	}
	s.unqueueHeal(bucket, key)
	return res, nil
}

var errTooFewShards = errors.New("too few intact shards")

func partPath(d *drive, bucket, kp string, v *version, number int) string {
	return filepath.Join(d.objDir(bucket, kp), "~"+v.DataDir, "part."+strconv.Itoa(number))
}

// verifyShardFile reads a whole shard file on d and checks its size and
// every block's hash.
func (d *drive) verifyShardFile(path string, e erasureInfo, size int64) bool {
	fi, err := d.stat(path)
	if err != nil || fi.Size() != e.shardFileSize(size) {
		return false
	}
	f, err := d.open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	return verifyShards(f, e, size)
}

// verifyShards checks every block of a shard file of size bytes of data.
func verifyShards(r io.ReaderAt, e erasureInfo, size int64) bool {
	bs := int64(e.BlockSize)
	buf := make([]byte, hashSize+e.shardSize(bs))
	var at int64
	for off := int64(0); off < size; off += bs {
		fr := buf[:hashSize+e.shardSize(min(bs, size-off))]
		if m, err := r.ReadAt(fr, at); m != len(fr) || (err != nil && err != io.EOF) || !verifyFrame(fr) {
			return false
		}
		at += int64(len(fr))
	}
	return true
}

// rebuildInline rebuilds the inline shards of v from the intact ones of
// the drives' copies (cs) that are not bad; it returns every shard framed,
// by shard index.
func (s *Store) rebuildInline(v *version, cs []*version, bad []bool) ([][]byte, error) {
	e := v.Erasure
	n := e.Data + e.Parity
	frames := make([][]byte, n)
	shards := make([][]byte, n)
	good := 0
	for pos, c := range cs {
		if c != nil && !bad[pos] && verifyFrame(c.Inline) && c.Erasure.Index >= 0 && c.Erasure.Index < n {
			shards[c.Erasure.Index] = append([]byte(nil), c.Inline[hashSize:]...)
			good++
		}
	}
	if good < e.Data {
		return nil, unavailable("heal: %d of %d shards intact, %d needed", good, n, e.Data)
	}
	enc, err := encoder(e.Data, e.Parity)
	if err != nil {
		return nil, err
	}
	if err := enc.Reconstruct(shards); err != nil {
		return nil, err
	}
	for j, sh := range shards {
		frames[j] = append(make([]byte, hashSize), sh...)
		hashFrame(frames[j])
	}
	return frames, nil
}

// rebuildPart rebuilds part p's shard on the drives at targets, block by
// block, from intact shards, each verified; the new files go to staging
// first and are renamed into place.
func (s *Store) rebuildPart(ctx context.Context, st *set, bucket, kp string, v *version, p partLayout, pi int, badPart [][]bool, targets []int) error {
	e := v.Erasure
	n := e.Data + e.Parity
	enc, err := encoder(e.Data, e.Parity)
	if err != nil {
		return err
	}
	srcs := make([]*dfile, n) // by shard index
	good := 0
	for j := 0; j < n; j++ {
		pos := e.Dist[j]
		if badPart[pos] == nil || badPart[pos][pi] {
			continue
		}
		f, err := st.drives[pos].open(partPath(st.drives[pos], bucket, kp, v, p.Number))
		if err != nil {
			continue
		}
		defer f.Close()
		srcs[j] = f
		good++
	}
	if good < e.Data {
		return backends.Wrap(backends.Unavailable, errTooFewShards, fmt.Sprintf("heal: part %d has %d of %d shards intact, %d needed", p.Number, good, n, e.Data))
	}
	hid := "heal-" + randHex(8)
	outs := map[int]*dfile{} // by drive position
	defer func() {
		for pos, f := range outs {
			f.Close()
			st.drives[pos].remove(st.drives[pos].tmp(hid))
		}
	}()
	for _, pos := range targets {
		f, err := st.drives[pos].create(st.drives[pos].tmp(hid), os.O_TRUNC)
		if err != nil {
			return fmt.Errorf("heal: drive %s: %w", st.drives[pos].path, err)
		}
		outs[pos] = f
	}
	bs := int64(e.BlockSize)
	stride := int64(hashSize) + e.shardSize(bs)
	frames := make([][]byte, n)
	for j := range frames {
		frames[j] = make([]byte, stride)
	}
	shards := make([][]byte, n)
	for bi, off := int64(0), int64(0); off < p.Size; bi, off = bi+1, off+bs {
		if err := ctx.Err(); err != nil {
			return err
		}
		ss := e.shardSize(min(bs, p.Size-off))
		have := 0
		for j := range shards {
			shards[j] = frames[j][hashSize:hashSize]
			if srcs[j] == nil || have == e.Data {
				continue
			}
			fr := frames[j][:hashSize+ss]
			m, err := srcs[j].ReadAt(fr, bi*stride)
			if isTimeout(err) {
				return err // fr may still be written to: give up the buffers
			}
			if m == len(fr) && (err == nil || err == io.EOF) && verifyFrame(fr) {
				shards[j] = fr[hashSize:]
				have++
			}
		}
		if have < e.Data {
			return backends.Wrap(backends.Unavailable, errTooFewShards, fmt.Sprintf("heal: block %d of part %d has fewer than %d intact shards", bi, p.Number, e.Data))
		}
		if err := enc.Reconstruct(shards); err != nil {
			return err
		}
		for _, pos := range targets {
			j := shardOf(e, pos)
			fr := frames[j][:hashSize+ss]
			hashFrame(fr)
			if _, err := outs[pos].Write(fr); err != nil {
				return err
			}
		}
	}
	for _, pos := range targets {
		d := st.drives[pos]
		f := outs[pos]
		if !s.opts.NoSync {
			if err := f.Sync(); err != nil {
				return err
			}
		}
		dst := partPath(d, bucket, kp, v, p.Number)
		if _, err := d.stat(d.bucketDir(bucket)); err != nil {
			return err
		}
		if err := d.mkdirAll(filepath.Dir(dst)); err != nil {
			return err
		}
		if err := d.renameSync(d.tmp(hid), dst, !s.opts.NoSync); err != nil {
			return err
		}
	}
	return nil
}

// writeMeta writes the version list vs as the drive at pos keeps it: its
// own inline shards where they are intact (own: the drive's old list), the
// rebuilt ones of frames (by version, then shard index) where not.
func (s *Store) writeMeta(d *drive, bucket, kp string, vs []version, pos int, own []version, frames [][][]byte) error {
	dl := localize(vs, pos, own, nil)
	for i := range dl {
		if frames[i] != nil && !verifyFrame(dl[i].Inline) && dl[i].Erasure.Index >= 0 {
			dl[i].Inline = frames[i][dl[i].Erasure.Index]
		}
	}
	data, err := encodeMeta(dl)
	if err != nil {
		return err
	}
	if _, err := d.stat(d.bucketDir(bucket)); err != nil {
		return err
	}
	objDir := d.objDir(bucket, kp)
	if err := d.mkdirAll(objDir); err != nil {
		return err
	}
	tmp := d.tmp("heal-" + randHex(8) + ".meta")
	if err := d.writeFile(tmp, data, !s.opts.NoSync); err != nil {
		return err
	}
	if err := d.renameSync(tmp, filepath.Join(objDir, metaName), !s.opts.NoSync); err != nil {
		d.remove(tmp)
		return err
	}
	return nil
}

// healBucket gives every present drive the bucket's folder, bucket.json
// and documents when it lacks them (a replaced drive).
func (s *Store) healBucket(bucket string) {
	bi, err := s.bucketInfo(bucket)
	if err != nil {
		return
	}
	bf, _ := json.Marshal(bucketFile{Version: 1, Created: bi.Created})
	ds := s.allDrives()
	var src *drive
	for _, d := range ds {
		if _, err := d.stat(d.sys("buckets", bucket, "bucket.json")); err == nil {
			src = d
			break
		}
	}
	for _, d := range ds {
		if !d.present() {
			continue
		}
		if _, err := d.stat(d.sys("buckets", bucket, "bucket.json")); err == nil {
			continue
		}
		d.mkdir(d.bucketDir(bucket))
		d.mkdirAll(d.sys("buckets", bucket))
		if src != nil {
			ents, _ := src.readDir(src.sys("buckets", bucket))
			for _, e := range ents {
				if e.Name() == "bucket.json" {
					continue
				}
				if data, err := src.readFile(src.sys("buckets", bucket, e.Name())); err == nil {
					d.writeFile(d.sys("buckets", bucket, e.Name()), data, !s.opts.NoSync)
				}
			}
		}
		tmp := d.tmp("bucket-" + randHex(8))
		if d.writeFile(tmp, bf, !s.opts.NoSync) == nil {
			d.rename(tmp, d.sys("buckets", bucket, "bucket.json"))
		}
	}
}

// HealAll heals every bucket and every object found on any drive,
// calling progress (when not nil) after each object.
func (s *Store) HealAll(ctx context.Context, progress func(done, total int)) (HealSummary, error) {
	var o HealOptions
	if progress != nil {
		o.Progress = func(sum HealSummary) { progress(sum.Objects, sum.Total) }
	}
	return s.Heal(ctx, o)
}

// Heal heals the buckets and the objects that o selects: it first brings
// back the drives it can (formatting an empty replacement drive), recreates
// missing bucket folders and documents on every drive, counts the objects
// found on any drive, then heals them one by one (HealObject).
func (s *Store) Heal(ctx context.Context, o HealOptions) (HealSummary, error) {
	var sum HealSummary
	s.reviveAll()
	var buckets []string
	if o.Bucket != "" {
		if err := s.checkBucket(o.Bucket); err != nil {
			return sum, err
		}
		buckets = []string{o.Bucket}
	} else {
		bs, err := s.ListBuckets(ctx)
		if err != nil {
			return sum, err
		}
		for _, b := range bs {
			buckets = append(buckets, b.Name)
		}
	}
	for _, b := range buckets {
		s.healBucket(b)
		sum.Buckets++
		err := s.mergeWalk(ctx, b, o.Prefix, "", func(string, *set, []int) (string, bool) {
			sum.Total++
			return "", true
		})
		if err != nil {
			return sum, err
		}
	}
	for _, b := range buckets {
		err := s.mergeWalk(ctx, b, o.Prefix, "", func(key string, _ *set, _ []int) (string, bool) {
			s.healOne(ctx, b, key, &sum, o.Problem)
			sum.Total = max(sum.Total, sum.Objects)
			if o.Progress != nil {
				o.Progress(sum)
			}
			return "", ctx.Err() == nil
		})
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			return sum, err
		}
	}
	return sum, nil
}

// healOne heals one object and counts what happened in sum.
func (s *Store) healOne(ctx context.Context, bucket, key string, sum *HealSummary, problem func(HealProblem)) {
	r, err := s.HealObject(ctx, bucket, key)
	sum.Objects++
	sum.Shards += r.Healed
	switch {
	case err != nil && backends.Is(err, backends.NoSuchKey):
		// Gone meanwhile.
	case err != nil:
		if ctx.Err() != nil {
			return
		}
		p := HealProblem{Bucket: bucket, Key: key, Unrecoverable: errors.Is(err, ErrUnrecoverable), Err: err}
		if p.Unrecoverable {
			sum.Unrecoverable++
		} else {
			sum.Failed++
		}
		if problem != nil {
			problem(p)
		}
	case r.Removed:
		sum.Removed++
		sum.Healed++
	case r.Healed > 0:
		sum.Healed++
	}
}
