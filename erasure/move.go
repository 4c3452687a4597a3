package erasure

import (
	"bytes"
	"context"
	"hash/crc32"
	"io"
	"path/filepath"
	"strconv"
	"sync/atomic"

	"github.com/strata-storage/strata/backends"
)

var (
	_ backends.Mover             = (*Store)(nil)
	_ backends.SysLister         = (*Store)(nil)
	_ backends.IntegrityVerifier = (*Store)(nil)
)

// VerifiesIntegrity reports that the store checks its data on every read:
// each shard block's HighwayHash is verified before a byte of it is used.
func (s *Store) VerifiesIntegrity(bucket string) bool { return true }

// ListsSys reports that listings carry Meta.Sys: a listed object's
// meta.json is read anyway, and Sys is part of it.
func (s *Store) ListsSys(bucket string) bool { return true }

// MoveObject moves the object at src to dst (backends.Mover), keeping its
// metadata (Sys, ETag, Last-Modified included).
//
// When both keys are placed on the same erasure set, which is always the
// case with one set, no data is copied: on each drive the shard files are
// hard-linked into a staged data dir (renamed where links fail), the new
// meta.json is published at dst as any write is (atomically, replacing what
// was there), and src is deleted. A crash in between leaves both keys, each
// whole. When the keys are on different sets, the object is read and
// written again on dst's set (its shards verified on the way, its layout
// that of dst's set), then src is deleted.
func (s *Store) MoveObject(ctx context.Context, bucket, src, dst string) error {
	skp, err := keyPath(src)
	if err != nil {
		return err
	}
	dkp, err := keyPath(dst)
	if err != nil {
		return err
	}
	if err := s.checkBucket(bucket); err != nil {
		return err
	}
	if src == dst {
		_, err := s.HeadObject(ctx, bucket, src)
		return err
	}
	unlock := s.lock2(bucket, src, dst)
	defer unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	ss, ds := s.setFor(bucket, src), s.setFor(bucket, dst)
	ms := readMetas(ss, bucket, skp)
	vs, err := resolve(ms, src)
	if err != nil {
		return err
	}
	v, err := latest(vs)
	if err != nil {
		return err
	}
	cs := copiesOf(ms, v.WriteID)
	if ss == ds {
		err = s.moveInSet(ss, bucket, src, skp, dst, dkp, v, cs)
	} else {
		err = s.moveAcross(ctx, ss, ds, bucket, src, skp, dst, dkp, v, cs)
	}
	if err != nil {
		return err
	}
	_, err = s.apply(ss, bucket, src, skp, nil, false, func(cur []version) ([]version, error) {
		out := make([]version, 0, len(cur))
		for _, o := range cur {
			if o.WriteID != v.WriteID {
				out = append(out, o)
			}
		}
		return out, nil
	})
	return err
}

// lock2 takes the write locks of two keys in stripe order, once when they
// share a stripe.
func (s *Store) lock2(bucket, a, b string) func() {
	i, j := s.stripe(bucket, a), s.stripe(bucket, b)
	if i > j {
		i, j = j, i
	}
	s.locks[i].Lock()
	if i == j {
		return s.locks[i].Unlock
	}
	s.locks[j].Lock()
	return func() {
		s.locks[j].Unlock()
		s.locks[i].Unlock()
	}
}

func (s *Store) stripe(bucket, key string) int {
	return int(crc32.ChecksumIEEE([]byte(bucket+"\x00"+key)) % uint32(len(s.locks)))
}

// moveInSet publishes v at dst, as its null version, with the shards of
// src, linked (cs: the drives' copies of v); the caller holds both keys'
// locks.
func (s *Store) moveInSet(st *set, bucket, src, skp, dst, dkp string, v *version, cs []*version) error {
	n := len(st.drives)
	nv := *v
	nv.ID = "null"
	nv.WriteID = newUUID()
	w := &staged{wid: nv.WriteID, e: v.Erasure, ok: make([]bool, n)}
	if v.DataDir != "" {
		nv.DataDir = nv.WriteID
		w.data = true
	} else {
		w.inline = make([][]byte, n)
	}
	var degraded atomic.Bool
	parallel(n, func(pos int) {
		if cs[pos] == nil {
			return
		}
		d := st.drives[pos]
		if !w.data {
			if j := cs[pos].Erasure.Index; j >= 0 && j < n {
				w.inline[j] = cs[pos].Inline
				w.ok[pos] = true
			}
			return
		}
		tmp := d.tmp(nv.WriteID)
		if d.mkdir(tmp) != nil {
			return
		}
		for _, p := range v.Parts {
			from := partPath(d, bucket, skp, v, p.Number)
			to := filepath.Join(tmp, "part."+strconv.Itoa(p.Number))
			if d.link(from, to) != nil && d.rename(from, to) != nil {
				// A part missing here (a degraded drive): the drive
				// gets the meta.json all the same, heal rebuilds it.
				degraded.Store(true)
			}
		}
		w.ok[pos] = true
	})
	if w.count() < writeQuorum(v.Erasure) {
		s.discard(st, w)
		return quorumErr(w.count(), n)
	}
	if _, err := s.commitLocked(st, bucket, dst, dkp, w, nv, nil); err != nil {
		return err
	}
	if degraded.Load() || w.count() < n {
		s.queueHeal(bucket, dst)
	}
	return nil
}

// moveAcross writes v's data and metadata again at dst on another set; the
// caller holds both keys' locks.
func (s *Store) moveAcross(ctx context.Context, ss, ds *set, bucket, src, skp, dst, dkp string, v *version, cs []*version) error {
	var r io.Reader
	if v.DataDir == "" {
		data, degraded, err := decodeInline(v, cs, 0)
		if degraded {
			s.queueHeal(bucket, src)
		}
		if err != nil {
			return err
		}
		r = bytes.NewReader(data)
	} else {
		or, err := s.newReader(ctx, ss, bucket, src, skp, v, holding(cs), nil, 0, v.Meta.Size)
		if err != nil {
			return err
		}
		defer or.Close()
		r = or
	}
	e := s.layoutFor(ds, bucket, dst, v.Meta.StorageClass)
	wid := newUUID()
	var w *staged
	var err error
	if v.Meta.Size > InlineLimit {
		w, err = s.stageData(ctx, ds, e, wid, "part.1", r)
	} else {
		var data []byte
		if data, err = io.ReadAll(r); err == nil {
			w, err = s.stageInline(ds, e, wid, data)
		}
	}
	if err != nil {
		return err
	}
	if w.size != v.Meta.Size {
		s.discard(ds, w)
		return backends.Errorf(backends.Internal, "erasure: %q read back %d bytes, not %d, while moving it", src, w.size, v.Meta.Size)
	}
	nv := version{ID: "null", WriteID: wid, Erasure: e, Meta: v.Meta}
	if w.size > InlineLimit {
		nv.DataDir = wid
		nv.Parts = []partLayout{{Number: 1, Size: w.size}}
	}
	_, err = s.commitLocked(ds, bucket, dst, dkp, w, nv, nil)
	return err
}

// deleteLocked is DeleteObject for a caller that holds the key's lock.
func (s *Store) deleteLocked(st *set, bucket, key, kp string) error {
	ok := 0
	errs := make([]error, len(st.drives))
	parallel(len(st.drives), func(pos int) {
		errs[pos] = st.drives[pos].deleteObject(bucket, kp)
	})
	for _, err := range errs {
		if err == nil {
			ok++
		}
	}
	if ok < len(st.drives) {
		s.queueHeal(bucket, key)
	}
	if ok < len(st.drives)/2+1 {
		return quorumErr(ok, len(st.drives))
	}
	return nil
}
