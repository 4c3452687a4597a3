package s3

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/strata-storage/strata/backends"
)

func (b *Backend) ListBuckets(ctx context.Context) ([]backends.BucketInfo, error) {
	var list []backends.BucketInfo
	var token *string
	for {
		octx, cancel := b.opCtx(ctx)
		out, err := b.client.ListBuckets(octx, &s3sdk.ListBucketsInput{ContinuationToken: token})
		cancel()
		if err != nil {
			return nil, mapErr(err, "list buckets")
		}
		b.createdMu.Lock()
		for _, bk := range out.Buckets {
			bi := backends.BucketInfo{Name: aws.ToString(bk.Name)}
			if bk.CreationDate != nil {
				bi.Created = bk.CreationDate.UTC()
			}
			b.created[bi.Name] = bi.Created
			list = append(list, bi)
		}
		b.createdMu.Unlock()
		next := aws.ToString(out.ContinuationToken)
		if next == "" || next == aws.ToString(token) {
			break
		}
		token = &next
	}
	slices.SortFunc(list, func(a, b backends.BucketInfo) int { return strings.Compare(a.Name, b.Name) })
	return list, nil
}

// CreateBucket creates a bucket in the configured region. It asks first
// whether the bucket is there: Amazon S3 in us-east-1 answers 200 to
// creating a bucket one already owns.
func (b *Backend) CreateBucket(ctx context.Context, bucket string) error {
	switch _, err := b.HeadBucket(ctx, bucket); {
	case err == nil:
		return backends.Errorf(backends.BucketExists, "Your previous request to create the named bucket succeeded and you already own it.")
	case backends.Is(err, backends.NoSuchBucket), backends.Is(err, backends.AccessDenied):
		// Not there, or someone else's: the creation says which.
	default:
		return err
	}
	in := &s3sdk.CreateBucketInput{Bucket: &bucket}
	// Only Amazon S3 wants a location; other services create the bucket
	// where their endpoint is, and some refuse a constraint they do not
	// know.
	if b.cfg.Endpoint == "" && b.cfg.Region != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint(b.cfg.Region),
		}
	}
	octx, cancel := b.opCtx(ctx)
	defer cancel()
	_, err := b.client.CreateBucket(octx, in)
	b.forget(bucket)
	return mapErr(err, "create bucket "+bucket)
}

func (b *Backend) forget(bucket string) {
	b.createdMu.Lock()
	delete(b.created, bucket)
	b.createdMu.Unlock()
}

// HeadBucket asks the service whether the bucket is there; its creation
// date, which HEAD does not give, comes from ListBuckets (once per
// bucket, then from memory; zero when the credentials may not list).
func (b *Backend) HeadBucket(ctx context.Context, bucket string) (backends.BucketInfo, error) {
	octx, cancel := b.opCtx(ctx)
	_, err := b.client.HeadBucket(octx, &s3sdk.HeadBucketInput{Bucket: &bucket})
	cancel()
	if err != nil {
		if k, _ := errKind(err); k == backends.NoSuchKey || k == backends.NoSuchBucket {
			b.forget(bucket)
			return backends.BucketInfo{}, backends.Errorf(backends.NoSuchBucket, "The specified bucket does not exist")
		}
		return backends.BucketInfo{}, mapErr(err, "head bucket "+bucket)
	}
	b.createdMu.Lock()
	t, ok := b.created[bucket]
	b.createdMu.Unlock()
	if !ok {
		b.ListBuckets(ctx)
		b.createdMu.Lock()
		t, ok = b.created[bucket]
		if !ok {
			b.created[bucket] = time.Time{}
		}
		b.createdMu.Unlock()
	}
	return backends.BucketInfo{Name: bucket, Created: t}, nil
}

// DeleteBucket deletes a bucket that holds no object. Uploads in progress
// are aborted with it, as AWS does, and Strata's own objects in it (bucket
// documents, records) go first. A writer that comes between the check and
// the deletion makes the deletion fail with NotEmpty, after the documents
// (and uploads) have gone.
func (b *Backend) DeleteBucket(ctx context.Context, bucket string) error {
	res, err := b.ListObjects(ctx, bucket, backends.ListOptions{MaxKeys: 1})
	if err != nil {
		return err
	}
	if len(res.Objects)+len(res.Prefixes) > 0 {
		return errNotEmpty()
	}
	if err := b.abortUploads(ctx, bucket); err != nil {
		return err
	}
	if err := b.deleteAll(ctx, bucket, sysPrefix); err != nil {
		return err
	}
	octx, cancel := b.opCtx(ctx)
	defer cancel()
	_, err = b.client.DeleteBucket(octx, &s3sdk.DeleteBucketInput{Bucket: &bucket})
	b.forget(bucket)
	if k, _ := errKind(err); err != nil && k == backends.NoSuchKey {
		return backends.Errorf(backends.NoSuchBucket, "The specified bucket does not exist")
	}
	return mapErr(err, "delete bucket "+bucket)
}

// abortUploads aborts every multipart upload of the remote bucket (the
// records beside them go with the rest of .strata.sys/).
func (b *Backend) abortUploads(ctx context.Context, bucket string) error {
	var keyMarker, idMarker *string
	for {
		octx, cancel := b.opCtx(ctx)
		out, err := b.client.ListMultipartUploads(octx, &s3sdk.ListMultipartUploadsInput{
			Bucket: &bucket, KeyMarker: keyMarker, UploadIdMarker: idMarker,
		})
		cancel()
		if err != nil {
			return mapErr(err, "list uploads")
		}
		for _, u := range out.Uploads {
			octx, cancel := b.opCtx(ctx)
			_, err := b.client.AbortMultipartUpload(octx, &s3sdk.AbortMultipartUploadInput{Bucket: &bucket, Key: u.Key, UploadId: u.UploadId})
			cancel()
			if k, _ := errKind(err); err != nil && k != backends.NoSuchKey && k != backends.NoSuchUpload {
				return mapErr(err, "abort the upload of "+aws.ToString(u.Key))
			}
			b.uploadsMu.Lock()
			delete(b.uploads, aws.ToString(u.UploadId))
			b.uploadsMu.Unlock()
		}
		if !aws.ToBool(out.IsTruncated) || len(out.Uploads) == 0 {
			return nil
		}
		keyMarker, idMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}

func errNotEmpty() error {
	return backends.Errorf(backends.NotEmpty, "The bucket you tried to delete is not empty")
}

// listKeys calls fn with every key under prefix, in order.
func (b *Backend) listKeys(ctx context.Context, bucket, prefix string, fn func(key string)) error {
	var after *string
	for {
		octx, cancel := b.opCtx(ctx)
		out, err := b.client.ListObjectsV2(octx, &s3sdk.ListObjectsV2Input{
			Bucket: &bucket, Prefix: &prefix, StartAfter: after, EncodingType: types.EncodingTypeUrl,
		})
		cancel()
		if err != nil {
			return mapErr(err, "list")
		}
		items, err := listItems(out)
		if err != nil {
			return err
		}
		for _, it := range items {
			fn(it.name)
		}
		if !aws.ToBool(out.IsTruncated) || len(items) == 0 {
			return nil
		}
		after = aws.String(items[len(items)-1].name)
	}
}

// deleteAll deletes every object under prefix, a page at a time, a few
// at once.
func (b *Backend) deleteAll(ctx context.Context, bucket, prefix string) error {
	var keys []string
	var firstErr error
	flush := func() {
		var wg sync.WaitGroup
		var mu sync.Mutex
		sem := make(chan struct{}, 8)
		for _, k := range keys {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				if err := b.deleteSmall(ctx, bucket, k); err != nil {
					mu.Lock()
					firstErr = cmp.Or(firstErr, err)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		keys = keys[:0]
	}
	err := b.listKeys(ctx, bucket, prefix, func(k string) {
		if keys = append(keys, k); len(keys) == 1000 {
			flush()
		}
	})
	flush()
	return cmp.Or(err, firstErr)
}

// Bucket documents are objects .strata.sys/config/<name> in the bucket.

func configKey(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, "/\\") || name == "." || name == ".." {
		return "", backends.Errorf(backends.InvalidArgument, "s3: bad bucket document name %q", name)
	}
	return configPrefix + name, nil
}

func (b *Backend) GetBucketConfig(ctx context.Context, bucket, name string) ([]byte, error) {
	key, err := configKey(name)
	if err != nil {
		return nil, err
	}
	data, err := b.getSmall(ctx, bucket, key)
	if err != nil {
		return nil, err
	}
	if data == nil {
		return nil, backends.Errorf(backends.NotFound, "no %s document", name)
	}
	return data, nil
}

func (b *Backend) PutBucketConfig(ctx context.Context, bucket, name string, data []byte) error {
	key, err := configKey(name)
	if err != nil {
		return err
	}
	if data == nil {
		return b.deleteSmall(ctx, bucket, key)
	}
	return b.putSmall(ctx, bucket, key, data)
}
