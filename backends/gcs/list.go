package gcs

import (
	"context"
	"errors"
	"slices"
	"strings"

	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"

	"github.com/strata-storage/strata/backends"
)

// Listing uses GCS's own prefix, delimiter and start offset, so a page costs
// about one request however large the bucket. GCS lists names in byte
// order, as S3 does; the lister still merges objects and common prefixes
// itself and emits an item only once no smaller one can follow (within a
// page GCS returns objects first, then prefixes; an emulator may repeat
// prefixes on every page). The reserved folder is skipped with an end
// offset and a second start offset instead of being read and filtered.

// listAttrs are the attributes that a listing needs.
var listAttrs = []string{"Name", "Size", "Created", "Generation", "Metadata", "MD5", "CRC32C",
	"ComponentCount", "ContentType", "ContentEncoding", "ContentDisposition", "ContentLanguage", "CacheControl"}

type listItem struct {
	name  string
	attrs *storage.ObjectAttrs // nil for a common prefix
}

type lister struct {
	b       *Backend
	bucket  string
	opts    backends.ListOptions
	max     int
	pending map[string]listItem
	out     []listItem
	last    string // the last item emitted
}

func (b *Backend) ListObjects(ctx context.Context, bucket string, opts backends.ListOptions) (backends.ListResult, error) {
	ctx, cancel := b.op(ctx)
	defer cancel()
	l := &lister{b: b, bucket: bucket, opts: opts, max: opts.MaxKeys, pending: map[string]listItem{}}
	if l.max <= 0 {
		l.max = 1000
	}
	if strings.HasPrefix(opts.Prefix, sysPrefix) {
		// Only Strata's own objects are there.
		_, err := b.HeadBucket(ctx, bucket)
		return backends.ListResult{}, err
	}
	start := l.start()
	if strings.HasPrefix(sysPrefix, opts.Prefix) {
		// The names with the prefix include the reserved folder: list
		// what sorts before it, then what sorts after it.
		if start < sysPrefix {
			if err := l.scan(ctx, start, sysPrefix); err != nil {
				return backends.ListResult{}, err
			}
		}
		if !l.full() {
			if err := l.scan(ctx, max(start, sysEnd), ""); err != nil {
				return backends.ListResult{}, err
			}
		}
	} else if err := l.scan(ctx, start, ""); err != nil {
		return backends.ListResult{}, err
	}

	var res backends.ListResult
	items := l.out
	if len(items) > l.max {
		items = items[:l.max]
		res.IsTruncated = true
		res.NextMarker = items[len(items)-1].name
	}
	for _, it := range items {
		if it.attrs == nil {
			res.Prefixes = append(res.Prefixes, it.name)
			continue
		}
		m, _ := decodeMeta(it.attrs)
		o := backends.ObjectInfo{Key: it.name, Meta: m}
		if sysOut(it.attrs) {
			// Sys did not fit beside the user metadata: from the
			// sidecar, so that listings carry it whole.
			var err error
			if o, err = b.info(ctx, bucket, it.attrs); errors.Is(err, errSideGone) {
				o, err = b.HeadObject(ctx, bucket, it.name) // replaced meanwhile
				if backends.Is(err, backends.NoSuchKey) {
					continue
				}
			}
			if err != nil {
				return backends.ListResult{}, err
			}
		}
		res.Objects = append(res.Objects, o)
	}
	return res, nil
}

// full reports whether one item more than a page has been found, which
// tells that the page is truncated.
func (l *lister) full() bool { return len(l.out) > l.max }

// rollup returns the common prefix that the name falls into, "" if none.
func (l *lister) rollup(name string) string {
	d := l.opts.Delimiter
	if d == "" || !strings.HasPrefix(name, l.opts.Prefix) {
		return ""
	}
	r := name[len(l.opts.Prefix):]
	if i := strings.Index(r, d); i >= 0 {
		return l.opts.Prefix + r[:i+len(d)]
	}
	return ""
}

// start returns the start offset that skips what sorts at or before the
// marker: when the marker falls in a common prefix (which sorts at or
// before it), everything in that prefix.
func (l *lister) start() string {
	m := l.opts.Marker
	if m == "" || m < l.opts.Prefix {
		return ""
	}
	if cp := l.rollup(m); cp != "" {
		if s, ok := after(cp); ok {
			return s
		}
	}
	return m
}

// after returns the first string after all those that start with p, when
// it is plain ASCII at its end (GCS takes offsets as UTF-8).
func after(p string) (string, bool) {
	last := p[len(p)-1]
	if last >= 0x7f {
		return "", false
	}
	return p[:len(p)-1] + string(last+1), true
}

// scan lists the names in [start, end) ("" end: no end) until a page and
// one more item are found.
//
// GCS groups names by a delimiter of one character; the emulator gets
// longer ones wrong, and the documentation does not promise them. A longer
// delimiter is applied here: each name that falls into a common prefix
// adds the prefix, and the listing goes on after the prefix's names
// instead of reading them.
func (l *lister) scan(ctx context.Context, start, end string) error {
	server := len(l.opts.Delimiter) == 1
	q := &storage.Query{Prefix: l.opts.Prefix, EndOffset: end, Projection: storage.ProjectionNoACL}
	if server {
		q.Delimiter = l.opts.Delimiter
	}
	q.SetAttrSelection(listAttrs)
	for {
		q.StartOffset = start
		p := iterator.NewPager(l.b.client.Bucket(l.bucket).Objects(ctx, q), min(l.max+1, 1000), "")
		restart := ""
		for restart == "" {
			var page []*storage.ObjectAttrs
			next, err := p.NextPage(&page)
			if err != nil {
				return mapErr(err, backends.NoSuchBucket, "list "+l.bucket)
			}
			frontier, lastCP := "", ""
			for _, a := range page {
				if a.Prefix != "" {
					l.add(listItem{name: a.Prefix})
					continue
				}
				frontier, lastCP = max(frontier, a.Name), ""
				if !server {
					if cp := l.rollup(a.Name); cp != "" {
						l.add(listItem{name: cp})
						lastCP = cp
						continue
					}
				}
				l.add(listItem{name: a.Name, attrs: a})
			}
			if next == "" {
				return l.flush(ctx, "", true)
			}
			// Everything up to the last object of the page is known.
			if frontier != "" {
				if err := l.flush(ctx, frontier, false); err != nil || l.full() {
					return err
				}
			}
			if lastCP != "" {
				if s, ok := after(lastCP); ok && s > start && (end == "" || s < end) {
					restart = s
				}
			}
		}
		start = restart
	}
}

func (l *lister) add(it listItem) {
	n := it.name
	switch {
	case n <= l.opts.Marker, n <= l.last, !strings.HasPrefix(n, l.opts.Prefix):
		return
	case it.attrs != nil && n >= sysPrefix && n < sysEnd:
		return
	case it.attrs == nil && strings.HasPrefix(n, sysPrefix):
		return
	}
	if _, ok := l.pending[n]; !ok {
		l.pending[n] = it
	}
}

// flush emits the pending items up to frontier (all of them if all) in
// order, until the page is full.
func (l *lister) flush(ctx context.Context, frontier string, all bool) error {
	var ready []listItem
	for n, it := range l.pending {
		if all || n <= frontier {
			ready = append(ready, it)
			delete(l.pending, n)
		}
	}
	slices.SortFunc(ready, func(x, y listItem) int { return strings.Compare(x.name, y.name) })
	for _, it := range ready {
		if l.full() {
			return nil
		}
		if it.attrs == nil && strings.HasPrefix(sysPrefix, it.name) {
			// A prefix of the reserved folder's name ("." with the
			// delimiter "."): shown only if a key is below it.
			ok, err := l.b.keyUnder(ctx, l.bucket, it.name)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
		}
		l.out = append(l.out, it)
		l.last = it.name
	}
	return nil
}

// keyUnder reports whether some key (not a reserved name) starts with
// prefix.
func (b *Backend) keyUnder(ctx context.Context, bucket, prefix string) (bool, error) {
	for _, r := range [][2]string{{"", sysPrefix}, {sysEnd, ""}} {
		q := &storage.Query{Prefix: prefix, StartOffset: r[0], EndOffset: r[1], Projection: storage.ProjectionNoACL}
		q.SetAttrSelection([]string{"Name"})
		it := b.client.Bucket(bucket).Objects(ctx, q)
		it.PageInfo().MaxSize = 1
		for {
			a, err := it.Next()
			if err == iterator.Done {
				break
			}
			if err != nil {
				return false, mapErr(err, backends.NoSuchBucket, "list "+bucket)
			}
			if a.Name != "" && !(a.Name >= sysPrefix && a.Name < sysEnd) {
				return true, nil
			}
		}
	}
	return false, nil
}
