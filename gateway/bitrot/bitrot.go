// Package bitrot is the data-service layer that detects silent damage of
// stored data on backends that do not check it themselves (the directory
// tree, NFS and SMB shares). Every object written through it gets a
// HighwayHash-256 of each block of its stored bytes; every read verifies
// the blocks it touches before any of their bytes go out, and a mismatch
// is an error (of kind backends.Corrupt), never altered data.
//
// The hashes ride in the object's Meta.Sys (so files stay plain files), or
// in a hash object under the reserved prefix .strata.bitrot/ when there
// are many of them. Objects without hashes (files put on a share directly)
// are served unverified and counted; Scan finds them and can hash them.
// See docs/bitrot.md; the record format is in docs/formats.md.
package bitrot

import (
	"context"
	"errors"

	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/gateway"
)

// Prefix is the reserved key prefix of the hash objects. Listings through
// the layer never show it and client keys under it are refused.
const Prefix = ".strata.bitrot/"

// DefaultBlockSize is the size of a hashed block.
const DefaultBlockSize = 1 << 20

// MaxInline is the largest number of hashes kept in Meta.Sys; more go to a
// hash object.
const MaxInline = 64

// Options configure a Layer.
type Options struct {
	// BlockSize is the size of a hashed block for new writes; 0 means
	// DefaultBlockSize. Each record carries its own, so it may change.
	BlockSize int
	// Logger receives integrity failures (error level) and unverified
	// reads (debug level); nil is slog.Default().
	Logger *slog.Logger
}

// Layer is the bitrot layer over a backend.
type Layer struct {
	gateway.Forward // the backend below
	bs              int64
	log             *slog.Logger
	pool            sync.Pool // *[]byte of bs bytes

	verified   atomic.Int64
	corrupt    atomic.Int64
	unverified atomic.Int64
	hashed     atomic.Int64
}

var (
	_ backends.Backend           = (*Layer)(nil)
	_ backends.Mover             = (*Layer)(nil)
	_ backends.IntegrityVerifier = (*Layer)(nil)
)

// New returns the bitrot layer over inner, the backend itself (it must be
// the innermost layer).
func New(inner backends.Backend, opts Options) *Layer {
	if opts.BlockSize <= 0 {
		opts.BlockSize = DefaultBlockSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	l := &Layer{Forward: gateway.Forward{Backend: inner}, bs: int64(opts.BlockSize), log: opts.Logger}
	l.pool.New = func() any { b := make([]byte, l.bs); return &b }
	return l
}

// Inner returns the backend below the layer.
func (l *Layer) Inner() backends.Backend { return l.Backend }

// Stats are the layer's counters since start.
type Stats struct {
	// VerifiedBlocks were read and matched their hash.
	VerifiedBlocks int64 `json:"verified_blocks"`
	// CorruptBlocks did not match: each failed a client's read.
	CorruptBlocks int64 `json:"corrupt_blocks"`
	// UnverifiedReads read objects that have no hashes.
	UnverifiedReads int64 `json:"unverified_reads"`
	// HashedObjects got hashes afterwards (Hash, a scan, a completion
	// whose parts had none).
	HashedObjects int64 `json:"hashed_objects"`
}

// Stats returns the layer's counters.
func (l *Layer) Stats() Stats {
	return Stats{
		VerifiedBlocks:  l.verified.Load(),
		CorruptBlocks:   l.corrupt.Load(),
		UnverifiedReads: l.unverified.Load(),
		HashedObjects:   l.hashed.Load(),
	}
}

// BlockSize returns the block size of new writes.
func (l *Layer) BlockSize() int { return int(l.bs) }

// VerifiesIntegrity is true for every bucket: either the backend checks
// its data, or the layer does.
func (l *Layer) VerifiesIntegrity(bucket string) bool { return true }

// passThrough reports whether the layer steps aside for bucket.
func (l *Layer) passThrough(bucket string) bool {
	return backends.VerifiesIntegrity(l.Backend, bucket)
}

// Reserved reports whether key is under the reserved prefix.
func Reserved(key string) bool { return strings.HasPrefix(key, Prefix) }

func checkKey(key string) error {
	if Reserved(key) {
		return backends.Errorf(backends.InvalidKey, "object keys under %s are reserved by Strata", Prefix)
	}
	return nil
}

// errCorrupt is what a client gets for data that failed its check.
func errCorrupt() error {
	return backends.Errorf(backends.Corrupt, "The data of the object failed its integrity check.")
}

// DeleteBucket removes hash objects left in an otherwise empty bucket
// (orphans of interrupted writes), which would keep it from being deleted.
func (l *Layer) DeleteBucket(ctx context.Context, bucket string) error {
	err := l.Backend.DeleteBucket(ctx, bucket)
	if !backends.Is(err, backends.NotEmpty) || l.passThrough(bucket) {
		return err
	}
	res, lerr := l.Backend.ListObjects(ctx, bucket, backends.ListOptions{MaxKeys: 1000})
	if lerr != nil {
		return err
	}
	for _, o := range res.Objects {
		if !Reserved(o.Key) {
			return err
		}
	}
	for {
		for _, o := range res.Objects {
			if derr := l.Backend.DeleteObject(ctx, bucket, o.Key); derr != nil {
				return err
			}
		}
		if !res.IsTruncated {
			break
		}
		res, lerr = l.Backend.ListObjects(ctx, bucket, backends.ListOptions{Prefix: Prefix, Marker: res.NextMarker, MaxKeys: 1000})
		if lerr != nil {
			return err
		}
	}
	return l.Backend.DeleteBucket(ctx, bucket)
}

// hiddenEnd sorts after every key under Prefix.
const hiddenEnd = Prefix + "\U0010FFFF"

// ListObjects hides the hash objects.
func (l *Layer) ListObjects(ctx context.Context, bucket string, opts backends.ListOptions) (backends.ListResult, error) {
	if strings.HasPrefix(opts.Prefix, Prefix) {
		// Nothing a client may see is there; still answer NoSuchBucket.
		if _, err := l.Backend.HeadBucket(ctx, bucket); err != nil {
			return backends.ListResult{}, err
		}
		return backends.ListResult{}, nil
	}
	if !strings.HasPrefix(Prefix, opts.Prefix) {
		return l.Backend.ListObjects(ctx, bucket, opts)
	}
	want := opts.MaxKeys
	if want <= 0 {
		want = 1000
	}
	var out backends.ListResult
	for {
		res, err := l.Backend.ListObjects(ctx, bucket, opts)
		if err != nil {
			return res, err
		}
		hidden := false
		for _, o := range res.Objects {
			if Reserved(o.Key) {
				hidden = true
				continue
			}
			out.Objects = append(out.Objects, o)
		}
		for _, p := range res.Prefixes {
			if Reserved(p) {
				hidden = true
				continue
			}
			out.Prefixes = append(out.Prefixes, p)
		}
		out.IsTruncated, out.NextMarker = res.IsTruncated, res.NextMarker
		if !hidden || !res.IsTruncated || len(out.Objects)+len(out.Prefixes) >= want {
			break
		}
		// Hash objects took room in the page: fill it from after them.
		opts.MaxKeys = want - len(out.Objects) - len(out.Prefixes)
		opts.Marker = res.NextMarker
		if Reserved(opts.Marker) {
			opts.Marker = hiddenEnd
		}
	}
	// NextMarker must be the last entry returned (the hidden ones are
	// skipped by the marker anyway).
	if out.IsTruncated {
		last := ""
		if n := len(out.Objects); n > 0 {
			last = out.Objects[n-1].Key
		}
		if n := len(out.Prefixes); n > 0 && out.Prefixes[n-1] > last {
			last = out.Prefixes[n-1]
		}
		if last != "" {
			out.NextMarker = last
		} else if Reserved(out.NextMarker) {
			out.NextMarker = hiddenEnd
		}
	}
	return out, nil
}

// HeadObject refuses reserved keys.
func (l *Layer) HeadObject(ctx context.Context, bucket, key string) (backends.ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return backends.ObjectInfo{}, err
	}
	return l.Backend.HeadObject(ctx, bucket, key)
}

// CreateMultipartUpload refuses reserved keys.
func (l *Layer) CreateMultipartUpload(ctx context.Context, bucket, key string, meta backends.Meta) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	meta.Sys = stripSys(meta.Sys)
	return l.Backend.CreateMultipartUpload(ctx, bucket, key, meta)
}

// MoveObject moves the object with its metadata, and so with its bitrot
// record: the hashes stay valid because the bytes do not change.
func (l *Layer) MoveObject(ctx context.Context, bucket, src, dst string) error {
	if err := checkKey(src); err != nil {
		return err
	}
	if err := checkKey(dst); err != nil {
		return err
	}
	if l.passThrough(bucket) {
		return gateway.Move(ctx, l.Backend, bucket, src, dst)
	}
	// The object replaced at dst leaves its hash object behind.
	prev := l.currentRef(ctx, bucket, dst)
	// gateway.Move over the inner backend: native when it can, else a
	// raw copy that keeps Sys (and so the reference to the hashes).
	if err := gateway.Move(ctx, l.Backend, bucket, src, dst); err != nil {
		return err
	}
	if prev != "" {
		if info, err := l.Backend.HeadObject(ctx, bucket, dst); err == nil {
			if r, err := parseRecord(info.Sys); err == nil && r.ref == prev {
				return nil // moved onto itself
			}
		}
		l.removeHashObject(bucket, prev)
	}
	return nil
}

// currentRef returns the hash object id of the object at key, "" when it
// has none or there is no object.
func (l *Layer) currentRef(ctx context.Context, bucket, key string) string {
	info, err := l.Backend.HeadObject(ctx, bucket, key)
	if err != nil {
		return ""
	}
	if r, err := parseRecord(info.Sys); err == nil {
		return r.ref
	}
	return ""
}

// removeHashObject deletes a hash object that nothing refers to any more;
// a failure leaves an orphan for the scan, so it is only logged.
func (l *Layer) removeHashObject(bucket, id string) {
	if id == "" {
		return
	}
	if err := l.Backend.DeleteObject(context.WithoutCancel(context.Background()), bucket, hashKey(id)); err != nil &&
		!backends.Is(err, backends.NoSuchKey) {
		l.log.Warn("bitrot: cannot remove a hash object (the scan will)", "bucket", bucket, "id", id, "err", err)
	}
}

// DeleteObject removes the object, then its hash object.
func (l *Layer) DeleteObject(ctx context.Context, bucket, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if l.passThrough(bucket) {
		return l.Backend.DeleteObject(ctx, bucket, key)
	}
	var ref string
	if backends.ReportsChanges(l.Backend, bucket) {
		// The backend names what it deletes, under its lock.
		d := l.Backend.(backends.ChangeReporter)
		err := d.DeleteObjectReporting(ctx, bucket, key, func(old backends.Meta) {
			if r, err := parseRecord(old.Sys); err == nil {
				ref = r.ref
			}
		})
		if err != nil {
			return err
		}
	} else {
		ref = l.currentRef(ctx, bucket, key)
		if err := l.Backend.DeleteObject(ctx, bucket, key); err != nil {
			return err
		}
	}
	l.removeHashObject(bucket, ref)
	return nil
}

// UpdateMeta keeps the object's bitrot record whatever meta.Sys says: the
// data does not change, so neither do its hashes.
func (l *Layer) UpdateMeta(ctx context.Context, bucket, key string, meta backends.Meta) (backends.ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return backends.ObjectInfo{}, err
	}
	if l.passThrough(bucket) {
		return l.Backend.UpdateMeta(ctx, bucket, key, meta)
	}
	cur, err := l.Backend.HeadObject(ctx, bucket, key)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	rec, perr := parseRecord(cur.Sys)
	m := meta
	switch {
	case perr == nil:
		m.Sys = withRecord(meta.Sys, rec)
	case errors.Is(perr, errNoRecord):
		m.Sys = stripSys(meta.Sys)
	default:
		// A record this binary cannot read (newer, damaged) is kept as it is.
		m.Sys = stripSys(meta.Sys)
		for k, v := range cur.Sys {
			if strings.HasPrefix(k, gateway.SysBitrot) {
				if m.Sys == nil {
					m.Sys = map[string]string{}
				}
				m.Sys[k] = v
			}
		}
	}
	info, err := l.Backend.UpdateMeta(ctx, bucket, key, m)
	if err != nil {
		return info, err
	}
	if perr == nil && (info.Size != cur.Size || info.ETag != cur.ETag) {
		// The object was replaced between the two calls, and the record
		// just written belongs to the old data: hash the new data.
		l.log.Warn("bitrot: object replaced during a metadata update; hashing it again", "bucket", bucket, "key", key)
		if _, herr := l.hash(ctx, bucket, key, true); herr != nil {
			l.log.Error("bitrot: cannot hash the replaced object", "bucket", bucket, "key", key, "err", herr)
		}
		return l.Backend.HeadObject(ctx, bucket, key)
	}
	return info, nil
}

// VersionStore forwards the versions of a bucket that the backend below
// keeps itself only where the layer steps aside (the backend checks its own
// data); elsewhere every write must pass through the layer.
func (l *Layer) VersionStore(bucket string) (backends.VersionStore, bool) {
	if !backends.VerifiesIntegrity(l.Backend, bucket) {
		return nil, false
	}
	return backends.VersionStoreFor(l.Backend, bucket)
}
