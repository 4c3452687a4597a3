package gateway

import (
	"context"
	"io"

	"github.com/strata-storage/strata/backends"
)

// Options are the request-scoped inputs of the data-service layers: which
// version a read or delete means, the encryption a write asks for or a read
// must use, whether governance retention is bypassed. s3api sets them with
// WithOptions; a layer reads them with OptionsFrom. They ride on the
// context because they cross the Backend interface, whose methods every
// backend implements and none of which needs them.
type Options struct {
	// VersionID selects a version for GetObject, HeadObject, UpdateMeta
	// and DeleteObject ("" is the current version; "null" the null
	// version).
	VersionID string

	// SSE is the encryption a write asks for (PutObject,
	// CreateMultipartUpload, UploadPart) or, for SSE-C, the customer key
	// a read must use. Nil: no encryption headers were sent.
	SSE *SSE

	// BypassGovernance is set when the request carried
	// x-amz-bypass-governance-retention: true and the caller may bypass.
	BypassGovernance bool

	// Result, when not nil, receives what a layer did that the response
	// must tell (the version a delete made or removed).
	Result *Result
}

// SSE is a request for server-side encryption.
type SSE struct {
	// Type is SSES3 ("AES256"), SSEKMS ("aws:kms") or SSEC.
	Type string
	// KMSKeyID and KMSContext go with SSE-KMS (the context as the
	// decoded JSON of x-amz-server-side-encryption-context).
	KMSKeyID   string
	KMSContext map[string]string
	// CustomerKey is the 32-byte SSE-C key, already checked against its
	// MD5 header.
	CustomerKey []byte
	// BucketKey is x-amz-server-side-encryption-bucket-key-enabled.
	BucketKey bool
}

// Encryption types of SSE.Type.
const (
	SSES3  = "AES256"
	SSEKMS = "aws:kms"
	SSEC   = "SSE-C"
)

// Result is what a layer reports back about a request.
type Result struct {
	// VersionID is the version created or deleted; DeleteMarker is set
	// when that version is a delete marker.
	VersionID    string
	DeleteMarker bool
}

type optionsKey struct{}

// WithOptions returns ctx carrying o.
func WithOptions(ctx context.Context, o *Options) context.Context {
	return context.WithValue(ctx, optionsKey{}, o)
}

// OptionsFrom returns the options of ctx, never nil.
func OptionsFrom(ctx context.Context) *Options {
	if o, ok := ctx.Value(optionsKey{}).(*Options); ok && o != nil {
		return o
	}
	return &Options{}
}

// Move moves the object at src to dst in bucket, keeping its data and its
// metadata: natively when b is a backends.Mover, otherwise by streaming a
// copy and deleting src.
func Move(ctx context.Context, b backends.Backend, bucket, src, dst string) error {
	if src == dst {
		_, err := b.HeadObject(ctx, bucket, src)
		return err
	}
	if m, ok := b.(backends.Mover); ok {
		return m.MoveObject(ctx, bucket, src, dst)
	}
	body, info, err := b.GetObject(ctx, bucket, src, nil)
	if err != nil {
		return err
	}
	defer body.Close()
	meta := info.Meta
	if _, err := b.PutObject(ctx, bucket, dst, io.NopCloser(body), backends.PutOptions{Meta: &meta}); err != nil {
		return err
	}
	return b.DeleteObject(ctx, bucket, src)
}

// Versioner is implemented by the versioning layer, and forwarded by every
// layer above it, so that s3api finds it on the top of the stack.
type Versioner interface {
	ListObjectVersions(ctx context.Context, bucket string, opts VersionListOptions) (VersionList, error)
}

// VersionListOptions and VersionList are those of backends.VersionStore.
type (
	VersionListOptions = backends.VersionListOptions
	VersionList        = backends.VersionList
)

// Bucket documents of the data services, stored with PutBucketConfig.
const (
	DocVersioning = "versioning"  // XML VersioningConfiguration as sent
	DocObjectLock = "object-lock" // XML ObjectLockConfiguration
	DocEncryption = "encryption"  // XML ServerSideEncryptionConfiguration
	DocWORM       = "worm"        // "on": the bucket is write-once
)

// Each layer names its Meta.Sys entries with its own prefix.
const (
	SysSSE        = "sse-"
	SysLock       = "lock-"
	SysVersioning = "ver-"
	SysBitrot     = "rot-"
	// SysS3 holds what the S3 API keeps of an object beyond Meta's
	// fields (x-amz-website-redirect-location).
	SysS3 = "s3-"
)
