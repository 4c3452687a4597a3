//go:build linux

package mount

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"maps"
	"syscall"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/gateway"
)

// backendStore is a Store over a bucket of a backends.Backend in the same
// process: no HTTP, no signing. It does what s3api does around the
// backend for the same calls (MD5 ETags, part selection, multipart ETags),
// so that objects written either way look the same.
type backendStore struct {
	b      backends.Backend
	bucket string
}

// NewBackendStore returns the Store of bucket in b.
func NewBackendStore(b backends.Backend, bucket string) Store {
	return &backendStore{b: b, bucket: bucket}
}

// backendErr turns a backend error into a store error with its errno.
func backendErr(op, key string, err error) error {
	if err == nil {
		return nil
	}
	errno := syscall.EIO
	switch backends.KindOf(err) {
	case backends.NoSuchKey, backends.NoSuchBucket, backends.NoSuchUpload, backends.NotFound:
		errno = syscall.ENOENT
	case backends.AccessDenied:
		errno = syscall.EACCES
	case backends.NotEmpty:
		errno = syscall.ENOTEMPTY
	case backends.InvalidKey, backends.InvalidArgument:
		errno = syscall.EINVAL
	case backends.KeyTooLong:
		errno = syscall.ENAMETOOLONG
	case backends.EntityTooLarge:
		errno = syscall.EFBIG
	case backends.Conflict:
		errno = syscall.EEXIST
	case backends.NotImplemented:
		errno = syscall.ENOTSUP
	default:
		// A full disk under a file-system backend.
		if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
			errno = syscall.ENOSPC
		}
	}
	return &Error{Op: op, Key: key, Errno: errno, Err: err}
}

func objectOf(info backends.ObjectInfo) Object {
	return Object{
		Key: info.Key, Size: info.Size, ModTime: info.ModTime, ETag: info.ETag,
		Meta: Meta{ContentType: info.ContentType, User: info.User}, HasMeta: true,
	}
}

func (s *backendStore) List(ctx context.Context, prefix, delimiter, token string, max int) (ListPage, error) {
	res, err := s.b.ListObjects(ctx, s.bucket, backends.ListOptions{
		Prefix: prefix, Delimiter: delimiter, Marker: token, MaxKeys: max,
	})
	if err != nil {
		return ListPage{}, backendErr("list", prefix, err)
	}
	p := ListPage{Objects: make([]Object, len(res.Objects)), Prefixes: res.Prefixes}
	for i, o := range res.Objects {
		p.Objects[i] = objectOf(o)
	}
	if res.IsTruncated {
		p.Next = res.NextMarker
		if p.Next == "" { // a backend that leaves it out: the last entry
			if n := len(p.Objects); n > 0 {
				p.Next = p.Objects[n-1].Key
			}
			if n := len(p.Prefixes); n > 0 && p.Prefixes[n-1] > p.Next {
				p.Next = p.Prefixes[n-1]
			}
		}
	}
	return p, nil
}

func (s *backendStore) Head(ctx context.Context, key string) (Object, error) {
	info, err := s.b.HeadObject(ctx, s.bucket, key)
	if err != nil {
		return Object{}, backendErr("head", key, err)
	}
	return objectOf(info), nil
}

func (s *backendStore) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	rng := &backends.Range{Start: off, End: -1}
	if n >= 0 {
		rng.End = off + n - 1
	}
	rc, _, err := s.b.GetObject(ctx, s.bucket, key, rng)
	if err != nil {
		return nil, backendErr("get", key, err)
	}
	return rc, nil
}

// md5Reader fills in the size and MD5 ETag of what it passed when its
// source ends, before the backend sees io.EOF (as s3api's payload does).
type md5Reader struct {
	r    io.Reader
	h    hash.Hash
	n    int64
	meta *backends.Meta
}

func newMD5Reader(r io.Reader, meta *backends.Meta) *md5Reader {
	return &md5Reader{r: r, h: md5.New(), meta: meta}
}

func (m *md5Reader) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.h.Write(p[:n])
	m.n += int64(n)
	if err == io.EOF {
		m.meta.Size = m.n
		m.meta.ETag = hex.EncodeToString(m.h.Sum(nil))
	}
	return n, err
}

func backendMeta(key string, meta Meta) backends.Meta {
	m := backends.Meta{User: maps.Clone(meta.User)}
	if ct := contentType(key, meta); ct != nil {
		m.ContentType = *ct
	}
	return m
}

func (s *backendStore) Put(ctx context.Context, key string, body io.ReadSeeker, size int64, meta Meta) (Object, error) {
	m := backendMeta(key, meta)
	info, err := s.b.PutObject(ctx, s.bucket, key, newMD5Reader(io.LimitReader(body, size), &m), backends.PutOptions{Meta: &m})
	if err != nil {
		return Object{}, backendErr("put", key, err)
	}
	return objectOf(info), nil
}

func (s *backendStore) CreateMultipart(ctx context.Context, key string, meta Meta) (string, error) {
	id, err := s.b.CreateMultipartUpload(ctx, s.bucket, key, backendMeta(key, meta))
	return id, backendErr("create multipart upload", key, err)
}

func (s *backendStore) UploadPart(ctx context.Context, key, uploadID string, number int, body io.ReadSeeker, size int64) (string, error) {
	var m backends.Meta
	p, err := s.b.UploadPart(ctx, s.bucket, key, uploadID, number, newMD5Reader(io.LimitReader(body, size), &m), &m)
	if err != nil {
		return "", backendErr("upload part", key, err)
	}
	return p.ETag, nil
}

func (s *backendStore) CompleteMultipart(ctx context.Context, key, uploadID string, parts []Part) (Object, error) {
	up, uploaded, err := s.b.ListParts(ctx, s.bucket, key, uploadID)
	if err != nil {
		return Object{}, backendErr("complete multipart upload", key, err)
	}
	want := make([]gateway.CompletedPart, len(parts))
	for i, p := range parts {
		want[i] = gateway.CompletedPart{Number: p.Number, ETag: p.ETag}
	}
	sel, err := gateway.SelectParts(uploaded, want)
	if err != nil {
		return Object{}, backendErr("complete multipart upload", key, err)
	}
	meta := up.Meta
	meta.ETag = gateway.MultipartETag(sel)
	meta.Parts = sel
	meta.Size = 0
	nums := make([]int, len(sel))
	for i, p := range sel {
		meta.Size += p.Size
		nums[i] = p.Number
	}
	info, err := s.b.CompleteMultipartUpload(ctx, s.bucket, key, uploadID, nums, backends.PutOptions{Meta: &meta})
	if err != nil {
		return Object{}, backendErr("complete multipart upload", key, err)
	}
	return objectOf(info), nil
}

func (s *backendStore) AbortMultipart(ctx context.Context, key, uploadID string) error {
	err := s.b.AbortMultipartUpload(ctx, s.bucket, key, uploadID)
	if backends.Is(err, backends.NoSuchUpload) {
		return nil
	}
	return backendErr("abort multipart upload", key, err)
}

func (s *backendStore) Copy(ctx context.Context, src Object, dst string, meta *Meta) (Object, error) {
	if src.Key == dst && meta != nil {
		cur, err := s.b.HeadObject(ctx, s.bucket, dst)
		if err != nil {
			return Object{}, backendErr("copy", dst, err)
		}
		m := cur.Meta
		nm := backendMeta(dst, *meta)
		m.User, m.ContentType = nm.User, nm.ContentType
		info, err := s.b.UpdateMeta(ctx, s.bucket, dst, m)
		if err != nil {
			return Object{}, backendErr("copy", dst, err)
		}
		return objectOf(info), nil
	}
	rc, info, err := s.b.GetObject(ctx, s.bucket, src.Key, nil)
	if err != nil {
		return Object{}, backendErr("copy", src.Key, err)
	}
	defer rc.Close()
	m := info.Meta
	m.Parts, m.Checksums, m.ChecksumType, m.ChecksumAlgorithm = nil, nil, "", ""
	if meta != nil {
		nm := backendMeta(dst, *meta)
		m.User, m.ContentType = nm.User, nm.ContentType
	}
	out, err := s.b.PutObject(ctx, s.bucket, dst, newMD5Reader(rc, &m), backends.PutOptions{Meta: &m})
	if err != nil {
		return Object{}, backendErr("copy", src.Key, err)
	}
	return objectOf(out), nil
}

func (s *backendStore) Delete(ctx context.Context, key string) error {
	return backendErr("delete", key, s.b.DeleteObject(ctx, s.bucket, key))
}
