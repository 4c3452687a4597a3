package gateway

import (
	"context"
	"errors"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/strata-storage/strata/backends"
)

// Mount maps one S3 bucket onto a backend: the remote bucket (or
// container) and an optional key prefix inside it.
type Mount struct {
	Backend string // the backend's name in the configuration
	Remote  string // bucket or container name at the backend
	Prefix  string // key prefix inside Remote, "" or ending in "/"
}

// Namespace is a Backend that spreads buckets over several backends:
// buckets named in the configuration go to their backend (with their remote
// name and prefix), every other bucket to the default backend under its own
// name. It is how one endpoint serves a NAS and several clouds.
type Namespace struct {
	backends map[string]backends.Backend
	mounts   map[string]Mount // by S3 bucket name
	def      string           // default backend's name, "" for none

	// placed holds buckets that CreateBucket put on a backend other than
	// the default one (by location constraint), found again after a
	// restart by Discover through the marker document they carry.
	mu     sync.RWMutex
	placed map[string]string // bucket -> backend name
}

// placedDoc marks a bucket that Strata created on a non-default backend.
const placedDoc = "strata-namespace.json"

var (
	_ backends.Backend           = (*Namespace)(nil)
	_ backends.Mover             = (*Namespace)(nil)
	_ backends.IntegrityVerifier = (*Namespace)(nil)
	_ backends.SysLister         = (*Namespace)(nil)
	_ backends.ChangeReporter    = (*Namespace)(nil)
)

// NewNamespace returns a namespace over the named backends. def names the
// default backend ("" when there is none: then only mapped buckets exist).
func NewNamespace(bs map[string]backends.Backend, mounts map[string]Mount, def string) (*Namespace, error) {
	for name, m := range mounts {
		if _, ok := bs[m.Backend]; !ok {
			return nil, errors.New("bucket " + name + ": no backend named " + m.Backend)
		}
		if m.Prefix != "" && !strings.HasSuffix(m.Prefix, "/") {
			m.Prefix += "/"
			mounts[name] = m
		}
	}
	if def != "" {
		if _, ok := bs[def]; !ok {
			return nil, errors.New("default: no backend named " + def)
		}
	}
	return &Namespace{backends: bs, mounts: mounts, def: def, placed: map[string]string{}}, nil
}

// Discover finds the buckets that were created on non-default backends,
// by the marker document each carries. Backends that fail are skipped and
// their errors returned together.
func (n *Namespace) Discover(ctx context.Context) error {
	var errs []error
	for name, b := range n.backends {
		if name == n.def {
			continue
		}
		list, err := b.ListBuckets(ctx)
		if err != nil {
			errs = append(errs, errors.New("backend "+name+": "+err.Error()))
			continue
		}
		for _, bi := range list {
			if _, err := b.GetBucketConfig(ctx, bi.Name, placedDoc); err == nil {
				n.mu.Lock()
				n.placed[bi.Name] = name
				n.mu.Unlock()
			}
		}
	}
	return errors.Join(errs...)
}

// Backends returns the named backends (for closing them).
func (n *Namespace) Backends() map[string]backends.Backend { return n.backends }

// route finds where an S3 bucket lives.
func (n *Namespace) route(bucket string) (backends.Backend, Mount, error) {
	if m, ok := n.mounts[bucket]; ok {
		return n.backends[m.Backend], m, nil
	}
	n.mu.RLock()
	where, ok := n.placed[bucket]
	n.mu.RUnlock()
	if ok {
		return n.backends[where], Mount{Backend: where, Remote: bucket}, nil
	}
	if n.def == "" {
		return nil, Mount{}, backends.Errorf(backends.NoSuchBucket, "the specified bucket does not exist")
	}
	return n.backends[n.def], Mount{Backend: n.def, Remote: bucket}, nil
}

// The prefix of a mount is added to keys going down and removed from keys
// coming up.
func (m Mount) down(key string) string { return m.Prefix + key }
func (m Mount) up(key string) string   { return strings.TrimPrefix(key, m.Prefix) }

// configName keeps the bucket documents of two mounts that share a remote
// bucket apart.
func (m Mount) configName(name string) string {
	if m.Prefix == "" {
		return name
	}
	return strings.NewReplacer("/", "_").Replace(m.Prefix) + name
}

func (n *Namespace) ListBuckets(ctx context.Context) ([]backends.BucketInfo, error) {
	var out []backends.BucketInfo
	seen := map[string]bool{}
	for name, m := range n.mounts {
		info, err := n.backends[m.Backend].HeadBucket(ctx, m.Remote)
		if err != nil {
			// A mapped bucket whose remote is unreachable is still listed:
			// the operator configured it; requests to it will say why.
			info = backends.BucketInfo{}
		}
		info.Name = name
		out = append(out, info)
		seen[name] = true
	}
	n.mu.RLock()
	for name, where := range n.placed {
		if info, err := n.backends[where].HeadBucket(ctx, name); err == nil && !seen[name] {
			info.Name = name
			out = append(out, info)
			seen[name] = true
		}
	}
	n.mu.RUnlock()
	if n.def != "" {
		list, err := n.backends[n.def].ListBuckets(ctx)
		if err != nil {
			return nil, err
		}
		for _, b := range list {
			if !seen[b.Name] {
				out = append(out, b)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// CreateBucket creates a bucket on the default backend.
func (n *Namespace) CreateBucket(ctx context.Context, bucket string) error {
	return n.CreateBucketAt(ctx, bucket, "")
}

// CreateBucketAt creates a bucket on the backend named by location (a
// CreateBucket request's location constraint), or on the default backend
// when location names none. ok is false when location names no backend.
func (n *Namespace) CreateBucketAt(ctx context.Context, bucket, location string) error {
	if _, ok := n.mounts[bucket]; ok {
		return backends.Errorf(backends.BucketExists, "bucket %s is mapped in the configuration", bucket)
	}
	if _, _, err := n.route(bucket); err == nil {
		if _, err := n.HeadBucket(ctx, bucket); err == nil {
			return backends.Errorf(backends.BucketExists, "bucket %s exists", bucket)
		}
	}
	b, ok := n.backends[location]
	if !ok || location == n.def {
		if n.def == "" {
			return backends.Errorf(backends.InvalidArgument, "no default backend to create buckets on: name a backend in the location constraint")
		}
		return n.backends[n.def].CreateBucket(ctx, bucket)
	}
	if err := b.CreateBucket(ctx, bucket); err != nil {
		return err
	}
	if err := b.PutBucketConfig(ctx, bucket, placedDoc, []byte(`{"v":1}`)); err != nil {
		return err
	}
	n.mu.Lock()
	n.placed[bucket] = location
	n.mu.Unlock()
	return nil
}

// IsBackend reports whether name is a configured backend (so that a
// location constraint can name one).
func (n *Namespace) IsBackend(name string) bool { _, ok := n.backends[name]; return ok }

func (n *Namespace) HeadBucket(ctx context.Context, bucket string) (backends.BucketInfo, error) {
	b, m, err := n.route(bucket)
	if err != nil {
		return backends.BucketInfo{}, err
	}
	info, err := b.HeadBucket(ctx, m.Remote)
	info.Name = bucket
	return info, err
}

func (n *Namespace) DeleteBucket(ctx context.Context, bucket string) error {
	b, m, err := n.route(bucket)
	if err != nil {
		return err
	}
	if _, mapped := n.mounts[bucket]; mapped {
		return backends.Errorf(backends.AccessDenied, "bucket %s is mapped in the configuration: remove it there", bucket)
	}
	n.mu.RLock()
	_, placed := n.placed[bucket]
	n.mu.RUnlock()
	if placed {
		// The marker goes only once the bucket holds nothing else.
		res, err := b.ListObjects(ctx, m.Remote, backends.ListOptions{MaxKeys: 1})
		if err != nil {
			return err
		}
		if len(res.Objects) > 0 || len(res.Prefixes) > 0 {
			return backends.Errorf(backends.NotEmpty, "the bucket you tried to delete is not empty")
		}
		if err := b.PutBucketConfig(ctx, m.Remote, placedDoc, nil); err != nil && !backends.Is(err, backends.NotFound) {
			return err
		}
	}
	if err := b.DeleteBucket(ctx, m.Remote); err != nil {
		return err
	}
	n.mu.Lock()
	delete(n.placed, bucket)
	n.mu.Unlock()
	return nil
}

func (n *Namespace) GetBucketConfig(ctx context.Context, bucket, name string) ([]byte, error) {
	b, m, err := n.route(bucket)
	if err != nil {
		return nil, err
	}
	return b.GetBucketConfig(ctx, m.Remote, m.configName(name))
}

func (n *Namespace) PutBucketConfig(ctx context.Context, bucket, name string, data []byte) error {
	b, m, err := n.route(bucket)
	if err != nil {
		return err
	}
	return b.PutBucketConfig(ctx, m.Remote, m.configName(name), data)
}

func (n *Namespace) PutObject(ctx context.Context, bucket, key string, data io.Reader, opts backends.PutOptions) (backends.ObjectInfo, error) {
	b, m, err := n.route(bucket)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	info, err := b.PutObject(ctx, m.Remote, m.down(key), data, opts)
	info.Key = key
	return info, err
}

func (n *Namespace) GetObject(ctx context.Context, bucket, key string, rng *backends.Range) (io.ReadCloser, backends.ObjectInfo, error) {
	b, m, err := n.route(bucket)
	if err != nil {
		return nil, backends.ObjectInfo{}, err
	}
	rc, info, err := b.GetObject(ctx, m.Remote, m.down(key), rng)
	info.Key = key
	return rc, info, err
}

func (n *Namespace) HeadObject(ctx context.Context, bucket, key string) (backends.ObjectInfo, error) {
	b, m, err := n.route(bucket)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	info, err := b.HeadObject(ctx, m.Remote, m.down(key))
	info.Key = key
	return info, err
}

func (n *Namespace) UpdateMeta(ctx context.Context, bucket, key string, meta backends.Meta) (backends.ObjectInfo, error) {
	b, m, err := n.route(bucket)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	info, err := b.UpdateMeta(ctx, m.Remote, m.down(key), meta)
	info.Key = key
	return info, err
}

func (n *Namespace) DeleteObject(ctx context.Context, bucket, key string) error {
	b, m, err := n.route(bucket)
	if err != nil {
		return err
	}
	return b.DeleteObject(ctx, m.Remote, m.down(key))
}

func (n *Namespace) ListObjects(ctx context.Context, bucket string, opts backends.ListOptions) (backends.ListResult, error) {
	b, m, err := n.route(bucket)
	if err != nil {
		return backends.ListResult{}, err
	}
	opts.Prefix = m.down(opts.Prefix)
	if opts.Marker != "" {
		opts.Marker = m.down(opts.Marker)
	}
	res, err := b.ListObjects(ctx, m.Remote, opts)
	if err != nil || m.Prefix == "" {
		return res, err
	}
	for i := range res.Objects {
		res.Objects[i].Key = m.up(res.Objects[i].Key)
	}
	for i := range res.Prefixes {
		res.Prefixes[i] = m.up(res.Prefixes[i])
	}
	res.NextMarker = m.up(res.NextMarker)
	return res, nil
}

func (n *Namespace) CreateMultipartUpload(ctx context.Context, bucket, key string, meta backends.Meta) (string, error) {
	b, m, err := n.route(bucket)
	if err != nil {
		return "", err
	}
	return b.CreateMultipartUpload(ctx, m.Remote, m.down(key), meta)
}

func (n *Namespace) UploadPart(ctx context.Context, bucket, key, uploadID string, number int, data io.Reader, meta *backends.Meta) (backends.PartInfo, error) {
	b, m, err := n.route(bucket)
	if err != nil {
		return backends.PartInfo{}, err
	}
	return b.UploadPart(ctx, m.Remote, m.down(key), uploadID, number, data, meta)
}

func (n *Namespace) ListParts(ctx context.Context, bucket, key, uploadID string) (backends.Upload, []backends.PartInfo, error) {
	b, m, err := n.route(bucket)
	if err != nil {
		return backends.Upload{}, nil, err
	}
	up, parts, err := b.ListParts(ctx, m.Remote, m.down(key), uploadID)
	up.Key = m.up(up.Key)
	return up, parts, err
}

func (n *Namespace) CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []int, opts backends.PutOptions) (backends.ObjectInfo, error) {
	b, m, err := n.route(bucket)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	info, err := b.CompleteMultipartUpload(ctx, m.Remote, m.down(key), uploadID, parts, opts)
	info.Key = key
	return info, err
}

func (n *Namespace) AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error {
	b, m, err := n.route(bucket)
	if err != nil {
		return err
	}
	return b.AbortMultipartUpload(ctx, m.Remote, m.down(key), uploadID)
}

func (n *Namespace) ListMultipartUploads(ctx context.Context, bucket, prefix string) ([]backends.Upload, error) {
	b, m, err := n.route(bucket)
	if err != nil {
		return nil, err
	}
	ups, err := b.ListMultipartUploads(ctx, m.Remote, m.down(prefix))
	for i := range ups {
		ups[i].Key = m.up(ups[i].Key)
	}
	return ups, err
}

// MoveObject moves an object within a bucket: natively when the bucket's
// backend is a backends.Mover (keys mapped through the mount's prefix),
// otherwise, or when the backend answers NotImplemented for this object,
// by streaming a copy through Strata and deleting src (gateway.Move).
func (n *Namespace) MoveObject(ctx context.Context, bucket, src, dst string) error {
	b, m, err := n.route(bucket)
	if err != nil {
		return err
	}
	if mv, ok := b.(backends.Mover); ok {
		err := mv.MoveObject(ctx, m.Remote, m.down(src), m.down(dst))
		if !backends.Is(err, backends.NotImplemented) {
			return err
		}
	}
	if src == dst {
		// Move's fallback would delete the object it just copied.
		_, err := b.HeadObject(ctx, m.Remote, m.down(src))
		return err
	}
	return Move(ctx, streamOnly{b}, m.Remote, m.down(src), m.down(dst))
}

// streamOnly hides the optional interfaces of a backend, so that Move
// streams.
type streamOnly struct{ backends.Backend }

// VerifiesIntegrity reports whether the backend of bucket checks its data
// on reads.
func (n *Namespace) VerifiesIntegrity(bucket string) bool {
	b, m, err := n.route(bucket)
	return err == nil && backends.VerifiesIntegrity(b, m.Remote)
}

// ReportsChanges reports whether bucket's backend reports what writes and
// deletes replace (backends.ChangeReporter).
func (n *Namespace) ReportsChanges(bucket string) bool {
	b, m, err := n.route(bucket)
	return err == nil && backends.ReportsChanges(b, m.Remote)
}

// DeleteObjectReporting is DeleteObject on a bucket whose backend reports
// changes (ReportsChanges).
func (n *Namespace) DeleteObjectReporting(ctx context.Context, bucket, key string, deleted func(backends.Meta)) error {
	b, m, err := n.route(bucket)
	if err != nil {
		return err
	}
	r, ok := b.(backends.ChangeReporter)
	if !ok || !r.ReportsChanges(m.Remote) {
		return backends.Errorf(backends.Internal, "the backend of bucket %q does not report changes", bucket)
	}
	return r.DeleteObjectReporting(ctx, m.Remote, m.down(key), deleted)
}

// ListsSys reports whether the listings of bucket's backend carry Meta.Sys.
func (n *Namespace) ListsSys(bucket string) bool {
	b, m, err := n.route(bucket)
	return err == nil && backends.ListsSys(b, m.Remote)
}

// Close closes every backend that can be closed.
func (n *Namespace) Close() error {
	var errs []error
	for _, b := range n.backends {
		if c, ok := b.(io.Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}

// VersionStore forwards the versions that a bucket's backend keeps itself,
// for a bucket that is the backend's bucket of the same name as it is (no
// renaming, no prefix); other mounts keep their versions in the versioning
// layer's store.
func (n *Namespace) VersionStore(bucket string) (backends.VersionStore, bool) {
	b, m, err := n.route(bucket)
	if err != nil || m.Remote != bucket || m.Prefix != "" {
		return nil, false
	}
	return backends.VersionStoreFor(b, bucket)
}
