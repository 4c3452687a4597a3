// Package backends defines the Backend interface that every storage backend
// implements, and the types that cross it. A backend knows nothing of HTTP or
// S3 XML: it stores buckets, objects with their metadata, and multipart
// uploads. Everything that can be built from these (checksums, ETags,
// conditional requests, range parsing, copy) is built once, above them.
package backends

import (
	"context"
	"io"
	"time"
)

// Backend is a place where buckets and objects are stored.
//
// Keys and bucket names reaching a backend have already been validated by the
// caller (ValidBucketName, ValidKey); a backend still refuses anything that
// would leave its root.
type Backend interface {
	ListBuckets(ctx context.Context) ([]BucketInfo, error)
	CreateBucket(ctx context.Context, bucket string) error
	HeadBucket(ctx context.Context, bucket string) (BucketInfo, error)
	// DeleteBucket removes an empty bucket, and the uploads in progress in
	// it (as AWS does); a bucket holding objects is an error of kind
	// NotEmpty, and then nothing is removed.
	DeleteBucket(ctx context.Context, bucket string) error

	// GetBucketConfig and PutBucketConfig store small named documents that
	// belong to a bucket (CORS, tagging, later versioning, lock, encryption).
	// A missing document is an error of kind NotFound. A nil data deletes it.
	GetBucketConfig(ctx context.Context, bucket, name string) ([]byte, error)
	PutBucketConfig(ctx context.Context, bucket, name string, data []byte) error

	// PutObject stores data under key. opts.Meta is read only after data has
	// returned io.EOF, so a wrapping reader may complete it (ETag,
	// checksums) at the end of the stream. If data returns any other error,
	// nothing is published. The write is atomic: readers see the old object
	// or the new one.
	PutObject(ctx context.Context, bucket, key string, data io.Reader, opts PutOptions) (ObjectInfo, error)
	// GetObject opens the object for reading the given range (nil: all).
	// The returned info describes the whole object.
	GetObject(ctx context.Context, bucket, key string, rng *Range) (io.ReadCloser, ObjectInfo, error)
	HeadObject(ctx context.Context, bucket, key string) (ObjectInfo, error)
	// UpdateMeta replaces the metadata of an existing object without
	// touching its data (same-key copy, tagging). Size and ETag are kept.
	UpdateMeta(ctx context.Context, bucket, key string, meta Meta) (ObjectInfo, error)
	// DeleteObject removes an object; a missing object is not an error.
	DeleteObject(ctx context.Context, bucket, key string) error
	ListObjects(ctx context.Context, bucket string, opts ListOptions) (ListResult, error)

	CreateMultipartUpload(ctx context.Context, bucket, key string, meta Meta) (uploadID string, err error)
	// UploadPart stores one part; like PutObject, meta is read after data
	// returns io.EOF. A part uploaded again replaces the earlier one.
	UploadPart(ctx context.Context, bucket, key, uploadID string, number int, data io.Reader, meta *Meta) (PartInfo, error)
	// ListParts returns the parts of an upload in part-number order, with
	// the upload's own metadata (as given to CreateMultipartUpload).
	ListParts(ctx context.Context, bucket, key, uploadID string) (Upload, []PartInfo, error)
	// CompleteMultipartUpload joins the given parts (already checked by the
	// caller against ListParts) into the object, atomically, and removes
	// the upload. opts.Meta is the object's final metadata (nil: empty);
	// opts.IfMatch, opts.IfNoneMatch and opts.Replaced are honoured as
	// PutObject honours them, checked atomically with the publish. A
	// failed condition leaves the upload as it was: the client may retry
	// or abort it, as on S3.
	CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []int, opts PutOptions) (ObjectInfo, error)
	AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error
	// ListMultipartUploads returns the uploads in progress whose key starts
	// with prefix, ordered by key then initiation time.
	ListMultipartUploads(ctx context.Context, bucket, prefix string) ([]Upload, error)
}

// BucketInfo describes a bucket.
type BucketInfo struct {
	Name    string
	Created time.Time
}

// Meta is everything stored with an object besides its data.
type Meta struct {
	Size    int64     `json:"size"`
	ETag    string    `json:"etag,omitempty"` // without quotes
	ModTime time.Time `json:"mtime"`

	ContentType        string `json:"ct,omitempty"`
	ContentEncoding    string `json:"ce,omitempty"`
	ContentDisposition string `json:"cd,omitempty"`
	ContentLanguage    string `json:"cl,omitempty"`
	CacheControl       string `json:"cc,omitempty"`
	Expires            string `json:"exp,omitempty"`
	StorageClass       string `json:"sc,omitempty"`

	// User holds x-amz-meta-* values by lower-case name without the prefix.
	User map[string]string `json:"user,omitempty"`
	// Tags is the object's tag set.
	Tags map[string]string `json:"tags,omitempty"`
	// Checksums holds base64 checksums by algorithm (CRC32, CRC32C,
	// CRC64NVME, SHA1, SHA256, SHA512, MD5, XXHASH64, XXHASH3, XXHASH128);
	// ChecksumType is FULL_OBJECT or COMPOSITE.
	Checksums    map[string]string `json:"cks,omitempty"`
	ChecksumType string            `json:"ckt,omitempty"`
	// ChecksumAlgorithm is the algorithm chosen for a multipart upload.
	ChecksumAlgorithm string `json:"cka,omitempty"`
	// Parts lists the parts of an object made by multipart upload.
	Parts []PartInfo `json:"parts,omitempty"`

	// Sys holds the metadata of Strata's data services (the gateway
	// layers: encryption, versioning, object lock, bitrot). A backend
	// stores it with the object and returns it unchanged, like User, and
	// never interprets it. Names are short lower-case ASCII; values are
	// printable ASCII (layers base64 what is binary).
	Sys map[string]string `json:"sys,omitempty"`
}

// ObjectInfo is an object's key and metadata.
type ObjectInfo struct {
	Key string
	Meta

	// Set by the versioning layer, or by the methods of a VersionStore,
	// never by the plain Backend methods: the version's ID ("null" for
	// the null version, "" when the bucket was never versioned), whether
	// it is the key's newest version, and whether it is a delete marker.
	VersionID    string
	IsLatest     bool
	DeleteMarker bool
}

// PutOptions go with PutObject and CompleteMultipartUpload.
type PutOptions struct {
	Meta *Meta
	// IfMatch publishes only if the current object's ETag equals it.
	IfMatch string
	// IfNoneMatch publishes only if no object exists at the key.
	IfNoneMatch bool
	// Replaced, when set, is called by a backend that reports changes
	// for the bucket (ChangeReporter) with the metadata of the object
	// that the put is about to replace, while it holds the key's lock;
	// it is not called when no object with Strata metadata is there.
	Replaced func(old Meta)
}

// MetaValue is the metadata the options carry: a copy of *Meta, or empty
// when Meta is nil.
func (o PutOptions) MetaValue() Meta {
	if o.Meta == nil {
		return Meta{}
	}
	return *o.Meta
}

// PartInfo describes one part of a multipart upload or object.
type PartInfo struct {
	Number    int               `json:"n"`
	Size      int64             `json:"size"`
	ETag      string            `json:"etag"`
	ModTime   time.Time         `json:"mtime"`
	Checksums map[string]string `json:"cks,omitempty"`
	// Sys is the part's data-service metadata (see Meta.Sys), given to
	// UploadPart in meta.Sys and kept with the part and in the
	// completed object's Parts.
	Sys map[string]string `json:"sys,omitempty"`
}

// Upload describes a multipart upload in progress.
type Upload struct {
	Key       string
	UploadID  string
	Initiated time.Time
	Meta      Meta
}

// ListOptions select the objects of a listing.
type ListOptions struct {
	Prefix    string
	Delimiter string
	// Marker: list keys (and prefixes) strictly after it.
	Marker  string
	MaxKeys int
}

// ListResult is one page of a listing, in S3 lexical (byte) order. Objects
// and common prefixes together number at most MaxKeys.
type ListResult struct {
	Objects     []ObjectInfo
	Prefixes    []string
	IsTruncated bool
	// NextMarker is the last key or prefix returned when truncated.
	NextMarker string
}

// Range is a byte range of an object, as in an HTTP Range header.
// Start < 0 means the last -Start bytes (a suffix range); End < 0 means to
// the end of the object.
type Range struct {
	Start, End int64
}

// Resolve returns the offset and length of r within an object of size n, or
// an error of kind InvalidRange when r selects nothing.
func (r *Range) Resolve(n int64) (off, length int64, err error) {
	if r == nil {
		return 0, n, nil
	}
	switch {
	case r.Start < 0:
		l := -r.Start
		if l > n {
			l = n
		}
		if l == 0 {
			return 0, 0, Errorf(InvalidRange, "the requested range is not satisfiable")
		}
		return n - l, l, nil
	case r.Start >= n:
		return 0, 0, Errorf(InvalidRange, "the requested range is not satisfiable")
	case r.End < 0 || r.End >= n:
		return r.Start, n - r.Start, nil
	default:
		return r.Start, r.End - r.Start + 1, nil
	}
}
