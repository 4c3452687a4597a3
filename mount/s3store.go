//go:build linux

package mount

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"
)

// S3Options say where an S3 store is and how to reach it. Credentials come
// from the SDK's usual chain: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY,
// AWS_PROFILE or Profile, the shared files, the instance role.
type S3Options struct {
	Endpoint string // "" for AWS
	Region   string // "" for the SDK's default (us-east-1 when none)
	Profile  string
	// VirtualHost addresses the bucket as a host name (bucket.endpoint);
	// the default is path style, which every S3 service takes.
	VirtualHost bool
	// SignPayload signs the SHA-256 of each body instead of sending it as
	// UNSIGNED-PAYLOAD with a CRC32 checksum.
	SignPayload bool
	// Configure, if set, changes the client's options last (tests).
	Configure func(*s3.Options)
}

// maxCopySize is the largest object CopyObject copies in one call; larger
// ones are copied part by part.
const maxCopySize = 5 << 30

type s3Store struct {
	c      *s3.Client
	bucket string
}

// NewS3Store returns the Store of bucket on an S3 service.
func NewS3Store(ctx context.Context, bucket string, o S3Options) (Store, error) {
	var lo []func(*config.LoadOptions) error
	if o.Region != "" {
		lo = append(lo, config.WithRegion(o.Region))
	}
	if o.Profile != "" {
		lo = append(lo, config.WithSharedConfigProfile(o.Profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return nil, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	hc := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		// Many lookups and part uploads run at once against one host.
		tr.MaxIdleConns = 256
		tr.MaxIdleConnsPerHost = 64
		tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	})
	c := s3.NewFromConfig(cfg, func(so *s3.Options) {
		so.HTTPClient = hc
		so.UsePathStyle = !o.VirtualHost
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		// Objects stored without a checksum (files that were on disk
		// before Strata) make the SDK log a warning on every read.
		so.Logger = logging.Nop{}
		so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		if !o.SignPayload {
			// The body is covered by its CRC32 checksum; hashing it
			// again with SHA-256 for the signature costs both ends
			// CPU for nothing more.
			so.APIOptions = append(so.APIOptions, unsignedPayload)
		}
		if o.Configure != nil {
			o.Configure(so)
		}
	})
	return &s3Store{c: c, bucket: bucket}, nil
}

// unsignedPayload marks every request's payload UNSIGNED-PAYLOAD before
// the checksum and signing steps, so that neither hashes the body with
// SHA-256 (the CRC32 checksum still covers it).
func unsignedPayload(st *middleware.Stack) error {
	return st.Build.Add(middleware.BuildMiddlewareFunc("StrataUnsignedPayload",
		func(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
			return next.HandleBuild(v4.SetPayloadHash(ctx, "UNSIGNED-PAYLOAD"), in)
		}), middleware.After)
}

// s3Err turns an SDK error into a store error with its errno.
func s3Err(op, key string, err error) error {
	if err == nil {
		return nil
	}
	errno := syscall.EIO
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		switch re.HTTPStatusCode() {
		case http.StatusNotFound:
			errno = syscall.ENOENT
		case http.StatusForbidden:
			errno = syscall.EACCES
		case http.StatusRequestEntityTooLarge:
			errno = syscall.EFBIG
		case http.StatusInsufficientStorage:
			errno = syscall.ENOSPC
		}
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound", "NoSuchBucket", "NoSuchUpload":
			errno = syscall.ENOENT
		case "AccessDenied", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled":
			errno = syscall.EACCES
		case "EntityTooLarge":
			errno = syscall.EFBIG
		case "KeyTooLongError":
			errno = syscall.ENAMETOOLONG
		case "InvalidObjectName", "InvalidArgument":
			errno = syscall.EINVAL
		case "XMinioStorageFull", "InsufficientStorage", "QuotaExceeded":
			errno = syscall.ENOSPC
		case "NotImplemented":
			errno = syscall.ENOTSUP
		}
	}
	return &Error{Op: op, Key: key, Errno: errno, Err: err}
}

func (s *s3Store) List(ctx context.Context, prefix, delimiter, token string, max int) (ListPage, error) {
	in := &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: aws.String(prefix), MaxKeys: aws.Int32(int32(max))}
	if delimiter != "" {
		in.Delimiter = aws.String(delimiter)
	}
	if token != "" {
		in.ContinuationToken = aws.String(token)
	}
	out, err := s.c.ListObjectsV2(ctx, in)
	if err != nil {
		return ListPage{}, s3Err("list", prefix, err)
	}
	var p ListPage
	p.Objects = make([]Object, 0, len(out.Contents))
	for _, o := range out.Contents {
		p.Objects = append(p.Objects, Object{
			Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size),
			ModTime: aws.ToTime(o.LastModified), ETag: strings.Trim(aws.ToString(o.ETag), `"`),
		})
	}
	for _, cp := range out.CommonPrefixes {
		p.Prefixes = append(p.Prefixes, aws.ToString(cp.Prefix))
	}
	if aws.ToBool(out.IsTruncated) {
		p.Next = aws.ToString(out.NextContinuationToken)
	}
	return p, nil
}

func (s *s3Store) Head(ctx context.Context, key string) (Object, error) {
	out, err := s.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: aws.String(key)})
	if err != nil {
		return Object{}, s3Err("head", key, err)
	}
	return Object{
		Key: key, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified),
		ETag: strings.Trim(aws.ToString(out.ETag), `"`),
		Meta: Meta{ContentType: aws.ToString(out.ContentType), User: out.Metadata}, HasMeta: true,
	}, nil
}

func (s *s3Store) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	rng := fmt.Sprintf("bytes=%d-", off)
	if n >= 0 {
		rng = fmt.Sprintf("bytes=%d-%d", off, off+n-1)
	}
	out, err := s.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: aws.String(key), Range: aws.String(rng)})
	if err != nil {
		return nil, s3Err("get", key, err)
	}
	return out.Body, nil
}

func (s *s3Store) Put(ctx context.Context, key string, body io.ReadSeeker, size int64, meta Meta) (Object, error) {
	out, err := s.c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &s.bucket, Key: aws.String(key), Body: body, ContentLength: aws.Int64(size),
		ContentType: contentType(key, meta), Metadata: meta.User,
	})
	if err != nil {
		return Object{}, s3Err("put", key, err)
	}
	return Object{Key: key, Size: size, ModTime: time.Now(), ETag: strings.Trim(aws.ToString(out.ETag), `"`),
		Meta: meta, HasMeta: true}, nil
}

func (s *s3Store) CreateMultipart(ctx context.Context, key string, meta Meta) (string, error) {
	out, err := s.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: &s.bucket, Key: aws.String(key), ContentType: contentType(key, meta), Metadata: meta.User,
	})
	if err != nil {
		return "", s3Err("create multipart upload", key, err)
	}
	return aws.ToString(out.UploadId), nil
}

func (s *s3Store) UploadPart(ctx context.Context, key, uploadID string, number int, body io.ReadSeeker, size int64) (string, error) {
	out, err := s.c.UploadPart(ctx, &s3.UploadPartInput{
		Bucket: &s.bucket, Key: aws.String(key), UploadId: aws.String(uploadID),
		PartNumber: aws.Int32(int32(number)), Body: body, ContentLength: aws.Int64(size),
	})
	if err != nil {
		return "", s3Err("upload part", key, err)
	}
	return aws.ToString(out.ETag), nil
}

func (s *s3Store) CompleteMultipart(ctx context.Context, key, uploadID string, parts []Part) (Object, error) {
	cp := make([]types.CompletedPart, len(parts))
	for i, p := range parts {
		cp[i] = types.CompletedPart{PartNumber: aws.Int32(int32(p.Number)), ETag: aws.String(p.ETag)}
	}
	out, err := s.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &s.bucket, Key: aws.String(key), UploadId: aws.String(uploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: cp},
	})
	if err != nil {
		return Object{}, s3Err("complete multipart upload", key, err)
	}
	return Object{Key: key, ModTime: time.Now(), ETag: strings.Trim(aws.ToString(out.ETag), `"`)}, nil
}

func (s *s3Store) AbortMultipart(ctx context.Context, key, uploadID string) error {
	_, err := s.c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: &s.bucket, Key: aws.String(key), UploadId: aws.String(uploadID),
	})
	return s3Err("abort multipart upload", key, err)
}

// copySource is the x-amz-copy-source of key: bucket/key, URL-escaped.
func (s *s3Store) copySource(key string) *string {
	segs := strings.Split(key, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return aws.String(s.bucket + "/" + strings.Join(segs, "/"))
}

func (s *s3Store) Copy(ctx context.Context, src Object, dst string, meta *Meta) (Object, error) {
	if src.Size > maxCopySize {
		return s.copyParts(ctx, src, dst, meta)
	}
	in := &s3.CopyObjectInput{Bucket: &s.bucket, Key: aws.String(dst), CopySource: s.copySource(src.Key)}
	if meta != nil {
		in.MetadataDirective = types.MetadataDirectiveReplace
		in.Metadata = meta.User
		in.ContentType = contentType(dst, *meta)
	}
	out, err := s.c.CopyObject(ctx, in)
	if err != nil {
		return Object{}, s3Err("copy", src.Key, err)
	}
	o := Object{Key: dst, Size: src.Size, ModTime: time.Now(), Meta: src.Meta, HasMeta: src.HasMeta}
	if out.CopyObjectResult != nil {
		o.ETag = strings.Trim(aws.ToString(out.CopyObjectResult.ETag), `"`)
		o.ModTime = aws.ToTime(out.CopyObjectResult.LastModified)
	}
	if meta != nil {
		o.Meta, o.HasMeta = *meta, true
	}
	return o, nil
}

// copyParts copies an object larger than CopyObject takes with
// UploadPartCopy, 1 GiB per part.
func (s *s3Store) copyParts(ctx context.Context, src Object, dst string, meta *Meta) (Object, error) {
	m := src.Meta
	if meta != nil {
		m = *meta
	} else if !src.HasMeta {
		h, err := s.Head(ctx, src.Key)
		if err != nil {
			return Object{}, err
		}
		m = h.Meta
	}
	id, err := s.CreateMultipart(ctx, dst, m)
	if err != nil {
		return Object{}, err
	}
	const step = 1 << 30
	var parts []Part
	for off, n := int64(0), 1; off < src.Size; off, n = off+step, n+1 {
		end := min(off+step, src.Size) - 1
		out, err := s.c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
			Bucket: &s.bucket, Key: aws.String(dst), UploadId: aws.String(id), PartNumber: aws.Int32(int32(n)),
			CopySource: s.copySource(src.Key), CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", off, end)),
		})
		if err != nil {
			s.AbortMultipart(context.WithoutCancel(ctx), dst, id)
			return Object{}, s3Err("copy", src.Key, err)
		}
		etag := ""
		if out.CopyPartResult != nil {
			etag = aws.ToString(out.CopyPartResult.ETag)
		}
		parts = append(parts, Part{Number: n, ETag: etag})
	}
	o, err := s.CompleteMultipart(ctx, dst, id, parts)
	if err != nil {
		s.AbortMultipart(context.WithoutCancel(ctx), dst, id)
		return Object{}, err
	}
	o.Size, o.Meta, o.HasMeta = src.Size, m, true
	return o, nil
}

func (s *s3Store) Delete(ctx context.Context, key string) error {
	_, err := s.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: aws.String(key)})
	if err != nil && notFound(s3Err("delete", key, err)) {
		return nil
	}
	return s3Err("delete", key, err)
}

// CheckBucket tells whether the bucket can be listed, for a clear error at
// mount time rather than EIO on the first ls.
func CheckBucket(ctx context.Context, s Store, prefix string) error {
	_, err := s.List(ctx, prefix, "/", "", 1)
	return err
}
