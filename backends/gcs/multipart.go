package gcs

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"

	"github.com/strata-storage/strata/backends"
)

// A multipart upload is staged under .strata.sys/uploads/ of the bucket:
//
//	<id>                   the upload record: JSON (key, initiation time,
//	                       metadata); its custom metadata x-strata-upload
//	                       holds a summary, so that listing uploads reads
//	                       no record
//	<id>/part-00001 ...    one object per part, with its ETag and checksums
//	                       in x-strata-meta
//	<id>/tree-<l>-<i>      intermediate composites made at completion
//
// Completion composes the chosen parts in order into the key with the
// final metadata. GCS composes at most 32 sources per request, so more
// parts are first composed 32 at a time into intermediates, level by level
// (10000 parts take 313 + 10 + 1 requests), and the last compose, which
// publishes the object, takes at most 32. Then the record, the parts and
// the intermediates are deleted.

const maxCompose = 32

type uploadRecord struct {
	V         int           `json:"v"`
	Key       string        `json:"key"`
	Initiated time.Time     `json:"initiated"`
	Meta      backends.Meta `json:"meta"`
}

// uploadHead is the summary of an upload kept in its record's custom
// metadata.
type uploadHead struct {
	Key       string    `json:"k"`
	Initiated time.Time `json:"t"`
	Class     string    `json:"sc,omitempty"`
	CkAlg     string    `json:"cka,omitempty"`
	CkType    string    `json:"ckt,omitempty"`
}

func validUploadID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func recordName(id string) string { return uploadPrefix + id }

func partName(id string, n int) string { return fmt.Sprintf("%s%s/part-%05d", uploadPrefix, id, n) }

func noUpload(id string) error {
	return backends.Errorf(backends.NoSuchUpload, "gcs: no multipart upload %q", id)
}

func (b *Backend) CreateMultipartUpload(ctx context.Context, bucket, key string, meta backends.Meta) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	id := newID()
	now := time.Now().UTC()
	rec, err := json.Marshal(uploadRecord{V: 1, Key: key, Initiated: now, Meta: meta})
	if err != nil {
		return "", err
	}
	head, err := json.Marshal(uploadHead{Key: key, Initiated: now, Class: meta.StorageClass,
		CkAlg: meta.ChecksumAlgorithm, CkType: meta.ChecksumType})
	if err != nil {
		return "", err
	}
	attrs := storage.ObjectAttrs{ContentType: "application/json", Metadata: map[string]string{uploadKey: string(head)}}
	if _, err := b.writeSmall(ctx, bucket, recordName(id), rec, attrs, &storage.Conditions{DoesNotExist: true}); err != nil {
		return "", err
	}
	return id, nil
}

// upload returns the record's attributes and summary of the upload id of
// key.
func (b *Backend) upload(ctx context.Context, bucket, key, id string) (*storage.ObjectAttrs, uploadHead, error) {
	var h uploadHead
	if !validUploadID(id) {
		return nil, h, noUpload(id)
	}
	cctx, cancel := b.op(ctx)
	defer cancel()
	a, err := b.obj(bucket, recordName(id)).Attrs(cctx)
	if err != nil {
		return nil, h, b.missing(ctx, bucket, mapErr(err, backends.NoSuchUpload, "upload "+id))
	}
	if json.Unmarshal([]byte(a.Metadata[uploadKey]), &h) != nil || h.Key != key {
		return nil, h, noUpload(id)
	}
	return a, h, nil
}

func (b *Backend) UploadPart(ctx context.Context, bucket, key, id string, number int, data io.Reader, meta *backends.Meta) (backends.PartInfo, error) {
	if number < 1 || number > 10000 {
		return backends.PartInfo{}, backends.Errorf(backends.InvalidArgument, "gcs: part number %d is not in 1-10000", number)
	}
	if _, _, err := b.upload(ctx, bucket, key, id); err != nil {
		return backends.PartInfo{}, err
	}
	if meta == nil {
		meta = &backends.Meta{}
	}
	final := func() (storage.ObjectAttrs, error) {
		e, err := encodeMeta(&backends.Meta{ETag: meta.ETag, Checksums: meta.Checksums, Sys: meta.Sys}, nil)
		if err == nil && e.side != nil {
			err = backends.Errorf(backends.InvalidArgument, "gcs: the checksums and Sys of part %d are too large", number)
		}
		return e.attrs, err
	}
	a, err := b.store(ctx, bucket, partName(id, number), data, &backends.Meta{}, final, nil)
	if err != nil {
		return backends.PartInfo{}, b.missing(ctx, bucket, err)
	}
	return backends.PartInfo{Number: number, Size: a.Size, ETag: meta.ETag, ModTime: a.Created, Checksums: meta.Checksums, Sys: meta.Sys}, nil
}

// stagedParts returns the part objects of the upload by part number.
func (b *Backend) stagedParts(ctx context.Context, bucket, id string) (map[int]*storage.ObjectAttrs, error) {
	ctx, cancel := b.op(ctx)
	defer cancel()
	prefix := uploadPrefix + id + "/part-"
	q := &storage.Query{Prefix: prefix, Projection: storage.ProjectionNoACL}
	q.SetAttrSelection([]string{"Name", "Size", "Created", "Generation", "Metadata"})
	it := b.client.Bucket(bucket).Objects(ctx, q)
	parts := map[int]*storage.ObjectAttrs{}
	for {
		a, err := it.Next()
		if err == iterator.Done {
			return parts, nil
		}
		if err != nil {
			return nil, mapErr(err, backends.NoSuchBucket, "list parts of "+id)
		}
		if n, err := strconv.Atoi(strings.TrimPrefix(a.Name, prefix)); err == nil && n >= 1 {
			parts[n] = a
		}
	}
}

func partInfo(n int, a *storage.ObjectAttrs) backends.PartInfo {
	m, _ := decodeMeta(a)
	return backends.PartInfo{Number: n, Size: a.Size, ETag: m.ETag, ModTime: a.Created, Checksums: m.Checksums, Sys: m.Sys}
}

func (b *Backend) ListParts(ctx context.Context, bucket, key, id string) (backends.Upload, []backends.PartInfo, error) {
	if !validUploadID(id) {
		return backends.Upload{}, nil, noUpload(id)
	}
	data, _, err := b.readSmall(ctx, bucket, recordName(id))
	if err != nil {
		return backends.Upload{}, nil, b.missing(ctx, bucket, mapErr(err, backends.NoSuchUpload, "upload "+id))
	}
	var rec uploadRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return backends.Upload{}, nil, backends.Wrap(backends.Internal, err, "gcs: record of upload "+id)
	}
	if rec.Key != key {
		return backends.Upload{}, nil, noUpload(id)
	}
	staged, err := b.stagedParts(ctx, bucket, id)
	if err != nil {
		return backends.Upload{}, nil, err
	}
	parts := make([]backends.PartInfo, 0, len(staged))
	for n, a := range staged {
		parts = append(parts, partInfo(n, a))
	}
	slices.SortFunc(parts, func(x, y backends.PartInfo) int { return x.Number - y.Number })
	return backends.Upload{Key: rec.Key, UploadID: id, Initiated: rec.Initiated, Meta: rec.Meta}, parts, nil
}

func (b *Backend) CompleteMultipartUpload(ctx context.Context, bucket, key, id string, parts []int, opts backends.PutOptions) (backends.ObjectInfo, error) {
	rec, _, err := b.upload(ctx, bucket, key, id)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	if len(parts) == 0 {
		return backends.ObjectInfo{}, backends.Errorf(backends.InvalidPart, "gcs: no parts to complete upload %s with", id)
	}
	meta := opts.MetaValue()
	// Checked before the parts are composed, and again, atomically, by
	// the compose's precondition. A failed one keeps the upload.
	cond, old, err := b.precondition(ctx, bucket, key, opts)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	staged, err := b.stagedParts(ctx, bucket, id)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	srcs := make([]*storage.ObjectHandle, len(parts))
	for i, n := range parts {
		a := staged[n]
		if a == nil {
			return backends.ObjectInfo{}, backends.Errorf(backends.InvalidPart, "gcs: part %d of upload %s was not uploaded", n, id)
		}
		srcs[i] = b.obj(bucket, a.Name).Generation(a.Generation)
	}
	srcs, err = b.composeTree(ctx, bucket, id, srcs)
	if err != nil {
		return backends.ObjectInfo{}, err
	}

	e, err := encodeMeta(&meta, nil)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	if e.side != nil {
		if _, err := b.writeSmall(ctx, bucket, e.sideName, e.side, storage.ObjectAttrs{ContentType: "application/json"}, &storage.Conditions{DoesNotExist: true}); err != nil {
			return backends.ObjectInfo{}, err
		}
	}
	// The sidecar of the object being replaced, if any, goes after.
	var oldSide string
	if old == nil {
		old, _ = b.attrs(ctx, bucket, key)
	}
	if old != nil {
		oldSide = sideRef(old)
	}

	cctx, cancel := b.op(ctx)
	h := always(b.obj(bucket, key))
	if cond != nil {
		h = h.If(*cond)
	}
	c := h.ComposerFrom(srcs...)
	c.ObjectAttrs = e.attrs
	a, err := c.Run(cctx)
	cancel()
	if err != nil {
		if e.side != nil {
			b.deleteGen(context.WithoutCancel(ctx), bucket, e.sideName, 0)
		}
		err = mapErr(err, backends.InvalidPart, "complete upload "+id)
		if backends.Is(err, backends.PreconditionFailed) {
			return backends.ObjectInfo{}, backends.Wrap(backends.PreconditionFailed, err, "gcs: "+key+" changed")
		}
		return backends.ObjectInfo{}, b.missing(ctx, bucket, err)
	}

	// Published: the upload is over, whatever happens to the cleanup.
	bg := context.WithoutCancel(ctx)
	b.deleteGen(bg, bucket, rec.Name, rec.Generation)
	b.deletePrefix(bg, bucket, uploadPrefix+id+"/")
	if oldSide != "" && oldSide != e.sideName {
		b.deleteGen(bg, bucket, oldSide, 0)
	}

	info := backends.ObjectInfo{Key: key, Meta: meta}
	info.Size, info.ModTime = a.Size, a.Created
	if info.ETag == "" {
		info.ETag = foreignETag(a)
	}
	return info, nil
}

// composeTree composes srcs, 32 at a time, into intermediate objects of the
// upload until at most 32 remain, and returns those.
func (b *Backend) composeTree(ctx context.Context, bucket, id string, srcs []*storage.ObjectHandle) ([]*storage.ObjectHandle, error) {
	for level := 0; len(srcs) > maxCompose; level++ {
		groups := slices.Collect(slices.Chunk(srcs, maxCompose))
		next := make([]*storage.ObjectHandle, len(groups))
		errs := make([]error, len(groups))
		sem := make(chan struct{}, 4)
		for i, g := range groups {
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				name := fmt.Sprintf("%s%s/tree-%d-%05d", uploadPrefix, id, level, i)
				cctx, cancel := b.op(ctx)
				defer cancel()
				a, err := always(b.obj(bucket, name)).ComposerFrom(g...).Run(cctx)
				if err != nil {
					errs[i] = b.missing(ctx, bucket, mapErr(err, backends.InvalidPart, "compose parts of upload "+id))
					return
				}
				next[i] = b.obj(bucket, name).Generation(a.Generation)
			}()
		}
		for range cap(sem) {
			sem <- struct{}{}
		}
		for _, err := range errs {
			if err != nil {
				return nil, err
			}
		}
		srcs = next
	}
	return srcs, nil
}

func (b *Backend) AbortMultipartUpload(ctx context.Context, bucket, key, id string) error {
	rec, _, err := b.upload(ctx, bucket, key, id)
	if err != nil {
		return err
	}
	cctx, cancel := b.op(ctx)
	defer cancel()
	err = b.obj(bucket, rec.Name).If(storage.Conditions{GenerationMatch: rec.Generation}).Delete(cctx)
	if err != nil {
		err = mapErr(err, backends.NoSuchUpload, "abort upload "+id)
		if backends.Is(err, backends.PreconditionFailed) {
			err = noUpload(id)
		}
		return err
	}
	return b.deletePrefix(context.WithoutCancel(ctx), bucket, uploadPrefix+id+"/")
}

func (b *Backend) ListMultipartUploads(ctx context.Context, bucket, prefix string) ([]backends.Upload, error) {
	recs, err := b.uploadRecords(ctx, bucket, 0)
	if err != nil {
		return nil, err
	}
	var out []backends.Upload
	for _, u := range recs {
		if strings.HasPrefix(u.Key, prefix) {
			out = append(out, u)
		}
	}
	slices.SortFunc(out, func(x, y backends.Upload) int {
		return cmp.Or(strings.Compare(x.Key, y.Key), x.Initiated.Compare(y.Initiated), strings.Compare(x.UploadID, y.UploadID))
	})
	return out, nil
}

// uploadRecords returns the uploads of the bucket from their records'
// summaries, at most limit of them when limit > 0.
func (b *Backend) uploadRecords(ctx context.Context, bucket string, limit int) ([]backends.Upload, error) {
	ctx, cancel := b.op(ctx)
	defer cancel()
	q := &storage.Query{Prefix: uploadPrefix, Delimiter: "/", Projection: storage.ProjectionNoACL}
	q.SetAttrSelection([]string{"Name", "Metadata"})
	it := b.client.Bucket(bucket).Objects(ctx, q)
	var out []backends.Upload
	for limit <= 0 || len(out) < limit {
		a, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			return nil, mapErr(err, backends.NoSuchBucket, "list uploads of "+bucket)
		}
		id := strings.TrimPrefix(a.Name, uploadPrefix)
		var h uploadHead
		if a.Prefix != "" || !validUploadID(id) || json.Unmarshal([]byte(a.Metadata[uploadKey]), &h) != nil {
			continue
		}
		out = append(out, backends.Upload{Key: h.Key, UploadID: id, Initiated: h.Initiated,
			Meta: backends.Meta{StorageClass: h.Class, ChecksumAlgorithm: h.CkAlg, ChecksumType: h.CkType}})
	}
	return out, nil
}
