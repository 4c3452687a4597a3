package versioning

import (
	"context"
	"io"

	"github.com/strata-storage/strata/backends"
)

// Buckets whose backend keeps versions itself (a backends.VersionStore:
// the erasure store) have no version store below Prefix: the layer decides
// what each request does (the ID of a new version, a delete marker or the
// null version) and hands the work to the backend. Bucket state, reserved
// keys and the request's Result stay the layer's.

// VersionStore hides the versions kept below the layer from the layers
// above it, which must go through it.
func (l *Layer) VersionStore(string) (backends.VersionStore, bool) { return nil, false }

// native returns the VersionStore of bucket, if its backend has one.
func (l *Layer) native(bucket string) (backends.VersionStore, bool) {
	return backends.VersionStoreFor(l.Backend, bucket)
}

// shown completes the info of a version for the bucket's state: a bucket
// never versioned shows no version IDs.
func shown(info *backends.ObjectInfo, st string) {
	if st == Unversioned {
		info.VersionID = ""
	}
}

// markerResult reports a delete marker that an error was about.
func markerResult(ctx context.Context, info backends.ObjectInfo) {
	if info.DeleteMarker {
		setResult(ctx, info.VersionID, true)
	}
}

func (l *Layer) nativeRead(ctx context.Context, vs backends.VersionStore, bucket, key, id string, rng *backends.Range, head bool) (io.ReadCloser, backends.ObjectInfo, error) {
	st, err := l.Status(ctx, bucket)
	if err != nil {
		return nil, backends.ObjectInfo{}, err
	}
	var rc io.ReadCloser
	var info backends.ObjectInfo
	if head {
		info, err = vs.HeadVersion(ctx, bucket, key, id)
	} else {
		rc, info, err = vs.GetVersion(ctx, bucket, key, id, rng)
	}
	if err != nil {
		markerResult(ctx, info)
		return nil, backends.ObjectInfo{}, err
	}
	shown(&info, st)
	return rc, info, nil
}

// newVersionID is the ID of a new version in a bucket of state st.
func newVersionID(st string) string {
	if st == Enabled {
		id, _ := newID("")
		return id
	}
	return NullID
}

func (l *Layer) nativePut(ctx context.Context, vs backends.VersionStore, bucket, key string, data io.Reader, opts backends.PutOptions, st string) (backends.ObjectInfo, error) {
	if opts.Meta == nil {
		opts.Meta = &backends.Meta{}
	}
	info, err := vs.PutVersion(ctx, bucket, key, newVersionID(st), &idReader{r: data, meta: opts.Meta}, opts)
	if err != nil {
		return info, err
	}
	return l.written(ctx, info, st), nil
}

func (l *Layer) written(ctx context.Context, info backends.ObjectInfo, st string) backends.ObjectInfo {
	if st != Unversioned {
		setResult(ctx, info.VersionID, false)
	}
	shown(&info, st)
	return info
}

func (l *Layer) nativeComplete(ctx context.Context, vs backends.VersionStore, bucket, key, uploadID string, parts []int, opts backends.PutOptions, st string) (backends.ObjectInfo, error) {
	info, err := vs.CompleteMultipartVersion(ctx, bucket, key, newVersionID(st), uploadID, parts, opts)
	if err != nil {
		return info, err
	}
	return l.written(ctx, info, st), nil
}

func (l *Layer) nativeUpdateMeta(ctx context.Context, vs backends.VersionStore, bucket, key, id string, meta backends.Meta) (backends.ObjectInfo, error) {
	st, err := l.Status(ctx, bucket)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	meta.Sys = withID(meta.Sys, "")
	info, err := vs.UpdateVersionMeta(ctx, bucket, key, id, meta)
	if err != nil {
		markerResult(ctx, info)
		return backends.ObjectInfo{}, err
	}
	shown(&info, st)
	return info, nil
}

func (l *Layer) nativeDelete(ctx context.Context, vs backends.VersionStore, bucket, key, id string) error {
	st, err := l.Status(ctx, bucket)
	if err != nil {
		return err
	}
	if id != "" {
		gone, err := vs.DeleteVersion(ctx, bucket, key, id)
		if err != nil && !backends.Is(err, backends.NoSuchVersion) {
			return err
		}
		// A version ID that names nothing is not an error, as in S3.
		setResult(ctx, id, gone.DeleteMarker)
		return nil
	}
	if st == Unversioned {
		return l.Backend.DeleteObject(ctx, bucket, key)
	}
	info, err := vs.PutDeleteMarker(ctx, bucket, key, newVersionID(st))
	if err != nil {
		return err
	}
	setResult(ctx, info.VersionID, true)
	return nil
}
