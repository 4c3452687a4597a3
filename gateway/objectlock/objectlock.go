// Package objectlock is the S3 Object Lock and WORM layer: a
// backends.Backend over the versioning layer that keeps the retention
// (GOVERNANCE or COMPLIANCE until a date) and legal hold of each version,
// and refuses what they forbid:
//
//   - a locked version cannot be deleted (by its version ID) or have its
//     retention shortened or removed: COMPLIANCE never before its date,
//     not even by the root user; GOVERNANCE only with
//     gateway.Options.BypassGovernance; a legal hold blocks deletion until
//     removed. A delete without a version ID only adds a delete marker,
//     which is allowed.
//   - in WORM mode (server-wide, or per bucket with the bucket document
//     gateway.DocWORM = "on", which cannot be turned off) every change to
//     the data or metadata of an existing object is refused; new keys can
//     still be written.
//
// Retention and legal hold live in each version's Meta.Sys ("lock-"
// entries). Requests ask for them with the same entries (see
// WithRetention, WithLegalHold): on a write, with the bucket's default
// retention applied when none is asked for; on UpdateMeta, where absent
// entries keep what the version has.
package objectlock

import (
	"context"
	"hash/maphash"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/gateway"
	"github.com/strata-storage/strata/gateway/versioning"
)

// Options configure the layer.
type Options struct {
	// WORM makes every bucket write-once.
	WORM bool
	// Now returns the current time (tests); nil is time.Now.
	Now func() time.Time
}

// docTTL is how long the bucket documents the layer reads are cached;
// changes through the layer are seen at once.
const docTTL = 5 * time.Second

// Layer is the object-lock layer.
type Layer struct {
	gateway.Forward // the backend below
	opts            Options

	seed    maphash.Seed
	stripes [64]sync.Mutex

	mu   sync.Mutex
	docs map[string]bucketDocs
}

// bucketDocs are what the layer needs of a bucket.
type bucketDocs struct {
	lock       Config
	worm       bool
	versioning string
	at         time.Time
}

var (
	_ backends.Backend           = (*Layer)(nil)
	_ gateway.Versioner          = (*Layer)(nil)
	_ backends.IntegrityVerifier = (*Layer)(nil)
)

// New returns the layer over inner (the versioning layer, whose
// gateway.Versioner it forwards).
func New(inner backends.Backend, opts Options) *Layer {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Layer{Forward: gateway.Forward{Backend: inner}, opts: opts, seed: maphash.MakeSeed(), docs: map[string]bucketDocs{}}
}

// EnableWORM makes bucket write-once for good (through b, the stack that
// holds this layer).
func EnableWORM(ctx context.Context, b backends.Backend, bucket string) error {
	return b.PutBucketConfig(ctx, bucket, gateway.DocWORM, []byte("on"))
}

// WORM reports whether bucket is write-once (server-wide or its own).
func (l *Layer) WORM(ctx context.Context, bucket string) (bool, error) {
	d, err := l.bucket(ctx, bucket)
	return l.opts.WORM || d.worm, err
}

func (l *Layer) now() time.Time { return l.opts.Now() }

// lockKey serializes the checks and changes of one key within the layer.
func (l *Layer) lockKey(bucket, key string) func() {
	m := &l.stripes[maphash.String(l.seed, bucket+"\x00"+key)%uint64(len(l.stripes))]
	m.Lock()
	return m.Unlock
}

func (l *Layer) bucket(ctx context.Context, bucket string) (bucketDocs, error) {
	l.mu.Lock()
	d, ok := l.docs[bucket]
	l.mu.Unlock()
	if ok && time.Since(d.at) < docTTL {
		return d, nil
	}
	d = bucketDocs{at: time.Now()}
	read := func(name string) ([]byte, error) {
		data, err := l.Backend.GetBucketConfig(ctx, bucket, name)
		if backends.Is(err, backends.NotFound) {
			return nil, nil
		}
		return data, err
	}
	data, err := read(gateway.DocObjectLock)
	if backends.Is(err, backends.NoSuchBucket) {
		return bucketDocs{}, nil // the request itself says so
	}
	if err != nil {
		return bucketDocs{}, err
	}
	if data != nil {
		if d.lock, err = ParseConfig(data); err != nil {
			return bucketDocs{}, err
		}
	}
	if data, err = read(gateway.DocWORM); err != nil {
		return bucketDocs{}, err
	}
	d.worm = strings.TrimSpace(string(data)) == "on"
	if data, err = read(gateway.DocVersioning); err != nil {
		return bucketDocs{}, err
	}
	d.versioning = versioning.StatusOf(data)
	l.mu.Lock()
	l.docs[bucket] = d
	l.mu.Unlock()
	return d, nil
}

func (l *Layer) forget(bucket string) {
	l.mu.Lock()
	delete(l.docs, bucket)
	l.mu.Unlock()
}

func errLocked() error {
	return backends.Errorf(backends.AccessDenied, "Access Denied because object protected by object lock.")
}

func errWORM() error {
	return backends.Errorf(backends.AccessDenied, "Access Denied: the bucket is write-once (WORM); existing objects cannot be changed or deleted.")
}

func errNoLockConfig() error {
	return backends.Errorf(backends.InvalidRequest, "Bucket is missing ObjectLockConfiguration")
}

// ---- forwarded interfaces ----

// ListObjectVersions forwards the versioning layer's.
func (l *Layer) ListObjectVersions(ctx context.Context, bucket string, opts gateway.VersionListOptions) (gateway.VersionList, error) {
	v, ok := l.Backend.(gateway.Versioner)
	if !ok {
		return gateway.VersionList{}, backends.Errorf(backends.NotImplemented, "versions are not kept")
	}
	return v.ListObjectVersions(ctx, bucket, opts)
}

func (l *Layer) CreateBucketAt(ctx context.Context, bucket, location string) error {
	l.forget(bucket)
	return l.Forward.CreateBucketAt(ctx, bucket, location)
}

// ---- buckets ----

func (l *Layer) CreateBucket(ctx context.Context, bucket string) error {
	l.forget(bucket)
	return l.Backend.CreateBucket(ctx, bucket)
}

func (l *Layer) DeleteBucket(ctx context.Context, bucket string) error {
	err := l.Backend.DeleteBucket(ctx, bucket)
	l.forget(bucket)
	return err
}

// PutBucketConfig guards the documents of the layer: WORM is set once and
// never unset; Object Lock needs versioning Enabled and cannot be removed;
// versioning of a bucket with Object Lock cannot be suspended.
func (l *Layer) PutBucketConfig(ctx context.Context, bucket, name string, data []byte) error {
	switch name {
	case gateway.DocWORM:
		if strings.TrimSpace(string(data)) != "on" {
			return backends.Errorf(backends.AccessDenied, "WORM mode cannot be turned off")
		}
	case gateway.DocVersioning, gateway.DocObjectLock:
		d, err := l.bucket(ctx, bucket)
		if err != nil {
			return err
		}
		if name == gateway.DocVersioning {
			if d.lock.Enabled && versioning.StatusOf(data) != versioning.Enabled {
				return backends.Errorf(backends.InvalidBucketState, "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.")
			}
			break
		}
		if data == nil {
			if d.lock.Enabled {
				return backends.Errorf(backends.InvalidBucketState, "Object Lock cannot be turned off once enabled")
			}
			break
		}
		if _, err := ParseConfig(data); err != nil {
			return err
		}
		if !d.lock.Enabled && d.versioning != versioning.Enabled {
			return backends.Errorf(backends.InvalidBucketState, "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration")
		}
	}
	defer l.forget(bucket)
	return l.Backend.PutBucketConfig(ctx, bucket, name, data)
}

// ---- writes ----

// lockSys decides the lock entries of a new version from what the write
// asks for (sys) and the bucket's configuration.
func (l *Layer) lockSys(d bucketDocs, sys map[string]string, now time.Time) (map[string]string, error) {
	askedR := sys[sysMode] != "" || sys[sysUntil] != ""
	if (askedR || sys[sysHold] != "") && !d.lock.Enabled {
		return nil, errNoLockConfig()
	}
	r := RetentionOf(sys)
	hold := LegalHoldOf(sys)
	if askedR && r.IsZero() {
		return nil, backends.Errorf(backends.InvalidArgument, "the retention mode or date is not valid")
	}
	if !askedR {
		r = d.lock.Default(now)
	}
	if !r.IsZero() && !r.Until.After(now) {
		return nil, backends.Errorf(backends.InvalidArgument, "The retain until date must be in the future!")
	}
	out := Strip(sys)
	if !r.IsZero() {
		out = WithRetention(out, r)
	}
	if hold != "" {
		out = WithLegalHold(out, hold)
	}
	return out, nil
}

// lockReader sets the lock entries on meta when the data ends, after the
// readers it wraps have completed meta.
type lockReader struct {
	r    io.Reader
	meta *backends.Meta
	lock map[string]string
}

func (r *lockReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err == io.EOF {
		sys := Strip(r.meta.Sys)
		if sys == nil && len(r.lock) > 0 {
			sys = map[string]string{}
		}
		for k, v := range r.lock {
			if strings.HasPrefix(k, gateway.SysLock) {
				sys[k] = v
			}
		}
		r.meta.Sys = sys
	}
	return n, err
}

// PutObject writes a new version with the retention and legal hold asked
// for in opts.Meta.Sys, or the bucket's default retention. In WORM mode only
// new keys can be written.
func (l *Layer) PutObject(ctx context.Context, bucket, key string, data io.Reader, opts backends.PutOptions) (backends.ObjectInfo, error) {
	d, err := l.bucket(ctx, bucket)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	if opts.Meta == nil {
		opts.Meta = &backends.Meta{}
	}
	lock, err := l.lockSys(d, opts.Meta.Sys, l.now())
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	return wormWrite(l.opts.WORM || d.worm, opts, func(opts backends.PutOptions) (backends.ObjectInfo, error) {
		return l.Backend.PutObject(ctx, bucket, key, &lockReader{r: data, meta: opts.Meta, lock: lock}, opts)
	})
}

// wormWrite runs write (a put or a completion) under WORM's rule when worm
// is set: only where no object is, which the backend checks atomically
// (for a completion, before the upload is consumed).
func wormWrite(worm bool, opts backends.PutOptions, write func(backends.PutOptions) (backends.ObjectInfo, error)) (backends.ObjectInfo, error) {
	if !worm {
		return write(opts)
	}
	if opts.IfMatch != "" {
		return backends.ObjectInfo{}, errWORM()
	}
	clientINM := opts.IfNoneMatch
	opts.IfNoneMatch = true
	info, err := write(opts)
	if !clientINM && backends.Is(err, backends.PreconditionFailed) {
		err = errWORM()
	}
	return info, err
}

// CreateMultipartUpload records the lock asked for with the upload; it is
// applied (or the default retention) when the upload completes.
func (l *Layer) CreateMultipartUpload(ctx context.Context, bucket, key string, meta backends.Meta) (string, error) {
	d, err := l.bucket(ctx, bucket)
	if err != nil {
		return "", err
	}
	for k, v := range meta.Sys {
		if strings.HasPrefix(k, gateway.SysLock) && v != "" && !d.lock.Enabled {
			return "", errNoLockConfig()
		}
	}
	if l.opts.WORM || d.worm {
		if err := l.refuseExisting(ctx, bucket, key); err != nil {
			return "", err
		}
	}
	return l.Backend.CreateMultipartUpload(ctx, bucket, key, meta)
}

// CompleteMultipartUpload publishes a new version like PutObject.
func (l *Layer) CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []int, opts backends.PutOptions) (backends.ObjectInfo, error) {
	d, err := l.bucket(ctx, bucket)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	meta := opts.MetaValue()
	lock, err := l.lockSys(d, meta.Sys, l.now())
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	meta.Sys = lock
	opts.Meta = &meta
	return wormWrite(l.opts.WORM || d.worm, opts, func(opts backends.PutOptions) (backends.ObjectInfo, error) {
		return l.Backend.CompleteMultipartUpload(ctx, bucket, key, uploadID, parts, opts)
	})
}

// refuseExisting is the WORM check: AccessDenied when key has a current
// object.
func (l *Layer) refuseExisting(ctx context.Context, bucket, key string) error {
	_, err := l.Backend.HeadObject(headContext(ctx, ""), bucket, key)
	switch {
	case err == nil:
		return errWORM()
	case backends.Is(err, backends.NoSuchKey):
		return nil
	}
	return err
}

// headContext is ctx asking for version id, without reporting to the
// request.
func headContext(ctx context.Context, id string) context.Context {
	o := *gateway.OptionsFrom(ctx)
	o.VersionID, o.Result = id, nil
	return gateway.WithOptions(ctx, &o)
}

// UpdateMeta changes the metadata of a version (the current one, or the
// one Options.VersionID names). Lock entries absent from meta.Sys keep the
// version's; present ones are a change of its retention or legal hold,
// checked against the rules. In WORM mode it is refused.
func (l *Layer) UpdateMeta(ctx context.Context, bucket, key string, meta backends.Meta) (backends.ObjectInfo, error) {
	d, err := l.bucket(ctx, bucket)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	unlock := l.lockKey(bucket, key)
	defer unlock()
	opts := gateway.OptionsFrom(ctx)
	cur, err := l.Backend.HeadObject(headContext(ctx, opts.VersionID), bucket, key)
	if err != nil {
		if backends.Is(err, backends.NoSuchKey) || backends.Is(err, backends.MethodNotAllowed) {
			// Let the layer below answer, with its report.
			return l.Backend.UpdateMeta(ctx, bucket, key, meta)
		}
		return backends.ObjectInfo{}, err
	}
	if l.opts.WORM || d.worm {
		return backends.ObjectInfo{}, errWORM()
	}
	now := l.now()
	oldR, oldHold := RetentionOf(cur.Sys), LegalHoldOf(cur.Sys)
	newR, newHold := oldR, oldHold
	_, setR := meta.Sys[sysMode]
	_, setH := meta.Sys[sysHold]
	if setR {
		newR = RetentionOf(meta.Sys)
		if meta.Sys[sysMode] != "" && newR.IsZero() {
			return backends.ObjectInfo{}, backends.Errorf(backends.InvalidArgument, "the retention mode or date is not valid")
		}
	}
	if setH {
		newHold = LegalHoldOf(meta.Sys)
		if newHold == "" {
			return backends.ObjectInfo{}, backends.Errorf(backends.InvalidArgument, "Legal Hold must be either of 'ON' or 'OFF'")
		}
	}
	changedR := newR.Mode != oldR.Mode || !newR.Until.Equal(oldR.Until)
	if (changedR || newHold != oldHold) && !d.lock.Enabled {
		return backends.ObjectInfo{}, errNoLockConfig()
	}
	if changedR {
		if !newR.IsZero() && !newR.Until.After(now) {
			return backends.ObjectInfo{}, backends.Errorf(backends.InvalidArgument, "The retain until date must be in the future!")
		}
		if err := checkChange(oldR, newR, opts.BypassGovernance, now); err != nil {
			return backends.ObjectInfo{}, err
		}
	}
	sys := Strip(meta.Sys)
	if !newR.IsZero() {
		sys = WithRetention(sys, newR)
	}
	if newHold != "" {
		sys = WithLegalHold(sys, newHold)
	}
	meta.Sys = sys
	return l.Backend.UpdateMeta(ctx, bucket, key, meta)
}

// checkChange applies the rules of a retention change: COMPLIANCE can only
// be extended; GOVERNANCE can be extended, and shortened, removed or made
// COMPLIANCE only with a bypass (S3: a governance lock's settings change
// only with x-amz-bypass-governance-retention). An expired retention can
// be changed freely.
func checkChange(old, nw Retention, bypass bool, now time.Time) error {
	if !old.Active(now) {
		return nil
	}
	extends := !nw.IsZero() && !nw.Until.Before(old.Until)
	switch old.Mode {
	case Compliance:
		if nw.Mode == Compliance && extends {
			return nil
		}
	case Governance:
		if bypass || extends && nw.Mode == Governance {
			return nil
		}
	}
	return errLocked()
}

// checkDelete reports whether a version with sys may be deleted.
func checkDelete(sys map[string]string, bypass bool, now time.Time) error {
	if LegalHoldOf(sys) == HoldOn {
		return errLocked()
	}
	r := RetentionOf(sys)
	if !r.Active(now) || r.Mode == Governance && bypass {
		return nil
	}
	return errLocked()
}

// DeleteObject refuses to remove a version that its legal hold or retention
// protects; a delete that only adds a delete marker is allowed (except in
// WORM mode, where nothing existing is deleted).
func (l *Layer) DeleteObject(ctx context.Context, bucket, key string) error {
	d, err := l.bucket(ctx, bucket)
	if err != nil {
		return err
	}
	opts := gateway.OptionsFrom(ctx)
	worm := l.opts.WORM || d.worm
	// Without a version ID in an Enabled bucket, no data goes; and only
	// buckets with Object Lock hold locked versions.
	removes := opts.VersionID != "" || d.versioning != versioning.Enabled
	if !worm && (!removes || !d.lock.Enabled) {
		return l.Backend.DeleteObject(ctx, bucket, key)
	}
	unlock := l.lockKey(bucket, key)
	defer unlock()
	info, err := l.Backend.HeadObject(headContext(ctx, opts.VersionID), bucket, key)
	switch {
	case err == nil:
		if worm {
			return errWORM()
		}
		if err := checkDelete(info.Sys, opts.BypassGovernance, l.now()); err != nil {
			return err
		}
	case backends.Is(err, backends.NoSuchKey), backends.Is(err, backends.NoSuchVersion),
		backends.Is(err, backends.MethodNotAllowed):
		// Nothing, or a delete marker: nothing protected.
	default:
		return err
	}
	return l.Backend.DeleteObject(ctx, bucket, key)
}
