package azure

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/strata-storage/strata/backends"
)

// Multipart uploads. A part is staged as uncommitted blocks of the target
// blob itself (block IDs from the upload ID, the part number, a random
// value per upload of the part, and a sequence number); completing the
// upload commits the blocks of the chosen parts in order, so no data is
// copied. The records live under .strata.sys/uploads/<upload-id>/:
//
//	upload.json          the upload (uploadRecord); its metadata entry
//	                     strata_upload holds the key and initiation time, so
//	                     that one listing finds every upload
//	part-NNNNN.json      a part (partRecord), also in its metadata entry
//	                     strata_part, so that one listing gives every part
//
// A part uploaded again gets new blocks and a new record; the record is
// the commit point, so a failed upload of a part leaves the old one. Blocks
// of parts not completed, and of aborted uploads, stay uncommitted: no
// reader sees them, and Azure drops them at the next commit of the blob or
// a week after the last block was staged.
//
// Azure drops all uncommitted blocks of a blob when it is written (Put
// Blob or Put Block List): a PutObject to the key, or the completion of
// another upload of the same key, while an upload is in progress, makes
// the completion of that upload fail with InvalidPart.

const (
	uploadsPrefix = sysPrefix + "uploads/"
	uploadEntry   = "strata_upload"
	partEntry     = "strata_part"
	maxPartNumber = 10000
	partDelimiter = "/part-" // rolls the part records of an upload into one prefix
)

type uploadRecord struct {
	V         int           `json:"v"`
	Key       string        `json:"key"`
	Initiated time.Time     `json:"initiated"`
	Meta      backends.Meta `json:"meta"`
}

// uploadIndex is the metadata entry of upload.json.
type uploadIndex struct {
	Key       string    `json:"key"`
	Initiated time.Time `json:"initiated"`
}

type partRecord struct {
	V         int               `json:"v"`
	N         int               `json:"n"`
	Size      int64             `json:"size"`
	ETag      string            `json:"etag"`
	ModTime   time.Time         `json:"mtime"`
	Checksums map[string]string `json:"cks,omitempty"`
	Sys       map[string]string `json:"sys,omitempty"` // PartInfo.Sys
	// The blocks are Nonce's prefix with sequence numbers 0..Blocks-1.
	Nonce  string `json:"nonce"` // hex of the block prefix
	Blocks int    `json:"blocks"`
}

func uploadDir(id string) string       { return uploadsPrefix + id + "/" }
func uploadName(id string) string      { return uploadDir(id) + "upload.json" }
func partName(id string, n int) string { return fmt.Sprintf("%spart-%05d.json", uploadDir(id), n) }

// parseUploadID returns the 16 bytes of an upload ID (32 hex digits).
func parseUploadID(id string) ([16]byte, bool) {
	var raw [16]byte
	if len(id) != 32 || strings.ToLower(id) != id {
		return raw, false
	}
	if _, err := hex.Decode(raw[:], []byte(id)); err != nil {
		return raw, false
	}
	return raw, true
}

func noSuchUpload(id string) error {
	return backends.Errorf(backends.NoSuchUpload, "the upload %q does not exist", id)
}

func (b *Backend) CreateMultipartUpload(ctx context.Context, bucket, key string, meta backends.Meta) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	// The metadata must fit on the object at completion: fail now, not then.
	if _, err := encodeMeta(&meta, strings.Repeat("0", 32)+"-10000", false); err != nil {
		return "", err
	}
	var raw [16]byte
	rand.Read(raw[:])
	id := hex.EncodeToString(raw[:])
	now := time.Now().UTC()
	body, _ := json.Marshal(uploadRecord{V: metaVersion, Key: key, Initiated: now, Meta: meta})
	idx := string(asciiJSON(uploadIndex{Key: key, Initiated: now}))
	_, err := b.writeSmall(ctx, bucket, uploadName(id), body, map[string]*string{uploadEntry: &idx},
		&blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfNoneMatch: ptr(azcore.ETagAny)}})
	if err != nil {
		return "", err
	}
	return id, nil
}

// upload reads the record of upload id of key.
func (b *Backend) upload(ctx context.Context, bucket, key, id string) (uploadRecord, [16]byte, error) {
	raw, ok := parseUploadID(id)
	if !ok {
		return uploadRecord{}, raw, noSuchUpload(id)
	}
	if ok, err := readable(key); err != nil || !ok {
		return uploadRecord{}, raw, noSuchUpload(id)
	}
	data, _, err := b.readSmall(ctx, bucket, uploadName(id), 1<<20)
	if backends.Is(err, backends.NoSuchKey) {
		return uploadRecord{}, raw, noSuchUpload(id)
	}
	if err != nil {
		return uploadRecord{}, raw, err
	}
	var u uploadRecord
	if err := json.Unmarshal(data, &u); err != nil || u.V < 1 {
		return uploadRecord{}, raw, backends.Errorf(backends.Internal, "azure: the record of upload %q is damaged", id)
	}
	if u.Key != key {
		return uploadRecord{}, raw, noSuchUpload(id)
	}
	return u, raw, nil
}

func (b *Backend) UploadPart(ctx context.Context, bucket, key, uploadID string, number int, data io.Reader, meta *backends.Meta) (backends.PartInfo, error) {
	if number < 1 || number > maxPartNumber {
		return backends.PartInfo{}, backends.Errorf(backends.InvalidArgument, "part number %d is not in 1..%d", number, maxPartNumber)
	}
	_, raw, err := b.upload(ctx, bucket, key, uploadID)
	if err != nil {
		return backends.PartInfo{}, err
	}
	prefix := newBlockPrefix(raw, number)
	// A part of up to 5 GiB is 640 blocks of 8 MiB; the bound keeps a
	// runaway stream from filling Azure's 100,000 uncommitted blocks.
	s, err := b.stream(ctx, b.blob(bucket, key), data, prefix, maxBlocks/2, false)
	if err != nil {
		return backends.PartInfo{}, err
	}
	var m backends.Meta
	if meta != nil {
		m = *meta // complete now that data has returned io.EOF
	}
	rec := partRecord{V: metaVersion, N: number, Size: s.size, ETag: m.ETag, ModTime: time.Now().UTC(),
		Checksums: m.Checksums, Sys: m.Sys, Nonce: hex.EncodeToString(prefix[:]), Blocks: s.blocks}
	js := asciiJSON(rec)
	val := string(js)
	if _, err := b.writeSmall(ctx, bucket, partName(uploadID, number), js, map[string]*string{partEntry: &val}, nil); err != nil {
		return backends.PartInfo{}, err
	}
	return rec.info(), nil
}

func (p partRecord) info() backends.PartInfo {
	return backends.PartInfo{Number: p.N, Size: p.Size, ETag: p.ETag, ModTime: p.ModTime, Checksums: p.Checksums, Sys: p.Sys}
}

// parts returns the part records of an upload by number.
func (b *Backend) parts(ctx context.Context, bucket, id string) (map[int]partRecord, error) {
	cc := b.container(bucket)
	out := map[int]partRecord{}
	marker := ""
	for {
		cctx, cancel := b.call(ctx)
		page, err := cc.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{
			Include: container.ListBlobsInclude{Metadata: true}, Prefix: ptr(uploadDir(id) + "part-"),
			Marker: optStr(marker),
		}).NextPage(cctx)
		cancel()
		if err != nil {
			return nil, mapErr(err, onContainer, "azure: cannot list the parts of upload "+id)
		}
		if page.Segment != nil {
			for _, it := range page.Segment.BlobItems {
				rec, ok := decodePart(it.Metadata)
				if !ok {
					return nil, backends.Errorf(backends.Internal, "azure: the part record %s is damaged", str(it.Name))
				}
				out[rec.N] = rec
			}
		}
		if marker = str(page.NextMarker); marker == "" {
			return out, nil
		}
	}
}

func decodePart(md map[string]*string) (partRecord, bool) {
	for k, v := range md {
		if v == nil || !strings.EqualFold(k, partEntry) {
			continue
		}
		var p partRecord
		if json.Unmarshal([]byte(*v), &p) != nil || p.V < 1 || p.N < 1 || p.N > maxPartNumber || p.Blocks < 0 {
			return p, false
		}
		raw, err := hex.DecodeString(p.Nonce)
		return p, err == nil && len(raw) == len(blockPrefix{})
	}
	return partRecord{}, false
}

func (p partRecord) blockIDs() []string {
	var prefix blockPrefix
	hex.Decode(prefix[:], []byte(p.Nonce))
	return prefix.ids(p.Blocks)
}

func (b *Backend) ListParts(ctx context.Context, bucket, key, uploadID string) (backends.Upload, []backends.PartInfo, error) {
	u, _, err := b.upload(ctx, bucket, key, uploadID)
	if err != nil {
		return backends.Upload{}, nil, err
	}
	recs, err := b.parts(ctx, bucket, uploadID)
	if err != nil {
		return backends.Upload{}, nil, err
	}
	out := make([]backends.PartInfo, 0, len(recs))
	for _, r := range recs {
		out = append(out, r.info())
	}
	slices.SortFunc(out, func(a, b backends.PartInfo) int { return a.Number - b.Number })
	return backends.Upload{Key: u.Key, UploadID: uploadID, Initiated: u.Initiated, Meta: u.Meta}, out, nil
}

func (b *Backend) CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []int, opts backends.PutOptions) (backends.ObjectInfo, error) {
	if _, _, err := b.upload(ctx, bucket, key, uploadID); err != nil {
		return backends.ObjectInfo{}, err
	}
	meta := opts.MetaValue()
	recs, err := b.parts(ctx, bucket, uploadID)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	var ids []string
	var size int64
	for _, n := range parts {
		r, ok := recs[n]
		if !ok {
			return backends.ObjectInfo{}, backends.Errorf(backends.InvalidPart, "part %d of upload %q was not uploaded", n, uploadID)
		}
		ids = append(ids, r.blockIDs()...)
		size += r.Size
	}
	if len(ids) > maxBlocks {
		return backends.ObjectInfo{}, backends.Errorf(backends.EntityTooLarge,
			"azure: the parts make %d blocks, more than Azure's %d per blob: raise block_size", len(ids), maxBlocks)
	}
	meta.Size = size
	enc, err := encodeMeta(&meta, meta.ETag, false)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	// Checked against Strata's ETag now, and made atomic with the commit
	// by Azure's own ETag (or If-None-Match: *), as PutObject does. A
	// failed commit leaves the staged blocks, and so the upload, as they
	// were.
	cond, err := b.precondition(ctx, bucket, key, opts)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	if err := b.writeSide(ctx, bucket, enc); err != nil {
		return backends.ObjectInfo{}, err
	}
	cctx, cancel := b.call(ctx)
	resp, err := b.blob(bucket, key).CommitBlockList(cctx, ids, &blockblob.CommitBlockListOptions{
		Metadata: enc.metadata, HTTPHeaders: enc.httpHeaders(nil), AccessConditions: cond,
	})
	cancel()
	if err != nil {
		b.dropSide(ctx, bucket, enc.sideName)
	}
	if code, _ := errCode(err); code == "InvalidBlockList" {
		return backends.ObjectInfo{}, backends.Wrap(backends.InvalidPart, err,
			"azure: the data of a part is gone: a write to "+key+" during the upload discarded its staged blocks")
	}
	if err != nil {
		return backends.ObjectInfo{}, mapErr(err, onBlob, "azure: cannot complete upload "+uploadID)
	}
	meta.ModTime = timeOf(resp.LastModified)
	if meta.ETag == "" {
		meta.ETag = derivedETag(etagStr(resp.ETag), nil)
	}
	if err := b.removeUpload(ctx, bucket, uploadID); err != nil {
		return backends.ObjectInfo{}, err
	}
	return backends.ObjectInfo{Key: key, Meta: meta}, nil
}

func (b *Backend) AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error {
	if _, _, err := b.upload(ctx, bucket, key, uploadID); err != nil {
		return err
	}
	return b.removeUpload(ctx, bucket, uploadID)
}

// removeUpload deletes the records of an upload: upload.json first, which
// ends the upload (an error there is returned: the caller may try again),
// then the part records, a few at a time and as far as they go. A part
// record left behind is found by no listing, and goes with the container.
func (b *Backend) removeUpload(ctx context.Context, bucket, id string) error {
	if err := b.deleteBlob(ctx, bucket, uploadName(id)); err != nil {
		return err
	}
	recs, err := b.parts(ctx, bucket, id)
	if err != nil {
		return nil
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for n := range recs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			b.deleteBlob(ctx, bucket, partName(id, n))
		})
	}
	wg.Wait()
	return nil
}

// deleteBlob deletes a blob; a missing one is no error.
func (b *Backend) deleteBlob(ctx context.Context, bucket, name string) error {
	cctx, cancel := b.call(ctx)
	defer cancel()
	_, err := b.blob(bucket, name).Delete(cctx, nil)
	if code, _ := errCode(err); code == "BlobNotFound" {
		return nil
	}
	return mapErr(err, onBlob, "azure: cannot delete "+bucket+"/"+name)
}

func (b *Backend) ListMultipartUploads(ctx context.Context, bucket, prefix string) ([]backends.Upload, error) {
	ups, err := b.uploadRecords(ctx, bucket, prefix, 0)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(ups, func(a, b backends.Upload) int {
		return cmp.Or(strings.Compare(a.Key, b.Key), a.Initiated.Compare(b.Initiated), strings.Compare(a.UploadID, b.UploadID))
	})
	return ups, nil
}

// uploadRecords returns the uploads whose key starts with prefix, from
// one listing of .strata.sys/uploads/ in which the part records of each
// upload roll up into one prefix; at most limit of them when limit > 0.
func (b *Backend) uploadRecords(ctx context.Context, bucket, prefix string, limit int) ([]backends.Upload, error) {
	cc := b.container(bucket)
	var out []backends.Upload
	marker := ""
	for {
		cctx, cancel := b.call(ctx)
		page, err := cc.NewListBlobsHierarchyPager(partDelimiter, &container.ListBlobsHierarchyOptions{
			Include: container.ListBlobsInclude{Metadata: true}, Prefix: ptr(uploadsPrefix), Marker: optStr(marker),
		}).NextPage(cctx)
		cancel()
		if err != nil {
			return nil, mapErr(err, onContainer, "azure: cannot list the uploads of "+bucket)
		}
		if page.Segment != nil {
			for _, it := range page.Segment.BlobItems {
				name := str(it.Name)
				id, ok := strings.CutPrefix(name, uploadsPrefix)
				id, ok2 := strings.CutSuffix(id, "/upload.json")
				if !ok || !ok2 {
					continue
				}
				if _, valid := parseUploadID(id); !valid {
					continue
				}
				var idx uploadIndex
				for k, v := range it.Metadata {
					if v != nil && strings.EqualFold(k, uploadEntry) {
						json.Unmarshal([]byte(*v), &idx)
					}
				}
				if idx.Key == "" || !strings.HasPrefix(idx.Key, prefix) {
					continue
				}
				out = append(out, backends.Upload{Key: idx.Key, UploadID: id, Initiated: idx.Initiated})
				if limit > 0 && len(out) >= limit {
					return out, nil
				}
			}
		}
		if marker = str(page.NextMarker); marker == "" {
			return out, nil
		}
	}
}
