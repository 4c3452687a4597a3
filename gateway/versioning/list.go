package versioning

import (
	"context"
	"sort"
	"strings"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/gateway"
)

// ListObjects lists the current objects: the inner listing without the
// version store. Pages emptied by hiding the store are filled from further
// inner pages, and the store's range is skipped in one step.
func (l *Layer) ListObjects(ctx context.Context, bucket string, opts backends.ListOptions) (backends.ListResult, error) {
	if reserved(opts.Prefix) {
		_, err := l.Backend.HeadBucket(ctx, bucket)
		return backends.ListResult{}, err
	}
	want := opts.MaxKeys
	if want <= 0 {
		want = 1000
	}
	var out backends.ListResult
	o := opts
	for {
		o.MaxKeys = want - len(out.Objects) - len(out.Prefixes)
		res, err := l.Backend.ListObjects(ctx, bucket, o)
		if err != nil {
			return backends.ListResult{}, err
		}
		last := ""
		for _, ob := range res.Objects {
			last = max(last, ob.Key)
			if reserved(ob.Key) {
				continue
			}
			ob.ModTime = modTime(ob)
			out.Objects = append(out.Objects, ob)
		}
		for _, p := range res.Prefixes {
			last = max(last, p)
			if reserved(p) {
				continue
			}
			if strings.HasPrefix(Prefix, p) {
				// The prefix covers the store: shown only if it holds
				// keys of clients too.
				sub, err := l.ListObjects(ctx, bucket, backends.ListOptions{Prefix: p, MaxKeys: 1})
				if err != nil {
					return backends.ListResult{}, err
				}
				if len(sub.Objects) == 0 {
					continue
				}
			}
			out.Prefixes = append(out.Prefixes, p)
		}
		if !res.IsTruncated {
			out.IsTruncated = false
			break
		}
		if len(out.Objects)+len(out.Prefixes) >= want {
			out.IsTruncated = true
			if n := len(out.Objects); n > 0 {
				out.NextMarker = out.Objects[n-1].Key
			}
			if n := len(out.Prefixes); n > 0 {
				out.NextMarker = max(out.NextMarker, out.Prefixes[n-1])
			}
			break
		}
		next := res.NextMarker
		if next == "" {
			next = last
		}
		if next == "" {
			break
		}
		if reserved(next) && next < Prefix+nameEnd {
			next = Prefix + nameEnd
		}
		o.Marker = next
	}
	return out, nil
}

// ListObjectVersions lists the versions and delete markers of bucket in
// key order, newest first per key: the current objects merged with the
// version store.
func (l *Layer) ListObjectVersions(ctx context.Context, bucket string, opts gateway.VersionListOptions) (gateway.VersionList, error) {
	var out gateway.VersionList
	if opts.VersionIDMarker != "" && !ValidID(opts.VersionIDMarker) {
		return out, errBadID()
	}
	if reserved(opts.Prefix) {
		_, err := l.Backend.HeadBucket(ctx, bucket)
		return out, err
	}
	if vs, ok := l.native(bucket); ok {
		// Unlike GET and HEAD (shown), a listing keeps the store's IDs,
		// "null" for the null version, also in a bucket never versioned:
		// AWS lists them so, and clients delete by them.
		return vs.ListVersions(ctx, bucket, opts)
	}
	limit := opts.MaxKeys
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	st, err := l.Status(ctx, bucket)
	if err != nil {
		return out, err
	}
	it := &versionIter{l: l, ctx: ctx, bucket: bucket, st: st, prefix: opts.Prefix, delim: opts.Delimiter,
		withSys: l.Forward.ListsSys(bucket)}
	if err := it.start(opts.KeyMarker, opts.VersionIDMarker); err != nil {
		return out, err
	}
	var lastKey, lastID string
	for n := 0; ; n++ {
		item, err := it.next()
		if err != nil {
			return gateway.VersionList{}, err
		}
		if item == nil {
			break
		}
		if n == limit {
			out.IsTruncated = true
			break
		}
		if item.isPrefix {
			out.Prefixes = append(out.Prefixes, item.prefix)
			lastKey, lastID = item.prefix, ""
			continue
		}
		out.Versions = append(out.Versions, item.info)
		lastKey, lastID = item.info.Key, item.info.VersionID
	}
	if out.IsTruncated {
		out.NextKeyMarker, out.NextVersionIDMarker = lastKey, lastID
	}
	return out, nil
}

// listItem is an entry of the current listing: an object or a common
// prefix.
type listItem struct {
	key    string
	prefix bool
	info   backends.ObjectInfo
}

// storeItem is an entry of the store listing: a stored version or a common
// prefix.
type storeItem struct {
	e      entry
	info   backends.ObjectInfo
	prefix string // set for a common prefix
}

func (s *storeItem) sortKey() string {
	if s.prefix != "" {
		return s.prefix
	}
	return s.e.key
}

type outItem struct {
	isPrefix bool
	prefix   string
	info     backends.ObjectInfo
}

// versionIter merges the current objects and the version store, both
// listed page by page.
type versionIter struct {
	l                    *Layer
	ctx                  context.Context
	bucket, st           string
	prefix, delim        string
	withSys              bool
	cur                  []listItem
	curMarker            string
	curDone              bool
	store                []storeItem
	storeMarker          string
	storeDone            bool
	lastPrefix           string
	g                    group
	curFilled, stoFilled bool
}

// group is the state of the key whose versions are being listed.
type group struct {
	key     string
	curID   string // the current object's version ID, "" if none
	null    bool   // the null version was listed
	emitted bool   // a version was listed (the latest one)
}

// start positions the listing after a key marker and a version-id marker.
func (it *versionIter) start(km, vm string) error {
	it.curMarker = km
	if km == "" {
		return nil
	}
	if it.delim != "" && strings.HasPrefix(km, it.prefix) {
		rest := km[len(it.prefix):]
		if i := strings.Index(rest, it.delim); i >= 0 && len(it.prefix)+i+len(it.delim) == len(km) {
			// A common prefix: continue after everything below it.
			it.storeMarker = keyBase(km) + nameEnd
			it.lastPrefix = km
			return nil
		}
	}
	if vm == "" {
		it.storeMarker = keyPrefix(km) + nameEnd
		return nil
	}
	// Within the versions of km: the current object (always first) was
	// listed, and the stored versions down to the marker.
	cur, has, err := it.l.headCurrent(it.ctx, it.bucket, km)
	if err != nil {
		return err
	}
	g := group{key: km, emitted: true}
	if has {
		g.curID = idOf(cur.Sys)
		g.null = g.curID == NullID
	}
	switch {
	case has && vm == g.curID:
		it.storeMarker = keyBase(km)
	case vm == NullID:
		e, ok, err := it.l.lookup(it.ctx, it.bucket, km, NullID)
		if err != nil {
			return err
		}
		if ok {
			it.storeMarker, g.null = e.name, true
		} else {
			it.storeMarker = keyPrefix(km) + nameEnd
		}
	default:
		it.storeMarker = keyPrefix(km) + vm + dmSuffix
		if !g.null {
			err := it.l.scan(it.ctx, it.bucket, km, "", 1000, func(e entry, _ backends.ObjectInfo) bool {
				if e.name > it.storeMarker {
					return false
				}
				if e.null() {
					g.null = true
					return false
				}
				return true
			})
			if err != nil {
				return err
			}
		}
	}
	it.g = g
	return nil
}

func (it *versionIter) fillCur() error {
	if len(it.cur) > 0 || it.curDone {
		return nil
	}
	res, err := it.l.ListObjects(it.ctx, it.bucket, backends.ListOptions{
		Prefix: it.prefix, Delimiter: it.delim, Marker: it.curMarker, MaxKeys: 1000,
	})
	if err != nil {
		return err
	}
	items := make([]listItem, 0, len(res.Objects)+len(res.Prefixes))
	for _, o := range res.Objects {
		if !it.withSys && it.st != Unversioned {
			// The listing lacks the version IDs.
			h, err := it.l.Backend.HeadObject(it.ctx, it.bucket, o.Key)
			if backends.Is(err, backends.NoSuchKey) {
				continue
			}
			if err != nil {
				return err
			}
			h.Key = o.Key
			o = h
		}
		items = append(items, listItem{key: o.Key, info: o})
	}
	for _, p := range res.Prefixes {
		items = append(items, listItem{key: p, prefix: true})
	}
	sort.Slice(items, func(i, j int) bool { return items[i].key < items[j].key })
	last := ""
	for _, o := range res.Objects {
		last = max(last, o.Key)
	}
	for _, p := range res.Prefixes {
		last = max(last, p)
	}
	it.cur = items
	it.curDone = !res.IsTruncated || last == ""
	if res.NextMarker != "" {
		it.curMarker = res.NextMarker
	} else {
		it.curMarker = last
	}
	return nil
}

func (it *versionIter) fillStore() error {
	for len(it.store) == 0 && !it.storeDone {
		if it.st == Unversioned {
			it.storeDone = true
			return nil
		}
		res, err := it.l.Backend.ListObjects(it.ctx, it.bucket, backends.ListOptions{
			Prefix: keyBase(it.prefix), Marker: it.storeMarker, MaxKeys: 1000,
		})
		if err != nil {
			return err
		}
		jumped := false
		last := ""
		for _, o := range res.Objects {
			last = o.Key
			e, ok := parseName(o.Key)
			if !ok || !strings.HasPrefix(e.key, it.prefix) {
				continue
			}
			if it.delim != "" {
				if i := strings.Index(e.key[len(it.prefix):], it.delim); i >= 0 {
					cp := e.key[:len(it.prefix)+i+len(it.delim)]
					it.store = append(it.store, storeItem{prefix: cp})
					// Nothing else below the prefix is listed.
					it.storeMarker = keyBase(cp) + nameEnd
					jumped = true
					break
				}
			}
			it.store = append(it.store, storeItem{e: e, info: o})
		}
		if jumped {
			continue
		}
		it.storeDone = !res.IsTruncated || last == ""
		if res.NextMarker != "" {
			it.storeMarker = res.NextMarker
		} else {
			it.storeMarker = last
		}
	}
	return nil
}

// next returns the next version or common prefix, nil at the end.
func (it *versionIter) next() (*outItem, error) {
	for {
		if err := it.fillCur(); err != nil {
			return nil, err
		}
		if err := it.fillStore(); err != nil {
			return nil, err
		}
		var c *listItem
		var s *storeItem
		if len(it.cur) > 0 {
			c = &it.cur[0]
		}
		if len(it.store) > 0 {
			s = &it.store[0]
		}
		switch {
		case c == nil && s == nil:
			return nil, nil
		case s == nil || c != nil && c.key < s.sortKey() || c != nil && c.key == s.sortKey() && !c.prefix:
			item := *c
			it.cur = it.cur[1:]
			if item.prefix {
				if s != nil && s.prefix == item.key {
					it.store = it.store[1:]
				}
				if item.key == it.lastPrefix {
					continue
				}
				it.lastPrefix = item.key
				return &outItem{isPrefix: true, prefix: item.key}, nil
			}
			info := item.info
			current(&info, it.st)
			info.VersionID = idOf(info.Sys)
			it.g = group{key: info.Key, curID: info.VersionID, null: info.VersionID == NullID, emitted: true}
			return &outItem{info: info}, nil
		default:
			item := *s
			it.store = it.store[1:]
			if item.prefix != "" {
				if c != nil && c.prefix && c.key == item.prefix {
					it.cur = it.cur[1:]
				}
				if item.prefix == it.lastPrefix {
					continue
				}
				it.lastPrefix = item.prefix
				return &outItem{isPrefix: true, prefix: item.prefix}, nil
			}
			e := item.e
			if it.g.key != e.key {
				it.g = group{key: e.key}
			}
			if e.id == it.g.curID {
				continue // a copy of the current version left by a crash
			}
			if e.null() {
				if it.g.null {
					continue // an older null version left by a crash
				}
				it.g.null = true
			}
			latest := !it.g.emitted
			it.g.emitted = true
			info := item.info
			it.l.stored(&info, e, latest)
			return &outItem{info: info}, nil
		}
	}
}
