package azure

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"

	"github.com/strata-storage/strata/backends"
)

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func etagStr(p *azcore.ETag) string {
	if p == nil {
		return ""
	}
	return string(*p)
}

func timeOf(p *time.Time) time.Time {
	if p == nil {
		return time.Time{}
	}
	return *p
}

// httpHeaders returns the blob headers of e, keeping md5 (Azure clears
// every header a request does not give).
func (e encoded) httpHeaders(md5 []byte) *blob.HTTPHeaders {
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	return &blob.HTTPHeaders{
		BlobContentType:        opt(e.ct),
		BlobContentEncoding:    opt(e.ce),
		BlobContentDisposition: opt(e.cd),
		BlobContentLanguage:    opt(e.cl),
		BlobCacheControl:       opt(e.cc),
		BlobContentMD5:         md5,
	}
}

// head returns the properties of a blob.
func (b *Backend) head(ctx context.Context, bucket, key string) (blobProps, error) {
	cctx, cancel := b.call(ctx)
	defer cancel()
	p, err := b.blob(bucket, key).GetProperties(cctx, nil)
	if err != nil {
		return blobProps{}, mapErr(err, onBlob, "azure: cannot read "+bucket+"/"+key)
	}
	return blobProps{
		size: derefInt(p.ContentLength), etag: etagStr(p.ETag), modTime: timeOf(p.LastModified),
		md5: p.ContentMD5, metadata: p.Metadata,
		ct: str(p.ContentType), ce: str(p.ContentEncoding), cd: str(p.ContentDisposition),
		cl: str(p.ContentLanguage), cc: str(p.CacheControl),
	}, nil
}

func derefInt(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// noSuchKey is the error for a key that no blob can have.
func noSuchKey(bucket, key string) error {
	return backends.Errorf(backends.NoSuchKey, "the key %q does not exist in %s", key, bucket)
}

func (b *Backend) HeadObject(ctx context.Context, bucket, key string) (backends.ObjectInfo, error) {
	if ok, err := readable(key); err != nil || !ok {
		if err == nil {
			err = noSuchKey(bucket, key)
		}
		return backends.ObjectInfo{}, err
	}
	for try := 0; ; try++ {
		p, err := b.head(ctx, bucket, key)
		if err != nil {
			return backends.ObjectInfo{}, err
		}
		info := objectInfo(key, p)
		err = b.withParts(ctx, bucket, &info, p.metadata)
		if errors.Is(err, errPartsGone) && try < 3 {
			continue // replaced since the HEAD: read the new one
		}
		return info, err
	}
}

// errPartsGone: the parts list that a blob's entry names is not there, so
// the blob was replaced, or its metadata updated, after it was read.
var errPartsGone = errors.New("the blob's parts list is gone")

// withParts reads the parts list that the entry in md names, if any.
func (b *Backend) withParts(ctx context.Context, bucket string, info *backends.ObjectInfo, md map[string]*string) error {
	ref := partsRef(md)
	if ref == "" {
		return nil
	}
	data, _, err := b.readSmall(ctx, bucket, ref, 64<<20)
	if backends.Is(err, backends.NoSuchKey) {
		return backends.Wrap(backends.Unavailable, errPartsGone, "azure: "+bucket+"/"+info.Key+" changed while it was read; try again")
	}
	if err != nil {
		return err
	}
	var ps []sysPart
	if err := json.Unmarshal(data, &ps); err != nil {
		return backends.Wrap(backends.Internal, err, "azure: the parts list "+ref+" is damaged")
	}
	info.Parts = partInfos(ps)
	return nil
}

// writeSide writes the parts list of enc, if it has one out of its entry.
func (b *Backend) writeSide(ctx context.Context, bucket string, enc encoded) error {
	if enc.side == nil {
		return nil
	}
	_, err := b.writeSmall(ctx, bucket, enc.sideName, enc.side, nil,
		&blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfNoneMatch: ptr(azcore.ETagAny)}})
	return err
}

// dropSide deletes a parts list no blob names any more (best effort: one
// left behind is never read).
func (b *Backend) dropSide(ctx context.Context, bucket, name string) {
	if name != "" {
		b.deleteBlob(context.WithoutCancel(ctx), bucket, name)
	}
}

// ---- put ----

// precondition checks opts' conditions against the current object before
// any data is sent, and returns the access conditions that make the
// commit atomic with the check: If-Match on Azure's ETag of the object
// that matched, or If-None-Match: *.
func (b *Backend) precondition(ctx context.Context, bucket, key string, opts backends.PutOptions) (*blob.AccessConditions, error) {
	if opts.IfMatch == "" && !opts.IfNoneMatch {
		return nil, nil
	}
	p, err := b.head(ctx, bucket, key)
	exists := err == nil
	if err != nil && !backends.Is(err, backends.NoSuchKey) {
		return nil, err
	}
	mac := &blob.ModifiedAccessConditions{}
	if opts.IfNoneMatch {
		if exists {
			return nil, backends.Errorf(backends.PreconditionFailed, "the key %q exists", key)
		}
		mac.IfNoneMatch = ptr(azcore.ETagAny)
	}
	if opts.IfMatch != "" {
		if !exists {
			return nil, backends.Errorf(backends.NoSuchKey, "the key %q does not exist", key)
		}
		want := strings.Trim(strings.TrimSpace(opts.IfMatch), `"`)
		if got := objectInfo(key, p).ETag; want != "*" && want != got {
			return nil, backends.Errorf(backends.PreconditionFailed, "the ETag of %q is %s, not %s", key, got, want)
		}
		mac.IfMatch = ptr(azcore.ETag(p.etag))
	}
	return &blob.AccessConditions{ModifiedAccessConditions: mac}, nil
}

// newWriteID is a random ID for the blocks of one PutObject.
func newWriteID() [16]byte {
	var id [16]byte
	rand.Read(id[:])
	return id
}

func (b *Backend) PutObject(ctx context.Context, bucket, key string, data io.Reader, opts backends.PutOptions) (backends.ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return backends.ObjectInfo{}, err
	}
	if opts.Meta != nil {
		// Fail before the upload on metadata that cannot fit; the ETag and
		// checksums come at the end, so count the largest ETag for them.
		early := *opts.Meta
		if _, err := encodeMeta(&early, strings.Repeat("0", 32)+"-10000", false); err != nil {
			return backends.ObjectInfo{}, err
		}
	}
	cond, err := b.precondition(ctx, bucket, key, opts)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	bb := b.blob(bucket, key)
	prefix := newBlockPrefix(newWriteID(), 0)
	s, err := b.stream(ctx, bb, data, prefix, maxBlocks, true)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	// Meta is complete now that data has returned io.EOF.
	meta := backends.Meta{}
	if opts.Meta != nil {
		meta = *opts.Meta
	}
	meta.Size = s.size
	if s.release != nil {
		defer s.release()
	}
	enc, err := encodeMeta(&meta, meta.ETag, false)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	if err := b.writeSide(ctx, bucket, enc); err != nil {
		return backends.ObjectInfo{}, err
	}
	published := false
	defer func() {
		if !published {
			b.dropSide(ctx, bucket, enc.sideName)
		}
	}()
	var azETag string
	var md5 []byte
	if s.small != nil {
		cctx, cancel := context.WithTimeout(ctx, b.dataTimeout(len(s.small)))
		resp, err := bb.Upload(cctx, nopCloser(s.small), &blockblob.UploadOptions{
			Metadata: enc.metadata, HTTPHeaders: enc.httpHeaders(nil), AccessConditions: cond,
		})
		cancel()
		if err != nil {
			return backends.ObjectInfo{}, putErr(err, bucket, key)
		}
		meta.ModTime, azETag, md5 = timeOf(resp.LastModified), etagStr(resp.ETag), resp.ContentMD5
	} else {
		cctx, cancel := b.call(ctx)
		resp, err := bb.CommitBlockList(cctx, prefix.ids(s.blocks), &blockblob.CommitBlockListOptions{
			Metadata: enc.metadata, HTTPHeaders: enc.httpHeaders(nil), AccessConditions: cond,
		})
		cancel()
		if err != nil {
			return backends.ObjectInfo{}, putErr(err, bucket, key)
		}
		meta.ModTime, azETag = timeOf(resp.LastModified), etagStr(resp.ETag)
	}
	published = true
	if meta.ETag == "" {
		meta.ETag = derivedETag(azETag, md5)
	}
	return backends.ObjectInfo{Key: key, Meta: meta}, nil
}

// putErr maps the error of a commit.
func putErr(err error, bucket, key string) error {
	if code, _ := errCode(err); code == "InvalidBlockList" {
		// Committing a blob drops all its uncommitted blocks, also those
		// of another writer still uploading: that writer lands here.
		return backends.Wrap(backends.Unavailable, err,
			"azure: another write to "+bucket+"/"+key+" discarded the staged blocks of this one; try again")
	}
	return mapErr(err, onBlob, "azure: cannot write "+bucket+"/"+key)
}

// ---- get ----

func (b *Backend) GetObject(ctx context.Context, bucket, key string, rng *backends.Range) (io.ReadCloser, backends.ObjectInfo, error) {
	if ok, err := readable(key); err != nil || !ok {
		if err == nil {
			err = noSuchKey(bucket, key)
		}
		return nil, backends.ObjectInfo{}, err
	}
	for try := 0; ; try++ {
		rc, info, err := b.get(ctx, bucket, key, rng)
		// A suffix range is resolved against a HEAD; if the object changed
		// in between, the GET fails its If-Match: once more. So when the
		// parts list of the blob read went with a newer write.
		if (backends.Is(err, backends.PreconditionFailed) || errors.Is(err, errPartsGone)) && try < 2 {
			continue
		}
		return rc, info, err
	}
}

func (b *Backend) get(ctx context.Context, bucket, key string, rng *backends.Range) (io.ReadCloser, backends.ObjectInfo, error) {
	opts := &blob.DownloadStreamOptions{}
	if rng != nil {
		if rng.Start < 0 {
			// Azure takes no suffix ranges: find the size first.
			p, err := b.head(ctx, bucket, key)
			if err != nil {
				return nil, backends.ObjectInfo{}, err
			}
			off, n, err := rng.Resolve(p.size)
			if err != nil {
				return nil, backends.ObjectInfo{}, err
			}
			opts.Range = blob.HTTPRange{Offset: off, Count: n}
			opts.AccessConditions = &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: ptr(azcore.ETag(p.etag))}}
		} else {
			opts.Range = blob.HTTPRange{Offset: rng.Start}
			if rng.End >= rng.Start {
				opts.Range.Count = rng.End - rng.Start + 1
			}
		}
	}
	// The timeout covers the wait for the response; reading the body has
	// its own, per read (idleReader).
	rctx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(b.timeout, cancel)
	resp, err := b.blob(bucket, key).DownloadStream(rctx, opts)
	if !timer.Stop() && err != nil && ctx.Err() == nil {
		err = fmt.Errorf("no answer within %v: %w", b.timeout, context.DeadlineExceeded)
	}
	if err != nil {
		cancel()
		return nil, backends.ObjectInfo{}, mapErr(err, onBlob, "azure: cannot read "+bucket+"/"+key)
	}
	size := derefInt(resp.ContentLength)
	partial := false
	if cr := str(resp.ContentRange); cr != "" {
		if i := strings.LastIndexByte(cr, '/'); i >= 0 {
			if n, err := strconv.ParseInt(cr[i+1:], 10, 64); err == nil {
				size, partial = n, true
			}
		}
	}
	md5 := resp.BlobContentMD5 // of the whole blob, also for a range
	if md5 == nil && !partial {
		md5 = resp.ContentMD5
	}
	info := objectInfo(key, blobProps{
		size: size, etag: etagStr(resp.ETag), modTime: timeOf(resp.LastModified), md5: md5,
		metadata: resp.Metadata, ct: str(resp.ContentType), ce: str(resp.ContentEncoding),
		cd: str(resp.ContentDisposition), cl: str(resp.ContentLanguage), cc: str(resp.CacheControl),
	})
	if err := b.withParts(ctx, bucket, &info, resp.Metadata); err != nil {
		resp.Body.Close()
		cancel()
		return nil, backends.ObjectInfo{}, err
	}
	body := io.ReadCloser(resp.NewRetryReader(rctx, &blob.RetryReaderOptions{MaxRetries: 3, EarlyCloseAsError: true}))
	var off, n int64 = 0, size
	if rng != nil {
		// Azure answers a range past the end with 416, but a range of an
		// empty blob with all of it: check the range here too.
		off, n, err = rng.Resolve(size)
		if err != nil {
			body.Close()
			cancel()
			return nil, backends.ObjectInfo{}, err
		}
	}
	r := &idleReader{rc: body, cancel: cancel, timeout: b.timeout}
	if rng != nil && !partial && (off > 0 || n < size) {
		// The whole blob came: cut the range out of it.
		if _, err := io.CopyN(io.Discard, r, off); err != nil {
			r.Close()
			return nil, backends.ObjectInfo{}, backends.Wrap(backends.Unavailable, err, "azure: cannot read "+bucket+"/"+key)
		}
		return struct {
			io.Reader
			io.Closer
		}{io.LimitReader(r, n), r}, info, nil
	}
	return r, info, nil
}

// idleReader fails a read that makes no progress for timeout, by
// canceling the request's context; the time between reads is the
// caller's and not counted.
type idleReader struct {
	rc      io.ReadCloser
	cancel  context.CancelFunc
	timeout time.Duration
	mu      sync.Mutex
	timer   *time.Timer
}

func (r *idleReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	if r.timer == nil {
		r.timer = time.AfterFunc(r.timeout, r.cancel)
	} else {
		r.timer.Reset(r.timeout)
	}
	r.mu.Unlock()
	n, err := r.rc.Read(p)
	r.mu.Lock()
	r.timer.Stop()
	r.mu.Unlock()
	return n, err
}

func (r *idleReader) Close() error {
	err := r.rc.Close()
	r.cancel()
	return err
}

// ---- delete ----

// DeleteObject reads the blob's properties first: the delete is then
// conditional on its ETag, and the parts list it names, if any, goes too. A
// blob replaced in between was written after this delete.
func (b *Backend) DeleteObject(ctx context.Context, bucket, key string) error {
	if ok, err := readable(key); err != nil || !ok {
		return err // no such blob can exist
	}
	p, err := b.head(ctx, bucket, key)
	if backends.Is(err, backends.NoSuchKey) {
		return nil
	}
	if err != nil {
		return err
	}
	return b.deleteRead(ctx, bucket, key, p)
}

// deleteRead deletes the blob key whose properties p were read, if it is
// still that one, and its parts list.
func (b *Backend) deleteRead(ctx context.Context, bucket, key string, p blobProps) error {
	cctx, cancel := b.call(ctx)
	defer cancel()
	_, err := b.blob(bucket, key).Delete(cctx, &blob.DeleteOptions{
		DeleteSnapshots:  ptr(blob.DeleteSnapshotsOptionTypeInclude),
		AccessConditions: ifMatch(p.etag),
	})
	switch code, status := errCode(err); {
	case err == nil:
	case code == "BlobNotFound", code == "ConditionNotMet", status == 412:
		return nil
	default:
		return mapErr(err, onBlob, "azure: cannot delete "+bucket+"/"+key)
	}
	b.dropSide(ctx, bucket, partsRef(p.metadata))
	return nil
}

// ---- metadata ----

// UpdateMeta sets the blob's metadata and then its headers, each
// conditional on the blob being the one read first (so a concurrent write
// is never given these metadata); the two requests are not atomic
// together. The S3 ETag is kept in the reserved entry, so it survives
// even where it was derived from Azure's ETag, which changes.
func (b *Backend) UpdateMeta(ctx context.Context, bucket, key string, meta backends.Meta) (backends.ObjectInfo, error) {
	if ok, err := readable(key); err != nil || !ok {
		if err == nil {
			err = noSuchKey(bucket, key)
		}
		return backends.ObjectInfo{}, err
	}
	var err error
	for try := 0; try < 3; try++ {
		var info backends.ObjectInfo
		info, err = b.updateMeta(ctx, bucket, key, meta)
		if !backends.Is(err, backends.PreconditionFailed) {
			return info, err
		}
	}
	return backends.ObjectInfo{}, err
}

func (b *Backend) updateMeta(ctx context.Context, bucket, key string, meta backends.Meta) (backends.ObjectInfo, error) {
	p, err := b.head(ctx, bucket, key)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	old := objectInfo(key, p)
	if err := b.withParts(ctx, bucket, &old, p.metadata); err != nil {
		if errors.Is(err, errPartsGone) {
			err = backends.Errorf(backends.PreconditionFailed, "azure: %s/%s changed", bucket, key) // try again
		}
		return backends.ObjectInfo{}, err
	}
	meta.Size, meta.ETag = old.Size, old.ETag
	if meta.Parts == nil {
		meta.Parts = old.Parts
	}
	enc, err := encodeMeta(&meta, meta.ETag, true)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	if err := b.writeSide(ctx, bucket, enc); err != nil {
		return backends.ObjectInfo{}, err
	}
	bb := b.blob(bucket, key)
	cctx, cancel := b.call(ctx)
	defer cancel()
	mr, err := bb.SetMetadata(cctx, enc.metadata, &blob.SetMetadataOptions{AccessConditions: ifMatch(p.etag)})
	if err != nil {
		b.dropSide(ctx, bucket, enc.sideName)
		return backends.ObjectInfo{}, mapErr(err, onBlob, "azure: cannot set the metadata of "+bucket+"/"+key)
	}
	b.dropSide(ctx, bucket, partsRef(p.metadata))
	hr, err := bb.SetHTTPHeaders(cctx, *enc.httpHeaders(p.md5), &blob.SetHTTPHeadersOptions{AccessConditions: ifMatch(etagStr(mr.ETag))})
	if err != nil {
		return backends.ObjectInfo{}, mapErr(err, onBlob, "azure: cannot set the headers of "+bucket+"/"+key)
	}
	if meta.ModTime.IsZero() {
		meta.ModTime = timeOf(hr.LastModified)
	}
	return backends.ObjectInfo{Key: key, Meta: meta}, nil
}

func ifMatch(etag string) *blob.AccessConditions {
	return &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: ptr(azcore.ETag(etag))}}
}
