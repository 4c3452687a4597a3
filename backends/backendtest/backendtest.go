// Package backendtest is the conformance suite that every backend runs from
// its own tests against a real instance of its storage:
//
//	func TestSuite(t *testing.T) {
//		backendtest.Run(t, func(t *testing.T) backends.Backend { return newBackend(t) })
//	}
//
// The suite checks the Backend contract only, never a storage layout. Like
// the gateway, it computes ETags (hex MD5, md5-of-md5s for multipart) and
// fills Meta itself: backends do not hash. Each subtest works in buckets of
// its own with random names, and removes them at the end.
package backendtest

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-storage/strata/backends"
)

// Run runs the suite; newBackend returns a backend for one subtest (a new
// one each time, or a shared one: subtests use their own buckets).
func Run(t *testing.T, newBackend func(t *testing.T) backends.Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b backends.Backend)
	}{
		{"Buckets", testBuckets},
		{"BucketConfig", testBucketConfig},
		{"PutGetHeadDelete", testPutGetHeadDelete},
		{"Range", testRange},
		{"Metadata", testMetadata},
		{"UpdateMeta", testUpdateMeta},
		{"List", testList},
		{"ListPagination", testListPagination},
		{"FolderObjects", testFolderObjects},
		{"Multipart", testMultipart},
		{"MultipartAbort", testMultipartAbort},
		{"ListMultipartUploads", testListUploads},
		{"ConditionalPut", testConditionalPut},
		{"ConditionalComplete", testConditionalComplete},
		{"FailedWrite", testFailedWrite},
		{"ConcurrentWriters", testConcurrentWriters},
		{"BadKeys", testBadKeys},
		{"Sys", testSys},
		{"PartSys", testPartSys},
		{"ListSys", testListSys},
		{"Move", testMove},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newBackend(t))
		})
	}
}

// ---- helpers ----

// NewBucket creates a bucket with a random name that is removed, with all
// it holds, when the test ends.
func NewBucket(t *testing.T, b backends.Backend) string {
	t.Helper()
	name := "bt-" + randHex(8)
	if err := b.CreateBucket(t.Context(), name); err != nil {
		t.Fatalf("CreateBucket(%s): %v", name, err)
	}
	t.Cleanup(func() { removeBucket(b, name) })
	return name
}

func removeBucket(b backends.Backend, bucket string) {
	ctx := context.Background()
	if ups, err := b.ListMultipartUploads(ctx, bucket, ""); err == nil {
		for _, u := range ups {
			b.AbortMultipartUpload(ctx, bucket, u.Key, u.UploadID)
		}
	}
	marker := ""
	for {
		res, err := b.ListObjects(ctx, bucket, backends.ListOptions{Marker: marker, MaxKeys: 1000})
		if err != nil {
			break
		}
		// Deepest first, so that folder objects go after what is below.
		for _, o := range slices.Backward(res.Objects) {
			b.DeleteObject(ctx, bucket, o.Key)
		}
		if !res.IsTruncated {
			break
		}
		marker = res.NextMarker
	}
	b.DeleteBucket(ctx, bucket)
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// hashReader completes meta at EOF, the way the gateway does: the backend
// may read Meta only after the data has returned io.EOF.
type hashReader struct {
	r    io.Reader
	h    hash.Hash
	n    int64
	meta *backends.Meta
}

func newHashReader(r io.Reader, meta *backends.Meta) *hashReader {
	return &hashReader{r: r, h: md5.New(), meta: meta}
}

func (h *hashReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	if err == io.EOF {
		h.meta.ETag = hex.EncodeToString(h.h.Sum(nil))
		h.meta.Size = h.n
	}
	return n, err
}

// Put stores data at key with meta (ETag computed), failing the test on error.
func Put(t *testing.T, b backends.Backend, bucket, key string, data []byte, meta backends.Meta) backends.ObjectInfo {
	t.Helper()
	info, err := put(t, b, bucket, key, data, meta, backends.PutOptions{})
	if err != nil {
		t.Fatalf("PutObject(%s): %v", key, err)
	}
	return info
}

func put(t *testing.T, b backends.Backend, bucket, key string, data []byte, meta backends.Meta, opts backends.PutOptions) (backends.ObjectInfo, error) {
	m := meta
	m.ETag, m.Size = "", 0
	opts.Meta = &m
	return b.PutObject(t.Context(), bucket, key, newHashReader(bytes.NewReader(data), &m), opts)
}

// Get reads a whole object.
func Get(t *testing.T, b backends.Backend, bucket, key string, rng *backends.Range) ([]byte, backends.ObjectInfo) {
	t.Helper()
	rc, info, err := b.GetObject(t.Context(), bucket, key, rng)
	if err != nil {
		t.Fatalf("GetObject(%s, %v): %v", key, rng, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("GetObject(%s): read: %v", key, err)
	}
	return data, info
}

func wantKind(t *testing.T, what string, err error, kinds ...backends.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %v", what, kinds)
	}
	if !slices.Contains(kinds, backends.KindOf(err)) {
		t.Fatalf("%s: error %v (kind %d), want kind %v", what, err, backends.KindOf(err), kinds)
	}
}

func checkModTime(t *testing.T, what string, mt time.Time) {
	t.Helper()
	if mt.IsZero() || time.Since(mt).Abs() > 15*time.Minute {
		t.Errorf("%s: ModTime %v, want about now", what, mt)
	}
}

// listAll lists with opts page by page, checking the paging invariants,
// and returns all keys and prefixes in order.
func listAll(t *testing.T, b backends.Backend, bucket string, opts backends.ListOptions) (keys, prefixes, merged []string) {
	t.Helper()
	for page := 0; ; page++ {
		if page > 100000 {
			t.Fatal("listing does not end")
		}
		res, err := b.ListObjects(t.Context(), bucket, opts)
		if err != nil {
			t.Fatalf("ListObjects(%+v): %v", opts, err)
		}
		var items []string
		for _, o := range res.Objects {
			keys = append(keys, o.Key)
			items = append(items, o.Key)
		}
		prefixes = append(prefixes, res.Prefixes...)
		items = append(items, res.Prefixes...)
		slices.Sort(items)
		if n := len(items); opts.MaxKeys > 0 && n > opts.MaxKeys {
			t.Fatalf("ListObjects(%+v): %d items, more than MaxKeys", opts, n)
		}
		merged = append(merged, items...)
		if !res.IsTruncated {
			break
		}
		if len(items) == 0 {
			t.Fatalf("ListObjects(%+v): truncated empty page", opts)
		}
		if res.NextMarker != items[len(items)-1] {
			t.Fatalf("ListObjects(%+v): NextMarker %q, want the last item %q", opts, res.NextMarker, items[len(items)-1])
		}
		opts.Marker = res.NextMarker
	}
	if !slices.IsSorted(merged) {
		t.Fatalf("ListObjects(%+v): not in S3 (byte) order: %q", opts, merged)
	}
	return keys, prefixes, merged
}

func eq(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n got  %q\n want %q", what, got, want)
	}
}

// ---- buckets ----

func testBuckets(t *testing.T, b backends.Backend) {
	ctx := t.Context()
	name := "bt-" + randHex(8)
	if _, err := b.HeadBucket(ctx, name); !backends.Is(err, backends.NoSuchBucket) {
		t.Fatalf("HeadBucket(missing): %v, want NoSuchBucket", err)
	}
	wantKind(t, "DeleteBucket(missing)", b.DeleteBucket(ctx, name), backends.NoSuchBucket)
	if err := b.CreateBucket(ctx, name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeBucket(b, name) })
	wantKind(t, "CreateBucket(again)", b.CreateBucket(ctx, name), backends.BucketExists)
	info, err := b.HeadBucket(ctx, name)
	if err != nil || info.Name != name {
		t.Fatalf("HeadBucket: %+v, %v", info, err)
	}
	checkModTime(t, "HeadBucket.Created", info.Created)
	list, err := b.ListBuckets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(list, func(bi backends.BucketInfo) bool { return bi.Name == name }) {
		t.Fatalf("ListBuckets: %v misses %s", list, name)
	}
	if !slices.IsSortedFunc(list, func(a, b backends.BucketInfo) int { return strings.Compare(a.Name, b.Name) }) {
		t.Fatalf("ListBuckets: not sorted: %v", list)
	}

	// Not empty: an object, a folder object. A refused deletion keeps
	// the uploads in progress.
	id, err := b.CreateMultipartUpload(ctx, name, "up", backends.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	Put(t, b, name, "x/y", []byte("data"), backends.Meta{})
	wantKind(t, "DeleteBucket(with object)", b.DeleteBucket(ctx, name), backends.NotEmpty)
	if err := b.DeleteObject(ctx, name, "x/y"); err != nil {
		t.Fatal(err)
	}
	Put(t, b, name, "folder/", nil, backends.Meta{})
	wantKind(t, "DeleteBucket(with folder object)", b.DeleteBucket(ctx, name), backends.NotEmpty)
	if err := b.DeleteObject(ctx, name, "folder/"); err != nil {
		t.Fatal(err)
	}
	if ups, err := b.ListMultipartUploads(ctx, name, ""); err != nil || len(ups) != 1 || ups[0].UploadID != id {
		t.Fatalf("ListMultipartUploads after refused deletions = %v, %v; want the upload %s", ups, err, id)
	}
	if _, err := b.UploadPart(ctx, name, "up", id, 1, bytes.NewReader([]byte("part")), nil); err != nil {
		t.Fatal(err)
	}

	// Empty but for an upload in progress and a bucket document: the
	// deletion takes them with it, as AWS does.
	if err := b.PutBucketConfig(ctx, name, "cors", []byte("doc")); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteBucket(ctx, name); err != nil {
		t.Fatalf("DeleteBucket(empty, with an upload in progress): %v", err)
	}
	if _, err := b.HeadBucket(ctx, name); !backends.Is(err, backends.NoSuchBucket) {
		t.Fatalf("HeadBucket(deleted): %v, want NoSuchBucket", err)
	}
	if err := b.CreateBucket(ctx, name); err != nil {
		t.Fatal(err)
	}
	if ups, err := b.ListMultipartUploads(ctx, name, ""); err != nil || len(ups) != 0 {
		t.Fatalf("ListMultipartUploads of the bucket made again = %v, %v; want none", ups, err)
	}
	if _, err := b.UploadPart(ctx, name, "up", id, 2, bytes.NewReader([]byte("part")), nil); !backends.Is(err, backends.NoSuchUpload) {
		t.Fatalf("UploadPart to an upload of the deleted bucket: %v, want NoSuchUpload", err)
	}
	if err := b.DeleteBucket(ctx, name); err != nil {
		t.Fatalf("DeleteBucket(made again): %v", err)
	}
	list, _ = b.ListBuckets(ctx)
	if slices.ContainsFunc(list, func(bi backends.BucketInfo) bool { return bi.Name == name }) {
		t.Fatalf("ListBuckets: deleted bucket %s still listed", name)
	}
	// Operations on a missing bucket.
	_, err = put(t, b, name, "k", []byte("x"), backends.Meta{}, backends.PutOptions{})
	wantKind(t, "PutObject(missing bucket)", err, backends.NoSuchBucket)
	_, _, err = b.GetObject(ctx, name, "k", nil)
	wantKind(t, "GetObject(missing bucket)", err, backends.NoSuchBucket)
	_, err = b.ListObjects(ctx, name, backends.ListOptions{})
	wantKind(t, "ListObjects(missing bucket)", err, backends.NoSuchBucket)
	_, err = b.CreateMultipartUpload(ctx, name, "k", backends.Meta{})
	wantKind(t, "CreateMultipartUpload(missing bucket)", err, backends.NoSuchBucket)

	// A re-created bucket starts empty, without the old one's documents.
	if err := b.CreateBucket(ctx, name); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetBucketConfig(ctx, name, "cors"); !backends.Is(err, backends.NotFound) {
		t.Fatalf("GetBucketConfig(new bucket): %v, want NotFound", err)
	}
	if res, err := b.ListObjects(ctx, name, backends.ListOptions{}); err != nil || len(res.Objects)+len(res.Prefixes) != 0 {
		t.Fatalf("ListObjects(new bucket): %+v, %v", res, err)
	}
}

func testBucketConfig(t *testing.T, b backends.Backend) {
	ctx := t.Context()
	bucket := NewBucket(t, b)
	if _, err := b.GetBucketConfig(ctx, bucket, "cors"); !backends.Is(err, backends.NotFound) {
		t.Fatalf("GetBucketConfig(missing): %v, want NotFound", err)
	}
	doc := []byte(`<CORSConfiguration><CORSRule/></CORSConfiguration>`)
	if err := b.PutBucketConfig(ctx, bucket, "cors", doc); err != nil {
		t.Fatal(err)
	}
	if err := b.PutBucketConfig(ctx, bucket, "tagging", []byte("t")); err != nil {
		t.Fatal(err)
	}
	if got, err := b.GetBucketConfig(ctx, bucket, "cors"); err != nil || !bytes.Equal(got, doc) {
		t.Fatalf("GetBucketConfig: %q, %v", got, err)
	}
	doc2 := []byte("second")
	if err := b.PutBucketConfig(ctx, bucket, "cors", doc2); err != nil {
		t.Fatal(err)
	}
	if got, err := b.GetBucketConfig(ctx, bucket, "cors"); err != nil || !bytes.Equal(got, doc2) {
		t.Fatalf("GetBucketConfig(replaced): %q, %v", got, err)
	}
	if err := b.PutBucketConfig(ctx, bucket, "cors", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetBucketConfig(ctx, bucket, "cors"); !backends.Is(err, backends.NotFound) {
		t.Fatalf("GetBucketConfig(deleted): %v, want NotFound", err)
	}
	if got, err := b.GetBucketConfig(ctx, bucket, "tagging"); err != nil || string(got) != "t" {
		t.Fatalf("GetBucketConfig(tagging): %q, %v", got, err)
	}
	if err := b.PutBucketConfig(ctx, bucket, "cors", nil); err != nil {
		t.Fatalf("PutBucketConfig(delete missing): %v", err)
	}
	// Bucket documents are not objects.
	if res, err := b.ListObjects(ctx, bucket, backends.ListOptions{}); err != nil || len(res.Objects)+len(res.Prefixes) != 0 {
		t.Fatalf("ListObjects: %+v, %v", res, err)
	}
	_, err := b.GetBucketConfig(ctx, "bt-missing-"+randHex(4), "cors")
	wantKind(t, "GetBucketConfig(missing bucket)", err, backends.NoSuchBucket)
}

// ---- objects ----

func testPutGetHeadDelete(t *testing.T, b backends.Backend) {
	ctx := t.Context()
	bucket := NewBucket(t, b)
	for _, tc := range []struct {
		key  string
		size int
	}{
		{"empty", 0},
		{"small.txt", 11},
		{"dir/sub/file.bin", 100 << 10},
		{"big", 3<<20 + 17},
		{"with space/ü ñ €.txt", 5},
		{"sym+bols=%20&$@,;!'()[]{}~^", 3},
		{strings.Repeat("x", 200) + "/" + strings.Repeat("y", 200), 1},
	} {
		data := randBytes(tc.size)
		info := Put(t, b, bucket, tc.key, data, backends.Meta{ContentType: "application/x-test"})
		if info.Key != tc.key || info.Size != int64(tc.size) || info.ETag != md5hex(data) {
			t.Fatalf("PutObject(%s): %+v, want size %d etag %s", tc.key, info, tc.size, md5hex(data))
		}
		checkModTime(t, "PutObject", info.ModTime)
		got, ginfo := Get(t, b, bucket, tc.key, nil)
		if !bytes.Equal(got, data) {
			t.Fatalf("GetObject(%s): %d bytes differ from the %d put", tc.key, len(got), len(data))
		}
		hinfo, err := b.HeadObject(ctx, bucket, tc.key)
		if err != nil {
			t.Fatal(err)
		}
		for what, i := range map[string]backends.ObjectInfo{"GetObject": ginfo, "HeadObject": hinfo} {
			if i.Key != tc.key || i.Size != int64(tc.size) || i.ETag != md5hex(data) || i.ContentType != "application/x-test" {
				t.Fatalf("%s(%s): %+v", what, tc.key, i)
			}
			if !i.ModTime.Equal(info.ModTime) {
				t.Fatalf("%s(%s): ModTime %v, PutObject said %v", what, tc.key, i.ModTime, info.ModTime)
			}
		}
	}
	keys, _, _ := listAll(t, b, bucket, backends.ListOptions{})
	if len(keys) != 7 {
		t.Fatalf("listed %q, want 7 keys", keys)
	}

	// Overwrite with shorter data.
	Put(t, b, bucket, "small.txt", []byte("ab"), backends.Meta{})
	if got, info := Get(t, b, bucket, "small.txt", nil); string(got) != "ab" || info.Size != 2 || info.ETag != md5hex([]byte("ab")) {
		t.Fatalf("after overwrite: %q %+v", got, info)
	}

	// Missing keys.
	_, _, err := b.GetObject(ctx, bucket, "nope", nil)
	wantKind(t, "GetObject(missing)", err, backends.NoSuchKey)
	_, err = b.HeadObject(ctx, bucket, "nope")
	wantKind(t, "HeadObject(missing)", err, backends.NoSuchKey)
	_, err = b.HeadObject(ctx, bucket, "dir/sub")
	wantKind(t, "HeadObject(implicit folder)", err, backends.NoSuchKey)
	_, err = b.HeadObject(ctx, bucket, "dir/sub/")
	wantKind(t, "HeadObject(implicit folder/)", err, backends.NoSuchKey)
	_, _, err = b.GetObject(ctx, bucket, "dir", nil)
	wantKind(t, "GetObject(implicit folder)", err, backends.NoSuchKey)
	if err := b.DeleteObject(ctx, bucket, "nope"); err != nil {
		t.Fatalf("DeleteObject(missing): %v", err)
	}
	if err := b.DeleteObject(ctx, bucket, "dir/missing/deeper"); err != nil {
		t.Fatalf("DeleteObject(missing, deep): %v", err)
	}

	// Delete.
	if err := b.DeleteObject(ctx, bucket, "dir/sub/file.bin"); err != nil {
		t.Fatal(err)
	}
	_, err = b.HeadObject(ctx, bucket, "dir/sub/file.bin")
	wantKind(t, "HeadObject(deleted)", err, backends.NoSuchKey)
	_, prefixes, _ := listAll(t, b, bucket, backends.ListOptions{Delimiter: "/"})
	if slices.Contains(prefixes, "dir/") {
		t.Fatalf("prefix dir/ still listed after its only key was deleted: %q", prefixes)
	}
	// The key can be written again.
	Put(t, b, bucket, "dir/sub/file.bin", []byte("again"), backends.Meta{})
	if got, _ := Get(t, b, bucket, "dir/sub/file.bin", nil); string(got) != "again" {
		t.Fatalf("rewritten: %q", got)
	}
}

func testRange(t *testing.T, b backends.Backend) {
	ctx := t.Context()
	bucket := NewBucket(t, b)
	data := randBytes(1000)
	Put(t, b, bucket, "r", data, backends.Meta{})
	for _, tc := range []struct {
		rng        backends.Range
		start, end int // of the expected slice
	}{
		{backends.Range{Start: 0, End: 0}, 0, 1},
		{backends.Range{Start: 0, End: 99}, 0, 100},
		{backends.Range{Start: 100, End: 199}, 100, 200},
		{backends.Range{Start: 999, End: 999}, 999, 1000},
		{backends.Range{Start: 900, End: -1}, 900, 1000},
		{backends.Range{Start: 990, End: 5000}, 990, 1000},
		{backends.Range{Start: 0, End: -1}, 0, 1000},
		{backends.Range{Start: -100}, 900, 1000},
		{backends.Range{Start: -1}, 999, 1000},
		{backends.Range{Start: -5000}, 0, 1000},
	} {
		got, info := Get(t, b, bucket, "r", &tc.rng)
		if !bytes.Equal(got, data[tc.start:tc.end]) {
			t.Fatalf("range %+v: got %d bytes, want [%d:%d]", tc.rng, len(got), tc.start, tc.end)
		}
		if info.Size != 1000 || info.ETag != md5hex(data) {
			t.Fatalf("range %+v: info %+v does not describe the whole object", tc.rng, info)
		}
	}
	for _, rng := range []backends.Range{{Start: 1000, End: -1}, {Start: 5000, End: 6000}, {Start: 1000, End: 1000}} {
		_, _, err := b.GetObject(ctx, bucket, "r", &rng)
		wantKind(t, fmt.Sprintf("GetObject(range %+v)", rng), err, backends.InvalidRange)
	}
	Put(t, b, bucket, "empty", nil, backends.Meta{})
	_, _, err := b.GetObject(ctx, bucket, "empty", &backends.Range{Start: 0, End: 0})
	wantKind(t, "GetObject(empty, range)", err, backends.InvalidRange)
	if got, _ := Get(t, b, bucket, "empty", nil); len(got) != 0 {
		t.Fatalf("empty object: %d bytes", len(got))
	}
	// Range reads of a large object, close without reading all.
	big := randBytes(3 << 20)
	Put(t, b, bucket, "big", big, backends.Meta{})
	got, _ := Get(t, b, bucket, "big", &backends.Range{Start: 2<<20 + 5, End: 2<<20 + 5 + 70000})
	if !bytes.Equal(got, big[2<<20+5:2<<20+5+70001]) {
		t.Fatal("range in a large object differs")
	}
	rc, _, err := b.GetObject(ctx, bucket, "big", nil)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadFull(rc, make([]byte, 10))
	if err := rc.Close(); err != nil {
		t.Fatalf("Close after partial read: %v", err)
	}
}

func fullMeta() backends.Meta {
	return backends.Meta{
		ContentType:        "text/x-strata; charset=utf-8",
		ContentEncoding:    "gzip",
		ContentDisposition: `attachment; filename="ü.txt"`,
		ContentLanguage:    "de-CH",
		CacheControl:       "max-age=60",
		Expires:            "Wed, 21 Oct 2037 07:28:00 GMT",
		User:               map[string]string{"color": "blue", "empty": "", "unicode": "ü€"},
		Tags:               map[string]string{"project": "strata", "env": "test"},
		Checksums:          map[string]string{"CRC32": "AAAAAA==", "SHA256": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},
		ChecksumType:       "FULL_OBJECT",
	}
}

func sameMeta(t *testing.T, what string, got, want backends.Meta) {
	t.Helper()
	if got.ContentType != want.ContentType || got.ContentEncoding != want.ContentEncoding ||
		got.ContentDisposition != want.ContentDisposition || got.ContentLanguage != want.ContentLanguage ||
		got.CacheControl != want.CacheControl || got.Expires != want.Expires ||
		!maps.Equal(got.User, want.User) && len(got.User)+len(want.User) > 0 ||
		!maps.Equal(got.Tags, want.Tags) && len(got.Tags)+len(want.Tags) > 0 ||
		!maps.Equal(got.Checksums, want.Checksums) && len(got.Checksums)+len(want.Checksums) > 0 ||
		got.ChecksumType != want.ChecksumType {
		t.Fatalf("%s: metadata\n got  %+v\n want %+v", what, got, want)
	}
}

func testMetadata(t *testing.T, b backends.Backend) {
	ctx := t.Context()
	bucket := NewBucket(t, b)
	want := fullMeta()
	data := []byte("hello metadata")
	Put(t, b, bucket, "m.txt", data, want)
	h, err := b.HeadObject(ctx, bucket, "m.txt")
	if err != nil {
		t.Fatal(err)
	}
	sameMeta(t, "HeadObject", h.Meta, want)
	_, g := Get(t, b, bucket, "m.txt", nil)
	sameMeta(t, "GetObject", g.Meta, want)
	res, err := b.ListObjects(ctx, bucket, backends.ListOptions{})
	if err != nil || len(res.Objects) != 1 {
		t.Fatalf("ListObjects: %+v, %v", res, err)
	}
	if o := res.Objects[0]; o.Key != "m.txt" || o.Size != int64(len(data)) || o.ETag != md5hex(data) || !o.ModTime.Equal(h.ModTime) {
		t.Fatalf("ListObjects: %+v, head said %+v", o, h)
	}

	// Large metadata (many tags, long values) round-trips too.
	big := fullMeta()
	big.User = map[string]string{}
	for i := range 20 {
		big.User[fmt.Sprintf("k%02d", i)] = strings.Repeat("v", 100)
	}
	Put(t, b, bucket, "big-meta", []byte("x"), big)
	h, err = b.HeadObject(ctx, bucket, "big-meta")
	if err != nil {
		t.Fatal(err)
	}
	sameMeta(t, "HeadObject(big meta)", h.Meta, big)

	// Overwriting replaces the metadata entirely.
	Put(t, b, bucket, "m.txt", data, backends.Meta{ContentType: "application/json"})
	h, _ = b.HeadObject(ctx, bucket, "m.txt")
	sameMeta(t, "HeadObject(overwritten)", h.Meta, backends.Meta{ContentType: "application/json"})

	// A nil Meta is allowed.
	if _, err := b.PutObject(ctx, bucket, "nil-meta", strings.NewReader("abc"), backends.PutOptions{}); err != nil {
		t.Fatalf("PutObject(nil meta): %v", err)
	}
	if got, info := Get(t, b, bucket, "nil-meta", nil); string(got) != "abc" || info.Size != 3 {
		t.Fatalf("nil meta: %q %+v", got, info)
	}
}

func testUpdateMeta(t *testing.T, b backends.Backend) {
	ctx := t.Context()
	bucket := NewBucket(t, b)
	data := randBytes(5000)
	orig := fullMeta()
	put := Put(t, b, bucket, "u", data, orig)

	// Tagging: everything kept but the tags, ModTime kept.
	h, _ := b.HeadObject(ctx, bucket, "u")
	m := h.Meta
	m.Tags = map[string]string{"new": "tag"}
	out, err := b.UpdateMeta(ctx, bucket, "u", m)
	if err != nil {
		t.Fatal(err)
	}
	if out.Size != 5000 || out.ETag != md5hex(data) {
		t.Fatalf("UpdateMeta: %+v", out)
	}
	want := orig
	want.Tags = m.Tags
	h, _ = b.HeadObject(ctx, bucket, "u")
	sameMeta(t, "HeadObject after UpdateMeta", h.Meta, want)
	if h.Size != 5000 || h.ETag != md5hex(data) {
		t.Fatalf("HeadObject after UpdateMeta: %+v", h)
	}
	if d := h.ModTime.Sub(put.ModTime).Abs(); d > time.Second {
		t.Fatalf("UpdateMeta with ModTime set moved it by %v", d)
	}

	// Same-key copy: new metadata, ModTime zero means now.
	time.Sleep(20 * time.Millisecond)
	nm := backends.Meta{ContentType: "image/png", User: map[string]string{"a": "b"}, Size: 1, ETag: "ignored"}
	out, err = b.UpdateMeta(ctx, bucket, "u", nm)
	if err != nil {
		t.Fatal(err)
	}
	checkModTime(t, "UpdateMeta", out.ModTime)
	got, g := Get(t, b, bucket, "u", nil)
	if !bytes.Equal(got, data) {
		t.Fatal("UpdateMeta changed the data")
	}
	sameMeta(t, "GetObject after UpdateMeta", g.Meta, backends.Meta{ContentType: "image/png", User: map[string]string{"a": "b"}})
	if g.Size != 5000 || g.ETag != md5hex(data) {
		t.Fatalf("UpdateMeta did not keep Size and ETag: %+v", g)
	}
	if !g.ModTime.Equal(out.ModTime) {
		t.Fatalf("GetObject ModTime %v, UpdateMeta said %v", g.ModTime, out.ModTime)
	}
	_, err = b.UpdateMeta(ctx, bucket, "missing", nm)
	wantKind(t, "UpdateMeta(missing)", err, backends.NoSuchKey)
}

// ---- listing ----

func testList(t *testing.T, b backends.Backend) {
	bucket := NewBucket(t, b)
	all := []string{"a-b", "a.txt", "a/b", "a/c/d", "a0", "b", "c/d/e/f", "c/x", "z/", "é"}
	for _, k := range all {
		Put(t, b, bucket, k, nil, backends.Meta{})
	}
	// all is in byte order: "a-b" < "a.txt" < "a/" < "a0", "z/" < "é".
	for _, tc := range []struct {
		opts           backends.ListOptions
		keys, prefixes []string
	}{
		{opts: backends.ListOptions{}, keys: all},
		{opts: backends.ListOptions{Delimiter: "/"}, keys: []string{"a-b", "a.txt", "a0", "b", "é"}, prefixes: []string{"a/", "c/", "z/"}},
		{opts: backends.ListOptions{Prefix: "a"}, keys: []string{"a-b", "a.txt", "a/b", "a/c/d", "a0"}},
		{opts: backends.ListOptions{Prefix: "a/"}, keys: []string{"a/b", "a/c/d"}},
		{opts: backends.ListOptions{Prefix: "a/", Delimiter: "/"}, keys: []string{"a/b"}, prefixes: []string{"a/c/"}},
		{opts: backends.ListOptions{Prefix: "a", Delimiter: "/"}, keys: []string{"a-b", "a.txt", "a0"}, prefixes: []string{"a/"}},
		{opts: backends.ListOptions{Prefix: "c/d", Delimiter: "/"}, prefixes: []string{"c/d/"}},
		{opts: backends.ListOptions{Prefix: "c/d/"}, keys: []string{"c/d/e/f"}},
		{opts: backends.ListOptions{Prefix: "c/d/e/f"}, keys: []string{"c/d/e/f"}},
		{opts: backends.ListOptions{Prefix: "c/d/e/f/"}},
		{opts: backends.ListOptions{Prefix: "zzz"}},
		{opts: backends.ListOptions{Prefix: "nothere/", Delimiter: "/"}},
		{opts: backends.ListOptions{Prefix: "z/"}, keys: []string{"z/"}},
		{opts: backends.ListOptions{Prefix: "z/", Delimiter: "/"}, keys: []string{"z/"}},
		{opts: backends.ListOptions{Marker: "a/b"}, keys: []string{"a/c/d", "a0", "b", "c/d/e/f", "c/x", "z/", "é"}},
		{opts: backends.ListOptions{Marker: "a/"}, keys: []string{"a/b", "a/c/d", "a0", "b", "c/d/e/f", "c/x", "z/", "é"}},
		{opts: backends.ListOptions{Marker: "a/", Delimiter: "/"}, keys: []string{"a0", "b", "é"}, prefixes: []string{"c/", "z/"}},
		{opts: backends.ListOptions{Marker: "a.txt", Delimiter: "/"}, keys: []string{"a0", "b", "é"}, prefixes: []string{"a/", "c/", "z/"}},
		{opts: backends.ListOptions{Marker: "c/x"}, keys: []string{"z/", "é"}},
		{opts: backends.ListOptions{Marker: "z/"}, keys: []string{"é"}},
		{opts: backends.ListOptions{Marker: "é"}},
		{opts: backends.ListOptions{Marker: "\U0010FFFF"}},
		{opts: backends.ListOptions{Prefix: "a/", Marker: "a/b"}, keys: []string{"a/c/d"}},
		{opts: backends.ListOptions{Delimiter: "."}, keys: []string{"a-b", "a/b", "a/c/d", "a0", "b", "c/d/e/f", "c/x", "z/", "é"}, prefixes: []string{"a."}},
		{opts: backends.ListOptions{Delimiter: "d"}, keys: []string{"a-b", "a.txt", "a/b", "a0", "b", "c/x", "z/", "é"}, prefixes: []string{"a/c/d", "c/d"}},
		{opts: backends.ListOptions{Prefix: "c", Delimiter: "/d/"}, keys: []string{"c/x"}, prefixes: []string{"c/d/"}},
	} {
		for _, max := range []int{1000, 1, 2, 3} {
			opts := tc.opts
			opts.MaxKeys = max
			keys, prefixes, merged := listAll(t, b, bucket, opts)
			eq(t, fmt.Sprintf("keys of %+v", opts), keys, tc.keys)
			eq(t, fmt.Sprintf("prefixes of %+v", opts), prefixes, tc.prefixes)
			want := slices.Sorted(slices.Values(append(slices.Clone(tc.keys), tc.prefixes...)))
			eq(t, fmt.Sprintf("items of %+v", opts), merged, want)
		}
	}
	// Exactly MaxKeys items: not truncated.
	res, err := b.ListObjects(t.Context(), bucket, backends.ListOptions{MaxKeys: len(all)})
	if err != nil || res.IsTruncated || len(res.Objects) != len(all) {
		t.Fatalf("ListObjects(MaxKeys = all): truncated %v, %d objects, %v", res.IsTruncated, len(res.Objects), err)
	}
	res, err = b.ListObjects(t.Context(), bucket, backends.ListOptions{Delimiter: "/", MaxKeys: 8})
	if err != nil || res.IsTruncated || len(res.Objects)+len(res.Prefixes) != 8 {
		t.Fatalf("ListObjects(delimiter, MaxKeys = all): %+v, %v", res, err)
	}
}

func testListPagination(t *testing.T, b backends.Backend) {
	bucket := NewBucket(t, b)
	var keys []string
	for i := range 1100 {
		keys = append(keys, fmt.Sprintf("n/%d/%d", i%11, i/11))
	}
	keys = append(keys, "n/1-b", "n/1.txt", "n/10.txt", "n/2/x/y/z", "top")
	putMany(t, b, bucket, keys)
	want := slices.Sorted(slices.Values(keys))
	for _, max := range []int{1000, 7} {
		got, _, _ := listAll(t, b, bucket, backends.ListOptions{MaxKeys: max})
		eq(t, fmt.Sprintf("all keys, MaxKeys %d", max), got, want)
	}
	res, err := b.ListObjects(t.Context(), bucket, backends.ListOptions{MaxKeys: 1000})
	if err != nil || len(res.Objects) != 1000 || !res.IsTruncated || res.NextMarker != want[999] {
		t.Fatalf("first page: %d objects, truncated %v, next %q, %v", len(res.Objects), res.IsTruncated, res.NextMarker, err)
	}
	for i, o := range res.Objects {
		if o.Size != int64(len(o.Key)) || o.ETag != md5hex([]byte(o.Key)) {
			t.Fatalf("listed object %d: %+v", i, o)
		}
	}
	var wantTop []string
	for i := range 11 {
		wantTop = append(wantTop, fmt.Sprintf("n/%d/", i))
	}
	wantTop = append(wantTop, "n/1-b", "n/1.txt", "n/10.txt")
	slices.Sort(wantTop)
	for _, max := range []int{1000, 2} {
		_, _, merged := listAll(t, b, bucket, backends.ListOptions{Prefix: "n/", Delimiter: "/", MaxKeys: max})
		eq(t, fmt.Sprintf("n/ with delimiter, MaxKeys %d", max), merged, wantTop)
	}
	got, _, _ := listAll(t, b, bucket, backends.ListOptions{Prefix: "n/1", MaxKeys: 7})
	var w1 []string
	for _, k := range want {
		if strings.HasPrefix(k, "n/1") {
			w1 = append(w1, k)
		}
	}
	eq(t, "prefix n/1", got, w1)
	// Start from an arbitrary marker inside the tree.
	got, _, _ = listAll(t, b, bucket, backends.ListOptions{Marker: "n/2/5", MaxKeys: 50})
	i, _ := slices.BinarySearch(want, "n/2/5")
	eq(t, "after marker n/2/5", got, want[i+1:])
}

// putMany stores keys (each holding its own name) with a few writers.
func putMany(t *testing.T, b backends.Backend, bucket string, keys []string) {
	t.Helper()
	var wg sync.WaitGroup
	ch := make(chan string)
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for k := range ch {
				m := backends.Meta{}
				if _, err := put(t, b, bucket, k, []byte(k), m, backends.PutOptions{}); err != nil {
					errs <- fmt.Errorf("PutObject(%s): %w", k, err)
					for range ch {
					}
					return
				}
			}
		})
	}
	for _, k := range keys {
		ch <- k
	}
	close(ch)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func testFolderObjects(t *testing.T, b backends.Backend) {
	ctx := t.Context()
	bucket := NewBucket(t, b)
	info := Put(t, b, bucket, "dir/", nil, backends.Meta{ContentType: "application/x-directory", User: map[string]string{"k": "v"}})
	if info.Key != "dir/" || info.Size != 0 || info.ETag != md5hex(nil) {
		t.Fatalf("PutObject(dir/): %+v", info)
	}
	h, err := b.HeadObject(ctx, bucket, "dir/")
	if err != nil || h.Size != 0 || h.ContentType != "application/x-directory" || h.User["k"] != "v" || h.ETag != md5hex(nil) {
		t.Fatalf("HeadObject(dir/): %+v, %v", h, err)
	}
	if _, err := b.HeadObject(ctx, bucket, "dir"); !backends.Is(err, backends.NoSuchKey) {
		t.Fatalf("HeadObject(dir): %v, want NoSuchKey", err)
	}
	if got, _ := Get(t, b, bucket, "dir/", nil); len(got) != 0 {
		t.Fatalf("GetObject(dir/): %q", got)
	}
	keys, prefixes, _ := listAll(t, b, bucket, backends.ListOptions{})
	eq(t, "keys", keys, []string{"dir/"})
	_, prefixes, _ = listAll(t, b, bucket, backends.ListOptions{Delimiter: "/"})
	eq(t, "prefixes", prefixes, []string{"dir/"})

	Put(t, b, bucket, "dir/x", []byte("x"), backends.Meta{})
	Put(t, b, bucket, "dir/sub/", nil, backends.Meta{})
	Put(t, b, bucket, "implicit/y", []byte("y"), backends.Meta{})
	keys, _, _ = listAll(t, b, bucket, backends.ListOptions{})
	eq(t, "keys", keys, []string{"dir/", "dir/sub/", "dir/x", "implicit/y"})
	keys, prefixes, _ = listAll(t, b, bucket, backends.ListOptions{Delimiter: "/"})
	eq(t, "keys with delimiter", keys, nil)
	eq(t, "prefixes with delimiter", prefixes, []string{"dir/", "implicit/"})
	keys, prefixes, _ = listAll(t, b, bucket, backends.ListOptions{Prefix: "dir/", Delimiter: "/"})
	eq(t, "keys in dir/", keys, []string{"dir/", "dir/x"})
	eq(t, "prefixes in dir/", prefixes, []string{"dir/sub/"})
	keys, _, _ = listAll(t, b, bucket, backends.ListOptions{Prefix: "dir/", Marker: "dir/"})
	eq(t, "keys after dir/", keys, []string{"dir/sub/", "dir/x"})
	if _, err := b.HeadObject(ctx, bucket, "implicit/"); !backends.Is(err, backends.NoSuchKey) {
		t.Fatalf("HeadObject(implicit/): %v, want NoSuchKey", err)
	}
	// Conditional put of a folder object.
	_, err = put(t, b, bucket, "dir/", nil, backends.Meta{}, backends.PutOptions{IfNoneMatch: true})
	wantKind(t, "PutObject(dir/, IfNoneMatch)", err, backends.PreconditionFailed)

	// UpdateMeta of a folder object.
	if _, err := b.UpdateMeta(ctx, bucket, "dir/", backends.Meta{ContentType: "text/plain"}); err != nil {
		t.Fatal(err)
	}
	if h, err := b.HeadObject(ctx, bucket, "dir/"); err != nil || h.ContentType != "text/plain" {
		t.Fatalf("HeadObject(dir/) after UpdateMeta: %+v, %v", h, err)
	}

	// Deleting the folder object keeps what is below it.
	if err := b.DeleteObject(ctx, bucket, "dir/"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.HeadObject(ctx, bucket, "dir/"); !backends.Is(err, backends.NoSuchKey) {
		t.Fatalf("HeadObject(deleted dir/): %v", err)
	}
	keys, _, _ = listAll(t, b, bucket, backends.ListOptions{})
	eq(t, "keys after deleting dir/", keys, []string{"dir/sub/", "dir/x", "implicit/y"})
	for _, k := range []string{"dir/x", "dir/sub/", "implicit/y"} {
		if err := b.DeleteObject(ctx, bucket, k); err != nil {
			t.Fatal(err)
		}
	}
	keys, prefixes, _ = listAll(t, b, bucket, backends.ListOptions{Delimiter: "/"})
	eq(t, "keys at the end", keys, nil)
	eq(t, "prefixes at the end", prefixes, nil)
	if err := b.DeleteBucket(ctx, bucket); err != nil {
		t.Fatalf("DeleteBucket after deleting everything: %v", err)
	}
}

// ---- multipart ----

func multipartETag(etags ...string) string {
	h := md5.New()
	for _, e := range etags {
		b, _ := hex.DecodeString(e)
		h.Write(b)
	}
	return fmt.Sprintf("%s-%d", hex.EncodeToString(h.Sum(nil)), len(etags))
}

func uploadPart(t *testing.T, b backends.Backend, bucket, key, id string, n int, data []byte) backends.PartInfo {
	t.Helper()
	var m backends.Meta
	p, err := b.UploadPart(t.Context(), bucket, key, id, n, newHashReader(bytes.NewReader(data), &m), &m)
	if err != nil {
		t.Fatalf("UploadPart(%d): %v", n, err)
	}
	if p.Number != n || p.Size != int64(len(data)) || p.ETag != md5hex(data) {
		t.Fatalf("UploadPart(%d): %+v", n, p)
	}
	return p
}

const partSize = 5 << 20

func testMultipart(t *testing.T, b backends.Backend) {
	ctx := t.Context()
	bucket := NewBucket(t, b)
	key := "mp/object.bin"
	meta := backends.Meta{ContentType: "application/x-mp", User: map[string]string{"u": "1"}}
	id, err := b.CreateMultipartUpload(ctx, bucket, key, meta)
	if err != nil {
		t.Fatal(err)
	}
	p1, p2, p2b, p3 := randBytes(partSize), randBytes(partSize), randBytes(partSize+1), randBytes(1234)
	uploadPart(t, b, bucket, key, id, 3, p3)
	uploadPart(t, b, bucket, key, id, 1, p1)
	uploadPart(t, b, bucket, key, id, 2, p2)
	uploadPart(t, b, bucket, key, id, 2, p2b) // replaces
	// Not an object yet.
	if _, err := b.HeadObject(ctx, bucket, key); !backends.Is(err, backends.NoSuchKey) {
		t.Fatalf("HeadObject during upload: %v", err)
	}
	if keys, prefixes, _ := listAll(t, b, bucket, backends.ListOptions{}); len(keys)+len(prefixes) != 0 {
		t.Fatalf("upload in progress is listed: %q %q", keys, prefixes)
	}
	up, parts, err := b.ListParts(ctx, bucket, key, id)
	if err != nil {
		t.Fatal(err)
	}
	if up.Key != key || up.UploadID != id || up.Meta.ContentType != meta.ContentType || up.Meta.User["u"] != "1" {
		t.Fatalf("ListParts upload: %+v", up)
	}
	checkModTime(t, "Upload.Initiated", up.Initiated)
	if len(parts) != 3 {
		t.Fatalf("ListParts: %+v", parts)
	}
	for i, want := range [][]byte{p1, p2b, p3} {
		if p := parts[i]; p.Number != i+1 || p.Size != int64(len(want)) || p.ETag != md5hex(want) {
			t.Fatalf("part %d: %+v", i+1, p)
		}
	}
	ups, err := b.ListMultipartUploads(ctx, bucket, "mp/")
	if err != nil || len(ups) != 1 || ups[0].UploadID != id || ups[0].Key != key {
		t.Fatalf("ListMultipartUploads: %+v, %v", ups, err)
	}
	// Upload to the wrong key.
	_, err = b.UploadPart(ctx, bucket, "other", id, 1, strings.NewReader("x"), &backends.Meta{})
	wantKind(t, "UploadPart(other key)", err, backends.NoSuchUpload)

	// Complete with parts 1 and 3 only.
	final := meta
	final.ETag = multipartETag(md5hex(p1), md5hex(p3))
	final.Parts = []backends.PartInfo{parts[0], parts[2]}
	info, err := b.CompleteMultipartUpload(ctx, bucket, key, id, []int{1, 3}, backends.PutOptions{Meta: &final})
	if err != nil {
		t.Fatal(err)
	}
	want := append(slices.Clone(p1), p3...)
	if info.Size != int64(len(want)) || info.ETag != final.ETag {
		t.Fatalf("CompleteMultipartUpload: %+v", info)
	}
	got, g := Get(t, b, bucket, key, nil)
	if !bytes.Equal(got, want) {
		t.Fatalf("completed object: %d bytes, want %d", len(got), len(want))
	}
	if g.ETag != final.ETag || g.ContentType != meta.ContentType || g.User["u"] != "1" || len(g.Parts) != 2 || g.Parts[1].Number != 3 {
		t.Fatalf("completed object info: %+v", g)
	}
	got, _ = Get(t, b, bucket, key, &backends.Range{Start: partSize - 2, End: partSize + 1})
	if !bytes.Equal(got, want[partSize-2:partSize+2]) {
		t.Fatal("range across the part boundary differs")
	}
	// The upload is gone.
	_, _, err = b.ListParts(ctx, bucket, key, id)
	wantKind(t, "ListParts(completed)", err, backends.NoSuchUpload)
	if ups, _ := b.ListMultipartUploads(ctx, bucket, ""); len(ups) != 0 {
		t.Fatalf("ListMultipartUploads after complete: %+v", ups)
	}
	_, err = b.CompleteMultipartUpload(ctx, bucket, key, id, []int{1}, backends.PutOptions{Meta: &final})
	wantKind(t, "CompleteMultipartUpload(again)", err, backends.NoSuchUpload)

	// A single-part upload, and a part that was never uploaded.
	id2, err := b.CreateMultipartUpload(ctx, bucket, "mp/one", backends.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	uploadPart(t, b, bucket, "mp/one", id2, 1, []byte("only"))
	_, err = b.CompleteMultipartUpload(ctx, bucket, "mp/one", id2, []int{1, 2}, backends.PutOptions{Meta: &backends.Meta{}})
	wantKind(t, "CompleteMultipartUpload(missing part)", err, backends.InvalidPart)
	if _, err := b.CompleteMultipartUpload(ctx, bucket, "mp/one", id2, []int{1}, backends.PutOptions{Meta: &backends.Meta{ETag: multipartETag(md5hex([]byte("only")))}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := Get(t, b, bucket, "mp/one", nil); string(got) != "only" {
		t.Fatalf("single part: %q", got)
	}
}

func testMultipartAbort(t *testing.T, b backends.Backend) {
	ctx := t.Context()
	bucket := NewBucket(t, b)
	Put(t, b, bucket, "k", []byte("old"), backends.Meta{})
	id, err := b.CreateMultipartUpload(ctx, bucket, "k", backends.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	uploadPart(t, b, bucket, "k", id, 1, []byte("new data"))
	if err := b.AbortMultipartUpload(ctx, bucket, "k", id); err != nil {
		t.Fatal(err)
	}
	if got, _ := Get(t, b, bucket, "k", nil); string(got) != "old" {
		t.Fatalf("after abort: %q", got)
	}
	_, _, err = b.ListParts(ctx, bucket, "k", id)
	wantKind(t, "ListParts(aborted)", err, backends.NoSuchUpload)
	wantKind(t, "AbortMultipartUpload(again)", b.AbortMultipartUpload(ctx, bucket, "k", id), backends.NoSuchUpload)
	_, err = b.UploadPart(ctx, bucket, "k", id, 2, strings.NewReader("x"), &backends.Meta{})
	wantKind(t, "UploadPart(aborted)", err, backends.NoSuchUpload)
	_, err = b.CompleteMultipartUpload(ctx, bucket, "k", id, []int{1}, backends.PutOptions{Meta: &backends.Meta{}})
	wantKind(t, "CompleteMultipartUpload(aborted)", err, backends.NoSuchUpload)
	for _, bogus := range []string{"nosuchupload", "../../x", strings.Repeat("0", 32), ""} {
		_, _, err = b.ListParts(ctx, bucket, "k", bogus)
		wantKind(t, fmt.Sprintf("ListParts(%q)", bogus), err, backends.NoSuchUpload)
		_, err = b.UploadPart(ctx, bucket, "k", bogus, 1, strings.NewReader("x"), &backends.Meta{})
		wantKind(t, fmt.Sprintf("UploadPart(%q)", bogus), err, backends.NoSuchUpload)
	}
	if ups, _ := b.ListMultipartUploads(ctx, bucket, ""); len(ups) != 0 {
		t.Fatalf("ListMultipartUploads after abort: %+v", ups)
	}
}

func testListUploads(t *testing.T, b backends.Backend) {
	ctx := t.Context()
	bucket := NewBucket(t, b)
	create := func(key string) string {
		id, err := b.CreateMultipartUpload(ctx, bucket, key, backends.Meta{})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(15 * time.Millisecond)
		return id
	}
	b1 := create("x/b")
	a := create("x/a")
	b2 := create("x/b")
	o := create("other")
	ups, err := b.ListMultipartUploads(ctx, bucket, "x/")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, u := range ups {
		ids = append(ids, u.UploadID)
		checkModTime(t, "Initiated", u.Initiated)
	}
	eq(t, "uploads of x/", ids, []string{a, b1, b2})
	ups, _ = b.ListMultipartUploads(ctx, bucket, "")
	if len(ups) != 4 || ups[0].UploadID != o {
		t.Fatalf("all uploads: %+v", ups)
	}
	if ups, _ := b.ListMultipartUploads(ctx, bucket, "nothing"); len(ups) != 0 {
		t.Fatalf("uploads of nothing: %+v", ups)
	}
}

// ---- writes ----

func testConditionalPut(t *testing.T, b backends.Backend) {
	ctx := t.Context()
	bucket := NewBucket(t, b)
	v1 := []byte("version one")
	Put(t, b, bucket, "c", v1, backends.Meta{})
	_, err := put(t, b, bucket, "c", []byte("v2"), backends.Meta{}, backends.PutOptions{IfNoneMatch: true})
	wantKind(t, "PutObject(IfNoneMatch, existing)", err, backends.PreconditionFailed)
	_, err = put(t, b, bucket, "c", []byte("v2"), backends.Meta{}, backends.PutOptions{IfMatch: md5hex([]byte("other"))})
	wantKind(t, "PutObject(IfMatch wrong)", err, backends.PreconditionFailed)
	if got, _ := Get(t, b, bucket, "c", nil); !bytes.Equal(got, v1) {
		t.Fatalf("failed conditional put changed the object: %q", got)
	}
	if _, err := put(t, b, bucket, "c", []byte("v3"), backends.Meta{}, backends.PutOptions{IfMatch: md5hex(v1)}); err != nil {
		t.Fatalf("PutObject(IfMatch right): %v", err)
	}
	if _, err := put(t, b, bucket, "c", []byte("v4"), backends.Meta{}, backends.PutOptions{IfMatch: `"` + md5hex([]byte("v3")) + `"`}); err != nil {
		t.Fatalf("PutObject(IfMatch quoted): %v", err)
	}
	if _, err := put(t, b, bucket, "new", []byte("n"), backends.Meta{}, backends.PutOptions{IfNoneMatch: true}); err != nil {
		t.Fatalf("PutObject(IfNoneMatch, new): %v", err)
	}
	_, err = put(t, b, bucket, "absent", []byte("n"), backends.Meta{}, backends.PutOptions{IfMatch: md5hex([]byte("n"))})
	wantKind(t, "PutObject(IfMatch, absent)", err, backends.NoSuchKey) // S3's 404, not 412
	if _, err := b.HeadObject(ctx, bucket, "absent"); !backends.Is(err, backends.NoSuchKey) {
		t.Fatalf("failed conditional put created the object: %v", err)
	}

	// Racing IfNoneMatch writers: exactly one wins, every round.
	for round := range 20 {
		key := fmt.Sprintf("race/%d", round)
		start := make(chan struct{})
		var wg sync.WaitGroup
		var mu sync.Mutex
		var winners []string
		for i := range 8 {
			wg.Go(func() {
				data := fmt.Appendf(nil, "writer %d", i)
				m := backends.Meta{ETag: md5hex(data)}
				<-start
				_, err := b.PutObject(ctx, bucket, key, bytes.NewReader(data), backends.PutOptions{Meta: &m, IfNoneMatch: true})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					winners = append(winners, string(data))
				case !backends.Is(err, backends.PreconditionFailed):
					t.Errorf("racing IfNoneMatch: %v", err)
				}
			})
		}
		close(start)
		wg.Wait()
		if len(winners) != 1 {
			t.Fatalf("round %d: %d IfNoneMatch writers won (%q), want 1", round, len(winners), winners)
		}
		if got, _ := Get(t, b, bucket, key, nil); string(got) != winners[0] {
			t.Fatalf("round %d: object holds %q, the winner wrote %q", round, got, winners[0])
		}
	}
}

// testConditionalComplete checks If-None-Match and If-Match on
// CompleteMultipartUpload: honoured as on PutObject, and a refused
// completion keeps its upload, which can still be completed.
func testConditionalComplete(t *testing.T, b backends.Backend) {
	ctx := t.Context()
	bucket := NewBucket(t, b)
	// upload starts an upload of key with one part, data.
	upload := func(key string, data []byte) (id string, final backends.Meta) {
		t.Helper()
		id, err := b.CreateMultipartUpload(ctx, bucket, key, backends.Meta{ContentType: "text/plain"})
		if err != nil {
			t.Fatal(err)
		}
		p := uploadPart(t, b, bucket, key, id, 1, data)
		return id, backends.Meta{ContentType: "text/plain", ETag: multipartETag(md5hex(data)), Parts: []backends.PartInfo{p}}
	}
	complete := func(key, id string, final backends.Meta, opts backends.PutOptions) error {
		t.Helper()
		opts.Meta = &final
		info, err := b.CompleteMultipartUpload(ctx, bucket, key, id, []int{1}, opts)
		if err == nil && info.ETag != final.ETag {
			t.Fatalf("CompleteMultipartUpload(%s): ETag %q, want %q", key, info.ETag, final.ETag)
		}
		return err
	}
	// kept checks that a refused completion left the upload as it was.
	kept := func(what, key, id string, data []byte) {
		t.Helper()
		_, parts, err := b.ListParts(ctx, bucket, key, id)
		if err != nil || len(parts) != 1 || parts[0].ETag != md5hex(data) {
			t.Fatalf("%s: the upload is not kept: ListParts %+v, %v", what, parts, err)
		}
		ups, err := b.ListMultipartUploads(ctx, bucket, key)
		if err != nil || !slices.ContainsFunc(ups, func(u backends.Upload) bool { return u.UploadID == id }) {
			t.Fatalf("%s: the upload is not listed: %+v, %v", what, ups, err)
		}
	}
	holds := func(what, key string, want []byte) {
		t.Helper()
		if got, _ := Get(t, b, bucket, key, nil); !bytes.Equal(got, want) {
			t.Fatalf("%s: %s holds %q, want %q", what, key, got, want)
		}
	}

	// If-None-Match on a free key.
	id, final := upload("free", []byte("first"))
	if err := complete("free", id, final, backends.PutOptions{IfNoneMatch: true}); err != nil {
		t.Fatalf("CompleteMultipartUpload(IfNoneMatch, new): %v", err)
	}
	holds("IfNoneMatch, new", "free", []byte("first"))

	// If-None-Match on a key with an object: refused, and the upload can
	// be completed without the condition. (The object is written before
	// the upload: Azure drops a blob's staged blocks when it is written.)
	old := []byte("old object")
	Put(t, b, bucket, "taken", old, backends.Meta{})
	id, final = upload("taken", []byte("new object"))
	err := complete("taken", id, final, backends.PutOptions{IfNoneMatch: true})
	wantKind(t, "CompleteMultipartUpload(IfNoneMatch, existing)", err, backends.PreconditionFailed)
	holds("refused IfNoneMatch", "taken", old)
	kept("refused IfNoneMatch", "taken", id, []byte("new object"))
	if err := complete("taken", id, final, backends.PutOptions{}); err != nil {
		t.Fatalf("CompleteMultipartUpload after a refused IfNoneMatch: %v", err)
	}
	holds("completed after a refused IfNoneMatch", "taken", []byte("new object"))

	// If-Match: a wrong ETag is refused, the right one (bare or quoted)
	// completes.
	Put(t, b, bucket, "m", old, backends.Meta{})
	id, final = upload("m", []byte("v2"))
	err = complete("m", id, final, backends.PutOptions{IfMatch: md5hex([]byte("other"))})
	wantKind(t, "CompleteMultipartUpload(IfMatch wrong)", err, backends.PreconditionFailed)
	holds("refused IfMatch", "m", old)
	kept("refused IfMatch", "m", id, []byte("v2"))
	if err := complete("m", id, final, backends.PutOptions{IfMatch: md5hex(old)}); err != nil {
		t.Fatalf("CompleteMultipartUpload(IfMatch right): %v", err)
	}
	holds("IfMatch right", "m", []byte("v2"))
	_, _, err = b.ListParts(ctx, bucket, "m", id)
	wantKind(t, "ListParts(completed with IfMatch)", err, backends.NoSuchUpload)
	id, v3 := upload("m", []byte("v3"))
	if err := complete("m", id, v3, backends.PutOptions{IfMatch: `"` + final.ETag + `"`}); err != nil {
		t.Fatalf("CompleteMultipartUpload(IfMatch quoted, a multipart ETag): %v", err)
	}
	holds("IfMatch quoted", "m", []byte("v3"))

	// If-Match on a key with no object: NoSuchKey (S3's 404), nothing
	// written, the upload kept.
	id, final = upload("absent", []byte("a"))
	err = complete("absent", id, final, backends.PutOptions{IfMatch: md5hex([]byte("a"))})
	wantKind(t, "CompleteMultipartUpload(IfMatch, absent)", err, backends.NoSuchKey)
	if _, err := b.HeadObject(ctx, bucket, "absent"); !backends.Is(err, backends.NoSuchKey) {
		t.Fatalf("a refused IfMatch created the object: %v", err)
	}
	kept("IfMatch, absent", "absent", id, []byte("a"))
	if err := b.AbortMultipartUpload(ctx, bucket, "absent", id); err != nil {
		t.Fatal(err)
	}

	// Racing IfNoneMatch completions of one key: exactly one wins, every
	// round.
	type racer struct {
		id    string
		data  []byte
		final backends.Meta
	}
	for round := range 5 {
		key := fmt.Sprintf("race/%d", round)
		racers := make([]racer, 4)
		for i := range racers {
			r := &racers[i]
			r.data = fmt.Appendf(nil, "round %d, upload %d", round, i)
			r.id, r.final = upload(key, r.data)
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		var mu sync.Mutex
		var winners []string
		for _, r := range racers {
			wg.Go(func() {
				<-start
				m := r.final
				_, err := b.CompleteMultipartUpload(ctx, bucket, key, r.id, []int{1}, backends.PutOptions{Meta: &m, IfNoneMatch: true})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					winners = append(winners, string(r.data))
				case !backends.Is(err, backends.PreconditionFailed):
					t.Errorf("racing IfNoneMatch completion: %v", err)
				}
			})
		}
		close(start)
		wg.Wait()
		if len(winners) != 1 {
			t.Fatalf("round %d: %d IfNoneMatch completions won (%q), want 1", round, len(winners), winners)
		}
		holds(fmt.Sprintf("round %d", round), key, []byte(winners[0]))
	}
}

// failingReader returns n bytes and then err (or "client went away").
type failingReader struct {
	n   int
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		if f.err != nil {
			return 0, f.err
		}
		return 0, errors.New("client went away")
	}
	k := min(len(p), f.n)
	for i := range k {
		p[i] = 'z'
	}
	f.n -= k
	return k, nil
}

func testFailedWrite(t *testing.T, b backends.Backend) {
	ctx := t.Context()
	bucket := NewBucket(t, b)
	old := []byte("the old content")
	Put(t, b, bucket, "f", old, backends.Meta{ContentType: "text/old"})
	m := &backends.Meta{ContentType: "text/new"}
	if _, err := b.PutObject(ctx, bucket, "f", &failingReader{n: 1 << 20}, backends.PutOptions{Meta: m}); err == nil {
		t.Fatal("PutObject with a failing reader: no error")
	}
	got, info := Get(t, b, bucket, "f", nil)
	if !bytes.Equal(got, old) || info.ContentType != "text/old" || info.ETag != md5hex(old) {
		t.Fatalf("after failed overwrite: %q %+v", got, info)
	}
	if _, err := b.PutObject(ctx, bucket, "g/new", &failingReader{n: 100}, backends.PutOptions{Meta: &backends.Meta{}}); err == nil {
		t.Fatal("PutObject with a failing reader: no error")
	}
	if _, err := b.HeadObject(ctx, bucket, "g/new"); !backends.Is(err, backends.NoSuchKey) {
		t.Fatalf("failed new write is visible: %v", err)
	}
	keys, prefixes, _ := listAll(t, b, bucket, backends.ListOptions{Delimiter: "/"})
	eq(t, "keys after failed writes", keys, []string{"f"})
	eq(t, "prefixes after failed writes", prefixes, nil)

	// io.ErrUnexpectedEOF is what net/http gives for a request body cut
	// short of its Content-Length: an error, not a short object.
	for _, n := range []int{5 << 10, 3<<20 + 5} {
		if _, err := b.PutObject(ctx, bucket, "f", &failingReader{n: n, err: io.ErrUnexpectedEOF}, backends.PutOptions{Meta: m}); err == nil {
			t.Fatalf("PutObject of a body cut after %d bytes: no error", n)
		}
		if got, info := Get(t, b, bucket, "f", nil); !bytes.Equal(got, old) || info.ETag != md5hex(old) {
			t.Fatalf("after an overwrite cut after %d bytes: %d bytes, %+v", n, len(got), info)
		}
		if _, err := b.PutObject(ctx, bucket, "g/cut", &failingReader{n: n, err: io.ErrUnexpectedEOF}, backends.PutOptions{Meta: &backends.Meta{}}); err == nil {
			t.Fatalf("PutObject of a body cut after %d bytes: no error", n)
		}
		if _, err := b.HeadObject(ctx, bucket, "g/cut"); !backends.Is(err, backends.NoSuchKey) {
			t.Fatalf("a new write cut after %d bytes is visible: %v", n, err)
		}
	}

	// A canceled context stops a write too.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := b.PutObject(cctx, bucket, "f", bytes.NewReader(make([]byte, 1<<20)), backends.PutOptions{Meta: &backends.Meta{}}); err == nil {
		t.Fatal("PutObject with a canceled context: no error")
	}
	if got, _ := Get(t, b, bucket, "f", nil); !bytes.Equal(got, old) {
		t.Fatal("canceled write changed the object")
	}

	// A failing part leaves the upload as it was.
	id, err := b.CreateMultipartUpload(ctx, bucket, "mp", backends.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	uploadPart(t, b, bucket, "mp", id, 1, []byte("good part"))
	if _, err := b.UploadPart(ctx, bucket, "mp", id, 1, &failingReader{n: 1000}, &backends.Meta{}); err == nil {
		t.Fatal("UploadPart with a failing reader: no error")
	}
	if _, err := b.UploadPart(ctx, bucket, "mp", id, 2, &failingReader{n: 1000}, &backends.Meta{}); err == nil {
		t.Fatal("UploadPart with a failing reader: no error")
	}
	if _, err := b.UploadPart(ctx, bucket, "mp", id, 2, &failingReader{n: 1000, err: io.ErrUnexpectedEOF}, &backends.Meta{}); err == nil {
		t.Fatal("UploadPart of a body cut short: no error")
	}
	_, parts, err := b.ListParts(ctx, bucket, "mp", id)
	if err != nil || len(parts) != 1 || parts[0].ETag != md5hex([]byte("good part")) {
		t.Fatalf("parts after failed uploads: %+v, %v", parts, err)
	}
}

// content is writer w's round r: a tag repeated. All have the same length,
// so that only the data tells them apart (not the size).
func content(w, r int) []byte {
	tag := fmt.Sprintf("<w%02d-r%02d>", w, r)
	return bytes.Repeat([]byte(tag), 96<<10/len(tag))
}

func testConcurrentWriters(t *testing.T, b backends.Backend) {
	ctx := t.Context()
	bucket := NewBucket(t, b)
	const writers, rounds = 8, 5
	valid := map[string]bool{} // md5 of every content
	for w := range writers {
		for r := range rounds {
			valid[md5hex(content(w, r))] = true
		}
	}
	Put(t, b, bucket, "hot", content(0, 0), backends.Meta{})
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 4 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				rc, info, err := b.GetObject(ctx, bucket, "hot", nil)
				if err != nil {
					t.Errorf("concurrent GetObject: %v", err)
					return
				}
				data, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					t.Errorf("concurrent read: %v", err)
					return
				}
				sum := md5hex(data)
				if !valid[sum] {
					t.Errorf("a reader saw %d bytes that no writer wrote whole (torn or mixed)", len(data))
					return
				}
				if info.ETag != sum || info.Size != int64(len(data)) {
					t.Errorf("a reader got metadata (size %d, etag %s) of other data (%d bytes, md5 %s)", info.Size, info.ETag, len(data), sum)
					return
				}
			}
		})
	}
	var writersWG sync.WaitGroup
	for w := range writers {
		writersWG.Go(func() {
			for r := range rounds {
				if _, err := put(t, b, bucket, "hot", content(w, r), backends.Meta{}, backends.PutOptions{}); err != nil {
					t.Errorf("concurrent PutObject: %v", err)
					return
				}
			}
		})
	}
	writersWG.Wait()
	close(stop)
	readers.Wait()
	data, info := Get(t, b, bucket, "hot", nil)
	if !valid[md5hex(data)] || info.ETag != md5hex(data) {
		t.Fatalf("final object: %d bytes, md5 %s, etag %s: not one writer's whole content", len(data), md5hex(data), info.ETag)
	}
	if keys, _, _ := listAll(t, b, bucket, backends.ListOptions{}); !slices.Equal(keys, []string{"hot"}) {
		t.Fatalf("after concurrent writes: %q", keys)
	}
}

// BadKeys are keys that a file-system backend must refuse. Other backends
// may store them (S3 allows "../x"), but then exactly as given.
var BadKeys = []string{
	"../x", "a/../../x", "..", ".", "/abs", "a//b", "./a", "a/./b", "a/..", "//",
	strings.Repeat("k", 256), "a/" + strings.Repeat("k", 256) + "/b",
}

func testBadKeys(t *testing.T, b backends.Backend) {
	ctx := t.Context()
	bucket := NewBucket(t, b)
	stored := []string{}
	for _, key := range BadKeys {
		_, err := put(t, b, bucket, key, []byte("bad"), backends.Meta{}, backends.PutOptions{})
		if err != nil {
			wantKind(t, fmt.Sprintf("PutObject(%q)", key), err, backends.InvalidKey, backends.KeyTooLong)
			_, err = b.HeadObject(ctx, bucket, key)
			wantKind(t, fmt.Sprintf("HeadObject(%q)", key), err, backends.InvalidKey, backends.KeyTooLong, backends.NoSuchKey)
			_, err = b.CreateMultipartUpload(ctx, bucket, key, backends.Meta{})
			wantKind(t, fmt.Sprintf("CreateMultipartUpload(%q)", key), err, backends.InvalidKey, backends.KeyTooLong)
			continue
		}
		if got, _ := Get(t, b, bucket, key, nil); string(got) != "bad" {
			t.Fatalf("stored %q but read %q", key, got)
		}
		stored = append(stored, key)
	}
	// Refused by every backend.
	for _, key := range []string{"a\x00b", strings.Repeat("k", backends.MaxKeyLen+1), "", "bad\xffutf8"} {
		_, err := put(t, b, bucket, key, []byte("bad"), backends.Meta{}, backends.PutOptions{})
		wantKind(t, fmt.Sprintf("PutObject(%q)", key), err, backends.InvalidKey, backends.KeyTooLong)
	}
	keys, _, _ := listAll(t, b, bucket, backends.ListOptions{})
	slices.Sort(stored)
	eq(t, "keys after bad keys", keys, stored)
	for _, k := range stored {
		b.DeleteObject(ctx, bucket, k)
	}
}
