// Package stacktest runs the backend suite (backends/backendtest) through
// the whole data-service stack (gateway/stack) over a backend: every
// object encrypted (SSE-S3, built-in KMS), bitrot and object lock on, with
// versioning off and then on for every bucket. Each backend's tests call
// it, so the data services are shown to work over every backend alike.
package stacktest

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/backendtest"
	"github.com/strata-storage/strata/gateway"
	"github.com/strata-storage/strata/gateway/kms"
	"github.com/strata-storage/strata/gateway/stack"
	"github.com/strata-storage/strata/gateway/versioning"
)

// Run runs the suite twice over the stack on backends that open returns.
func Run(t *testing.T, open func(t *testing.T) backends.Backend) {
	RunUnversioned(t, open)
	t.Run("stack-versioned", func(t *testing.T) {
		backendtest.Run(t, func(t *testing.T) backends.Backend { return Versioned{New(t, open(t))} })
	})
}

// RunUnversioned runs the suite over the stack with versioning off.
func RunUnversioned(t *testing.T, open func(t *testing.T) backends.Backend) {
	t.Run("stack", func(t *testing.T) {
		backendtest.Run(t, func(t *testing.T) backends.Backend { return New(t, open(t)) })
	})
}

// New wraps b in the stack, with auto-encryption under a built-in KMS.
func New(t testing.TB, b backends.Backend) backends.Backend {
	k, err := kms.NewBuiltin(map[string][]byte{"stacktest": make([]byte, 32)}, "stacktest")
	if err != nil {
		t.Fatal(err)
	}
	return stack.New(b, stack.Options{KMS: k, AutoEncrypt: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}).Backend
}

// Versioned turns versioning on for every bucket it creates, and removes
// what such a bucket keeps of deleted objects before deleting it (as a
// client must).
type Versioned struct{ backends.Backend }

func (v Versioned) CreateBucket(ctx context.Context, bucket string) error {
	if err := v.Backend.CreateBucket(ctx, bucket); err != nil {
		return err
	}
	return v.Backend.PutBucketConfig(ctx, bucket, gateway.DocVersioning, versioning.ConfigDoc(versioning.Enabled))
}

func (v Versioned) DeleteBucket(ctx context.Context, bucket string) error {
	res, err := v.ListObjects(ctx, bucket, backends.ListOptions{MaxKeys: 1})
	if err == nil && len(res.Objects)+len(res.Prefixes) == 0 {
		for {
			list, err := v.Backend.(gateway.Versioner).ListObjectVersions(ctx, bucket, gateway.VersionListOptions{MaxKeys: 1000})
			if err != nil {
				return err
			}
			for _, o := range list.Versions {
				c := gateway.WithOptions(ctx, &gateway.Options{VersionID: o.VersionID})
				if err := v.DeleteObject(c, bucket, o.Key); err != nil {
					return err
				}
			}
			if !list.IsTruncated {
				break
			}
		}
	}
	return v.Backend.DeleteBucket(ctx, bucket)
}
