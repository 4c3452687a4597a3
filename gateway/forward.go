package gateway

import (
	"context"
	"io"

	"github.com/strata-storage/strata/backends"
)

// Forward is embedded by the data-service layers: it is the backend below
// them, and it forwards the optional capabilities that a layer does not
// change, so that s3api and the layers above find them on the top of the
// stack. A layer that must act on one of them defines its own method.
type Forward struct {
	backends.Backend
}

// VerifiesIntegrity forwards backends.IntegrityVerifier.
func (f Forward) VerifiesIntegrity(bucket string) bool {
	return backends.VerifiesIntegrity(f.Backend, bucket)
}

// ListsSys forwards backends.SysLister.
func (f Forward) ListsSys(bucket string) bool {
	s, ok := f.Backend.(backends.SysLister)
	return ok && s.ListsSys(bucket)
}

// Close closes the backend below when it holds resources.
func (f Forward) Close() error {
	if c, ok := f.Backend.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// IsBackend and CreateBucketAt forward the placement of new buckets (a
// location constraint naming a backend of the namespace).
func (f Forward) IsBackend(name string) bool {
	p, ok := f.Backend.(interface{ IsBackend(string) bool })
	return ok && p.IsBackend(name)
}

func (f Forward) CreateBucketAt(ctx context.Context, bucket, location string) error {
	if p, ok := f.Backend.(interface {
		CreateBucketAt(context.Context, string, string) error
	}); ok {
		return p.CreateBucketAt(ctx, bucket, location)
	}
	return f.Backend.CreateBucket(ctx, bucket)
}

// VersionStore forwards backends.NativeVersioner.
func (f Forward) VersionStore(bucket string) (backends.VersionStore, bool) {
	return backends.VersionStoreFor(f.Backend, bucket)
}
