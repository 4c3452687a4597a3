package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestSDK drives one server with aws-sdk-go-v2 in its default configuration
// (path-style addressing is the only change).
func TestSDK(t *testing.T) {
	s := startServer(t)
	c := s.S3(t)

	t.Run("Buckets", func(t *testing.T) { testBuckets(t, s, c) })
	t.Run("PutGetHeadDelete", func(t *testing.T) { testPutGetHeadDelete(t, s, c) })
	t.Run("ListV2Pagination", func(t *testing.T) { testListPagination(t, c) })
	t.Run("ListDelimiter", func(t *testing.T) { testListDelimiter(t, c) })
	t.Run("Copy", func(t *testing.T) { testCopy(t, c) })
	t.Run("MultipartUploader", func(t *testing.T) { testMultipartUploader(t, c) })
	t.Run("MultipartLowLevel", func(t *testing.T) { testMultipartLowLevel(t, c) })
	t.Run("DeleteObjects", func(t *testing.T) { testDeleteObjects(t, c) })
	t.Run("Tagging", func(t *testing.T) { testTagging(t, c) })
	t.Run("Ranges", func(t *testing.T) { testRanges(t, c) })
	t.Run("ConditionalGet", func(t *testing.T) { testConditionalGet(t, c) })
	t.Run("ConditionalPut", func(t *testing.T) { testConditionalPut(t, c) })
	t.Run("GetObjectAttributes", func(t *testing.T) { testGetObjectAttributes(t, c) })
	t.Run("Presigned", func(t *testing.T) { testPresigned(t, s, c) })
	t.Run("CORS", func(t *testing.T) { testCORS(t, s, c) })
	t.Run("PostObject", func(t *testing.T) { testPostObject(t, s, c) })
	t.Run("ChecksumSHA512", func(t *testing.T) { testChecksumSHA512(t, c) })
}

func testBuckets(t *testing.T, s *server, c *s3.Client) {
	ctx := ctxT(t)
	b := newBucket(t, c)
	for _, more := range []string{b + "-2", b + "-3"} { // for ListBuckets to page
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(more)})
		must(t, err, "CreateBucket "+more)
	}
	if fi, err := os.Stat(filepath.Join(s.Dir, b)); err != nil || !fi.IsDir() {
		t.Errorf("bucket %s is not a folder in the data dir: %v", b, err)
	}
	lb, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	must(t, err, "ListBuckets")
	var names []string
	for _, x := range lb.Buckets {
		names = append(names, aws.ToString(x.Name))
	}
	if !slices.Contains(names, b) {
		t.Errorf("ListBuckets = %v, want it to contain %s", names, b)
	}
	if slices.Contains(names, ".strata.sys") {
		t.Errorf("ListBuckets shows the reserved folder: %v", names)
	}
	// The SDK's paginator, two buckets a page, finds the same names.
	if len(names) < 3 {
		t.Fatalf("ListBuckets = %v: the test wants 3 buckets or more to page", names)
	}
	var paged []string
	for p := s3.NewListBucketsPaginator(c, &s3.ListBucketsInput{MaxBuckets: aws.Int32(2)}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		must(t, err, "ListBuckets page")
		if len(page.Buckets) > 2 {
			t.Fatalf("ListBuckets max-buckets 2: %d buckets", len(page.Buckets))
		}
		for _, x := range page.Buckets {
			paged = append(paged, aws.ToString(x.Name))
		}
	}
	if !slices.Equal(paged, names) {
		t.Errorf("ListBuckets paged by 2 = %v, want %v", paged, names)
	}
	_, err = c.ListBuckets(ctx, &s3.ListBucketsInput{MaxBuckets: aws.Int32(10001)})
	wantErr(t, err, "InvalidArgument", 400)
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(b)})
	must(t, err, "HeadBucket")
	loc, err := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String(b)})
	must(t, err, "GetBucketLocation")
	if l := string(loc.LocationConstraint); l != "" && l != region {
		t.Errorf("GetBucketLocation = %q, want \"\" or %q", l, region)
	}
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("no-such-bucket-here")})
	if errStatus(err) != 404 {
		t.Errorf("HeadBucket missing: got %v, want 404", err)
	}
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(b)})
	must(t, err, "DeleteBucket")
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(b)})
	if errStatus(err) != 404 {
		t.Errorf("HeadBucket after delete: got %v, want 404", err)
	}
}

func testPutGetHeadDelete(t *testing.T, s *server, c *s3.Client) {
	ctx := ctxT(t)
	b := newBucket(t, c)
	key := "dir/sub/hello.txt"
	body := []byte("hello, strata\n")
	expires := time.Date(2035, 1, 2, 3, 4, 5, 0, time.UTC)
	put, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(b), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentType:        aws.String("text/plain; charset=utf-8"),
		CacheControl:       aws.String("max-age=60"),
		ContentDisposition: aws.String(`attachment; filename="h.txt"`),
		ContentLanguage:    aws.String("en"),
		Expires:            aws.Time(expires),
		Metadata:           map[string]string{"color": "blue", "Mixed-Case": "Value With Spaces"},
	})
	must(t, err, "PutObject")
	if got, want := aws.ToString(put.ETag), quoted(md5Hex(body)); got != want {
		t.Errorf("PutObject ETag %s, want %s", got, want)
	}

	// The directory backend: the object is a plain file at its key.
	if onDisk, err := os.ReadFile(filepath.Join(s.Dir, b, "dir", "sub", "hello.txt")); err != nil || !bytes.Equal(onDisk, body) {
		t.Errorf("file on disk: %q, %v; want %q", onDisk, err, body)
	}

	get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String(key)})
	must(t, err, "GetObject")
	got, _ := io.ReadAll(get.Body)
	get.Body.Close()
	if !bytes.Equal(got, body) {
		t.Errorf("GetObject body %q, want %q", got, body)
	}
	if aws.ToString(get.ETag) != aws.ToString(put.ETag) {
		t.Errorf("GetObject ETag %s, want %s", aws.ToString(get.ETag), aws.ToString(put.ETag))
	}
	if aws.ToString(get.ContentType) != "text/plain; charset=utf-8" {
		t.Errorf("GetObject Content-Type %q", aws.ToString(get.ContentType))
	}
	if get.Metadata["color"] != "blue" || get.Metadata["mixed-case"] != "Value With Spaces" {
		t.Errorf("GetObject metadata %v", get.Metadata)
	}

	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String(key)})
	must(t, err, "HeadObject")
	checks := []struct{ name, got, want string }{
		{"ETag", aws.ToString(head.ETag), aws.ToString(put.ETag)},
		{"Content-Type", aws.ToString(head.ContentType), "text/plain; charset=utf-8"},
		{"Cache-Control", aws.ToString(head.CacheControl), "max-age=60"},
		{"Content-Disposition", aws.ToString(head.ContentDisposition), `attachment; filename="h.txt"`},
		{"Content-Language", aws.ToString(head.ContentLanguage), "en"},
		{"x-amz-meta-color", head.Metadata["color"], "blue"},
		{"Content-Length", fmt.Sprint(aws.ToInt64(head.ContentLength)), fmt.Sprint(len(body))},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("HeadObject %s = %q, want %q", ch.name, ch.got, ch.want)
		}
	}
	if head.ExpiresString == nil || !strings.Contains(aws.ToString(head.ExpiresString), "2035") {
		t.Errorf("HeadObject Expires = %v, want %v", aws.ToString(head.ExpiresString), expires)
	}
	if lm := aws.ToTime(head.LastModified); time.Since(lm) > 5*time.Minute || time.Until(lm) > time.Minute {
		t.Errorf("HeadObject Last-Modified %v is not about now", lm)
	}

	// response-* overrides.
	ov, err := c.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(b), Key: aws.String(key),
		ResponseContentType:        aws.String("application/x-override"),
		ResponseContentDisposition: aws.String("inline"),
		ResponseCacheControl:       aws.String("no-store"),
	})
	must(t, err, "GetObject with response-* overrides")
	ov.Body.Close()
	if aws.ToString(ov.ContentType) != "application/x-override" || aws.ToString(ov.ContentDisposition) != "inline" || aws.ToString(ov.CacheControl) != "no-store" {
		t.Errorf("overrides: Content-Type %q Content-Disposition %q Cache-Control %q",
			aws.ToString(ov.ContentType), aws.ToString(ov.ContentDisposition), aws.ToString(ov.CacheControl))
	}

	// Empty object and a folder marker.
	putBytes(t, c, b, "empty", nil)
	wantObject(t, c, b, "empty", nil)
	putBytes(t, c, b, "folder/", nil)
	if keys := listAll(t, c, b, "folder/"); !slices.Equal(keys, []string{"folder/"}) {
		t.Errorf("list folder/ = %v, want [folder/]", keys)
	}

	// A key with characters that need escaping.
	odd := "odd keys/ä ö+plus&amp=eq?q#h%pct.txt"
	putBytes(t, c, b, odd, []byte("odd"))
	wantObject(t, c, b, odd, []byte("odd"))
	if keys := listAll(t, c, b, "odd keys/"); !slices.Equal(keys, []string{odd}) {
		t.Errorf("list odd keys/ = %q, want [%q]", keys, odd)
	}

	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b), Key: aws.String(key)})
	must(t, err, "DeleteObject")
	wantNoObject(t, c, b, key)
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String(key)})
	wantErr(t, err, "NoSuchKey", 404)
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b), Key: aws.String(key)})
	if err != nil {
		t.Errorf("DeleteObject of a missing key: %v, want success", err)
	}
}

func testListPagination(t *testing.T, c *s3.Client) {
	ctx := ctxT(t)
	b := newBucket(t, c)
	const n = 1100
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("k/%04d", i)
	}
	start := time.Now()
	var wg sync.WaitGroup
	keys := make(chan string)
	errs := make(chan error, n)
	for range 8 {
		wg.Go(func() {
			for k := range keys {
				_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String(k), Body: strings.NewReader(k)})
				if err != nil {
					errs <- fmt.Errorf("PutObject %s: %w", k, err)
				}
			}
		})
	}
	for _, k := range want {
		keys <- k
	}
	close(keys)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d PUTs in %v", n, time.Since(start).Round(time.Millisecond))

	// Default page size (1000): two pages.
	var got []string
	pages := 0
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(b)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		must(t, err, "ListObjectsV2")
		pages++
		if pages == 1 && (!aws.ToBool(page.IsTruncated) || aws.ToInt32(page.KeyCount) != 1000 || len(page.Contents) != 1000) {
			t.Errorf("first page: IsTruncated %v KeyCount %d Contents %d, want true 1000 1000",
				aws.ToBool(page.IsTruncated), aws.ToInt32(page.KeyCount), len(page.Contents))
		}
		for _, o := range page.Contents {
			got = append(got, aws.ToString(o.Key))
		}
	}
	if pages != 2 || !slices.Equal(got, want) {
		t.Errorf("ListObjectsV2: %d pages, %d keys; want 2 pages, %d keys in order", pages, len(got), n)
	}

	// Small pages with start-after.
	got = nil
	p = s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(b), MaxKeys: aws.Int32(300), StartAfter: aws.String("k/0099")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		must(t, err, "ListObjectsV2 max-keys 300")
		for _, o := range page.Contents {
			got = append(got, aws.ToString(o.Key))
		}
	}
	if !slices.Equal(got, want[100:]) {
		t.Errorf("ListObjectsV2 start-after k/0099, max-keys 300: %d keys, want %d", len(got), n-100)
	}

	// ListObjects v1 with markers.
	got = nil
	marker := ""
	for i := 0; i < 10; i++ {
		out, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String(b), Marker: aws.String(marker), MaxKeys: aws.Int32(500)})
		must(t, err, "ListObjects v1")
		for _, o := range out.Contents {
			got = append(got, aws.ToString(o.Key))
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		marker = got[len(got)-1]
	}
	if !slices.Equal(got, want) {
		t.Errorf("ListObjects v1: %d keys, want %d", len(got), n)
	}
}

func testListDelimiter(t *testing.T, c *s3.Client) {
	ctx := ctxT(t)
	b := newBucket(t, c)
	for _, k := range []string{"d/a", "d/b/c", "d/b/d", "top.txt"} {
		putBytes(t, c, b, k, []byte(k))
	}
	putBytes(t, c, b, "z/", nil) // a folder object holds no data on a file system
	list := func(prefix string) (keys, prefixes []string) {
		out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b), Prefix: aws.String(prefix), Delimiter: aws.String("/")})
		must(t, err, "ListObjectsV2 delimiter")
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		for _, p := range out.CommonPrefixes {
			prefixes = append(prefixes, aws.ToString(p.Prefix))
		}
		return
	}
	cases := []struct {
		prefix         string
		keys, prefixes []string
	}{
		{"", []string{"top.txt"}, []string{"d/", "z/"}},
		{"d/", []string{"d/a"}, []string{"d/b/"}},
		{"d/b/", []string{"d/b/c", "d/b/d"}, nil},
		{"z/", []string{"z/"}, nil},
		{"nothing/", nil, nil},
	}
	for _, tc := range cases {
		keys, prefixes := list(tc.prefix)
		if !slices.Equal(keys, tc.keys) || !slices.Equal(prefixes, tc.prefixes) {
			t.Errorf("prefix %q: keys %q prefixes %q; want %q %q", tc.prefix, keys, prefixes, tc.keys, tc.prefixes)
		}
	}

	// v1 with delimiter, and encoding-type=url.
	out, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String(b), Delimiter: aws.String("/"), MaxKeys: aws.Int32(1)})
	must(t, err, "ListObjects v1 delimiter")
	if !aws.ToBool(out.IsTruncated) || aws.ToString(out.NextMarker) == "" {
		t.Errorf("ListObjects v1 max-keys 1 with delimiter: IsTruncated %v NextMarker %q, want true and a marker",
			aws.ToBool(out.IsTruncated), aws.ToString(out.NextMarker))
	}
	// Without a delimiter, NextMarker is the last key given.
	out, err = c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String(b), MaxKeys: aws.Int32(2)})
	must(t, err, "ListObjects v1")
	if n := len(out.Contents); !aws.ToBool(out.IsTruncated) || n != 2 || aws.ToString(out.NextMarker) != aws.ToString(out.Contents[n-1].Key) {
		t.Errorf("ListObjects v1 max-keys 2: IsTruncated %v, %d keys, NextMarker %q; want the last key",
			aws.ToBool(out.IsTruncated), n, aws.ToString(out.NextMarker))
	}
	odd := "enc/a b+c&d.txt"
	putBytes(t, c, b, odd, []byte("x"))
	enc, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b), Prefix: aws.String("enc/"), EncodingType: types.EncodingTypeUrl})
	must(t, err, "ListObjectsV2 encoding-type=url")
	if len(enc.Contents) != 1 {
		t.Fatalf("encoding-type=url: %d keys, want 1", len(enc.Contents))
	}
	if dec, err := url.QueryUnescape(aws.ToString(enc.Contents[0].Key)); err != nil || dec != odd {
		t.Errorf("encoding-type=url key %q decodes to %q (%v), want %q", aws.ToString(enc.Contents[0].Key), dec, err, odd)
	}
}

// copySource is the x-amz-copy-source value for bucket/key.
func copySource(bucket, key string) string { return bucket + "/" + s3Escape(key, true) }

func testCopy(t *testing.T, c *s3.Client) {
	ctx := ctxT(t)
	b := newBucket(t, c)
	src := "src/orig+1.txt"
	data := []byte("copy me")
	_, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(b), Key: aws.String(src), Body: bytes.NewReader(data),
		ContentType: aws.String("text/x-src"), Metadata: map[string]string{"color": "red"},
	})
	must(t, err, "PutObject source")

	head := func(key string) *s3.HeadObjectOutput {
		h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String(key)})
		must(t, err, "HeadObject "+key)
		return h
	}

	// COPY: metadata travels with the data.
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: aws.String(b), Key: aws.String("dst/copy.txt"), CopySource: aws.String(copySource(b, src)),
		MetadataDirective: types.MetadataDirectiveCopy,
	})
	must(t, err, "CopyObject COPY")
	wantObject(t, c, b, "dst/copy.txt", data)
	if h := head("dst/copy.txt"); h.Metadata["color"] != "red" || aws.ToString(h.ContentType) != "text/x-src" {
		t.Errorf("COPY: metadata %v content-type %q, want color=red text/x-src", h.Metadata, aws.ToString(h.ContentType))
	}

	// REPLACE: metadata from the request.
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: aws.String(b), Key: aws.String("dst/replace.txt"), CopySource: aws.String(copySource(b, src)),
		MetadataDirective: types.MetadataDirectiveReplace,
		ContentType:       aws.String("text/x-new"), Metadata: map[string]string{"shape": "round"},
	})
	must(t, err, "CopyObject REPLACE")
	wantObject(t, c, b, "dst/replace.txt", data)
	if h := head("dst/replace.txt"); h.Metadata["shape"] != "round" || h.Metadata["color"] != "" || aws.ToString(h.ContentType) != "text/x-new" {
		t.Errorf("REPLACE: metadata %v content-type %q, want only shape=round, text/x-new", h.Metadata, aws.ToString(h.ContentType))
	}

	// Same-key metadata update.
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: aws.String(b), Key: aws.String(src), CopySource: aws.String(copySource(b, src)),
		MetadataDirective: types.MetadataDirectiveReplace, Metadata: map[string]string{"color": "green"},
	})
	must(t, err, "CopyObject same key REPLACE")
	wantObject(t, c, b, src, data)
	if h := head(src); h.Metadata["color"] != "green" {
		t.Errorf("same-key REPLACE: metadata %v, want color=green", h.Metadata)
	}
	// Same key without REPLACE changes nothing: S3 refuses it.
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: aws.String(b), Key: aws.String(src), CopySource: aws.String(copySource(b, src)),
	})
	wantErr(t, err, "InvalidRequest", 400)

	// Copy-source conditions.
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: aws.String(b), Key: aws.String("dst/cond.txt"), CopySource: aws.String(copySource(b, src)),
		CopySourceIfMatch: aws.String(`"00000000000000000000000000000000"`),
	})
	wantErr(t, err, "PreconditionFailed", 412)
	wantNoObject(t, c, b, "dst/cond.txt")
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: aws.String(b), Key: aws.String("dst/cond.txt"), CopySource: aws.String(copySource(b, src)),
		CopySourceIfMatch: aws.String(quoted(md5Hex(data))),
	})
	must(t, err, "CopyObject with matching x-amz-copy-source-if-match")

	// Copy from a missing source.
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: aws.String(b), Key: aws.String("dst/none"), CopySource: aws.String(copySource(b, "missing")),
	})
	wantErr(t, err, "NoSuchKey", 404)
}

func testMultipartUploader(t *testing.T, c *s3.Client) {
	ctx := ctxT(t)
	b := newBucket(t, c)
	data := randBytes(20, 20<<20)
	up := manager.NewUploader(c) // defaults: 5 MiB parts, default checksums
	start := time.Now()
	out, err := up.Upload(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("big/20mib.bin"), Body: bytes.NewReader(data)})
	must(t, err, "manager upload 20 MiB")
	t.Logf("uploaded 20 MiB in %v, ETag %s", time.Since(start).Round(time.Millisecond), aws.ToString(out.ETag))
	if !strings.HasSuffix(strings.Trim(aws.ToString(out.ETag), `"`), "-4") {
		t.Errorf("multipart ETag %s, want md5-of-md5s ending in -4", aws.ToString(out.ETag))
	}

	get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("big/20mib.bin"), ChecksumMode: types.ChecksumModeEnabled})
	must(t, err, "GetObject checksum mode ENABLED")
	got, err := io.ReadAll(get.Body)
	get.Body.Close()
	must(t, err, "reading 20 MiB (checksum validated by the SDK where it can)")
	if !bytes.Equal(got, data) {
		t.Errorf("downloaded %d bytes (md5 %s), want md5 %s", len(got), md5Hex(got), md5Hex(data))
	}
	sums := map[string]string{
		"crc32": aws.ToString(get.ChecksumCRC32), "crc32c": aws.ToString(get.ChecksumCRC32C),
		"crc64nvme": aws.ToString(get.ChecksumCRC64NVME), "sha1": aws.ToString(get.ChecksumSHA1),
		"sha256": aws.ToString(get.ChecksumSHA256),
	}
	var present []string
	for k, v := range sums {
		if v != "" {
			present = append(present, k+"="+v)
		}
	}
	t.Logf("GetObject checksums: %v type %q", present, get.ChecksumType)
	if len(present) == 0 {
		t.Errorf("GetObject with x-amz-checksum-mode ENABLED returned no x-amz-checksum-* header for an object uploaded with checksums")
	}

	// partNumber on GET and HEAD.
	h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("big/20mib.bin"), PartNumber: aws.Int32(1)})
	must(t, err, "HeadObject partNumber=1")
	if aws.ToInt64(h.ContentLength) != 5<<20 || aws.ToInt32(h.PartsCount) != 4 {
		t.Errorf("HeadObject partNumber=1: Content-Length %d PartsCount %d, want %d 4", aws.ToInt64(h.ContentLength), aws.ToInt32(h.PartsCount), 5<<20)
	}
	gp, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("big/20mib.bin"), PartNumber: aws.Int32(2)})
	must(t, err, "GetObject partNumber=2")
	part2, _ := io.ReadAll(gp.Body)
	gp.Body.Close()
	if !bytes.Equal(part2, data[5<<20:10<<20]) {
		t.Errorf("GetObject partNumber=2: %d bytes, want bytes [5 MiB, 10 MiB)", len(part2))
	}
}

func testMultipartLowLevel(t *testing.T, c *s3.Client) {
	ctx := ctxT(t)
	b := newBucket(t, c)
	src := randBytes(7, 6<<20)
	putBytes(t, c, b, "source.bin", src)

	key := "mp/object.bin"
	cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(b), Key: aws.String(key),
		ContentType: aws.String("application/x-mp"), Metadata: map[string]string{"origin": "multipart"},
	})
	must(t, err, "CreateMultipartUpload")
	id := cr.UploadId

	p1 := randBytes(1, 5<<20)
	p3 := []byte("the small last part")
	u1, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(b), Key: aws.String(key), UploadId: id, PartNumber: aws.Int32(1), Body: bytes.NewReader(p1)})
	must(t, err, "UploadPart 1")
	u2, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
		Bucket: aws.String(b), Key: aws.String(key), UploadId: id, PartNumber: aws.Int32(2),
		CopySource: aws.String(copySource(b, "source.bin")), CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", 1<<20, 6<<20-1)),
	})
	must(t, err, "UploadPartCopy 2 with range")
	p2 := src[1<<20 : 6<<20]
	u3, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(b), Key: aws.String(key), UploadId: id, PartNumber: aws.Int32(3), Body: bytes.NewReader(p3)})
	must(t, err, "UploadPart 3")

	if got, want := aws.ToString(u1.ETag), quoted(md5Hex(p1)); got != want {
		t.Errorf("UploadPart ETag %s, want %s", got, want)
	}
	if got, want := aws.ToString(u2.CopyPartResult.ETag), quoted(md5Hex(p2)); got != want {
		t.Errorf("UploadPartCopy ETag %s, want %s", got, want)
	}

	lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(b), Key: aws.String(key), UploadId: id})
	must(t, err, "ListParts")
	var nums []int32
	for _, p := range lp.Parts {
		nums = append(nums, aws.ToInt32(p.PartNumber))
	}
	if !slices.Equal(nums, []int32{1, 2, 3}) {
		t.Errorf("ListParts = %v, want [1 2 3]", nums)
	}
	lu, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(b)})
	must(t, err, "ListMultipartUploads")
	if len(lu.Uploads) != 1 || aws.ToString(lu.Uploads[0].UploadId) != aws.ToString(id) || aws.ToString(lu.Uploads[0].Key) != key {
		t.Errorf("ListMultipartUploads = %d uploads, want the one in progress", len(lu.Uploads))
	}
	// Uploads in progress are not objects.
	if keys := listAll(t, c, b, "mp/"); len(keys) != 0 {
		t.Errorf("list during upload shows %v", keys)
	}

	parts := []types.CompletedPart{
		{PartNumber: aws.Int32(1), ETag: u1.ETag},
		{PartNumber: aws.Int32(2), ETag: u2.CopyPartResult.ETag},
		{PartNumber: aws.Int32(3), ETag: u3.ETag},
	}
	// Wrong order and wrong ETag are refused and leave the upload usable.
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(b), Key: aws.String(key), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{parts[1], parts[0], parts[2]}}})
	wantErr(t, err, "InvalidPartOrder", 400)
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(b), Key: aws.String(key), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{parts[0], {PartNumber: aws.Int32(2), ETag: aws.String(`"0123456789abcdef0123456789abcdef"`)}, parts[2]}}})
	wantErr(t, err, "InvalidPart", 400)
	wantNoObject(t, c, b, key)

	done, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(b), Key: aws.String(key), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	must(t, err, "CompleteMultipartUpload")
	var md5s []byte
	for _, p := range [][]byte{p1, p2, p3} {
		s := md5.Sum(p)
		md5s = append(md5s, s[:]...)
	}
	all := md5.Sum(md5s)
	if got, want := aws.ToString(done.ETag), quoted(hex.EncodeToString(all[:])+"-3"); got != want {
		t.Errorf("CompleteMultipartUpload ETag %s, want %s", got, want)
	}
	wantObject(t, c, b, key, slices.Concat(p1, p2, p3))
	h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String(key)})
	must(t, err, "HeadObject after complete")
	if aws.ToString(h.ContentType) != "application/x-mp" || h.Metadata["origin"] != "multipart" {
		t.Errorf("multipart object: Content-Type %q metadata %v", aws.ToString(h.ContentType), h.Metadata)
	}
	lu, err = c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(b)})
	must(t, err, "ListMultipartUploads after complete")
	if len(lu.Uploads) != 0 {
		t.Errorf("%d uploads left after complete", len(lu.Uploads))
	}

	// EntityTooSmall: a non-last part under 5 MiB.
	cr2, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("mp/small")})
	must(t, err, "CreateMultipartUpload 2")
	s1, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(b), Key: aws.String("mp/small"), UploadId: cr2.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("tiny")})
	must(t, err, "UploadPart small 1")
	s2, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(b), Key: aws.String("mp/small"), UploadId: cr2.UploadId, PartNumber: aws.Int32(2), Body: strings.NewReader("tiny")})
	must(t, err, "UploadPart small 2")
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("mp/small"), UploadId: cr2.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: s1.ETag}, {PartNumber: aws.Int32(2), ETag: s2.ETag}}}})
	wantErr(t, err, "EntityTooSmall", 400)

	// Abort.
	_, err = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("mp/small"), UploadId: cr2.UploadId})
	must(t, err, "AbortMultipartUpload")
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(b), Key: aws.String("mp/small"), UploadId: cr2.UploadId, PartNumber: aws.Int32(3), Body: strings.NewReader("late")})
	wantErr(t, err, "NoSuchUpload", 404)
	_, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(b), Key: aws.String("mp/small"), UploadId: cr2.UploadId})
	wantErr(t, err, "NoSuchUpload", 404)
	wantNoObject(t, c, b, "mp/small")
}

func testDeleteObjects(t *testing.T, c *s3.Client) {
	ctx := ctxT(t)
	b := newBucket(t, c)
	for _, k := range []string{"a", "b/c", "d e"} {
		putBytes(t, c, b, k, []byte(k))
	}
	putBytes(t, c, b, "keep", []byte("keep"))
	out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(b), Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("a")}, {Key: aws.String("b/c")}, {Key: aws.String("d e")}, {Key: aws.String("never-existed")},
	}}})
	must(t, err, "DeleteObjects")
	var deleted []string
	for _, d := range out.Deleted {
		deleted = append(deleted, aws.ToString(d.Key))
	}
	slices.Sort(deleted)
	if !slices.Equal(deleted, []string{"a", "b/c", "d e", "never-existed"}) || len(out.Errors) != 0 {
		t.Errorf("DeleteObjects: deleted %q errors %d, want all 4 and no errors", deleted, len(out.Errors))
	}
	if keys := listAll(t, c, b, ""); !slices.Equal(keys, []string{"keep"}) {
		t.Errorf("after DeleteObjects: %q, want [keep]", keys)
	}
	// Quiet mode reports nothing on success.
	putBytes(t, c, b, "q", []byte("q"))
	out, err = c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(b), Delete: &types.Delete{Quiet: aws.Bool(true), Objects: []types.ObjectIdentifier{{Key: aws.String("q")}}}})
	must(t, err, "DeleteObjects quiet")
	if len(out.Deleted) != 0 || len(out.Errors) != 0 {
		t.Errorf("quiet DeleteObjects reported %d deleted %d errors", len(out.Deleted), len(out.Errors))
	}
	wantNoObject(t, c, b, "q")
}

func testTagging(t *testing.T, c *s3.Client) {
	ctx := ctxT(t)
	b := newBucket(t, c)
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("t.txt"), Body: strings.NewReader("tags"),
		Tagging: aws.String("project=strata&env=test")})
	must(t, err, "PutObject with x-amz-tagging")
	tags := func() map[string]string {
		out, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(b), Key: aws.String("t.txt")})
		must(t, err, "GetObjectTagging")
		m := map[string]string{}
		for _, tg := range out.TagSet {
			m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
		}
		return m
	}
	if m := tags(); len(m) != 2 || m["project"] != "strata" || m["env"] != "test" {
		t.Errorf("tags from PutObject: %v", m)
	}
	g, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("t.txt")})
	must(t, err, "GetObject")
	g.Body.Close()
	if aws.ToInt32(g.TagCount) != 2 {
		t.Errorf("GetObject x-amz-tagging-count = %d, want 2", aws.ToInt32(g.TagCount))
	}
	_, err = c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String(b), Key: aws.String("t.txt"),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("k"), Value: aws.String("v w")}}}})
	must(t, err, "PutObjectTagging")
	if m := tags(); len(m) != 1 || m["k"] != "v w" {
		t.Errorf("tags after PutObjectTagging: %v", m)
	}
	wantObject(t, c, b, "t.txt", []byte("tags"))
	_, err = c.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: aws.String(b), Key: aws.String("t.txt")})
	must(t, err, "DeleteObjectTagging")
	if m := tags(); len(m) != 0 {
		t.Errorf("tags after DeleteObjectTagging: %v", m)
	}
	_, err = c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(b), Key: aws.String("missing")})
	wantErr(t, err, "NoSuchKey", 404)

	// Bucket tagging.
	_, err = c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(b),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("team"), Value: aws.String("storage")}}}})
	must(t, err, "PutBucketTagging")
	bt, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(b)})
	must(t, err, "GetBucketTagging")
	if len(bt.TagSet) != 1 || aws.ToString(bt.TagSet[0].Key) != "team" || aws.ToString(bt.TagSet[0].Value) != "storage" {
		t.Errorf("GetBucketTagging: %+v", bt.TagSet)
	}
	_, err = c.DeleteBucketTagging(ctx, &s3.DeleteBucketTaggingInput{Bucket: aws.String(b)})
	must(t, err, "DeleteBucketTagging")
	_, err = c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(b)})
	wantErr(t, err, "NoSuchTagSet", 404)
}

func testRanges(t *testing.T, c *s3.Client) {
	ctx := ctxT(t)
	b := newBucket(t, c)
	data := []byte(strings.Repeat("0123456789", 10))
	putBytes(t, c, b, "r", data)
	cases := []struct {
		rng          string
		from, to     int // inclusive
		contentRange string
	}{
		{"bytes=0-9", 0, 9, "bytes 0-9/100"},
		{"bytes=95-", 95, 99, "bytes 95-99/100"},
		{"bytes=-3", 97, 99, "bytes 97-99/100"},
		{"bytes=90-200", 90, 99, "bytes 90-99/100"},
		{"bytes=42-42", 42, 42, "bytes 42-42/100"},
	}
	for _, tc := range cases {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("r"), Range: aws.String(tc.rng)})
		if err != nil {
			t.Errorf("Range %s: %v", tc.rng, err)
			continue
		}
		got, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if !bytes.Equal(got, data[tc.from:tc.to+1]) || aws.ToString(out.ContentRange) != tc.contentRange || aws.ToInt64(out.ContentLength) != int64(tc.to-tc.from+1) {
			t.Errorf("Range %s: body %q Content-Range %q Content-Length %d; want %q %q %d", tc.rng, got,
				aws.ToString(out.ContentRange), aws.ToInt64(out.ContentLength), data[tc.from:tc.to+1], tc.contentRange, tc.to-tc.from+1)
		}
	}
}

func testConditionalGet(t *testing.T, c *s3.Client) {
	ctx := ctxT(t)
	b := newBucket(t, c)
	put := putBytes(t, c, b, "c", []byte("conditional"))
	h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("c")})
	must(t, err, "HeadObject")
	etag, lm := aws.ToString(put.ETag), aws.ToTime(h.LastModified)

	get := func(in s3.GetObjectInput) error {
		in.Bucket, in.Key = aws.String(b), aws.String("c")
		out, err := c.GetObject(ctx, &in)
		if err == nil {
			out.Body.Close()
		}
		return err
	}
	head := func(in s3.HeadObjectInput) error {
		in.Bucket, in.Key = aws.String(b), aws.String("c")
		_, err := c.HeadObject(ctx, &in)
		return err
	}
	cases := []struct {
		name   string
		get    s3.GetObjectInput
		head   s3.HeadObjectInput
		status int
	}{
		{"If-None-Match matching", s3.GetObjectInput{IfNoneMatch: aws.String(etag)}, s3.HeadObjectInput{IfNoneMatch: aws.String(etag)}, 304},
		{"If-None-Match other", s3.GetObjectInput{IfNoneMatch: aws.String(`"abc"`)}, s3.HeadObjectInput{IfNoneMatch: aws.String(`"abc"`)}, 200},
		{"If-Match matching", s3.GetObjectInput{IfMatch: aws.String(etag)}, s3.HeadObjectInput{IfMatch: aws.String(etag)}, 200},
		{"If-Match other", s3.GetObjectInput{IfMatch: aws.String(`"abc"`)}, s3.HeadObjectInput{IfMatch: aws.String(`"abc"`)}, 412},
		{"If-Modified-Since later", s3.GetObjectInput{IfModifiedSince: aws.Time(lm.Add(time.Hour))}, s3.HeadObjectInput{IfModifiedSince: aws.Time(lm.Add(time.Hour))}, 304},
		{"If-Modified-Since earlier", s3.GetObjectInput{IfModifiedSince: aws.Time(lm.Add(-time.Hour))}, s3.HeadObjectInput{IfModifiedSince: aws.Time(lm.Add(-time.Hour))}, 200},
		{"If-Unmodified-Since earlier", s3.GetObjectInput{IfUnmodifiedSince: aws.Time(lm.Add(-time.Hour))}, s3.HeadObjectInput{IfUnmodifiedSince: aws.Time(lm.Add(-time.Hour))}, 412},
		{"If-Unmodified-Since later", s3.GetObjectInput{IfUnmodifiedSince: aws.Time(lm.Add(time.Hour))}, s3.HeadObjectInput{IfUnmodifiedSince: aws.Time(lm.Add(time.Hour))}, 200},
		// If-Match true wins over If-Unmodified-Since false (RFC 7232 as S3 applies it).
		{"If-Match and If-Unmodified-Since", s3.GetObjectInput{IfMatch: aws.String(etag), IfUnmodifiedSince: aws.Time(lm.Add(-time.Hour))},
			s3.HeadObjectInput{IfMatch: aws.String(etag), IfUnmodifiedSince: aws.Time(lm.Add(-time.Hour))}, 200},
	}
	for _, tc := range cases {
		for _, m := range []struct {
			method string
			err    error
		}{{"GET", get(tc.get)}, {"HEAD", head(tc.head)}} {
			status := 200
			if m.err != nil {
				status = errStatus(m.err)
			}
			if status != tc.status {
				t.Errorf("%s %s: got %d (%v), want %d", m.method, tc.name, status, m.err, tc.status)
			}
			if tc.status == 412 && m.method == "GET" && errCode(m.err) != "PreconditionFailed" {
				t.Errorf("GET %s: code %q, want PreconditionFailed", tc.name, errCode(m.err))
			}
		}
	}
}

func testConditionalPut(t *testing.T, c *s3.Client) {
	ctx := ctxT(t)
	b := newBucket(t, c)
	put := func(key, body string, in s3.PutObjectInput) (*s3.PutObjectOutput, error) {
		in.Bucket, in.Key, in.Body = aws.String(b), aws.String(key), strings.NewReader(body)
		return c.PutObject(ctx, &in)
	}
	_, err := put("once", "first", s3.PutObjectInput{IfNoneMatch: aws.String("*")})
	must(t, err, "PutObject If-None-Match: * on a new key")
	_, err = put("once", "second", s3.PutObjectInput{IfNoneMatch: aws.String("*")})
	wantErr(t, err, "PreconditionFailed", 412)
	wantObject(t, c, b, "once", []byte("first"))

	_, err = put("once", "third", s3.PutObjectInput{IfMatch: aws.String(`"00000000000000000000000000000000"`)})
	wantErr(t, err, "PreconditionFailed", 412)
	wantObject(t, c, b, "once", []byte("first"))
	_, err = put("once", "fourth", s3.PutObjectInput{IfMatch: aws.String(quoted(md5Hex([]byte("first"))))})
	must(t, err, "PutObject If-Match with the current ETag")
	wantObject(t, c, b, "once", []byte("fourth"))
	_, err = put("absent", "x", s3.PutObjectInput{IfMatch: aws.String(`"00000000000000000000000000000000"`)})
	if s := errStatus(err); s != 404 && s != 412 {
		t.Errorf("PutObject If-Match on a missing key: %v, want 404 NoSuchKey (or 412)", err)
	}
	wantNoObject(t, c, b, "absent")
}

func testGetObjectAttributes(t *testing.T, c *s3.Client) {
	ctx := ctxT(t)
	b := newBucket(t, c)
	data := []byte("attributes")
	put := putBytes(t, c, b, "a", data)
	out, err := c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String(b), Key: aws.String("a"),
		ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesEtag, types.ObjectAttributesObjectSize,
			types.ObjectAttributesStorageClass, types.ObjectAttributesChecksum}})
	must(t, err, "GetObjectAttributes")
	if strings.Trim(aws.ToString(out.ETag), `"`) != strings.Trim(aws.ToString(put.ETag), `"`) || aws.ToInt64(out.ObjectSize) != int64(len(data)) {
		t.Errorf("GetObjectAttributes: ETag %q size %d; want %s %d", aws.ToString(out.ETag), aws.ToInt64(out.ObjectSize), aws.ToString(put.ETag), len(data))
	}
	if out.StorageClass == "" {
		t.Errorf("GetObjectAttributes: no StorageClass")
	}
	if out.LastModified == nil {
		t.Errorf("GetObjectAttributes: no Last-Modified")
	}
	if out.Checksum == nil {
		t.Logf("GetObjectAttributes: no Checksum for an object PUT with the SDK's default CRC32")
	} else {
		t.Logf("GetObjectAttributes checksum: crc32=%s type=%s", aws.ToString(out.Checksum.ChecksumCRC32), out.Checksum.ChecksumType)
	}

	// Parts of a multipart object.
	up := manager.NewUploader(c)
	_, err = up.Upload(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("mp"), Body: bytes.NewReader(randBytes(3, 11<<20))})
	must(t, err, "manager upload 11 MiB")
	mp, err := c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String(b), Key: aws.String("mp"),
		ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesObjectParts, types.ObjectAttributesObjectSize}})
	must(t, err, "GetObjectAttributes multipart")
	switch {
	case mp.ObjectParts == nil:
		t.Errorf("GetObjectAttributes multipart: no ObjectParts")
	case aws.ToInt32(mp.ObjectParts.TotalPartsCount) != 3:
		t.Errorf("GetObjectAttributes multipart: ObjectParts/PartsCount %v, want 3 (%d <Part> elements)",
			mp.ObjectParts.TotalPartsCount, len(mp.ObjectParts.Parts))
	}
	if aws.ToInt64(mp.ObjectSize) != 11<<20 {
		t.Errorf("GetObjectAttributes multipart: ObjectSize %d, want %d", aws.ToInt64(mp.ObjectSize), 11<<20)
	}

	// A composite checksum: HEAD shows it with its part count, the
	// attributes without it; a copy gets the whole object's checksum.
	mpData := randBytes(4, 11<<20)
	_, err = up.Upload(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("mp-sha"), Body: bytes.NewReader(mpData),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
	must(t, err, "manager upload with SHA-256")
	h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("mp-sha"), ChecksumMode: types.ChecksumModeEnabled})
	must(t, err, "HeadObject mp-sha")
	composite, ok := strings.CutSuffix(aws.ToString(h.ChecksumSHA256), "-3")
	if !ok {
		t.Fatalf("HEAD of a 3-part SHA-256 upload: checksum %q", aws.ToString(h.ChecksumSHA256))
	}
	at, err := c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String(b), Key: aws.String("mp-sha"),
		ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesChecksum}})
	must(t, err, "GetObjectAttributes mp-sha")
	if at.Checksum == nil || aws.ToString(at.Checksum.ChecksumSHA256) != composite || at.Checksum.ChecksumType != types.ChecksumTypeComposite {
		t.Errorf("GetObjectAttributes of a composite checksum: %+v, want %s COMPOSITE", at.Checksum, composite)
	}
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(b), Key: aws.String("mp-sha-copy"), CopySource: aws.String(b + "/mp-sha")})
	must(t, err, "CopyObject mp-sha")
	h, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("mp-sha-copy"), ChecksumMode: types.ChecksumModeEnabled})
	must(t, err, "HeadObject mp-sha-copy")
	whole := sha256.Sum256(mpData)
	if aws.ToString(h.ChecksumSHA256) != base64.StdEncoding.EncodeToString(whole[:]) || h.ChecksumType != types.ChecksumTypeFullObject {
		t.Errorf("copy of a composite object: SHA-256 %q type %q, want the whole object's", aws.ToString(h.ChecksumSHA256), h.ChecksumType)
	}

	_, err = c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String(b), Key: aws.String("missing"),
		ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesEtag}})
	wantErr(t, err, "NoSuchKey", 404)
}

func testPresigned(t *testing.T, s *server, c *s3.Client) {
	ctx := ctxT(t)
	b := newBucket(t, c)
	data := randBytes(11, 300<<10)
	putBytes(t, c, b, "pre/get.bin", data)
	pc := s3.NewPresignClient(c)
	hc := s.HTTPClient()

	pg, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("pre/get.bin"),
		ResponseContentDisposition: aws.String(`attachment; filename="x.bin"`)}, s3.WithPresignExpires(15*time.Minute))
	must(t, err, "PresignGetObject")
	resp, err := hc.Get(pg.URL)
	must(t, err, "GET presigned URL")
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Errorf("presigned GET %s: HTTP %d, %d bytes (want 200, %d bytes)\n%.500s", pg.URL, resp.StatusCode, len(got), len(data), got)
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="x.bin"` {
		t.Errorf("presigned GET Content-Disposition %q", cd)
	}

	body := []byte("uploaded through a presigned PUT")
	pp, err := pc.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("pre/put.txt"), ContentType: aws.String("text/plain")})
	must(t, err, "PresignPutObject")
	req, _ := http.NewRequest(pp.Method, pp.URL, bytes.NewReader(body))
	for k, vs := range pp.SignedHeader {
		if strings.EqualFold(k, "host") {
			continue
		}
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Content-Type", "text/plain")
	resp, err = hc.Do(req)
	must(t, err, "PUT presigned URL")
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("presigned PUT %s (signed headers %v): HTTP %d\n%s", pp.URL, pp.SignedHeader, resp.StatusCode, rb)
	}
	wantObject(t, c, b, "pre/put.txt", body)
}

func testCORS(t *testing.T, s *server, c *s3.Client) {
	ctx := ctxT(t)
	b := newBucket(t, c)
	putBytes(t, c, b, "obj", []byte("cors"))
	_, err := c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String(b)})
	wantErr(t, err, "NoSuchCORSConfiguration", 404)

	rule := types.CORSRule{
		AllowedOrigins: []string{"https://app.example.com"},
		AllowedMethods: []string{"GET", "PUT"},
		AllowedHeaders: []string{"*"},
		ExposeHeaders:  []string{"ETag"},
		MaxAgeSeconds:  aws.Int32(600),
	}
	_, err = c.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: aws.String(b), CORSConfiguration: &types.CORSConfiguration{CORSRules: []types.CORSRule{rule}}})
	must(t, err, "PutBucketCors")
	got, err := c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String(b)})
	must(t, err, "GetBucketCors")
	if len(got.CORSRules) != 1 || !slices.Equal(got.CORSRules[0].AllowedOrigins, rule.AllowedOrigins) ||
		!slices.Equal(got.CORSRules[0].AllowedMethods, rule.AllowedMethods) || aws.ToInt32(got.CORSRules[0].MaxAgeSeconds) != 600 {
		t.Errorf("GetBucketCors = %+v", got.CORSRules)
	}

	hc := s.HTTPClient()
	preflight := func(origin, method string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, s.URL+"/"+b+"/obj", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", method)
		req.Header.Set("Access-Control-Request-Headers", "content-type, x-amz-meta-a")
		resp, err := hc.Do(req)
		must(t, err, "OPTIONS")
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	resp := preflight("https://app.example.com", "PUT")
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "PUT") {
		t.Errorf("allowed preflight: HTTP %d, headers %v", resp.StatusCode, resp.Header)
	}
	if ma := resp.Header.Get("Access-Control-Max-Age"); ma != "600" {
		t.Errorf("preflight Access-Control-Max-Age %q, want 600", ma)
	}
	resp = preflight("https://evil.example.net", "PUT")
	if resp.StatusCode != 403 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from a foreign origin: HTTP %d ACAO %q, want 403 and none", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	resp = preflight("https://app.example.com", "DELETE")
	if resp.StatusCode != 403 {
		t.Errorf("preflight with a method not allowed: HTTP %d, want 403", resp.StatusCode)
	}
	resp = preflight("https://app.example.com", "put") // methods are case-sensitive
	if resp.StatusCode != 400 {
		t.Errorf("preflight with an invalid method: HTTP %d, want 400", resp.StatusCode)
	}

	// A configuration whose Content-MD5 does not match is refused.
	doc := []byte(`<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>`)
	other := md5.Sum([]byte("other"))
	r := s.do(t, rawReq{method: "PUT", target: "/" + b + "?cors", body: doc,
		header: http.Header{"Content-Md5": {base64.StdEncoding.EncodeToString(other[:])}}})
	wantRaw(t, "PutBucketCors with a wrong Content-MD5", r, 400, "BadDigest")
	r = s.do(t, rawReq{method: "PUT", target: "/" + b + "?cors", body: doc, header: http.Header{"Content-Md5": {"not base64"}}})
	wantRaw(t, "PutBucketCors with a bad Content-MD5", r, 400, "InvalidDigest")
	got, err = c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String(b)})
	must(t, err, "GetBucketCors")
	if len(got.CORSRules) != 1 || !slices.Equal(got.CORSRules[0].AllowedOrigins, rule.AllowedOrigins) {
		t.Errorf("GetBucketCors after refused puts = %+v", got.CORSRules)
	}

	// A signed GET with Origin gets the CORS headers too.
	r = s.do(t, rawReq{method: "GET", target: "/" + b + "/obj", header: http.Header{"Origin": {"https://app.example.com"}}})
	if r.Status != 200 || r.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(strings.ToLower(r.Header.Get("Access-Control-Expose-Headers")), "etag") {
		t.Errorf("GET with Origin: HTTP %d headers %v", r.Status, r.Header)
	}

	_, err = c.DeleteBucketCors(ctx, &s3.DeleteBucketCorsInput{Bucket: aws.String(b)})
	must(t, err, "DeleteBucketCors")
	_, err = c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String(b)})
	wantErr(t, err, "NoSuchCORSConfiguration", 404)
}

// postForm uploads file through a browser-style POST with a signed policy.
type postForm struct {
	fields   [][2]string // in order, before the file
	file     []byte
	policy   map[string]any
	signWith *sigv4 // default: the server's credentials
	tamper   bool   // sign the policy, then send a different one
}

func (s *server) postObject(t testing.TB, bucket string, f postForm) rawResp {
	t.Helper()
	now := time.Now().UTC()
	sg := defaultSigner()
	if f.signWith != nil {
		sg = *f.signWith
	}
	cred := sg.access + "/" + sg.scope(now)
	conds := f.policy["conditions"].([]any)
	conds = append(conds,
		map[string]string{"x-amz-algorithm": sigv4Algorithm},
		map[string]string{"x-amz-credential": cred},
		map[string]string{"x-amz-date": now.Format(amzDateFormat)},
	)
	pol := map[string]any{"expiration": now.Add(10 * time.Minute).Format("2006-01-02T15:04:05.000Z"), "conditions": conds}
	pj, _ := json.Marshal(pol)
	p64 := base64.StdEncoding.EncodeToString(pj)
	sig := sg.postPolicySignature(p64, now)
	if f.tamper {
		pol["expiration"] = now.Add(20 * time.Hour).Format("2006-01-02T15:04:05.000Z")
		pj, _ = json.Marshal(pol)
		p64 = base64.StdEncoding.EncodeToString(pj)
	}

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, kv := range f.fields {
		mw.WriteField(kv[0], kv[1])
	}
	mw.WriteField("x-amz-algorithm", sigv4Algorithm)
	mw.WriteField("x-amz-credential", cred)
	mw.WriteField("x-amz-date", now.Format(amzDateFormat))
	mw.WriteField("policy", p64)
	mw.WriteField("x-amz-signature", sig)
	fw, _ := mw.CreateFormFile("file", "upload.bin")
	fw.Write(f.file)
	mw.Close()

	req, _ := http.NewRequest(http.MethodPost, s.URL+"/"+bucket, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := s.HTTPClient().Do(req)
	must(t, err, "POST form")
	defer resp.Body.Close()
	out := rawResp{Status: resp.StatusCode, Header: resp.Header}
	out.Body, _ = io.ReadAll(resp.Body)
	out.Code, out.Message = parseS3Error(out.Body)
	return out
}

func testPostObject(t *testing.T, s *server, c *s3.Client) {
	ctx := ctxT(t)
	b := newBucket(t, c)
	data := randBytes(5, 100<<10)
	policy := func() map[string]any {
		return map[string]any{"conditions": []any{
			map[string]string{"bucket": b},
			[]any{"starts-with", "$key", "uploads/"},
			[]any{"starts-with", "$Content-Type", "image/"},
			map[string]string{"x-amz-meta-uploader": "e2e"},
			map[string]string{"success_action_status": "201"},
			[]any{"content-length-range", 1, 1 << 20},
		}}
	}
	fields := [][2]string{
		{"key", "uploads/${filename}"},
		{"Content-Type", "image/png"},
		{"x-amz-meta-uploader", "e2e"},
		{"success_action_status", "201"},
	}
	r := s.postObject(t, b, postForm{fields: fields, file: data, policy: policy()})
	if r.Status != 201 {
		t.Fatalf("POST upload: %s", r)
	}
	var pr struct {
		XMLName                     xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ PostResponse"`
		Bucket, Key, ETag, Location string
	}
	if err := xml.Unmarshal(r.Body, &pr); err != nil || pr.Key != "uploads/upload.bin" || pr.Bucket != b {
		t.Errorf("POST 201 body: %+v (%v)\n%s", pr, err, r.Body)
	}
	wantObject(t, c, b, "uploads/upload.bin", data)
	h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("uploads/upload.bin")})
	must(t, err, "HeadObject of the POSTed object")
	if aws.ToString(h.ContentType) != "image/png" || h.Metadata["uploader"] != "e2e" {
		t.Errorf("POSTed object: Content-Type %q metadata %v", aws.ToString(h.ContentType), h.Metadata)
	}

	// A key outside the policy.
	bad := slices.Clone(fields)
	bad[0] = [2]string{"key", "elsewhere/x.bin"}
	r = s.postObject(t, b, postForm{fields: bad, file: data, policy: policy()})
	wantRaw(t, "POST key outside policy", r, 403, "AccessDenied")
	wantNoObject(t, c, b, "elsewhere/x.bin")

	// A policy changed after signing.
	fields2 := slices.Clone(fields)
	fields2[0] = [2]string{"key", "uploads/tampered.bin"}
	r = s.postObject(t, b, postForm{fields: fields2, file: data, policy: policy(), tamper: true})
	wantRaw(t, "POST tampered policy", r, 403, "SignatureDoesNotMatch")
	if !bytes.Contains(r.Body, []byte("<AWSAccessKeyId>"+defaultSigner().access+"</AWSAccessKeyId>")) {
		t.Errorf("POST tampered policy: the error names no access key:\n%s", r.Body)
	}
	wantNoObject(t, c, b, "uploads/tampered.bin")

	// The header fields, and a checksum checked against the file.
	sum := sha256.Sum256(data)
	sum64 := base64.StdEncoding.EncodeToString(sum[:])
	headerFields := [][2]string{
		{"key", "uploads/headers.bin"},
		{"Content-Type", "image/png"},
		{"Content-Language", "de-CH"},
		{"x-amz-website-redirect-location", "/elsewhere.html"},
		{"x-amz-checksum-sha256", sum64},
	}
	headerPolicy := func() map[string]any {
		p := policy()
		p["conditions"] = append(p["conditions"].([]any)[:3:3],
			map[string]string{"Content-Language": "de-CH"},
			map[string]string{"x-amz-website-redirect-location": "/elsewhere.html"},
			[]any{"starts-with", "$x-amz-checksum-sha256", ""})
		return p
	}
	r = s.postObject(t, b, postForm{fields: headerFields, file: data, policy: headerPolicy()})
	wantRaw(t, "POST with header fields", r, 204, "")
	if got := r.Header.Get("x-amz-checksum-sha256"); got != sum64 {
		t.Errorf("POST with a checksum answers x-amz-checksum-sha256 %q, want %q", got, sum64)
	}
	h, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("uploads/headers.bin"), ChecksumMode: types.ChecksumModeEnabled})
	must(t, err, "HeadObject of the POSTed object")
	if aws.ToString(h.ContentLanguage) != "de-CH" || aws.ToString(h.WebsiteRedirectLocation) != "/elsewhere.html" || aws.ToString(h.ChecksumSHA256) != sum64 {
		t.Errorf("POSTed object: Content-Language %q, redirect %q, SHA-256 %q", aws.ToString(h.ContentLanguage),
			aws.ToString(h.WebsiteRedirectLocation), aws.ToString(h.ChecksumSHA256))
	}
	wrong := slices.Clone(headerFields)
	wrong[0] = [2]string{"key", "uploads/wrong-sum.bin"}
	wrong[4] = [2]string{"x-amz-checksum-sha256", base64.StdEncoding.EncodeToString(make([]byte, 32))}
	r = s.postObject(t, b, postForm{fields: wrong, file: data, policy: headerPolicy()})
	wantRaw(t, "POST with a wrong checksum", r, 400, "BadDigest")
	wantNoObject(t, c, b, "uploads/wrong-sum.bin")
	wrong[4] = [2]string{"x-amz-checksum-sha3", sum64}
	sha3Policy := headerPolicy()
	sha3Policy["conditions"] = append(sha3Policy["conditions"].([]any), []any{"starts-with", "$x-amz-checksum-sha3", ""})
	r = s.postObject(t, b, postForm{fields: wrong, file: data, policy: sha3Policy})
	wantRaw(t, "POST with an unknown checksum", r, 400, "InvalidRequest")
	wantNoObject(t, c, b, "uploads/wrong-sum.bin")

	// A policy must hold a condition on the bucket.
	noBucket := policy()
	noBucket["conditions"] = noBucket["conditions"].([]any)[1:]
	fields4 := slices.Clone(fields)
	fields4[0] = [2]string{"key", "uploads/no-bucket.bin"}
	r = s.postObject(t, b, postForm{fields: fields4, file: data, policy: noBucket})
	wantRaw(t, "POST policy without a bucket condition", r, 403, "AccessDenied")
	if !strings.Contains(r.Message, "Extra input fields: bucket") {
		t.Errorf("POST policy without a bucket condition: %s", r)
	}
	wantNoObject(t, c, b, "uploads/no-bucket.bin")

	// A POST to a bucket that is not a form.
	resp, err := s.HTTPClient().Post(s.URL+"/"+b, "application/json", strings.NewReader("{}"))
	must(t, err, "POST JSON")
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 412 || !bytes.Contains(rb, []byte("<Condition>Bucket POST must be of the enclosure-type multipart/form-data</Condition>")) {
		t.Errorf("POST JSON to a bucket: HTTP %d\n%s", resp.StatusCode, rb)
	}

	// A form POSTed to a key (as `mc share upload` URLs get misused) is
	// no S3 operation: 405, nothing stored.
	var form bytes.Buffer
	fw := multipart.NewWriter(&form)
	fw.WriteField("key", "uploads/to-key.bin")
	ff, _ := fw.CreateFormFile("file", "f.bin")
	ff.Write([]byte("data"))
	fw.Close()
	resp, err = s.HTTPClient().Post(s.URL+"/"+b+"/uploads/to-key.bin", fw.FormDataContentType(), &form)
	must(t, err, "POST a form to a key")
	rb, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 405 || !bytes.Contains(rb, []byte("<Code>MethodNotAllowed</Code>")) ||
		!bytes.Contains(rb, []byte("<Method>POST</Method><ResourceType>OBJECT</ResourceType>")) {
		t.Errorf("POST a form to a key: HTTP %d\n%s", resp.StatusCode, rb)
	}
	wantNoObject(t, c, b, "uploads/to-key.bin")

	// Too large for content-length-range.
	fields3 := slices.Clone(fields)
	fields3[0] = [2]string{"key", "uploads/big.bin"}
	r = s.postObject(t, b, postForm{fields: fields3, file: randBytes(6, 2<<20), policy: policy()})
	wantRaw(t, "POST over content-length-range", r, 400, "EntityTooLarge")
	wantNoObject(t, c, b, "uploads/big.bin")
}

// TestVirtualHostStyle serves --domain and addresses buckets as
// BUCKET.DOMAIN, while path-style keeps working on the same server.
func TestVirtualHostStyle(t *testing.T) {
	const domain = "s3.strata.test"
	s := startServer(t, withArgs("--domain", domain))
	_, port, _ := net.SplitHostPort(s.Addr)
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	vc := s.S3(t, func(o *s3.Options) {
		o.BaseEndpoint = aws.String("http://" + domain + ":" + port)
		o.UsePathStyle = false
		o.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			// Every name under the domain is this server.
			tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
				return dialer.DialContext(ctx, network, s.Addr)
			}
		})
	})
	ctx := ctxT(t)
	b := "vhost-bucket"
	_, err := vc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)})
	must(t, err, "CreateBucket virtual-host style")
	_, err = vc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("a/b.txt"), Body: strings.NewReader("vhost")})
	must(t, err, "PutObject virtual-host style")
	wantObject(t, vc, b, "a/b.txt", []byte("vhost"))
	if keys := listAll(t, vc, b, ""); !slices.Equal(keys, []string{"a/b.txt"}) {
		t.Errorf("ListObjectsV2 virtual-host style: %v", keys)
	}
	if onDisk, err := os.ReadFile(filepath.Join(s.Dir, b, "a", "b.txt")); err != nil || string(onDisk) != "vhost" {
		t.Errorf("file on disk: %q %v", onDisk, err)
	}
	// Path style on the same server.
	wantObject(t, s.S3(t), b, "a/b.txt", []byte("vhost"))
}

// TestSDKOverHTTPS serves --certs-dir: the SDK then streams unseekable bodies
// as aws-chunked with a trailing checksum (STREAMING-UNSIGNED-PAYLOAD-TRAILER).
func TestSDKOverHTTPS(t *testing.T) {
	s := startServer(t, withTLS())
	c := s.S3(t)
	ctx := ctxT(t)
	b := newBucket(t, c)

	data := randBytes(9, 3<<20+17)
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("stream.bin"),
		Body: io.MultiReader(bytes.NewReader(data)), ContentLength: aws.Int64(int64(len(data)))})
	must(t, err, "PutObject unseekable body over HTTPS")
	wantObject(t, c, b, "stream.bin", data)

	big := randBytes(10, 12<<20)
	_, err = manager.NewUploader(c).Upload(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("mp.bin"), Body: io.MultiReader(bytes.NewReader(big))})
	must(t, err, "manager upload over HTTPS")
	get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("mp.bin"), ChecksumMode: types.ChecksumModeEnabled})
	must(t, err, "GetObject over HTTPS")
	got, err := io.ReadAll(get.Body)
	get.Body.Close()
	must(t, err, "reading over HTTPS")
	if !bytes.Equal(got, big) {
		t.Errorf("HTTPS multipart round trip: %d bytes, want %d", len(got), len(big))
	}

	// Plain HTTP to the HTTPS port is not served as S3.
	resp, err := http.Get("http://" + s.Addr + "/health/live")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Errorf("plain HTTP to the HTTPS listener answered 200")
		}
	}
}

// SHA512, one of the checksums AWS added in 2025, as the SDK computes and
// checks it: sent with the PUT, returned and verified on the GET.
func testChecksumSHA512(t *testing.T, c *s3.Client) {
	ctx := ctxT(t)
	b := newBucket(t, c)
	data := bytes.Repeat([]byte("strata "), 100000)
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("k"),
		Body: bytes.NewReader(data), ChecksumAlgorithm: types.ChecksumAlgorithmSha512})
	must(t, err, "PutObject with ChecksumAlgorithm SHA512")
	want := sha512.Sum512(data)
	if got := aws.ToString(put.ChecksumSHA512); got != base64.StdEncoding.EncodeToString(want[:]) {
		t.Errorf("PutObject ChecksumSHA512 %q", got)
	}
	get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("k"), ChecksumMode: types.ChecksumModeEnabled})
	must(t, err, "GetObject checksum mode ENABLED")
	got, err := io.ReadAll(get.Body) // the SDK checks the SHA512 as it reads
	get.Body.Close()
	must(t, err, "reading the object")
	if !bytes.Equal(got, data) || aws.ToString(get.ChecksumSHA512) != base64.StdEncoding.EncodeToString(want[:]) {
		t.Errorf("GetObject: %d bytes, ChecksumSHA512 %q", len(got), aws.ToString(get.ChecksumSHA512))
	}
}
