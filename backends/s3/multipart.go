package s3

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/strata-storage/strata/backends"
)

// Multipart uploads are the service's own. S3 keeps no metadata of an
// upload that a client can read back, so each upload Strata starts has a
// record, .strata.sys/uploads/<sha256 of the ID>, with its key, time and
// Meta; it goes when the upload is completed or aborted. The upload is
// created with the reserved entry pointing at a metadata record (the
// checksums and part list of the object are known only at completion),
// which is written just before the upload is completed.

// uploadRecord is the record of an upload.
type uploadRecord struct {
	V         int           `json:"v"`
	Key       string        `json:"k"`
	ID        string        `json:"id"`
	Initiated time.Time     `json:"init"`
	X         string        `json:"x"`
	Meta      backends.Meta `json:"m"`
}

// uploadRef is what UploadPart needs of an upload.
type uploadRef struct {
	key, alg string
}

func uploadRecordKey(id string) string {
	s := sha256.Sum256([]byte(id))
	return uploadPrefix + hex.EncodeToString(s[:])
}

func (b *Backend) readUploadRecord(ctx context.Context, bucket, id string) (*uploadRecord, error) {
	data, err := b.getSmall(ctx, bucket, uploadRecordKey(id))
	if err != nil || data == nil {
		return nil, err
	}
	var r uploadRecord
	if json.Unmarshal(data, &r) != nil || r.V != sysVersion || r.ID != id {
		return nil, nil
	}
	return &r, nil
}

// deleteUploadRecord deletes the record of an upload that is no more, and
// (with markers) the part checksums and Sys kept beside it.
func (b *Backend) deleteUploadRecord(bucket, id string, markers bool) {
	b.uploadsMu.Lock()
	delete(b.uploads, id)
	b.uploadsMu.Unlock()
	ctx, cancel := b.cleanupCtx()
	defer cancel()
	if markers {
		// The record, and every name that starts with it: the markers
		// of part checksums (<record>.parts/, or <record>/parts/ from
		// earlier releases) and of part Sys (<record>.sys/). The records of other uploads have other
		// names of the same length.
		b.deleteAll(ctx, bucket, uploadRecordKey(id))
		return
	}
	b.deleteSmall(ctx, bucket, uploadRecordKey(id))
}

// abort aborts an upload of Strata's own that failed.
func (b *Backend) abort(bucket, key, id string) {
	ctx, cancel := b.cleanupCtx()
	defer cancel()
	b.client.AbortMultipartUpload(ctx, &s3sdk.AbortMultipartUploadInput{Bucket: &bucket, Key: &key, UploadId: &id})
	b.deleteUploadRecord(bucket, id, false)
}

// createUpload starts an upload with the metadata of h and writes its
// record.
func (b *Backend) createUpload(ctx context.Context, bucket, key string, h *header, alg, typ string) (string, error) {
	in := &s3sdk.CreateMultipartUploadInput{
		Bucket:             &bucket,
		Key:                &key,
		ContentType:        str(h.ContentType),
		ContentEncoding:    str(h.ContentEncoding),
		ContentDisposition: str(h.ContentDisposition),
		ContentLanguage:    str(h.ContentLanguage),
		CacheControl:       str(h.CacheControl),
		Metadata:           h.Metadata,
		Tagging:            str(h.Tagging),
		StorageClass:       types.StorageClass(h.StorageClass),
	}
	if remoteChecksum(alg) {
		in.ChecksumAlgorithm, in.ChecksumType = types.ChecksumAlgorithm(alg), types.ChecksumType(typ)
	}
	octx, cancel := b.opCtx(ctx)
	defer cancel()
	out, err := b.client.CreateMultipartUpload(octx, in, h.optFns()...)
	if err != nil {
		return "", mapErr(err, "create an upload of "+key)
	}
	id := aws.ToString(out.UploadId)
	if id == "" {
		return "", backends.Errorf(backends.Internal, "s3: create an upload of %s: no upload ID", key)
	}
	if h.Record != nil {
		rec := uploadRecord{V: sysVersion, Key: key, ID: id, Initiated: time.Now().UTC(), X: h.Record.X, Meta: h.meta}
		data, _ := json.Marshal(rec)
		if err := b.putSmall(ctx, bucket, uploadRecordKey(id), data); err != nil {
			b.abort(bucket, key, id)
			return "", err
		}
		b.cacheUpload(id, uploadRef{key: key, alg: alg})
	}
	return id, nil
}

func (b *Backend) cacheUpload(id string, ref uploadRef) {
	b.uploadsMu.Lock()
	defer b.uploadsMu.Unlock()
	if len(b.uploads) >= 4096 {
		for k := range b.uploads { // drop one, any
			delete(b.uploads, k)
			break
		}
	}
	b.uploads[id] = ref
}

// uploadRefOf returns what is known of upload id, checking that it belongs
// to key. An upload without a record (started by another client) gives a
// zero ref: the service checks it.
func (b *Backend) uploadRefOf(ctx context.Context, bucket, key, id string) (uploadRef, error) {
	if id == "" {
		return uploadRef{}, errNoSuchUpload()
	}
	b.uploadsMu.Lock()
	ref, ok := b.uploads[id]
	b.uploadsMu.Unlock()
	if !ok {
		rec, err := b.readUploadRecord(ctx, bucket, id)
		if err != nil {
			return ref, err
		}
		if rec == nil {
			// Not one of Strata's, or gone: ask the service, which
			// some emulators answer wrongly when asked with a part.
			octx, cancel := b.opCtx(ctx)
			defer cancel()
			_, err := b.client.ListParts(octx, &s3sdk.ListPartsInput{Bucket: &bucket, Key: &key, UploadId: &id, MaxParts: aws.Int32(1)})
			if k, _ := errKind(err); err != nil && (k == backends.NoSuchKey || k == backends.NoSuchUpload) {
				return uploadRef{}, errNoSuchUpload()
			}
			if err != nil {
				return uploadRef{}, mapErr(err, "list the parts of "+key)
			}
			ref = uploadRef{key: key}
			b.cacheUpload(id, ref)
			return ref, nil
		}
		ref = uploadRef{key: rec.Key, alg: rec.Meta.ChecksumAlgorithm}
		b.cacheUpload(id, ref)
	}
	if ref.key != key {
		return ref, errNoSuchUpload()
	}
	return ref, nil
}

func errNoSuchUpload() error {
	return backends.Errorf(backends.NoSuchUpload, "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.")
}

func (b *Backend) CreateMultipartUpload(ctx context.Context, bucket, key string, meta backends.Meta) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	m := metaOf(&meta)
	start := m
	start.Checksums, start.ChecksumType, start.Parts = nil, "", nil
	h := encodeMeta(key, &start, true, 0)
	h.meta = m
	return b.createUpload(ctx, bucket, key, &h, m.ChecksumAlgorithm, m.ChecksumType)
}

// remoteChecksum reports whether the service keeps the checksums of alg
// for an upload (those setChecksum sends). Services that predate the
// newer algorithms (SHA512, MD5, XXHASH*) would refuse the upload; Strata
// keeps those checksums itself, beside the upload's record.
func remoteChecksum(alg string) bool {
	switch alg {
	case "CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256":
		return true
	}
	return false
}

// setChecksum puts the checksum v of algorithm alg on a part upload.
func setChecksum(in *s3sdk.UploadPartInput, alg, v string) {
	switch alg {
	case "CRC32":
		in.ChecksumCRC32 = &v
	case "CRC32C":
		in.ChecksumCRC32C = &v
	case "CRC64NVME":
		in.ChecksumCRC64NVME = &v
	case "SHA1":
		in.ChecksumSHA1 = &v
	case "SHA256":
		in.ChecksumSHA256 = &v
	}
}

func partChecksums(crc32, crc32c, crc64, sha1, sha256 *string) map[string]string {
	m := map[string]string{}
	for alg, v := range map[string]*string{"CRC32": crc32, "CRC32C": crc32c, "CRC64NVME": crc64, "SHA1": sha1, "SHA256": sha256} {
		if v != nil && *v != "" {
			m[alg] = *v
		}
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// uploadPartBuf sends one part from src (a buffer or spool file). It
// returns the part's ETag and the checksums the service echoed.
func (b *Backend) uploadPartBuf(ctx context.Context, bucket, key, id string, n int, src io.ReaderAt, size int64, sum func(*s3sdk.UploadPartInput)) (string, map[string]string, error) {
	in := &s3sdk.UploadPartInput{
		Bucket: &bucket, Key: &key, UploadId: &id,
		PartNumber:    aws.Int32(int32(n)),
		ContentLength: aws.Int64(size),
	}
	if sum != nil {
		sum(in)
	}
	var out *s3sdk.UploadPartOutput
	err := b.sendBody(ctx, src, size, func(ctx context.Context, body io.ReadSeeker) error {
		in.Body = body
		var err error
		out, err = b.client.UploadPart(ctx, in)
		return err
	})
	if err != nil {
		return "", nil, mapErr(err, "upload part "+strconv.Itoa(n)+" of "+key)
	}
	etag := cleanETag(aws.ToString(out.ETag))
	if etag == "" {
		return "", nil, backends.Errorf(backends.Internal, "s3: upload part %d of %s: no ETag", n, key)
	}
	return etag, partChecksums(out.ChecksumCRC32, out.ChecksumCRC32C, out.ChecksumCRC64NVME, out.ChecksumSHA1, out.ChecksumSHA256), nil
}

// Services that neither check nor keep part checksums (moto, OSS), and
// checksums of algorithms the service is not asked to keep, are kept by
// Strata instead, in the names of empty objects beside the upload's
// record, .strata.sys/uploads/<hash>.parts/<number>/<ETag>/<time>/<value>,
// so that one listing finds them all. Of a part sent twice with the same
// data, the later one counts. (Beside the record, not below it, as the Sys
// markers; uploads begun by earlier releases have them below it, in
// <hash>/parts/, which is still read.)

func partMarkerPrefix(id string) string { return uploadRecordKey(id) + ".parts/" }

func legacyPartMarkerPrefix(id string) string { return uploadRecordKey(id) + "/parts/" }

func partMarkerKey(id string, n int, etag, value string) string {
	return fmt.Sprintf("%s%05d/%s/%020d/%s", partMarkerPrefix(id), n, url.PathEscape(etag), time.Now().UnixNano(), url.PathEscape(value))
}

// The Sys of a part (PartInfo.Sys) is kept beside the upload's record too,
// as .strata.sys/uploads/<hash>.sys/<number>/<ETag>/<time>/<value>, where
// <value> is the base64url of the Sys as JSON, or "~" when that would make
// the name too long and the JSON is the object's body. Of markers of one
// part with one ETag, the latest counts; markers of another ETag (of an
// earlier upload of the part) are ignored. (Beside the record, not below
// it: a service over a file system cannot keep names below a file's.)

func partSysPrefix(id string) string { return uploadRecordKey(id) + ".sys/" }

// maxSysName bounds the value in a marker's name (S3 keys are at most 1024
// bytes; the rest of the name takes about 190).
const maxSysName = 600

func (b *Backend) putPartSys(ctx context.Context, bucket, id string, n int, etag string, sys map[string]string) error {
	js, _ := json.Marshal(sys)
	name := fmt.Sprintf("%s%05d/%s/%020d/", partSysPrefix(id), n, url.PathEscape(etag), time.Now().UnixNano())
	if v := base64.RawURLEncoding.EncodeToString(js); len(v) <= maxSysName {
		return b.putSmall(ctx, bucket, name+v, nil)
	}
	return b.putSmall(ctx, bucket, name+"~", js)
}

// partRef names a part by number and ETag.
type partRef struct {
	n    int
	etag string
}

// partMarkers calls fn with each marker under prefix,
// <number>/<ETag>/<time>/<value>, with its full name, in key order: of two
// markers of a part, the later comes last.
func (b *Backend) partMarkers(ctx context.Context, bucket, prefix string, fn func(p partRef, value, name string)) error {
	return b.listKeys(ctx, bucket, prefix, func(k string) {
		f := strings.Split(strings.TrimPrefix(k, prefix), "/")
		if len(f) != 4 {
			return
		}
		n, err1 := strconv.Atoi(f[0])
		etag, err2 := url.PathUnescape(f[1])
		if err1 == nil && err2 == nil {
			fn(partRef{n, etag}, f[3], k)
		}
	})
}

// fillPartSys gives parts the Sys kept beside upload id, and reports
// whether there were any markers.
func (b *Backend) fillPartSys(ctx context.Context, bucket, id string, parts []backends.PartInfo) (bool, error) {
	latest := map[partRef]string{} // the marker's name
	err := b.partMarkers(ctx, bucket, partSysPrefix(id), func(p partRef, _, name string) { latest[p] = name })
	if err != nil || len(latest) == 0 {
		return false, err
	}
	for i, p := range parts {
		k, ok := latest[partRef{p.Number, p.ETag}]
		if !ok {
			continue
		}
		var js []byte
		if v := k[strings.LastIndexByte(k, '/')+1:]; v == "~" {
			if js, err = b.getSmall(ctx, bucket, k); err != nil {
				return true, err
			}
		} else if js, err = base64.RawURLEncoding.DecodeString(v); err != nil {
			continue
		}
		var sys map[string]string
		if json.Unmarshal(js, &sys) == nil && len(sys) > 0 {
			parts[i].Sys = sys
		}
	}
	return true, nil
}

// fillPartChecksums gives parts without a checksum of alg the one kept
// beside the upload's record, if any.
func (b *Backend) fillPartChecksums(ctx context.Context, bucket, id, alg string, parts []backends.PartInfo) error {
	missing := false
	for _, p := range parts {
		missing = missing || p.Checksums[alg] == ""
	}
	if !missing {
		return nil
	}
	kept := map[partRef]string{}
	for _, prefix := range []string{legacyPartMarkerPrefix(id), partMarkerPrefix(id)} {
		err := b.partMarkers(ctx, bucket, prefix, func(p partRef, value, _ string) {
			if v, err := url.PathUnescape(value); err == nil {
				kept[p] = v
			}
		})
		if err != nil {
			return err
		}
	}
	for i, p := range parts {
		if v, ok := kept[partRef{p.Number, p.ETag}]; ok && p.Checksums[alg] == "" {
			if parts[i].Checksums == nil {
				parts[i].Checksums = map[string]string{}
			}
			parts[i].Checksums[alg] = v
		}
	}
	return nil
}

// UploadPart sends the part as one request of known length: from memory
// when it fits in a part buffer, else from a temporary file.
func (b *Backend) UploadPart(ctx context.Context, bucket, key, uploadID string, number int, data io.Reader, meta *backends.Meta) (backends.PartInfo, error) {
	if number < 1 || number > maxParts {
		return backends.PartInfo{}, backends.Errorf(backends.InvalidArgument, "Part number must be an integer between 1 and 10000, inclusive.")
	}
	ref, err := b.uploadRefOf(ctx, bucket, key, uploadID)
	if err != nil {
		return backends.PartInfo{}, err
	}
	buf := new(partBuf)
	defer buf.release()
	eof, err := buf.fill(data, b.cfg.PartSize)
	if err != nil {
		return backends.PartInfo{}, err
	}
	var src io.ReaderAt = buf
	size := buf.n
	if !eof {
		sp, err := b.spoolPart(buf, data)
		if err != nil {
			return backends.PartInfo{}, err
		}
		defer sp.close()
		buf.release()
		src, size = sp, sp.n
	}
	if err := ctx.Err(); err != nil {
		return backends.PartInfo{}, err
	}
	// meta is final: data has returned io.EOF.
	var sums map[string]string
	if meta != nil {
		sums = meta.Checksums
	}
	var sum func(*s3sdk.UploadPartInput)
	if v := sums[ref.alg]; ref.alg != "" && v != "" {
		// The service checks the part against the checksum, and keeps
		// it for ListParts and the completion.
		sum = func(in *s3sdk.UploadPartInput) { setChecksum(in, ref.alg, v) }
	}
	etag, echoed, err := b.uploadPartBuf(ctx, bucket, key, uploadID, number, src, size, sum)
	if err != nil {
		if backends.Is(err, backends.NoSuchKey) {
			err = errNoSuchUpload()
		}
		return backends.PartInfo{}, err
	}
	if sum != nil && echoed[ref.alg] == "" {
		// The service did not take the checksum: keep it here.
		if err := b.putSmall(ctx, bucket, partMarkerKey(uploadID, number, etag, sums[ref.alg]), nil); err != nil {
			return backends.PartInfo{}, err
		}
	}
	var sys map[string]string
	if meta != nil && len(meta.Sys) > 0 {
		sys = maps.Clone(meta.Sys)
		if err := b.putPartSys(ctx, bucket, uploadID, number, etag, sys); err != nil {
			return backends.PartInfo{}, err
		}
	}
	return backends.PartInfo{Number: number, Size: size, ETag: etag, ModTime: time.Now().Truncate(time.Second).UTC(), Checksums: sums, Sys: sys}, nil
}

// listParts lists every part of an upload.
func (b *Backend) listParts(ctx context.Context, bucket, key, id string) ([]backends.PartInfo, error) {
	var parts []backends.PartInfo
	var marker *string
	for {
		octx, cancel := b.opCtx(ctx)
		out, err := b.client.ListParts(octx, &s3sdk.ListPartsInput{
			Bucket: &bucket, Key: &key, UploadId: &id, PartNumberMarker: marker, MaxParts: aws.Int32(1000),
		})
		cancel()
		if err != nil {
			if k, _ := errKind(err); k == backends.NoSuchKey {
				return nil, errNoSuchUpload()
			}
			return nil, mapErr(err, "list the parts of "+key)
		}
		for _, p := range out.Parts {
			parts = append(parts, backends.PartInfo{
				Number:    int(aws.ToInt32(p.PartNumber)),
				Size:      aws.ToInt64(p.Size),
				ETag:      cleanETag(aws.ToString(p.ETag)),
				ModTime:   modTime(p.LastModified),
				Checksums: partChecksums(p.ChecksumCRC32, p.ChecksumCRC32C, p.ChecksumCRC64NVME, p.ChecksumSHA1, p.ChecksumSHA256),
			})
		}
		next := aws.ToString(out.NextPartNumberMarker)
		if !aws.ToBool(out.IsTruncated) || len(out.Parts) == 0 || next == "" || next == aws.ToString(marker) {
			break
		}
		marker = &next
	}
	slices.SortFunc(parts, func(a, b backends.PartInfo) int { return a.Number - b.Number })
	return parts, nil
}

func (b *Backend) ListParts(ctx context.Context, bucket, key, uploadID string) (backends.Upload, []backends.PartInfo, error) {
	if uploadID == "" {
		return backends.Upload{}, nil, errNoSuchUpload()
	}
	rec, err := b.readUploadRecord(ctx, bucket, uploadID)
	if err != nil {
		return backends.Upload{}, nil, err
	}
	if rec != nil && rec.Key != key {
		return backends.Upload{}, nil, errNoSuchUpload()
	}
	parts, err := b.listParts(ctx, bucket, key, uploadID)
	if err != nil {
		return backends.Upload{}, nil, err
	}
	up := backends.Upload{Key: key, UploadID: uploadID}
	if _, err := b.fillPartSys(ctx, bucket, uploadID, parts); err != nil {
		return backends.Upload{}, nil, err
	}
	if rec != nil {
		up.Initiated, up.Meta = rec.Initiated, rec.Meta
		if alg := rec.Meta.ChecksumAlgorithm; alg != "" {
			if err := b.fillPartChecksums(ctx, bucket, uploadID, alg, parts); err != nil {
				return backends.Upload{}, nil, err
			}
		}
	} else if ups, err := b.ListMultipartUploads(ctx, bucket, key); err == nil {
		// Started by another client: the service knows when.
		for _, u := range ups {
			if u.UploadID == uploadID {
				up.Initiated = u.Initiated
			}
		}
	}
	return up, parts, nil
}

func (b *Backend) CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []int, opts backends.PutOptions) (backends.ObjectInfo, error) {
	if uploadID == "" {
		return backends.ObjectInfo{}, errNoSuchUpload()
	}
	meta := metaOf(opts.Meta)
	rec, err := b.readUploadRecord(ctx, bucket, uploadID)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	if rec != nil && rec.Key != key {
		return backends.ObjectInfo{}, errNoSuchUpload()
	}
	// The service's own list: it says whether the upload is still there
	// (some services complete an upload twice), and has each part's ETag
	// and checksums as the completion needs them.
	uploaded, err := b.listParts(ctx, bucket, key, uploadID)
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	byNum := make(map[int]backends.PartInfo, len(uploaded))
	for _, p := range uploaded {
		byNum[p.Number] = p
	}
	alg := meta.ChecksumAlgorithm
	if rec != nil {
		alg = rec.Meta.ChecksumAlgorithm
	}
	chosen := make([]backends.PartInfo, 0, len(parts))
	completed := make([]types.CompletedPart, 0, len(parts))
	var size int64
	for i, n := range parts {
		p, ok := byNum[n]
		if !ok {
			return backends.ObjectInfo{}, backends.Errorf(backends.InvalidPart, "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag.")
		}
		if i > 0 && n <= parts[i-1] {
			return backends.ObjectInfo{}, backends.Errorf(backends.InvalidPartOrder, "The list of parts was not in ascending order. The parts list must be specified in order by part number.")
		}
		cp := types.CompletedPart{PartNumber: aws.Int32(int32(n)), ETag: quoteETag(p.ETag)}
		if v := p.Checksums[alg]; alg != "" && v != "" {
			switch alg {
			case "CRC32":
				cp.ChecksumCRC32 = &v
			case "CRC32C":
				cp.ChecksumCRC32C = &v
			case "CRC64NVME":
				cp.ChecksumCRC64NVME = &v
			case "SHA1":
				cp.ChecksumSHA1 = &v
			case "SHA256":
				cp.ChecksumSHA256 = &v
			}
		}
		completed = append(completed, cp)
		chosen = append(chosen, p)
		size += p.Size
	}
	if len(parts) == 0 {
		return backends.ObjectInfo{}, backends.Errorf(backends.InvalidArgument, "You must specify at least one part")
	}
	if opts.IfNoneMatch || opts.IfMatch != "" {
		// A HEAD first, nothing written yet: the emulation (not safe
		// against a concurrent writer), and with native conditions an
		// early failure that also covers services which take them on
		// PUT but ignore If-Match on a completion (moto 5.2.1).
		if err := b.checkConditions(ctx, bucket, key, opts); err != nil {
			return backends.ObjectInfo{}, err
		}
	}
	final := meta
	markers := alg != ""
	for _, p := range final.Parts {
		markers = markers || len(p.Sys) > 0
	}
	if len(final.Parts) != len(chosen) {
		if alg != "" {
			if err := b.fillPartChecksums(ctx, bucket, uploadID, alg, chosen); err != nil {
				return backends.ObjectInfo{}, err
			}
		}
		found, err := b.fillPartSys(ctx, bucket, uploadID, chosen)
		if err != nil {
			return backends.ObjectInfo{}, err
		}
		markers = markers || found
		final.Parts = chosen
	}
	if rec != nil {
		// What the upload was created with, split the same way, and
		// what is known only now.
		start := rec.Meta
		start.Checksums, start.ChecksumType, start.Parts = nil, "", nil
		h := encodeMeta(key, &start, true, 0)
		r := sysMeta{V: sysVersion, X: rec.X, User: h.Record.User,
			Checksums: final.Checksums, ChecksumType: final.ChecksumType, Parts: partsOf(&final), Sys: final.Sys}
		if err := b.writeRecord(ctx, bucket, key, &r); err != nil {
			return backends.ObjectInfo{}, err
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 10*b.cfg.Timeout)
	defer cancel()
	in := &s3sdk.CompleteMultipartUploadInput{
		Bucket: &bucket, Key: &key, UploadId: &uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: completed},
	}
	// The service checks them with the completion; one that fails keeps
	// the upload (S3 does), so the client may retry or abort.
	in.IfNoneMatch, in.IfMatch = b.nativeConditions(opts)
	out, err := b.client.CompleteMultipartUpload(cctx, in)
	if err != nil {
		return backends.ObjectInfo{}, mapErr(err, "complete the upload of "+key)
	}
	b.deleteUploadRecord(bucket, uploadID, markers)
	etag, mt := b.stat(ctx, bucket, key, aws.ToString(out.ETag), out.ResultMetadata)
	final.Size, final.ETag, final.ModTime = size, etag, mt
	for i := range final.Parts {
		final.Parts[i].ModTime = mt
	}
	info := backends.ObjectInfo{Key: key, Meta: final}
	if rec != nil && (!headersEqual(&rec.Meta, &final) || !mapsEqual(rec.Meta.Tags, final.Tags)) {
		// The object's metadata is not what the upload began with.
		return b.UpdateMeta(ctx, bucket, key, final)
	}
	return info, nil
}

func (b *Backend) AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error {
	if uploadID == "" {
		return errNoSuchUpload()
	}
	rec, err := b.readUploadRecord(ctx, bucket, uploadID)
	if err != nil {
		return err
	}
	if rec != nil && rec.Key != key {
		return errNoSuchUpload()
	}
	octx, cancel := b.opCtx(ctx)
	_, err = b.client.AbortMultipartUpload(octx, &s3sdk.AbortMultipartUploadInput{Bucket: &bucket, Key: &key, UploadId: &uploadID})
	cancel()
	if err != nil {
		if k, _ := errKind(err); k == backends.NoSuchKey || k == backends.NoSuchUpload {
			err = errNoSuchUpload()
		} else {
			return mapErr(err, "abort the upload of "+key)
		}
	}
	if rec != nil {
		// Parts may have left checksums or Sys beside the record.
		b.deleteUploadRecord(bucket, uploadID, true)
	}
	return err
}

func (b *Backend) ListMultipartUploads(ctx context.Context, bucket, prefix string) ([]backends.Upload, error) {
	var ups []backends.Upload
	var keyMarker, idMarker *string
	for {
		octx, cancel := b.opCtx(ctx)
		out, err := b.client.ListMultipartUploads(octx, &s3sdk.ListMultipartUploadsInput{
			Bucket: &bucket, Prefix: str(prefix), KeyMarker: keyMarker, UploadIdMarker: idMarker,
		})
		cancel()
		if err != nil {
			return nil, mapErr(err, "list uploads")
		}
		for _, u := range out.Uploads {
			k := aws.ToString(u.Key)
			if strings.HasPrefix(k, sysPrefix) {
				continue
			}
			var init time.Time
			if u.Initiated != nil {
				init = u.Initiated.UTC()
			}
			ups = append(ups, backends.Upload{Key: k, UploadID: aws.ToString(u.UploadId), Initiated: init})
		}
		nk, ni := aws.ToString(out.NextKeyMarker), aws.ToString(out.NextUploadIdMarker)
		if !aws.ToBool(out.IsTruncated) || nk == "" && ni == "" || nk == aws.ToString(keyMarker) && ni == aws.ToString(idMarker) {
			break
		}
		keyMarker, idMarker = &nk, &ni
	}
	// The records give each upload of Strata's its Meta, and the time
	// that ListParts gives too (some emulators have none of their own).
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range ups {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			rec, err := b.readUploadRecord(ctx, bucket, ups[i].UploadID)
			if err == nil && rec != nil && rec.Key == ups[i].Key {
				ups[i].Initiated, ups[i].Meta = rec.Initiated, rec.Meta
			}
		})
	}
	wg.Wait()
	slices.SortStableFunc(ups, func(a, b backends.Upload) int {
		return cmp.Or(strings.Compare(a.Key, b.Key), a.Initiated.Compare(b.Initiated))
	})
	return ups, nil
}
