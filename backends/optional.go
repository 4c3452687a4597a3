package backends

import "context"

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
