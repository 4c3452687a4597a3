// Package versioning is the S3 versioning layer: a backends.Backend that
// wraps any backend and keeps every version of every key of the buckets
// whose versioning is Enabled or Suspended, with delete markers and the
// null version, as S3 does.
//
// The current version of a key stays a plain object at its key (on a file
// system, a plain file). Noncurrent versions and delete markers are objects
// of the same bucket below the reserved prefix ".strata.versions/", named
// so that they sort in key order and newest first (see names.go and
// docs/formats.md, "Versions"). A write archives the current version (a
// move, which is a rename where the backend can) and then publishes the new
// one; deleting the current version moves the next one back.
//
// Crash rule: a key with no current object whose newest stored version is
// not a delete marker was cut short between the two steps; reads serve that
// version as the current one and move it back to the key as soon as no
// write holds the key.
package versioning

import (
	"context"
	"io"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/gateway"
)

// Sys entries of the layer.
const (
	sysID     = gateway.SysVersioning + "id"    // the version ID; absent: the null version
	sysMarker = gateway.SysVersioning + "dm"    // "1" on a delete marker
	sysMTime  = gateway.SysVersioning + "mtime" // RFC 3339 Last-Modified of a version copied by a streaming move
)

// emptyETag is the MD5 of nothing: the ETag of a delete marker.
const emptyETag = "d41d8cd98f00b204e9800998ecf8427e"

// stateTTL is how long the versioning state of a bucket is cached. A change
// through the layer is seen at once; one made to the backend behind
// Strata's back after this long.
const stateTTL = 5 * time.Second

// Layer is the versioning layer over a backend.
type Layer struct {
	gateway.Forward // the inner backend

	locks keyLocks

	mu     sync.Mutex
	states map[string]cachedState
}

type cachedState struct {
	status string
	at     time.Time
}

var (
	_ backends.Backend           = (*Layer)(nil)
	_ gateway.Versioner          = (*Layer)(nil)
	_ backends.IntegrityVerifier = (*Layer)(nil)
)

// New returns the versioning layer over inner.
func New(inner backends.Backend) *Layer {
	return &Layer{Forward: gateway.Forward{Backend: inner}, states: map[string]cachedState{}}
}

// Status returns the versioning state of bucket: Unversioned (""),
// Enabled or Suspended.
func (l *Layer) Status(ctx context.Context, bucket string) (string, error) {
	l.mu.Lock()
	c, ok := l.states[bucket]
	l.mu.Unlock()
	if ok && time.Since(c.at) < stateTTL {
		return c.status, nil
	}
	doc, err := l.Backend.GetBucketConfig(ctx, bucket, gateway.DocVersioning)
	switch {
	case err == nil:
	case backends.Is(err, backends.NotFound):
		doc = nil
	case backends.Is(err, backends.NoSuchBucket):
		// The request itself will say so.
		return Unversioned, nil
	default:
		return "", err
	}
	st := StatusOf(doc)
	l.mu.Lock()
	l.states[bucket] = cachedState{status: st, at: time.Now()}
	l.mu.Unlock()
	return st, nil
}

func (l *Layer) forget(bucket string) {
	l.mu.Lock()
	delete(l.states, bucket)
	l.mu.Unlock()
}

// ---- optional interfaces of the inner backend ----

// CreateBucketAt forgets what the layer knew of an earlier bucket of the
// name.
func (l *Layer) CreateBucketAt(ctx context.Context, bucket, location string) error {
	l.forget(bucket)
	return l.Forward.CreateBucketAt(ctx, bucket, location)
}

// ---- buckets ----

func (l *Layer) CreateBucket(ctx context.Context, bucket string) error {
	l.forget(bucket)
	return l.Backend.CreateBucket(ctx, bucket)
}

// DeleteBucket removes a bucket; one that holds versions or delete markers
// is not empty (the inner backend sees the version store).
func (l *Layer) DeleteBucket(ctx context.Context, bucket string) error {
	err := l.Backend.DeleteBucket(ctx, bucket)
	l.forget(bucket)
	return err
}

// PutBucketConfig stores a bucket document; a versioning document takes
// effect at once. Versioning, once on, can only be suspended.
func (l *Layer) PutBucketConfig(ctx context.Context, bucket, name string, data []byte) error {
	if name == gateway.DocVersioning {
		defer l.forget(bucket)
		if StatusOf(data) == Unversioned {
			st, err := l.Status(ctx, bucket)
			if err != nil {
				return err
			}
			if st != Unversioned {
				return backends.Errorf(backends.InvalidBucketState, "versioning cannot be turned off once enabled; it can be suspended")
			}
		}
	}
	return l.Backend.PutBucketConfig(ctx, bucket, name, data)
}

// ---- helpers ----

// reserved reports whether key is in the version store's namespace.
func reserved(key string) bool { return strings.HasPrefix(key, Prefix) }

func errReserved(key string) error {
	return backends.Errorf(backends.InvalidKey, "object keys starting with %s are reserved", Prefix)
}

func errNoSuchKey(key string) error {
	return backends.Errorf(backends.NoSuchKey, "the specified key does not exist: %s", key)
}

func errNoSuchVersion() error {
	return backends.Errorf(backends.NoSuchVersion, "The specified version does not exist.")
}

func errBadID() error {
	return backends.Errorf(backends.InvalidArgument, "Invalid version id specified")
}

func errMarker() error {
	return backends.Errorf(backends.MethodNotAllowed, "The specified method is not allowed against this resource.")
}

// setResult reports a version to the request.
func setResult(ctx context.Context, id string, marker bool) {
	if r := gateway.OptionsFrom(ctx).Result; r != nil {
		r.VersionID, r.DeleteMarker = id, marker
	}
}

// idOf is the version ID of a current object.
func idOf(sys map[string]string) string {
	if id := sys[sysID]; id != "" && id != NullID && ValidID(id) {
		return id
	}
	return NullID
}

// modTime is a version's Last-Modified: the one recorded when a streaming
// move copied it, else the backend's.
func modTime(info backends.ObjectInfo) time.Time {
	if v := info.Sys[sysMTime]; v != "" {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return t
		}
	}
	return info.ModTime
}

// partOf is the store name part under which the current object info is
// archived: its ID, or for the null version its time.
func partOf(info backends.ObjectInfo) string {
	if id := idOf(info.Sys); id != NullID {
		return id
	}
	return nullPart(modTime(info))
}

func isNullPart(part string) bool { return strings.HasSuffix(part, nullTail) }

// current completes the info of a current object.
func current(info *backends.ObjectInfo, st string) {
	info.ModTime = modTime(*info)
	info.VersionID = idOf(info.Sys)
	if st == Unversioned && info.Sys[sysID] == "" {
		info.VersionID = ""
	}
	info.IsLatest = true
	info.DeleteMarker = false
}

// stored completes the info of a store entry.
func (l *Layer) stored(info *backends.ObjectInfo, e entry, latest bool) {
	info.Key = e.key
	info.VersionID = e.id
	info.IsLatest = latest
	info.DeleteMarker = e.marker
	switch {
	case info.Sys[sysMTime] != "":
		info.ModTime = modTime(*info)
	case e.marker || l.isMover():
	default:
		// Copied by a streaming move, and listed without its Sys: the
		// time in its name is the one it was created at.
		if t, ok := partTime(e.part); ok && !info.ModTime.IsZero() {
			info.ModTime = t
		}
	}
	if e.marker {
		info.Size, info.ETag, info.Parts = 0, "", nil
	}
}

func (l *Layer) isMover() bool { _, ok := l.Backend.(backends.Mover); return ok }

// withID returns sys without the layer's entries, and with id unless it is
// the null version's.
func withID(sys map[string]string, id string) map[string]string {
	out := make(map[string]string, len(sys)+1)
	for k, v := range sys {
		if !strings.HasPrefix(k, gateway.SysVersioning) {
			out[k] = v
		}
	}
	if id != "" && id != NullID {
		out[sysID] = id
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// carry returns sys with the layer's entries taken from from.
func carry(sys, from map[string]string) map[string]string {
	out := withID(sys, "")
	for k, v := range from {
		if strings.HasPrefix(k, gateway.SysVersioning) {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

// idReader sets the version's Sys on meta when the data ends, after the
// readers it wraps have completed meta themselves.
type idReader struct {
	r    io.Reader
	meta *backends.Meta
	id   string
}

func (r *idReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err == io.EOF {
		r.meta.Sys = withID(r.meta.Sys, r.id)
	}
	return n, err
}

// headCurrent returns the current object of key, ok false when there is
// none.
func (l *Layer) headCurrent(ctx context.Context, bucket, key string) (backends.ObjectInfo, bool, error) {
	info, err := l.Backend.HeadObject(ctx, bucket, key)
	if backends.Is(err, backends.NoSuchKey) {
		return backends.ObjectInfo{}, false, nil
	}
	return info, err == nil, err
}

// newest returns the newest stored version of key.
func (l *Layer) newest(ctx context.Context, bucket, key string) (entry, bool, error) {
	var found entry
	ok := false
	err := l.scan(ctx, bucket, key, "", 4, func(e entry, _ backends.ObjectInfo) bool {
		found, ok = e, true
		return false
	})
	return found, ok, err
}

// scan calls fn for the stored versions of key after marker (a store
// name), newest first, until fn returns false.
func (l *Layer) scan(ctx context.Context, bucket, key, marker string, page int, fn func(entry, backends.ObjectInfo) bool) error {
	pfx := keyPrefix(key)
	for {
		res, err := l.Backend.ListObjects(ctx, bucket, backends.ListOptions{Prefix: pfx, Marker: marker, MaxKeys: page})
		if err != nil {
			return err
		}
		for _, o := range res.Objects {
			if e, ok := parseName(o.Key); ok && e.key == key {
				if !fn(e, o) {
					return nil
				}
			}
		}
		if !res.IsTruncated || res.NextMarker == "" {
			return nil
		}
		marker = res.NextMarker
		page = 1000
	}
}

// lookup finds the stored version id of key.
func (l *Layer) lookup(ctx context.Context, bucket, key, id string) (entry, bool, error) {
	var found entry
	ok := false
	var err error
	if id == NullID {
		// The newest null entry is the null version; older ones are
		// left over from a crash.
		err = l.scan(ctx, bucket, key, "", 1000, func(e entry, _ backends.ObjectInfo) bool {
			if e.null() {
				found, ok = e, true
				return false
			}
			return true
		})
		return found, ok, err
	}
	res, err := l.Backend.ListObjects(ctx, bucket, backends.ListOptions{Prefix: keyPrefix(key) + id, MaxKeys: 2})
	if err != nil {
		return entry{}, false, err
	}
	for _, o := range res.Objects {
		if e, ok := parseName(o.Key); ok && e.key == key && e.id == id {
			return e, true, nil
		}
	}
	return entry{}, false, nil
}

// version is where a version ID leads.
type version struct {
	current bool
	info    backends.ObjectInfo // the current object's, when current
	e       entry               // the store entry, when not current
}

// find locates version id of key.
func (l *Layer) find(ctx context.Context, bucket, key, id, st string) (version, error) {
	cur, has, err := l.headCurrent(ctx, bucket, key)
	if err != nil {
		return version{}, err
	}
	if has && idOf(cur.Sys) == id {
		return version{current: true, info: cur}, nil
	}
	if st == Unversioned {
		return version{}, errNoSuchVersion()
	}
	e, ok, err := l.lookup(ctx, bucket, key, id)
	if err != nil {
		return version{}, err
	}
	if !ok {
		return version{}, errNoSuchVersion()
	}
	return version{e: e}, nil
}

// move moves src to dst in bucket: natively where the backend can, else by
// a streaming copy that records the version's Last-Modified in its Sys.
func (l *Layer) move(ctx context.Context, bucket, src, dst string) error {
	if m, ok := l.Backend.(backends.Mover); ok {
		return m.MoveObject(ctx, bucket, src, dst)
	}
	body, info, err := l.Backend.GetObject(ctx, bucket, src, nil)
	if err != nil {
		return err
	}
	defer body.Close()
	meta := info.Meta
	meta.Sys = maps.Clone(meta.Sys)
	if meta.Sys == nil {
		meta.Sys = map[string]string{}
	}
	meta.Sys[sysMTime] = modTime(info).UTC().Format(time.RFC3339Nano)
	if _, err := l.Backend.PutObject(ctx, bucket, dst, body, backends.PutOptions{Meta: &meta}); err != nil {
		return err
	}
	return l.Backend.DeleteObject(ctx, bucket, src)
}

// promoteLocked moves the newest stored version of key back to the key
// when there is no current object and that version is not a delete
// marker. The key's lock is held.
func (l *Layer) promoteLocked(ctx context.Context, bucket, key string) (bool, error) {
	if _, has, err := l.headCurrent(ctx, bucket, key); err != nil || has {
		return false, err
	}
	e, ok, err := l.newest(ctx, bucket, key)
	if err != nil || !ok || e.marker {
		return false, err
	}
	return true, l.move(ctx, bucket, e.name, key)
}

// dropNulls removes the stored null versions of key but keep.
func (l *Layer) dropNulls(ctx context.Context, bucket, key, keep string) error {
	var names []string
	err := l.scan(ctx, bucket, key, "", 1000, func(e entry, _ backends.ObjectInfo) bool {
		if e.null() && e.name != keep {
			names = append(names, e.name)
		}
		return true
	})
	for _, n := range names {
		if e := l.Backend.DeleteObject(ctx, bucket, n); e != nil && err == nil {
			err = e
		}
	}
	return err
}

// ---- reads ----

// GetObject reads the current version of key, or the version that the
// request's gateway.Options.VersionID names. A key whose newest version is
// a delete marker is NoSuchKey, with the marker reported in
// Options.Result; a delete marker asked for by its ID is MethodNotAllowed.
func (l *Layer) GetObject(ctx context.Context, bucket, key string, rng *backends.Range) (io.ReadCloser, backends.ObjectInfo, error) {
	return l.read(ctx, bucket, key, rng, false, func(name string) (io.ReadCloser, backends.ObjectInfo, error) {
		return l.Backend.GetObject(ctx, bucket, name, rng)
	})
}

// HeadObject is GetObject without the data.
func (l *Layer) HeadObject(ctx context.Context, bucket, key string) (backends.ObjectInfo, error) {
	_, info, err := l.read(ctx, bucket, key, nil, true, func(name string) (io.ReadCloser, backends.ObjectInfo, error) {
		info, err := l.Backend.HeadObject(ctx, bucket, name)
		return nil, info, err
	})
	return info, err
}

func closeBody(rc io.ReadCloser) {
	if rc != nil {
		rc.Close()
	}
}

func (l *Layer) read(ctx context.Context, bucket, key string, rng *backends.Range, head bool, open func(name string) (io.ReadCloser, backends.ObjectInfo, error)) (io.ReadCloser, backends.ObjectInfo, error) {
	if reserved(key) {
		return nil, backends.ObjectInfo{}, errNoSuchKey(key)
	}
	id := gateway.OptionsFrom(ctx).VersionID
	if id != "" && !ValidID(id) {
		return nil, backends.ObjectInfo{}, errBadID()
	}
	if vs, ok := l.native(bucket); ok {
		return l.nativeRead(ctx, vs, bucket, key, id, rng, head)
	}
	st, err := l.Status(ctx, bucket)
	if err != nil {
		return nil, backends.ObjectInfo{}, err
	}
	for attempt := 0; ; attempt++ {
		again := attempt < 3
		if id == "" {
			rc, info, err := open(key)
			if err == nil {
				current(&info, st)
				return rc, info, nil
			}
			if !backends.Is(err, backends.NoSuchKey) || st == Unversioned {
				return nil, info, err
			}
			// No current object: the newest stored version decides.
			e, ok, lerr := l.newest(ctx, bucket, key)
			if lerr != nil {
				return nil, info, lerr
			}
			if !ok {
				return nil, info, err
			}
			if e.marker {
				setResult(ctx, e.id, true)
				return nil, backends.ObjectInfo{}, err
			}
			// A write or a delete holds the key, or one was cut short.
			if unlock, ok := l.locks.tryLock(bucket, key); ok && again {
				_, perr := l.promoteLocked(ctx, bucket, key)
				unlock()
				if perr != nil {
					return nil, backends.ObjectInfo{}, perr
				}
				continue
			} else if ok {
				unlock()
			}
			rc, info, err = open(e.name)
			if backends.Is(err, backends.NoSuchKey) && again {
				continue
			}
			if err != nil {
				return nil, info, err
			}
			l.stored(&info, e, true)
			return rc, info, nil
		}

		v, err := l.find(ctx, bucket, key, id, st)
		if err != nil {
			return nil, backends.ObjectInfo{}, err
		}
		if v.current {
			rc, info, err := open(key)
			if err == nil && idOf(info.Sys) == id {
				current(&info, st)
				return rc, info, nil
			}
			closeBody(rc)
			if (err == nil || backends.Is(err, backends.NoSuchKey)) && again {
				continue // archived meanwhile
			}
			if err == nil {
				err = errNoSuchVersion()
			}
			return nil, backends.ObjectInfo{}, err
		}
		if v.e.marker {
			setResult(ctx, v.e.id, true)
			return nil, backends.ObjectInfo{}, errMarker()
		}
		rc, info, err := open(v.e.name)
		if backends.Is(err, backends.NoSuchKey) && again {
			continue // moved back to the key meanwhile
		}
		if err != nil {
			return nil, info, err
		}
		l.stored(&info, v.e, false)
		return rc, info, nil
	}
}

// ---- writes ----

// PutObject stores a new version of key: in an Enabled bucket with a new
// version ID, the current version archived; in a Suspended bucket as the
// null version, replacing the previous null version. The new version's ID
// is in the returned info and Options.Result.
func (l *Layer) PutObject(ctx context.Context, bucket, key string, data io.Reader, opts backends.PutOptions) (backends.ObjectInfo, error) {
	if reserved(key) {
		return backends.ObjectInfo{}, errReserved(key)
	}
	st, err := l.Status(ctx, bucket)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	if vs, ok := l.native(bucket); ok {
		return l.nativePut(ctx, vs, bucket, key, data, opts, st)
	}
	if opts.Meta == nil {
		opts.Meta = &backends.Meta{}
	}
	m := opts.Meta
	if st == Unversioned {
		info, err := l.Backend.PutObject(ctx, bucket, key, &idReader{r: data, meta: m}, opts)
		if err == nil {
			current(&info, st)
		}
		return info, err
	}
	if err := checkKeyLen(key); err != nil {
		return backends.ObjectInfo{}, err
	}
	return l.publish(ctx, bucket, key, st, opts, func(id string, o backends.PutOptions) (backends.ObjectInfo, error) {
		return l.Backend.PutObject(ctx, bucket, key, &idReader{r: data, meta: m, id: id}, o)
	})
}

// CompleteMultipartUpload publishes an upload as a new version, like
// PutObject.
func (l *Layer) CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []int, opts backends.PutOptions) (backends.ObjectInfo, error) {
	if reserved(key) {
		return backends.ObjectInfo{}, errReserved(key)
	}
	st, err := l.Status(ctx, bucket)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	meta := opts.MetaValue()
	vs, native := l.native(bucket)
	if native || st == Unversioned {
		// The version ID is the store's to give, or there is none.
		meta.Sys = withID(meta.Sys, "")
		opts.Meta = &meta
	}
	if native {
		return l.nativeComplete(ctx, vs, bucket, key, uploadID, parts, opts, st)
	}
	if st == Unversioned {
		info, err := l.Backend.CompleteMultipartUpload(ctx, bucket, key, uploadID, parts, opts)
		if err == nil {
			current(&info, st)
		}
		return info, err
	}
	if err := checkKeyLen(key); err != nil {
		return backends.ObjectInfo{}, err
	}
	// The conditions are checked by publish, under the key's lock, before
	// the current version is archived and the upload is touched.
	return l.publish(ctx, bucket, key, st, opts, func(id string, o backends.PutOptions) (backends.ObjectInfo, error) {
		m := meta
		m.Sys = withID(meta.Sys, id)
		o.Meta = &m
		return l.Backend.CompleteMultipartUpload(ctx, bucket, key, uploadID, parts, o)
	})
}

// publish archives the current version of key as the state st asks and
// writes the new one with write, under the key's lock. If the write fails,
// the archived version is moved back.
func (l *Layer) publish(ctx context.Context, bucket, key, st string, opts backends.PutOptions, write func(id string, o backends.PutOptions) (backends.ObjectInfo, error)) (backends.ObjectInfo, error) {
	unlock := l.locks.lock(bucket, key)
	defer unlock()
	cur, has, err := l.headCurrent(ctx, bucket, key)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	if opts.IfNoneMatch || opts.IfMatch != "" {
		if !has {
			// A version left without its key by a crash counts.
			if ok, err := l.promoteLocked(ctx, bucket, key); err != nil {
				return backends.ObjectInfo{}, err
			} else if ok {
				if cur, has, err = l.headCurrent(ctx, bucket, key); err != nil {
					return backends.ObjectInfo{}, err
				}
			}
		}
		switch {
		case opts.IfNoneMatch && has:
			return backends.ObjectInfo{}, backends.Errorf(backends.PreconditionFailed, "the key %q already exists", key)
		case opts.IfMatch != "" && !has:
			return backends.ObjectInfo{}, errNoSuchKey(key)
		case opts.IfMatch != "" && opts.IfMatch != "*" && strings.Trim(opts.IfMatch, `"`) != cur.ETag:
			return backends.ObjectInfo{}, backends.Errorf(backends.PreconditionFailed, "the ETag of %q does not match", key)
		}
		opts.IfMatch, opts.IfNoneMatch = "", false
	}
	archived, after := "", ""
	if has {
		part := partOf(cur)
		after = part
		// In a Suspended bucket the null version is replaced in place.
		if st == Enabled || !isNullPart(part) {
			archived = storeName(key, part, false)
			if err := l.move(ctx, bucket, key, archived); err != nil {
				return backends.ObjectInfo{}, err
			}
		}
	}
	id := NullID
	if st == Enabled {
		id, _ = newID(after)
	}
	info, err := write(id, opts)
	if err != nil {
		if archived != "" {
			// If this fails too, reads still find the archived
			// version (the crash rule) and move it back.
			l.move(context.WithoutCancel(ctx), bucket, archived, key)
		}
		return info, err
	}
	if st == Suspended {
		// Null versions left in the store are older than this one.
		l.dropNulls(context.WithoutCancel(ctx), bucket, key, "")
	}
	current(&info, st)
	info.VersionID = id
	setResult(ctx, id, false)
	return info, nil
}

// UpdateMeta replaces the metadata of the current version, or of the one
// Options.VersionID names, keeping the layer's own Sys entries.
func (l *Layer) UpdateMeta(ctx context.Context, bucket, key string, meta backends.Meta) (backends.ObjectInfo, error) {
	if reserved(key) {
		return backends.ObjectInfo{}, errNoSuchKey(key)
	}
	id := gateway.OptionsFrom(ctx).VersionID
	if id != "" && !ValidID(id) {
		return backends.ObjectInfo{}, errBadID()
	}
	if vs, ok := l.native(bucket); ok {
		return l.nativeUpdateMeta(ctx, vs, bucket, key, id, meta)
	}
	st, err := l.Status(ctx, bucket)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	unlock := l.locks.lock(bucket, key)
	defer unlock()
	if id == "" {
		cur, has, err := l.headCurrent(ctx, bucket, key)
		if err != nil {
			return backends.ObjectInfo{}, err
		}
		if !has && st != Unversioned {
			if ok, err := l.promoteLocked(ctx, bucket, key); err != nil {
				return backends.ObjectInfo{}, err
			} else if ok {
				cur, has, err = l.headCurrent(ctx, bucket, key)
				if err != nil {
					return backends.ObjectInfo{}, err
				}
			}
		}
		if !has {
			if st != Unversioned {
				if e, ok, err := l.newest(ctx, bucket, key); err == nil && ok && e.marker {
					setResult(ctx, e.id, true)
				}
			}
			return backends.ObjectInfo{}, errNoSuchKey(key)
		}
		meta.Sys = carry(meta.Sys, cur.Sys)
		out, err := l.Backend.UpdateMeta(ctx, bucket, key, meta)
		if err != nil {
			return out, err
		}
		current(&out, st)
		return out, nil
	}
	v, err := l.find(ctx, bucket, key, id, st)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	if v.current {
		meta.Sys = carry(meta.Sys, v.info.Sys)
		out, err := l.Backend.UpdateMeta(ctx, bucket, key, meta)
		if err != nil {
			return out, err
		}
		current(&out, st)
		return out, nil
	}
	if v.e.marker {
		setResult(ctx, v.e.id, true)
		return backends.ObjectInfo{}, errMarker()
	}
	old, err := l.Backend.HeadObject(ctx, bucket, v.e.name)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	meta.Sys = carry(meta.Sys, old.Sys)
	out, err := l.Backend.UpdateMeta(ctx, bucket, v.e.name, meta)
	if err != nil {
		return out, err
	}
	l.stored(&out, v.e, false)
	return out, nil
}

// DeleteObject deletes as S3 does. Without a version ID: in an Enabled
// bucket the current version is archived and a delete marker becomes the
// newest version; in a Suspended bucket the null version is removed and a
// null delete marker takes its place; in an unversioned bucket the object
// goes. With Options.VersionID, that version goes for good; when it was the
// current one, the next newest version becomes current unless it is a
// delete marker. A version ID that names nothing is not an error, as in
// S3. What was made or removed is reported in Options.Result.
func (l *Layer) DeleteObject(ctx context.Context, bucket, key string) error {
	if reserved(key) {
		return nil
	}
	id := gateway.OptionsFrom(ctx).VersionID
	if id != "" && !ValidID(id) {
		return errBadID()
	}
	if vs, ok := l.native(bucket); ok {
		return l.nativeDelete(ctx, vs, bucket, key, id)
	}
	st, err := l.Status(ctx, bucket)
	if err != nil {
		return err
	}
	if id != "" {
		return l.deleteVersion(ctx, bucket, key, id, st)
	}
	if st == Unversioned {
		return l.Backend.DeleteObject(ctx, bucket, key)
	}
	if err := checkKeyLen(key); err != nil {
		return err
	}
	unlock := l.locks.lock(bucket, key)
	defer unlock()
	cur, has, err := l.headCurrent(ctx, bucket, key)
	if err != nil {
		return err
	}
	archived, after := "", ""
	if has {
		// Also in a Suspended bucket the null version moves aside
		// first, so that a crash before the marker leaves it readable.
		part := partOf(cur)
		after = part
		archived = storeName(key, part, false)
		if err := l.move(ctx, bucket, key, archived); err != nil {
			return err
		}
	}
	vid, t := newID(after)
	part, clientID := vid, vid
	sys := map[string]string{sysMarker: "1", sysID: vid}
	if st == Suspended {
		part, clientID = nullPart(t), NullID
		delete(sys, sysID)
	}
	name := storeName(key, part, true)
	m := &backends.Meta{ETag: emptyETag, ContentType: "application/x-delete-marker", Sys: sys}
	if _, err := l.Backend.PutObject(ctx, bucket, name, strings.NewReader(""), backends.PutOptions{Meta: m}); err != nil {
		if archived != "" {
			l.move(context.WithoutCancel(ctx), bucket, archived, key)
		}
		return err
	}
	if st == Suspended {
		l.dropNulls(context.WithoutCancel(ctx), bucket, key, name)
	}
	setResult(ctx, clientID, true)
	return nil
}

func (l *Layer) deleteVersion(ctx context.Context, bucket, key, id, st string) error {
	unlock := l.locks.lock(bucket, key)
	defer unlock()
	cur, has, err := l.headCurrent(ctx, bucket, key)
	if err != nil {
		return err
	}
	if has && idOf(cur.Sys) == id {
		if err := l.Backend.DeleteObject(ctx, bucket, key); err != nil {
			return err
		}
		if st != Unversioned {
			// A copy of the same version left in the store by a
			// crash goes too, or it would come back.
			if id == NullID {
				err = l.dropNulls(ctx, bucket, key, "")
			} else {
				err = l.Backend.DeleteObject(ctx, bucket, storeName(key, id, false))
			}
			if err != nil {
				return err
			}
			if _, err := l.promoteLocked(ctx, bucket, key); err != nil {
				return err
			}
		}
		setResult(ctx, id, false)
		return nil
	}
	if st == Unversioned {
		if _, err := l.Backend.HeadBucket(ctx, bucket); err != nil {
			return err
		}
		setResult(ctx, id, false)
		return nil
	}
	e, ok, err := l.lookup(ctx, bucket, key, id)
	if err != nil {
		return err
	}
	if !ok {
		if _, err := l.Backend.HeadBucket(ctx, bucket); err != nil {
			return err
		}
		setResult(ctx, id, false)
		return nil
	}
	if err := l.Backend.DeleteObject(ctx, bucket, e.name); err != nil {
		return err
	}
	if e.null() {
		// Older null entries are left over from crashes.
		if err := l.dropNulls(ctx, bucket, key, ""); err != nil {
			return err
		}
	}
	if !has {
		// Removing the newest delete marker makes the version below it
		// current.
		if _, err := l.promoteLocked(ctx, bucket, key); err != nil {
			return err
		}
	}
	setResult(ctx, id, e.marker)
	return nil
}

// ---- multipart ----

func (l *Layer) CreateMultipartUpload(ctx context.Context, bucket, key string, meta backends.Meta) (string, error) {
	if reserved(key) {
		return "", errReserved(key)
	}
	st, err := l.Status(ctx, bucket)
	if err != nil {
		return "", err
	}
	if _, native := l.native(bucket); st != Unversioned && !native {
		if err := checkKeyLen(key); err != nil {
			return "", err
		}
	}
	meta.Sys = withID(meta.Sys, "")
	return l.Backend.CreateMultipartUpload(ctx, bucket, key, meta)
}

// ListMultipartUploads hides uploads in the reserved prefix (there are
// none unless made behind Strata's back).
func (l *Layer) ListMultipartUploads(ctx context.Context, bucket, prefix string) ([]backends.Upload, error) {
	ups, err := l.Backend.ListMultipartUploads(ctx, bucket, prefix)
	if err != nil {
		return nil, err
	}
	out := ups[:0]
	for _, u := range ups {
		if !reserved(u.Key) {
			out = append(out, u)
		}
	}
	return out, nil
}
