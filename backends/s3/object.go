package s3

import (
	"context"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/strata-storage/strata/backends"
)

// checkKey refuses what no S3 service stores as given, and Strata's own
// prefix.
func checkKey(key string) error {
	if err := backends.CheckKey(key); err != nil {
		return err
	}
	if strings.HasPrefix(key, sysPrefix) {
		return backends.Errorf(backends.InvalidKey, "object keys under %s are reserved", sysPrefix)
	}
	return nil
}

func str(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func metaOf(m *backends.Meta) backends.Meta {
	if m == nil {
		return backends.Meta{}
	}
	c := *m
	c.User = maps.Clone(m.User)
	c.Tags = maps.Clone(m.Tags)
	c.Checksums = maps.Clone(m.Checksums)
	c.Sys = maps.Clone(m.Sys)
	c.Parts = slices.Clone(m.Parts)
	return c
}

func (b *Backend) PutObject(ctx context.Context, bucket, key string, data io.Reader, opts backends.PutOptions) (backends.ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return backends.ObjectInfo{}, err
	}
	if b.cfg.ConditionalWrites == "emulate" && (opts.IfNoneMatch || opts.IfMatch != "") {
		if err := b.checkConditions(ctx, bucket, key, opts); err != nil {
			return backends.ObjectInfo{}, err
		}
	}
	first := new(partBuf)
	eof, err := first.fill(data, b.cfg.PartSize)
	if err != nil {
		first.release()
		return backends.ObjectInfo{}, err
	}
	if !eof {
		second := new(partBuf)
		eof, err = second.fill(data, b.cfg.PartSize)
		if err != nil {
			first.release()
			second.release()
			return backends.ObjectInfo{}, err
		}
		if !eof || second.n > 0 {
			return b.putStream(ctx, bucket, key, first, second, eof, data, opts)
		}
		second.release()
	}
	defer first.release()
	if err := ctx.Err(); err != nil {
		return backends.ObjectInfo{}, err
	}
	// Meta is final: data has returned io.EOF.
	meta := metaOf(opts.Meta)
	meta.Parts = nil
	h := encodeMeta(key, &meta, false, 0)
	if h.Record != nil {
		if err := b.writeRecord(ctx, bucket, key, h.Record); err != nil {
			return backends.ObjectInfo{}, err
		}
	}
	in := &s3sdk.PutObjectInput{
		Bucket:             &bucket,
		Key:                &key,
		ContentLength:      aws.Int64(first.n),
		ContentType:        str(h.ContentType),
		ContentEncoding:    str(h.ContentEncoding),
		ContentDisposition: str(h.ContentDisposition),
		ContentLanguage:    str(h.ContentLanguage),
		CacheControl:       str(h.CacheControl),
		Metadata:           h.Metadata,
		Tagging:            str(h.Tagging),
		StorageClass:       types.StorageClass(h.StorageClass),
	}
	in.IfNoneMatch, in.IfMatch = b.nativeConditions(opts)
	var out *s3sdk.PutObjectOutput
	err = b.sendBody(ctx, first, first.n, func(ctx context.Context, body io.ReadSeeker) error {
		in.Body = body
		var err error
		out, err = b.client.PutObject(ctx, in, h.optFns()...)
		return err
	})
	if err != nil {
		return backends.ObjectInfo{}, mapErr(err, "put "+key)
	}
	etag, mt := b.stat(ctx, bucket, key, aws.ToString(out.ETag), out.ResultMetadata)
	meta.Size, meta.ETag, meta.ModTime = first.n, etag, mt
	return backends.ObjectInfo{Key: key, Meta: meta}, nil
}

// stat returns the ETag and time of the object just written. S3 answers a
// PUT without Last-Modified, and the time must be what HEAD and LIST say;
// the HEAD is conditional on the ETag, so that a concurrent writer's object
// does not lend it its time.
func (b *Backend) stat(ctx context.Context, bucket, key, etag string, md middleware.Metadata) (string, time.Time) {
	etag = cleanETag(etag)
	ctx, cancel := b.opCtx(ctx)
	defer cancel()
	in := &s3sdk.HeadObjectInput{Bucket: &bucket, Key: &key}
	if etag != "" {
		in.IfMatch = quoteETag(etag)
	}
	out, err := b.client.HeadObject(ctx, in)
	if err != nil {
		return etag, responseDate(md)
	}
	if etag == "" {
		etag = cleanETag(aws.ToString(out.ETag))
	}
	return etag, modTime(out.LastModified)
}

// checkConditions checks PutOptions with a HEAD: the emulation of
// conditional writes, and an early failure before a long upload.
func (b *Backend) checkConditions(ctx context.Context, bucket, key string, opts backends.PutOptions) error {
	octx, cancel := b.opCtx(ctx)
	defer cancel()
	out, err := b.client.HeadObject(octx, &s3sdk.HeadObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		if k, _ := errKind(err); k != backends.NoSuchKey {
			return mapErr(err, "head "+key)
		}
		if err := b.bucketMissing(ctx, bucket); err != nil {
			return err
		}
		if opts.IfMatch != "" {
			return backends.Errorf(backends.NoSuchKey, "The specified key does not exist.")
		}
		return nil
	}
	if opts.IfNoneMatch {
		return backends.Errorf(backends.PreconditionFailed, "At least one of the pre-conditions you specified did not hold")
	}
	if opts.IfMatch != "" && cleanETag(opts.IfMatch) != cleanETag(aws.ToString(out.ETag)) {
		return backends.Errorf(backends.PreconditionFailed, "At least one of the pre-conditions you specified did not hold")
	}
	return nil
}

// putStream stores a PUT larger than a part as a multipart upload, parts
// read while earlier ones are sent: at most two part buffers at a time.
//
// The content headers, user metadata and tags are read from opts.Meta when
// the upload starts (S3 takes them then); if they differ at the end, the
// object is given the final ones by a copy onto itself. The ETag is the
// service's: for a multipart object, the MD5 of the parts' MD5s with "-N".
func (b *Backend) putStream(ctx context.Context, bucket, key string, first, second *partBuf, eof bool, data io.Reader, opts backends.PutOptions) (info backends.ObjectInfo, err error) {
	release := []*partBuf{first, second}
	defer func() {
		for _, p := range release {
			if p != nil {
				p.release()
			}
		}
	}()
	if opts.IfNoneMatch || opts.IfMatch != "" {
		if err := b.checkConditions(ctx, bucket, key, opts); err != nil {
			return info, err
		}
	}
	start := metaOf(opts.Meta)
	start.Checksums, start.ChecksumType, start.Parts = nil, "", nil
	h := encodeMeta(key, &start, true, b.cfg.PartSize)
	id, err := b.createUpload(ctx, bucket, key, &h, "", "")
	if err != nil {
		return info, err
	}
	completed := false
	defer func() {
		if !completed {
			b.abort(bucket, key, id)
		}
	}()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu      sync.Mutex
		done    []types.CompletedPart
		total   int64
		upErr   error
		wg      sync.WaitGroup
		buffers = make(chan struct{}, 2)
	)
	fail := func(err error) {
		mu.Lock()
		if upErr == nil {
			upErr = err
			cancel()
		}
		mu.Unlock()
	}
	send := func(n int, p *partBuf) {
		total += p.n
		wg.Go(func() {
			defer func() { <-buffers }()
			defer p.release()
			etag, _, err := b.uploadPartBuf(ctx, bucket, key, id, n, p, p.n, nil)
			if err != nil {
				fail(err)
				return
			}
			mu.Lock()
			done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(n)), ETag: quoteETag(etag)})
			mu.Unlock()
		})
	}
	buffers <- struct{}{}
	buffers <- struct{}{}
	release = nil
	send(1, first)
	send(2, second)
	for n := 3; !eof; n++ {
		select {
		case buffers <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		p := new(partBuf)
		eof, err = p.fill(data, b.cfg.PartSize)
		if err != nil || p.n == 0 || n > maxParts {
			p.release()
			<-buffers
			switch {
			case err != nil:
				fail(err)
			case p.n > 0 || !eof:
				fail(backends.Errorf(backends.EntityTooLarge, "Your proposed upload exceeds the maximum allowed object size."))
			}
			break
		}
		send(n, p)
	}
	wg.Wait()
	if upErr != nil {
		return info, upErr
	}
	if err := ctx.Err(); err != nil {
		return info, err
	}

	// data has returned io.EOF: Meta is final.
	final := metaOf(opts.Meta)
	final.Parts = nil
	rec := *h.Record
	rec.Checksums, rec.ChecksumType, rec.Sys = final.Checksums, final.ChecksumType, final.Sys
	if err := b.writeRecord(ctx, bucket, key, &rec); err != nil {
		return info, err
	}
	slices.SortFunc(done, func(a, b types.CompletedPart) int { return int(*a.PartNumber - *b.PartNumber) })
	in := &s3sdk.CompleteMultipartUploadInput{
		Bucket: &bucket, Key: &key, UploadId: &id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
	}
	in.IfNoneMatch, in.IfMatch = b.nativeConditions(opts)
	out, err := b.client.CompleteMultipartUpload(ctx, in)
	if err != nil {
		return info, mapErr(err, "complete the upload of "+key)
	}
	completed = true
	b.deleteUploadRecord(bucket, id, false)
	etag, mt := b.stat(ctx, bucket, key, aws.ToString(out.ETag), out.ResultMetadata)
	final.Size, final.ETag, final.ModTime = total, etag, mt
	info = backends.ObjectInfo{Key: key, Meta: final}
	if !headersEqual(&start, &final) || !mapsEqual(start.Tags, final.Tags) {
		return b.UpdateMeta(ctx, bucket, key, final)
	}
	return info, nil
}

// headersEqual compares what S3 takes when an object or upload is created.
func headersEqual(a, b *backends.Meta) bool {
	return a.ContentType == b.ContentType && a.ContentEncoding == b.ContentEncoding &&
		a.ContentDisposition == b.ContentDisposition && a.ContentLanguage == b.ContentLanguage &&
		a.CacheControl == b.CacheControl && a.Expires == b.Expires && a.StorageClass == b.StorageClass &&
		mapsEqual(a.User, b.User)
}

func rangeHeader(r *backends.Range) string {
	switch {
	case r.Start < 0:
		return "bytes=" + strconv.FormatInt(r.Start, 10)
	case r.End < 0:
		return "bytes=" + strconv.FormatInt(r.Start, 10) + "-"
	default:
		return "bytes=" + strconv.FormatInt(r.Start, 10) + "-" + strconv.FormatInt(r.End, 10)
	}
}

// totalSize is the object size in a Content-Range ("bytes 0-9/100").
func totalSize(cr string) (int64, bool) {
	i := strings.LastIndexByte(cr, '/')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(cr[i+1:], 10, 64)
	return n, err == nil
}

func (b *Backend) GetObject(ctx context.Context, bucket, key string, rng *backends.Range) (io.ReadCloser, backends.ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return nil, backends.ObjectInfo{}, readKeyErr(key, err)
	}
	in := &s3sdk.GetObjectInput{Bucket: &bucket, Key: &key}
	if rng != nil {
		in.Range = aws.String(rangeHeader(rng))
	}
	gctx, cancel := context.WithCancel(ctx)
	out, err := b.client.GetObject(gctx, in)
	if err != nil {
		cancel()
		return nil, backends.ObjectInfo{}, b.objectErr(ctx, err, bucket, "get "+key)
	}
	r := getRemote(out)
	var skip, length int64 = 0, -1
	if rng != nil {
		if cr := aws.ToString(out.ContentRange); cr != "" {
			if n, ok := totalSize(cr); ok {
				r.size = n
			}
		} else {
			// The service sent the whole object: cut the range here.
			off, n, err := rng.Resolve(r.size)
			if err != nil {
				out.Body.Close()
				cancel()
				return nil, backends.ObjectInfo{}, err
			}
			skip, length = off, n
		}
	}
	meta, _, err := b.complete(ctx, bucket, key, &r)
	if err != nil {
		out.Body.Close()
		cancel()
		return nil, backends.ObjectInfo{}, err
	}
	rc := &readBody{rc: out.Body, cancel: cancel, wd: newWatchdog(b.cfg.IdleTimeout, cancel)}
	rc.wd.stop()
	var body io.ReadCloser = rc
	if skip > 0 || length >= 0 {
		if _, err := io.CopyN(io.Discard, rc, skip); err != nil {
			rc.Close()
			return nil, backends.ObjectInfo{}, mapErr(err, "get "+key)
		}
		body = struct {
			io.Reader
			io.Closer
		}{io.LimitReader(rc, length), rc}
	}
	return body, backends.ObjectInfo{Key: key, Meta: meta}, nil
}

// readBody is the body of a GET: a read that waits longer than the idle
// timeout for data cancels the request.
type readBody struct {
	rc     io.ReadCloser
	cancel context.CancelFunc
	wd     *watchdog
	once   sync.Once
}

func (r *readBody) Read(p []byte) (int, error) {
	r.wd.kick()
	n, err := r.rc.Read(p)
	r.wd.stop()
	if err != nil && err != io.EOF {
		err = mapErr(r.wd.err(err), "read")
	}
	return n, err
}

func (r *readBody) Close() error {
	r.once.Do(func() {
		r.wd.stop()
		r.cancel()
		r.rc.Close()
	})
	return nil
}

// readKeyErr is what reading a key that cannot be written says: keys
// under Strata's prefix are not there.
func readKeyErr(key string, err error) error {
	if strings.HasPrefix(key, sysPrefix) {
		return backends.Errorf(backends.NoSuchKey, "The specified key does not exist.")
	}
	return err
}

// objectErr maps an error about an object; a bare 404 (HEAD) is told
// apart into a missing bucket or key.
func (b *Backend) objectErr(ctx context.Context, err error, bucket, what string) error {
	if k, _ := errKind(err); k == backends.NoSuchKey && !hasCode(err, "NoSuchKey") {
		if berr := b.bucketMissing(ctx, bucket); berr != nil {
			return berr
		}
	}
	return mapErr(err, what)
}

// headErr returns the error of a failed HEAD. The answer to a HEAD has no
// body and so no error code; for a 400, the code is had from a GET.
func (b *Backend) headErr(ctx context.Context, err error, bucket, key string) error {
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusBadRequest {
		return err
	}
	ctx, cancel := b.opCtx(ctx)
	defer cancel()
	out, gerr := b.client.GetObject(ctx, &s3sdk.GetObjectInput{Bucket: &bucket, Key: &key})
	if gerr != nil {
		return gerr
	}
	out.Body.Close()
	return err
}

// bucketMissing returns a NoSuchBucket error if the bucket is not there.
func (b *Backend) bucketMissing(ctx context.Context, bucket string) error {
	ctx, cancel := b.opCtx(ctx)
	defer cancel()
	_, err := b.client.HeadBucket(ctx, &s3sdk.HeadBucketInput{Bucket: &bucket})
	if err != nil {
		if k, _ := errKind(err); k == backends.NoSuchKey || k == backends.NoSuchBucket {
			return backends.Errorf(backends.NoSuchBucket, "The specified bucket does not exist")
		}
	}
	return nil
}

func (b *Backend) HeadObject(ctx context.Context, bucket, key string) (backends.ObjectInfo, error) {
	info, _, err := b.head(ctx, bucket, key)
	return info, err
}

// head is HeadObject, with the part size of the service's object when
// Strata sent it in parts of its own choosing.
func (b *Backend) head(ctx context.Context, bucket, key string) (backends.ObjectInfo, int64, error) {
	if err := checkKey(key); err != nil {
		return backends.ObjectInfo{}, 0, readKeyErr(key, err)
	}
	hctx, cancel := b.opCtx(ctx)
	out, err := b.client.HeadObject(hctx, &s3sdk.HeadObjectInput{Bucket: &bucket, Key: &key})
	cancel()
	if err != nil {
		return backends.ObjectInfo{}, 0, b.objectErr(ctx, b.headErr(ctx, err, bucket, key), bucket, "head "+key)
	}
	r := headRemote(out)
	meta, ps, err := b.complete(ctx, bucket, key, &r)
	if err != nil {
		return backends.ObjectInfo{}, 0, err
	}
	return backends.ObjectInfo{Key: key, Meta: meta}, ps, nil
}

func (b *Backend) DeleteObject(ctx context.Context, bucket, key string) error {
	if err := checkKey(key); err != nil {
		if strings.HasPrefix(key, sysPrefix) {
			return nil
		}
		return err
	}
	// The record, if any, goes too, in parallel: DELETE of a missing key
	// is cheap, and cheaper than asking first.
	recErr := make(chan error, 1)
	go func() { recErr <- b.deleteSmall(ctx, bucket, recordKey(key)) }()
	dctx, cancel := b.opCtx(ctx)
	_, err := b.client.DeleteObject(dctx, &s3sdk.DeleteObjectInput{Bucket: &bucket, Key: &key})
	cancel()
	// A record left behind is no failure: it is never used, its nonce
	// matching no object.
	<-recErr
	if err != nil {
		if k, _ := errKind(err); k == backends.NoSuchKey {
			return nil
		}
		return mapErr(err, "delete "+key)
	}
	return nil
}

// UpdateMeta replaces an object's metadata. A change of tags alone is
// made with the tagging API (the object and its time stay); anything else
// needs a copy of the object onto itself, done by the service. A
// multipart object whose parts are known is copied part by part along the
// same boundaries, which keeps its ETag.
func (b *Backend) UpdateMeta(ctx context.Context, bucket, key string, meta backends.Meta) (backends.ObjectInfo, error) {
	cur, ps, err := b.head(ctx, bucket, key)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	want := metaOf(&meta)
	want.Size, want.ETag, want.ModTime = cur.Size, cur.ETag, cur.ModTime
	if nativeEqual(&cur.Meta, &want) {
		if !mapsEqual(cur.Tags, want.Tags) {
			if err := b.setTags(ctx, bucket, key, want.Tags); err != nil {
				return backends.ObjectInfo{}, err
			}
		}
		cur.Tags = want.Tags
		return cur, nil
	}
	if len(want.Parts) == 0 {
		if _, keep := keptParts(&cur.Meta); keep {
			want.Parts = cur.Parts
		}
	}
	etag, mt, err := b.copyObject(ctx, bucket, key, key, &cur.Meta, &want, ps)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	want.ETag, want.ModTime = etag, mt
	return backends.ObjectInfo{Key: key, Meta: want}, nil
}

// copyObject copies src (whose metadata is cur, and part size ps) to dst
// with the metadata want, on the service. The copy keeps the ETag when the
// object's parts are known (from its part list, from the part size Strata
// sent it in, or from the service): it is then copied part by part along
// them; otherwise it is copied whole, in one request up to 5 GiB and in
// parts of 1 GiB above, and gets the service's new ETag.
func (b *Backend) copyObject(ctx context.Context, bucket, src, dst string, cur, want *backends.Meta, ps int64) (string, time.Time, error) {
	parts, keep := keptParts(cur)
	if sp := splitParts(cur.Size, ps); !keep && ps > 0 && strings.HasSuffix(cur.ETag, "-"+strconv.Itoa(len(sp))) {
		// Sent in parts by Strata: copied along them, which keeps
		// the ETag.
		parts, keep = sp, true
	} else {
		ps = 0
	}
	if !keep && strings.Contains(cur.ETag, "-") {
		// A multipart object of another client's: the service may say
		// how it was cut.
		if sp, ok := b.serviceParts(ctx, bucket, src, cur); ok {
			parts, keep = sp, true
		}
	}
	h := encodeMeta(dst, want, false, ps)
	if h.Record != nil {
		if err := b.writeRecord(ctx, bucket, dst, h.Record); err != nil {
			return "", time.Time{}, err
		}
	}
	switch {
	case keep || cur.Size > maxPartSize:
		if !keep {
			parts = splitParts(cur.Size, 1<<30)
		}
		return b.copyMultipart(ctx, bucket, src, dst, cur.ETag, parts, &h)
	default:
		return b.copySingle(ctx, bucket, src, dst, cur.ETag, &h)
	}
}

// serviceParts returns the part sizes of a multipart object whose parts
// all have the size of the first but the last, as most clients cut them,
// from a HEAD of its first part.
func (b *Backend) serviceParts(ctx context.Context, bucket, key string, cur *backends.Meta) ([]int64, bool) {
	i := strings.LastIndexByte(cur.ETag, '-')
	n, err := strconv.Atoi(cur.ETag[i+1:])
	if err != nil || n < 1 || n > maxParts {
		return nil, false
	}
	hctx, cancel := b.opCtx(ctx)
	defer cancel()
	out, err := b.client.HeadObject(hctx, &s3sdk.HeadObjectInput{Bucket: &bucket, Key: &key, PartNumber: aws.Int32(1)})
	// The copy is conditional on the ETag: a HEAD of another object's
	// part only makes the copy fail.
	if err != nil || aws.ToInt32(out.PartsCount) != int32(n) {
		return nil, false
	}
	first := aws.ToInt64(out.ContentLength)
	last := cur.Size - int64(n-1)*first
	if first <= 0 || last <= 0 || last > first {
		return nil, false
	}
	sizes := make([]int64, n)
	for j := range sizes {
		sizes[j] = first
	}
	sizes[n-1] = last
	return sizes, true
}

// MoveObject moves src to dst (backends.Mover) by a copy on the service
// (CopyObject, or UploadPartCopy part by part; see copyObject), then a
// delete of src. The object keeps its data, its metadata (Sys included)
// and, where its parts are known or it was sent in one piece, its ETag;
// its Last-Modified is the time of the copy, which S3 sets.
func (b *Backend) MoveObject(ctx context.Context, bucket, src, dst string) error {
	if err := checkKey(src); err != nil {
		return readKeyErr(src, err)
	}
	if err := checkKey(dst); err != nil {
		return err
	}
	cur, ps, err := b.head(ctx, bucket, src)
	if err != nil || src == dst {
		return err
	}
	want := metaOf(&cur.Meta)
	if _, _, err := b.copyObject(ctx, bucket, src, dst, &cur.Meta, &want, ps); err != nil {
		return err
	}
	return b.DeleteObject(ctx, bucket, src)
}

func (b *Backend) setTags(ctx context.Context, bucket, key string, tags map[string]string) error {
	ctx, cancel := b.opCtx(ctx)
	defer cancel()
	var err error
	if len(tags) == 0 {
		_, err = b.client.DeleteObjectTagging(ctx, &s3sdk.DeleteObjectTaggingInput{Bucket: &bucket, Key: &key})
	} else {
		_, err = b.client.PutObjectTagging(ctx, &s3sdk.PutObjectTaggingInput{
			Bucket: &bucket, Key: &key, Tagging: &types.Tagging{TagSet: tagSet(tags)},
		})
	}
	return mapErr(err, "set the tags of "+key)
}

// keptParts returns the byte sizes of the parts of a multipart object when
// they are known and agree with its ETag, so that a copy can keep them.
func keptParts(m *backends.Meta) ([]int64, bool) {
	i := strings.LastIndexByte(m.ETag, '-')
	if i < 0 || len(m.Parts) == 0 {
		return nil, false
	}
	n, err := strconv.Atoi(m.ETag[i+1:])
	if err != nil || n != len(m.Parts) {
		return nil, false
	}
	var sizes []int64
	var total int64
	for _, p := range m.Parts {
		sizes = append(sizes, p.Size)
		total += p.Size
	}
	return sizes, total == m.Size
}

// splitParts splits size into parts of ps bytes but the last (more, if
// that would be more than S3 allows).
func splitParts(size, ps int64) []int64 {
	if ps <= 0 {
		return nil
	}
	for size/ps >= maxParts {
		ps *= 2
	}
	var out []int64
	for size > 0 {
		n := min(ps, size)
		out = append(out, n)
		size -= n
	}
	return out
}

func copySource(bucket, key string) *string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return aws.String(url.PathEscape(bucket) + "/" + strings.Join(segs, "/"))
}

func (b *Backend) copySingle(ctx context.Context, bucket, src, dst, etag string, h *header) (string, time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*b.cfg.Timeout)
	defer cancel()
	out, err := b.client.CopyObject(ctx, &s3sdk.CopyObjectInput{
		Bucket: &bucket, Key: &dst,
		CopySource:         copySource(bucket, src),
		CopySourceIfMatch:  quoteETag(etag),
		MetadataDirective:  types.MetadataDirectiveReplace,
		TaggingDirective:   types.TaggingDirectiveReplace,
		ContentType:        str(h.ContentType),
		ContentEncoding:    str(h.ContentEncoding),
		ContentDisposition: str(h.ContentDisposition),
		ContentLanguage:    str(h.ContentLanguage),
		CacheControl:       str(h.CacheControl),
		Metadata:           h.Metadata,
		Tagging:            aws.String(h.Tagging),
		StorageClass:       types.StorageClass(h.StorageClass),
	}, h.optFns()...)
	if err != nil {
		return "", time.Time{}, mapErr(err, copyWhat(src, dst))
	}
	res := out.CopyObjectResult
	if res == nil || res.ETag == nil || res.LastModified == nil {
		e, mt := b.stat(ctx, bucket, dst, "", out.ResultMetadata)
		return e, mt, nil
	}
	return cleanETag(*res.ETag), modTime(res.LastModified), nil
}

func copyWhat(src, dst string) string {
	if src == dst {
		return "copy " + src + " onto itself"
	}
	return "copy " + src + " to " + dst
}

// copyMultipart copies src to dst part by part, with parts of the given
// sizes.
func (b *Backend) copyMultipart(ctx context.Context, bucket, src, dst, etag string, sizes []int64, h *header) (string, time.Time, error) {
	id, err := b.createUpload(ctx, bucket, dst, h, "", "")
	if err != nil {
		return "", time.Time{}, err
	}
	completed := false
	defer func() {
		if !completed {
			b.abort(bucket, dst, id)
		}
	}()
	parts := make([]types.CompletedPart, len(sizes))
	var off int64
	for i, n := range sizes {
		pctx, cancel := context.WithTimeout(ctx, 10*b.cfg.Timeout)
		out, err := b.client.UploadPartCopy(pctx, &s3sdk.UploadPartCopyInput{
			Bucket: &bucket, Key: &dst, UploadId: &id, PartNumber: aws.Int32(int32(i + 1)),
			CopySource:        copySource(bucket, src),
			CopySourceIfMatch: quoteETag(etag),
			CopySourceRange:   aws.String("bytes=" + strconv.FormatInt(off, 10) + "-" + strconv.FormatInt(off+n-1, 10)),
		})
		cancel()
		if err != nil {
			return "", time.Time{}, mapErr(err, copyWhat(src, dst))
		}
		if out.CopyPartResult == nil || out.CopyPartResult.ETag == nil {
			return "", time.Time{}, backends.Errorf(backends.Internal, "s3: %s: no ETag for part %d", copyWhat(src, dst), i+1)
		}
		parts[i] = types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.CopyPartResult.ETag}
		off += n
	}
	cctx, cancel := context.WithTimeout(ctx, 10*b.cfg.Timeout)
	defer cancel()
	out, err := b.client.CompleteMultipartUpload(cctx, &s3sdk.CompleteMultipartUploadInput{
		Bucket: &bucket, Key: &dst, UploadId: &id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return "", time.Time{}, mapErr(err, copyWhat(src, dst))
	}
	completed = true
	b.deleteUploadRecord(bucket, id, false)
	e, mt := b.stat(ctx, bucket, dst, aws.ToString(out.ETag), out.ResultMetadata)
	return e, mt, nil
}

// nativeConditions are the If-None-Match and If-Match headers that carry
// opts' conditions to the service when it checks them itself
// (conditional_writes: native); nil otherwise.
func (b *Backend) nativeConditions(opts backends.PutOptions) (ifNoneMatch, ifMatch *string) {
	if b.cfg.ConditionalWrites != "native" {
		return nil, nil
	}
	if opts.IfNoneMatch {
		ifNoneMatch = aws.String("*")
	}
	if opts.IfMatch != "" {
		ifMatch = quoteETag(opts.IfMatch)
	}
	return ifNoneMatch, ifMatch
}
