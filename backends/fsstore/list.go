package fsstore

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/strata-storage/strata/backends"
)

// Listing walks the bucket's folders in S3 key order, one folder level in
// memory at a time. In a folder with key prefix d, a file f has the key d+f
// and a folder g holds exactly the keys starting with d+g+"/" (its folder
// object, if any, is the first of them). Sorting the entries of a folder by
// these strings ("a-b", "a.txt", "a/" in that byte order) and descending
// into folders in place yields the keys in S3 order, unlike a directory
// walk. A folder whose keys all sort at or before the marker is skipped
// without being read, so a page costs the folders on the marker's path plus
// what it returns, not a walk from the start.

// entry is one entry of a folder, with the string it sorts by.
type entry struct {
	sortKey string // key of a file; key prefix ending in "/" of a folder
	dir     bool
	e       fs.DirEntry
	fi      fs.FileInfo // a link's target
}

// readFolder returns the entries of the folder with key prefix dir that can
// hold keys, in S3 order: regular files, links to regular files, folders
// (links to folders are not entered: they could make cycles).
func (s *Store) readFolder(bucket, dir string) ([]entry, error) {
	p := dirPath(bucket, dir)
	ents, err := s.fs.ReadDir(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil // removed meanwhile
		}
		return nil, fsErr(err, "cannot list "+p)
	}
	out := make([]entry, 0, len(ents))
	for _, e := range ents {
		name := e.Name()
		if !validName(dir, name) {
			continue
		}
		t := e.Type()
		switch {
		case t.IsDir():
			out = append(out, entry{sortKey: dir + name + "/", dir: true, e: e})
		case t.IsRegular():
			out = append(out, entry{sortKey: dir + name, e: e})
		case t&fs.ModeSymlink != 0:
			if fi, err := s.fs.Stat(p + "/" + name); err == nil && fi.Mode().IsRegular() {
				out = append(out, entry{sortKey: dir + name, e: e, fi: fi})
			}
		}
	}
	slices.SortFunc(out, func(a, b entry) int { return strings.Compare(a.sortKey, b.sortKey) })
	return out, nil
}

func (e *entry) info() (fs.FileInfo, error) {
	if e.fi != nil {
		return e.fi, nil
	}
	return e.e.Info()
}

// hasKey reports whether any key starts with dir (a folder's key prefix):
// S3 shows a common prefix only when some key is below it, so empty
// folders stay hidden.
func (s *Store) hasKey(ctx context.Context, bucket, dir string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if sc := s.readSidecar(bucket, dir); sc != nil && sc.Dir {
		return true, nil
	}
	ents, err := s.readFolder(bucket, dir)
	if err != nil {
		return false, err
	}
	for _, e := range ents {
		if !e.dir {
			return true, nil
		}
	}
	for _, e := range ents {
		if ok, err := s.hasKey(ctx, bucket, e.sortKey); ok || err != nil {
			return ok, err
		}
	}
	return false, nil
}

// folderObject returns the folder object dir ("x/") if it exists.
func (s *Store) folderObject(bucket, dir string) (backends.ObjectInfo, bool) {
	sc := s.readSidecar(bucket, dir)
	if sc == nil || !sc.Dir || len(sc.Records) == 0 {
		return backends.ObjectInfo{}, false
	}
	m := sc.Records[0].Meta
	m.Size = 0
	if m.ETag == "" {
		m.ETag = emptyETag
	}
	return backends.ObjectInfo{Key: dir, Meta: m}, true
}

// realFolder reports whether dir is a chain of real folders (no links).
func (s *Store) realFolder(bucket, dir string) (bool, error) {
	p := bucket
	for seg := range strings.SplitSeq(strings.TrimSuffix(dir, "/"), "/") {
		if seg == "" {
			continue
		}
		p += "/" + seg
		fi, err := s.fs.Lstat(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return false, nil
			}
			return false, fsErr(err, "cannot list "+p)
		}
		if !fi.IsDir() {
			return false, nil
		}
	}
	return true, nil
}

type lister struct {
	s      *Store
	ctx    context.Context
	bucket string
	prefix string
	delim  string
	marker string
	max    int

	res        backends.ListResult
	n          int
	lastPrefix string
	done       bool

	// The release counts of the key locks when the listing began: a
	// key whose record is missing while its lock changed since is read
	// again under the lock (listInfo).
	gens [stripes]uint64
}

// rollup returns the common prefix that k (a key, or a folder's key
// prefix, all of whose keys then share it) falls into, "" if none.
func (l *lister) rollup(k string) string {
	if l.delim == "" {
		return ""
	}
	r := k[len(l.prefix):]
	if i := strings.Index(r, l.delim); i >= 0 {
		return l.prefix + r[:i+len(l.delim)]
	}
	return ""
}

// full reports whether the page is full; one more item found marks it
// truncated.
func (l *lister) full() bool {
	if l.n < l.max {
		return false
	}
	l.res.IsTruncated = true
	l.done = true
	return true
}

func (l *lister) addPrefix(cp string) {
	if l.full() {
		return
	}
	l.res.Prefixes = append(l.res.Prefixes, cp)
	l.lastPrefix = cp
	l.res.NextMarker = cp
	l.n++
}

func (l *lister) addObject(info backends.ObjectInfo) {
	if l.full() {
		return
	}
	l.res.Objects = append(l.res.Objects, info)
	l.res.NextMarker = info.Key
	l.n++
}

// key considers one key that has the prefix and sorts after the marker.
func (l *lister) key(k string, info func() (backends.ObjectInfo, bool)) {
	if cp := l.rollup(k); cp != "" {
		if cp > l.marker && cp != l.lastPrefix {
			l.addPrefix(cp)
		}
		return
	}
	if l.n >= l.max {
		l.full()
		return
	}
	if oi, ok := info(); ok {
		l.addObject(oi)
	}
}

// info returns the listing's info of a file entry, false to leave it out.
func (l *lister) info(e entry) (backends.ObjectInfo, bool) {
	fi, err := e.info()
	if err != nil {
		return backends.ObjectInfo{}, false
	}
	return l.s.listInfo(l.bucket, e.sortKey, fi, &l.gens)
}

// listed is what prefetch found for an entry: the info of a file (ok
// false to leave it out), or whether a folder holds any key.
type listed struct {
	info backends.ObjectInfo
	ok   bool
	err  error
}

// listWorkers is how many files of a folder have their metadata read at
// once: on NFS and SMB each read is a few round trips to the server, which
// a listing would otherwise wait for one after another.
const listWorkers = 8

// prefetch reads, listWorkers at a time, what the page may need of ents
// (by index in ents), as many entries as the page has room for: the
// metadata of the files with the prefix, after the marker, not rolled up
// into a common prefix; and for the folders that roll up into a new
// common prefix, whether they hold any key.
func (l *lister) prefetch(ents []entry) map[int]listed {
	var want []int
	seen := ""
	for j, e := range ents {
		if len(want) >= l.max-l.n {
			break
		}
		k := e.sortKey
		if !strings.HasPrefix(k, l.prefix) {
			continue
		}
		cp := l.rollup(k)
		switch {
		case !e.dir && k > l.marker && cp == "":
		case e.dir && cp != "" && cp > l.marker && cp != l.lastPrefix && cp != seen:
			seen = cp
		default:
			continue
		}
		want = append(want, j)
	}
	if len(want) < 2 {
		return nil
	}
	out := make([]listed, len(want))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(listWorkers, len(want)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for w := int(next.Add(1) - 1); w < len(want) && l.ctx.Err() == nil; w = int(next.Add(1) - 1) {
				if e := ents[want[w]]; e.dir {
					out[w].ok, out[w].err = l.s.hasKey(l.ctx, l.bucket, e.sortKey)
				} else {
					out[w].info, out[w].ok = l.info(e)
				}
			}
		}()
	}
	wg.Wait()
	if l.ctx.Err() != nil {
		return nil
	}
	pre := make(map[int]listed, len(want))
	for w, j := range want {
		pre[j] = out[w]
	}
	return pre
}

// walk lists the folder with key prefix dir.
func (l *lister) walk(dir string) error {
	if err := l.ctx.Err(); err != nil {
		return err
	}
	if dir != "" && strings.HasPrefix(dir, l.prefix) && dir > l.marker {
		if oi, ok := l.s.folderObject(l.bucket, dir); ok {
			l.key(dir, func() (backends.ObjectInfo, bool) { return oi, true })
		}
	}
	ents, err := l.s.readFolder(l.bucket, dir)
	if err != nil {
		return err
	}
	// Skip what sorts at or before the marker: files up to it, and
	// folders that it sorts after entirely.
	i, _ := slices.BinarySearchFunc(ents, l.marker, func(e entry, m string) int {
		if e.sortKey <= m && !(e.dir && strings.HasPrefix(m, e.sortKey)) {
			return -1
		}
		return 1
	})
	pre := l.prefetch(ents[i:])
	for j, e := range ents[i:] {
		if l.done {
			return nil
		}
		k := e.sortKey
		if !e.dir {
			if !strings.HasPrefix(k, l.prefix) {
				if k > l.prefix {
					return nil
				}
				continue
			}
			if k <= l.marker {
				continue
			}
			l.key(k, func() (backends.ObjectInfo, bool) {
				if r, ok := pre[j]; ok {
					return r.info, r.ok
				}
				return l.info(e)
			})
			continue
		}
		switch {
		case strings.HasPrefix(k, l.prefix):
			if cp := l.rollup(k); cp != "" {
				if cp <= l.marker || cp == l.lastPrefix {
					continue
				}
				r, found := pre[j]
				if !found {
					r.ok, r.err = l.s.hasKey(l.ctx, l.bucket, k)
				}
				ok, err := r.ok, r.err
				if err != nil {
					return err
				}
				if ok {
					l.addPrefix(cp)
				}
				continue
			}
		case strings.HasPrefix(l.prefix, k):
			// The prefix goes on inside this folder.
		case k > l.prefix:
			return nil
		default:
			continue
		}
		if err := l.walk(k); err != nil {
			return err
		}
	}
	return nil
}

// listInfo returns the info of a listed file, false to leave it out (it
// went away). gens are the release counts of the key locks before the
// file was listed.
func (s *Store) listInfo(bucket, key string, fi fs.FileInfo, gens *[stripes]uint64) (backends.ObjectInfo, bool) {
	if s.xattrs {
		// The xattr is read through the open file.
		f, info, err := s.openRead(bucket, key)
		if err != nil {
			return backends.ObjectInfo{}, false
		}
		f.Close()
		return info, true
	}
	m, ok := s.loadMeta(bucket, key, nil, fi)
	if i := s.stripe(bucket, key); !ok && (s.locks[i].busy.Load() || s.locks[i].gen.Load() != gens[i]) {
		// An overwrite since the file was listed may have dropped its
		// record from the sidecar: list what is there now, with its
		// record, under the lock.
		l := &s.locks[i]
		l.lock()
		defer l.unlock()
		fi, err := s.fs.Lstat(objPath(bucket, key))
		if err != nil || !fi.Mode().IsRegular() {
			return backends.ObjectInfo{}, false
		}
		m, _ = s.loadMeta(bucket, key, nil, fi)
	}
	return backends.ObjectInfo{Key: key, Meta: m}, true
}

func (s *Store) ListObjects(ctx context.Context, bucket string, opts backends.ListOptions) (backends.ListResult, error) {
	if err := ctx.Err(); err != nil {
		return backends.ListResult{}, err
	}
	if err := s.checkBucket(bucket); err != nil {
		return backends.ListResult{}, err
	}
	l := &lister{s: s, ctx: ctx, bucket: bucket, prefix: opts.Prefix, delim: opts.Delimiter,
		marker: opts.Marker, max: opts.MaxKeys}
	for i := range s.locks {
		l.gens[i] = s.locks[i].gen.Load()
	}
	if l.max <= 0 {
		l.max = 1000
	}
	// Every key with the prefix is in the folder named by the prefix up
	// to its last "/": start there.
	start := opts.Prefix[:strings.LastIndexByte(opts.Prefix, '/')+1]
	if start != "" {
		if checkKey(start, false) != nil {
			return l.res, nil // no key can have such a prefix
		}
		ok, err := s.realFolder(bucket, start)
		if err != nil || !ok {
			return l.res, err
		}
	}
	if err := l.walk(start); err != nil {
		return backends.ListResult{}, err
	}
	if !l.res.IsTruncated {
		l.res.NextMarker = ""
	}
	return l.res, nil
}
