package erasure

import (
	"context"
	"path/filepath"
	"slices"
	"strings"

	"github.com/strata-storage/strata/backends"
)

// A walker lists one drive's objects of a bucket in S3 byte order, lazily:
// each folder is read when the cursor reaches it, and folders wholly before
// the cursor, outside the prefix or inside a rolled-up common prefix are
// never read. The cursor only moves forward.
type walker struct {
	d      *drive
	prefix string
	stack  []*frame
}

type frame struct {
	items []witem
	pos   int
}

// witem is an object (key, with meta.json in path) or a folder whose keys
// all start with key (which ends in "/").
type witem struct {
	key  string
	path string
	dir  bool
}

func newWalker(d *drive, root, prefix string) *walker {
	w := &walker{d: d, prefix: prefix}
	if f := readFrame(d, root, ""); f != nil {
		w.stack = append(w.stack, f)
	}
	return w
}

func readFrame(d *drive, dir, base string) *frame {
	ents, err := d.readDir(dir)
	if err != nil {
		return nil
	}
	f := &frame{}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		name := e.Name()
		p := filepath.Join(dir, name)
		if name == folderMark {
			if base != "" {
				f.items = append(f.items, witem{key: base, path: p})
			}
			continue
		}
		el, ok := unescapeElem(name)
		if !ok {
			continue
		}
		f.items = append(f.items, witem{key: base + el, path: p}, witem{key: base + el + "/", path: p, dir: true})
	}
	slices.SortFunc(f.items, func(a, b witem) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		// An object "a/" (folder mark) sorts before the folder "a/".
		if a.dir != b.dir {
			if a.dir {
				return 1
			}
			return -1
		}
		return 0
	})
	return f
}

// next returns the first object key after after that is not under skip
// (a common prefix already rolled up; "" for none).
func (w *walker) next(after, skip string) (string, bool) {
	for len(w.stack) > 0 {
		f := w.stack[len(w.stack)-1]
		if f.pos >= len(f.items) {
			w.stack = w.stack[:len(w.stack)-1]
			continue
		}
		it := f.items[f.pos]
		if it.dir {
			f.pos++
			p := it.key
			if skip != "" && strings.HasPrefix(p, skip) ||
				after > p && !strings.HasPrefix(after, p) ||
				!strings.HasPrefix(p, w.prefix) && !strings.HasPrefix(w.prefix, p) {
				continue
			}
			if nf := readFrame(w.d, it.path, p); nf != nil {
				w.stack = append(w.stack, nf)
			}
			continue
		}
		k := it.key
		if k <= after || skip != "" && strings.HasPrefix(k, skip) || !strings.HasPrefix(k, w.prefix) {
			f.pos++
			continue
		}
		if _, err := w.d.stat(filepath.Join(it.path, metaName)); err != nil {
			f.pos++
			continue
		}
		return k, true
	}
	return "", false
}

// mergeWalk calls fn for every key present on at least one drive, in byte
// order, with the set and the drive positions holding it; fn returns the
// common prefix to skip from now on ("" for none) and whether to go on.
func (s *Store) mergeWalk(ctx context.Context, bucket, prefix, after string, fn func(key string, st *set, holders []int) (string, bool)) error {
	type dw struct {
		w   *walker
		set *set
		pos int
	}
	var ws []dw
	for _, st := range s.sets {
		for pos, d := range st.drives {
			if d.present() {
				ws = append(ws, dw{newWalker(d, d.bucketDir(bucket), prefix), st, pos})
			}
		}
	}
	skip := ""
	heads := make([]string, len(ws))
	oks := make([]bool, len(ws))
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		minKey, any := "", false
		for i := range ws {
			heads[i], oks[i] = ws[i].w.next(after, skip)
			if oks[i] && (!any || heads[i] < minKey) {
				minKey, any = heads[i], true
			}
		}
		if !any {
			return nil
		}
		// Normally one set holds a key; a set-count change would need a
		// rebalance, which does not exist, so take the first set.
		var st *set
		var holders []int
		for i := range ws {
			if oks[i] && heads[i] == minKey && (st == nil || ws[i].set == st) {
				st = ws[i].set
				holders = append(holders, ws[i].pos)
			}
		}
		after = minKey
		sk, more := fn(minKey, st, holders)
		if sk != "" {
			skip = sk
		}
		if !more {
			return nil
		}
	}
}

// listEntry returns the versions of key when a read quorum of its set's
// drives agrees on them.
func listEntry(st *set, bucket, key string, holders []int) ([]version, bool) {
	kp, err := keyPath(key)
	if err != nil {
		return nil, false
	}
	for _, pos := range holders {
		vs, err := st.drives[pos].readVersions(st.drives[pos].objDir(bucket, kp))
		if err != nil {
			continue
		}
		// Count the holders that agree with this list.
		lk := listKey(vs)
		agree := 1
		for _, q := range holders {
			if q == pos || agree >= vs[0].Erasure.Data {
				continue
			}
			if ws, err := st.drives[q].readVersions(st.drives[q].objDir(bucket, kp)); err == nil && listKey(ws) == lk {
				agree++
			}
		}
		if agree >= vs[0].Erasure.Data {
			return vs, true
		}
		return nil, false
	}
	return nil, false
}

func (s *Store) ListObjects(ctx context.Context, bucket string, opts backends.ListOptions) (backends.ListResult, error) {
	if err := s.checkBucket(bucket); err != nil {
		return backends.ListResult{}, err
	}
	max := opts.MaxKeys
	if max <= 0 || max > 1000 {
		max = 1000
	}
	var res backends.ListResult
	count := 0
	last := ""
	err := s.mergeWalk(ctx, bucket, opts.Prefix, opts.Marker, func(key string, st *set, holders []int) (string, bool) {
		vs, ok := listEntry(st, bucket, key, holders)
		if !ok || vs[0].DeleteMarker {
			return "", true
		}
		cp := ""
		if opts.Delimiter != "" {
			if i := strings.Index(key[len(opts.Prefix):], opts.Delimiter); i >= 0 {
				cp = key[:len(opts.Prefix)+i+len(opts.Delimiter)]
				if cp <= opts.Marker {
					return cp, true
				}
			}
		}
		if count == max {
			res.IsTruncated = true
			res.NextMarker = last
			return "", false
		}
		count++
		if cp != "" {
			res.Prefixes = append(res.Prefixes, cp)
			last = cp
			return cp, true
		}
		res.Objects = append(res.Objects, info(key, &vs[0]))
		last = key
		return "", true
	})
	return res, err
}

// ListVersions lists the versions and delete markers of bucket in key
// order, newest first per key (backends.VersionStore). A page ends after
// MaxKeys entries (versions and common prefixes), and the next starts
// after (NextKeyMarker, NextVersionIDMarker).
func (s *Store) ListVersions(ctx context.Context, bucket string, opts backends.VersionListOptions) (backends.VersionList, error) {
	var res backends.VersionList
	if err := s.checkBucket(bucket); err != nil {
		return res, err
	}
	max := opts.MaxKeys
	if max <= 0 || max > 1000 {
		max = 1000
	}
	// The walk starts at the key marker itself when a version ID marker
	// says where in its versions to go on.
	after := opts.KeyMarker
	if opts.KeyMarker != "" && opts.VersionIDMarker != "" {
		after = keyBefore(opts.KeyMarker)
	}
	count := 0
	full := func() bool {
		if count < max {
			return false
		}
		res.IsTruncated = true
		return true
	}
	err := s.mergeWalk(ctx, bucket, opts.Prefix, after, func(key string, st *set, holders []int) (string, bool) {
		if opts.Delimiter != "" {
			if i := strings.Index(key[len(opts.Prefix):], opts.Delimiter); i >= 0 {
				cp := key[:len(opts.Prefix)+i+len(opts.Delimiter)]
				if cp <= opts.KeyMarker {
					return cp, true
				}
				if full() {
					return "", false
				}
				count++
				res.Prefixes = append(res.Prefixes, cp)
				res.NextKeyMarker, res.NextVersionIDMarker = cp, ""
				return cp, true
			}
		}
		if key < opts.KeyMarker || key == opts.KeyMarker && opts.VersionIDMarker == "" {
			return "", true
		}
		vs, ok := listEntry(st, bucket, key, holders)
		if !ok {
			return "", true
		}
		start := 0
		if key == opts.KeyMarker {
			// Go on after the marker's version; a marker that names no
			// version of the key skips the key.
			start = len(vs)
			for i := range vs {
				if vs[i].ID == opts.VersionIDMarker {
					start = i + 1
					break
				}
			}
		}
		for i := start; i < len(vs); i++ {
			if full() {
				return "", false
			}
			count++
			res.Versions = append(res.Versions, versionInfo(key, vs, i))
			res.NextKeyMarker, res.NextVersionIDMarker = key, vs[i].ID
		}
		return "", true
	})
	if !res.IsTruncated {
		res.NextKeyMarker, res.NextVersionIDMarker = "", ""
	}
	return res, err
}

// keyBefore returns a string that sorts just before key, for a walk that
// must include key itself ("after" is exclusive).
func keyBefore(key string) string {
	if key[len(key)-1] == 0 {
		return key[:len(key)-1]
	}
	return key[:len(key)-1] + string(key[len(key)-1]-1) + "\xff"
}
