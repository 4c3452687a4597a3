package backends

import (
	"context"
	"io"
)

// Optional interfaces: a backend implements them when it can do better than
// what the gateway builds from the Backend primitives.

// Mover is implemented by backends that can move an object to another key
// of the same bucket without copying its data through Strata (a rename on a
// file system, a server-side copy in a cloud). The object keeps its data
// and its metadata (Meta, including Sys) unchanged; dst is replaced
// atomically; src is gone afterwards. A missing src is an error of kind
// NoSuchKey (as for GetObject); src == dst changes nothing.
type Mover interface {
	MoveObject(ctx context.Context, bucket, src, dst string) error
}

// ChangeReporter is implemented by backends that can tell a layer what a
// write or a delete replaced, where ReportsChanges returns true for the
// bucket: PutObject calls PutOptions.Replaced, and DeleteObjectReporting
// works. A layer that must clean up after the objects it replaces (the
// bitrot layer's hash objects) learns about them there, under the key's
// lock, instead of asking with HeadObject first (an extra request, and
// stale when another writer comes in between).
type ChangeReporter interface {
	ReportsChanges(bucket string) bool
	// DeleteObjectReporting is DeleteObject that calls deleted with
	// the metadata of the object it is about to remove, while it holds
	// the key's lock; deleted is not called when no object with Strata
	// metadata is there.
	DeleteObjectReporting(ctx context.Context, bucket, key string, deleted func(old Meta)) error
}

// ReportsChanges reports whether b reports what writes and deletes of
// bucket replace (ChangeReporter).
func ReportsChanges(b Backend, bucket string) bool {
	r, ok := b.(ChangeReporter)
	return ok && r.ReportsChanges(bucket)
}

// IntegrityVerifier is implemented by backends that check the integrity of
// their data on every read themselves (the erasure store's HighwayHash
// shards; cloud services). The bitrot layer steps aside for buckets where
// VerifiesIntegrity returns true.
type IntegrityVerifier interface {
	VerifiesIntegrity(bucket string) bool
}

// VerifiesIntegrity reports whether b checks the data of bucket on reads.
func VerifiesIntegrity(b Backend, bucket string) bool {
	v, ok := b.(IntegrityVerifier)
	return ok && v.VerifiesIntegrity(bucket)
}

// SysLister is implemented by backends whose ListObjects entries carry
// each object's complete Meta.Sys (as HeadObject returns it) when ListsSys
// returns true for the bucket, so that a layer can act on a listing without
// a HeadObject per entry. Where it is false, or not implemented, the Sys of
// listed objects may be missing or partial.
type SysLister interface {
	ListsSys(bucket string) bool
}

// ListsSys reports whether the listings of bucket in b carry Meta.Sys.
func ListsSys(b Backend, bucket string) bool {
	l, ok := b.(SysLister)
	return ok && l.ListsSys(bucket)
}

// VersionStore is implemented by a backend that keeps the versions of its
// objects itself (the erasure store keeps them in each object's metadata,
// next to its data). The versioning layer then leaves the versions of such
// a bucket to it, instead of archiving them below its reserved prefix.
//
// The layer makes the IDs: 32 hex digits, or "null" for the null version.
// A write with the ID "null" replaces the key's null version and keeps the
// others; any other ID adds a version. The plain Backend methods act on
// the newest version: reads and UpdateMeta see it unless it is a delete
// marker (NoSuchKey); PutObject and CompleteMultipartUpload write the null
// version, DeleteObject removes it.
//
// The ObjectInfo these methods return carries VersionID, IsLatest and
// DeleteMarker. A read of a key whose newest version is a delete marker is
// NoSuchKey, and one of a delete marker by its ID is MethodNotAllowed; both
// return the marker's info with the error.
type VersionStore interface {
	PutVersion(ctx context.Context, bucket, key, id string, data io.Reader, opts PutOptions) (ObjectInfo, error)
	CompleteMultipartVersion(ctx context.Context, bucket, key, id, uploadID string, parts []int, opts PutOptions) (ObjectInfo, error)
	PutDeleteMarker(ctx context.Context, bucket, key, id string) (ObjectInfo, error)
	// GetVersion and HeadVersion read version id, or the newest for "".
	GetVersion(ctx context.Context, bucket, key, id string, rng *Range) (io.ReadCloser, ObjectInfo, error)
	HeadVersion(ctx context.Context, bucket, key, id string) (ObjectInfo, error)
	// UpdateVersionMeta replaces the metadata of version id ("" the
	// newest), keeping its size, ETag and parts.
	UpdateVersionMeta(ctx context.Context, bucket, key, id string, meta Meta) (ObjectInfo, error)
	// DeleteVersion removes version id for good and returns what it was;
	// NoSuchVersion when the key has no such version.
	DeleteVersion(ctx context.Context, bucket, key, id string) (ObjectInfo, error)
	// ListVersions lists versions and delete markers in key order, newest
	// first per key.
	ListVersions(ctx context.Context, bucket string, opts VersionListOptions) (VersionList, error)
}

// NativeVersioner is implemented by a backend that may have a VersionStore
// for a bucket (the store itself, or a layer or namespace that forwards).
type NativeVersioner interface {
	VersionStore(bucket string) (VersionStore, bool)
}

// VersionStoreFor returns the VersionStore of bucket in b, if it has one.
func VersionStoreFor(b Backend, bucket string) (VersionStore, bool) {
	if n, ok := b.(NativeVersioner); ok {
		return n.VersionStore(bucket)
	}
	return nil, false
}

// VersionListOptions select the versions of a ListObjectVersions.
type VersionListOptions struct {
	Prefix          string
	Delimiter       string
	KeyMarker       string
	VersionIDMarker string
	MaxKeys         int
}

// VersionList is one page of ListObjectVersions: versions and delete
// markers (ObjectInfo.DeleteMarker) in key order, newest first per key.
type VersionList struct {
	Versions            []ObjectInfo
	Prefixes            []string
	IsTruncated         bool
	NextKeyMarker       string
	NextVersionIDMarker string
}
