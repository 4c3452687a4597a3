package fsstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/strata-storage/strata/backends"
)

// A multipart upload is staged in .strata.sys/multipart/<bucket>/<id>/:
// upload.json (uploadRecord) and, per part, a data file part-NNNNN-<rand>
// with a record part-NNNNN.json naming it. Writing the record is the
// commit point of a part, so re-uploading a part replaces it atomically.

const maxPartNumber = 10000

type uploadRecord struct {
	V         int           `json:"v"`
	Key       string        `json:"key"`
	Initiated time.Time     `json:"initiated"`
	Meta      backends.Meta `json:"meta"`
}

type partRecord struct {
	V    int               `json:"v"`
	Part backends.PartInfo `json:"part"`
	Data string            `json:"data"`
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

func uploadDir(bucket, id string) string { return join(multipartDir, bucket, id) }

func partRecordName(n int) string { return fmt.Sprintf("part-%05d.json", n) }

func noSuchUpload(id string) error {
	return backends.Errorf(backends.NoSuchUpload, "the upload %q does not exist", id)
}

// upload reads the record of an upload of key.
func (s *Store) upload(ctx context.Context, bucket, key, id string) (uploadRecord, error) {
	if err := s.checkObject(ctx, bucket, key); err != nil {
		return uploadRecord{}, err
	}
	if !validUploadID(id) {
		return uploadRecord{}, noSuchUpload(id)
	}
	return s.readUpload(bucket, id, key)
}

func (s *Store) readUpload(bucket, id, key string) (uploadRecord, error) {
	b, err := s.readFile(join(uploadDir(bucket, id), "upload.json"), 1<<26)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return uploadRecord{}, noSuchUpload(id)
		}
		return uploadRecord{}, fsErr(err, "cannot read upload "+id)
	}
	var u uploadRecord
	if err := json.Unmarshal(b, &u); err != nil || u.V < 1 || u.V > metaVersion {
		return uploadRecord{}, backends.Errorf(backends.Internal, "the record of upload %q is damaged", id)
	}
	if key != "" && u.Key != key {
		return uploadRecord{}, noSuchUpload(id)
	}
	return u, nil
}

func (s *Store) CreateMultipartUpload(ctx context.Context, bucket, key string, meta backends.Meta) (string, error) {
	if err := s.checkObject(ctx, bucket, key); err != nil {
		return "", err
	}
	if isFolderKey(key) {
		return "", backends.Errorf(backends.InvalidArgument, "the key %q ends in / and names a folder, which cannot hold data on a file-system backend", key)
	}
	if err := s.checkParents(bucket, key); err != nil {
		return "", err
	}
	id := randomID()
	dir := uploadDir(bucket, id)
	if err := s.mkdirAll(dir); err != nil {
		return "", fsErr(err, "cannot create upload")
	}
	b, _ := json.Marshal(uploadRecord{V: metaVersion, Key: key, Initiated: time.Now().UTC(), Meta: meta})
	if err := s.writeFileAtomic(join(dir, "upload.json"), b); err != nil {
		s.removeAll(dir)
		return "", fsErr(err, "cannot create upload")
	}
	return id, nil
}

func (s *Store) readPart(bucket, id string, n int) (partRecord, error) {
	b, err := s.readFile(join(uploadDir(bucket, id), partRecordName(n)), 1<<20)
	if err != nil {
		return partRecord{}, err
	}
	var p partRecord
	if err := json.Unmarshal(b, &p); err != nil || p.V < 1 || p.V > metaVersion || p.Part.Number != n ||
		strings.ContainsAny(p.Data, `/\`) || !strings.HasPrefix(p.Data, "part-") {
		return partRecord{}, fmt.Errorf("the record of part %d is damaged", n)
	}
	return p, nil
}

func (s *Store) UploadPart(ctx context.Context, bucket, key, uploadID string, number int, data io.Reader, meta *backends.Meta) (backends.PartInfo, error) {
	if _, err := s.upload(ctx, bucket, key, uploadID); err != nil {
		return backends.PartInfo{}, err
	}
	if number < 1 || number > maxPartNumber {
		return backends.PartInfo{}, backends.Errorf(backends.InvalidArgument, "part number %d is not in 1..%d", number, maxPartNumber)
	}
	st, err := s.stage(ctx, func(w io.Writer) error {
		_, err := copyData(ctx, w, data)
		return err
	})
	if err != nil {
		return backends.PartInfo{}, err
	}
	defer func() {
		if st.name != "" {
			st.discard(s)
		}
	}()
	if err := st.w.Close(); err != nil {
		st.w = nil
		return backends.PartInfo{}, fsErr(err, "cannot write part")
	}
	st.w = nil
	p := backends.PartInfo{Number: number, Size: st.fi.Size(), ModTime: st.fi.ModTime()}
	if meta != nil {
		p.ETag, p.Checksums, p.Sys = meta.ETag, meta.Checksums, meta.Sys
	}
	dir := uploadDir(bucket, uploadID)
	dataName := fmt.Sprintf("part-%05d-%s", number, randomID()[:16])

	unlock := s.lock(bucket, uploadID)
	defer unlock()
	old, oldErr := s.readPart(bucket, uploadID, number)
	if err := s.fs.Rename(st.name, join(dir, dataName)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return backends.PartInfo{}, noSuchUpload(uploadID) // aborted meanwhile
		}
		return backends.PartInfo{}, fsErr(err, "cannot store part")
	}
	st.name = ""
	b, _ := json.Marshal(partRecord{V: metaVersion, Part: p, Data: dataName})
	if err := s.writeFileAtomic(join(dir, partRecordName(number)), b); err != nil {
		s.fs.Remove(join(dir, dataName))
		return backends.PartInfo{}, fsErr(err, "cannot store part")
	}
	if oldErr == nil {
		s.fs.Remove(join(dir, old.Data))
	}
	return p, nil
}

// parts returns the part records of an upload in part-number order.
func (s *Store) parts(bucket, id string) ([]partRecord, error) {
	ents, err := s.fs.ReadDir(uploadDir(bucket, id))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, noSuchUpload(id)
		}
		return nil, fsErr(err, "cannot read upload "+id)
	}
	var out []partRecord
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, "part-") || !strings.HasSuffix(name, ".json") {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(name, "part-"), ".json"))
		if err != nil || n < 1 || n > maxPartNumber {
			continue
		}
		p, err := s.readPart(bucket, id, n)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, fsErr(err, "cannot read upload "+id)
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b partRecord) int { return cmp.Compare(a.Part.Number, b.Part.Number) })
	return out, nil
}

func (s *Store) ListParts(ctx context.Context, bucket, key, uploadID string) (backends.Upload, []backends.PartInfo, error) {
	u, err := s.upload(ctx, bucket, key, uploadID)
	if err != nil {
		return backends.Upload{}, nil, err
	}
	recs, err := s.parts(bucket, uploadID)
	if err != nil {
		return backends.Upload{}, nil, err
	}
	parts := make([]backends.PartInfo, len(recs))
	for i, r := range recs {
		parts[i] = r.Part
	}
	return backends.Upload{Key: u.Key, UploadID: uploadID, Initiated: u.Initiated, Meta: u.Meta}, parts, nil
}

func (s *Store) CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []int, opts backends.PutOptions) (backends.ObjectInfo, error) {
	if _, err := s.upload(ctx, bucket, key, uploadID); err != nil {
		return backends.ObjectInfo{}, err
	}
	meta := opts.MetaValue()
	cond := conditions{ifMatch: opts.IfMatch, ifNoneMatch: opts.IfNoneMatch}
	// Fail before joining the parts; checked again, atomically, when the
	// object is published.
	if err := s.checkCond(bucket, key, cond, s.openRead); err != nil {
		return backends.ObjectInfo{}, err
	}
	dir := uploadDir(bucket, uploadID)
	recs := make([]partRecord, len(parts))
	for i, n := range parts {
		p, err := s.readPart(bucket, uploadID, n)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return backends.ObjectInfo{}, backends.Errorf(backends.InvalidPart, "part %d of upload %q was not uploaded", n, uploadID)
			}
			return backends.ObjectInfo{}, fsErr(err, "cannot read upload "+uploadID)
		}
		recs[i] = p
	}
	st, err := s.stage(ctx, func(w io.Writer) error {
		for _, p := range recs {
			f, err := s.fs.Open(join(dir, p.Data))
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return backends.Errorf(backends.InvalidPart, "part %d of upload %q is gone", p.Part.Number, uploadID)
				}
				return fsErr(err, "cannot read part")
			}
			n, err := appendPart(ctx, w, f, p.Part.Size)
			f.Close()
			if err != nil {
				return fsErr(err, "cannot join parts")
			}
			if n != p.Part.Size {
				return backends.Errorf(backends.InvalidPart, "part %d of upload %q changed size", p.Part.Number, uploadID)
			}
		}
		return nil
	})
	if err != nil {
		return backends.ObjectInfo{}, err
	}
	st.replaced = opts.Replaced
	// A failed condition discards the joined file and keeps the upload.
	info, err := s.commit(ctx, bucket, key, st, meta, cond)
	if err != nil {
		return info, err
	}
	unlock := s.lock(bucket, uploadID)
	s.removeAll(dir)
	unlock()
	return info, nil
}

// copyChunk is how much one CopyFrom appends between checks of the
// request's context.
const copyChunk = 64 << 20

// appendPart appends the part file f, of size bytes by its record, to w:
// inside the file system when w is a FileCopier that can, else through a
// buffer. It returns the bytes appended, or the size of a file that is not
// size bytes long (the caller refuses the part).
func appendPart(ctx context.Context, w io.Writer, f File, size int64) (int64, error) {
	fc, ok := w.(FileCopier)
	if !ok {
		return copyData(ctx, w, f)
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if fi.Size() != size {
		return fi.Size(), nil // nothing appended: the caller refuses the part
	}
	var n int64
	for n < size {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		k, err := fc.CopyFrom(f, min(size-n, copyChunk))
		n += k
		if errors.Is(err, errors.ErrUnsupported) && n == 0 {
			return copyData(ctx, w, f)
		}
		if err != nil {
			return n, err
		}
		if k == 0 {
			break // shorter than it was a moment ago
		}
	}
	return n, nil
}

func (s *Store) AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error {
	if _, err := s.upload(ctx, bucket, key, uploadID); err != nil {
		return err
	}
	unlock := s.lock(bucket, uploadID)
	defer unlock()
	return fsErr(s.removeAll(uploadDir(bucket, uploadID)), "cannot abort upload "+uploadID)
}

func (s *Store) ListMultipartUploads(ctx context.Context, bucket, prefix string) ([]backends.Upload, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.checkBucket(bucket); err != nil {
		return nil, err
	}
	ents, err := s.fs.ReadDir(join(multipartDir, bucket))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fsErr(err, "cannot list uploads")
	}
	var out []backends.Upload
	for _, e := range ents {
		if !e.IsDir() || !validUploadID(e.Name()) {
			continue
		}
		u, err := s.readUpload(bucket, e.Name(), "")
		if err != nil {
			continue // aborted or completed meanwhile, or half made
		}
		if strings.HasPrefix(u.Key, prefix) {
			out = append(out, backends.Upload{Key: u.Key, UploadID: e.Name(), Initiated: u.Initiated, Meta: u.Meta})
		}
	}
	slices.SortFunc(out, func(a, b backends.Upload) int {
		return cmp.Or(strings.Compare(a.Key, b.Key), a.Initiated.Compare(b.Initiated), strings.Compare(a.UploadID, b.UploadID))
	})
	return out, nil
}
