package s3api_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/dir"
	"github.com/strata-storage/strata/gateway/bitrot"
	"github.com/strata-storage/strata/gateway/kms"
	"github.com/strata-storage/strata/gateway/sse"
	"github.com/strata-storage/strata/gateway/stack"
	"github.com/strata-storage/strata/s3api"
	"github.com/strata-storage/strata/s3api/checksum"
	"github.com/strata-storage/strata/s3api/sigv4"
)

const (
	testAK = "testaccess"
	testSK = "testsecret123"
)

type env struct {
	t    testing.TB
	root string
	srv  *httptest.Server
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvWrapped(t, nil)
}

// newEnvWrapped serves a directory wrapped by wrap (data-service layers).
func newEnvWrapped(t testing.TB, wrap func(backends.Backend) backends.Backend) *env {
	t.Helper()
	root := t.TempDir()
	d, err := dir.Open(root, dir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b backends.Backend = d
	if wrap != nil {
		b = wrap(b)
	}
	h := s3api.New(s3api.Config{
		Backend:     b,
		Credentials: map[string]string{testAK: testSK},
		Domains:     []string{"s3.test"},
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{t: t, root: root, srv: srv}
}

type resp struct {
	*http.Response
	body []byte
}

func (r resp) code() string {
	var e struct {
		Code      string `xml:"Code"`
		RequestID string `xml:"RequestId"`
	}
	xml.Unmarshal(r.body, &e)
	return e.Code
}

// do sends a signed request; path may hold a query. hdr are "Name: value".
func (e *env) do(method, path string, body []byte, hdr ...string) resp {
	e.t.Helper()
	return e.doWith(testSK, method, path, body, hdr...)
}

func (e *env) doWith(secret, method, path string, body []byte, hdr ...string) resp {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for _, h := range hdr {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	if body == nil {
		req.Body = nil
		req.ContentLength = 0
	}
	sigv4.SignRequest(req, testAK, secret, "us-east-1", "", time.Now())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return resp{res, data}
}

func (e *env) want(r resp, status int, code string) {
	e.t.Helper()
	if r.StatusCode != status || (code != "" && r.code() != code) {
		e.t.Fatalf("%s %s: got %d %q, want %d %q\n%s", r.Request.Method, r.Request.URL, r.StatusCode, r.code(), status, code, r.body)
	}
	if r.Header.Get("x-amz-request-id") == "" {
		e.t.Fatalf("no x-amz-request-id")
	}
}

func TestHealthWithoutAuth(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/health/live", "/health/ready"} {
		res, err := http.Get(e.srv.URL + p)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("%s: %v %v", p, err, res)
		}
	}
	res, _ := http.Get(e.srv.URL + "/")
	if res.StatusCode != 403 {
		t.Fatalf("anonymous ListBuckets: %d", res.StatusCode)
	}
}

// Anonymous requests are refused; as on S3, one to a bucket that does not
// exist learns that (404 NoSuchBucket), one to a bucket that does gets 403.
func TestAnonymousBucketExistence(t *testing.T) {
	e := newEnv(t)
	e.want(e.do("PUT", "/photos", nil), 200, "")
	for _, c := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/photos/k", 403, "AccessDenied"},
		{"GET", "/photos", 403, "AccessDenied"},
		{"DELETE", "/photos/k", 403, "AccessDenied"},
		{"GET", "/nothere/k", 404, "NoSuchBucket"},
		{"DELETE", "/nothere/k", 404, "NoSuchBucket"},
		{"PUT", "/nothere/k", 404, "NoSuchBucket"},
		{"GET", "/Not_A_Bucket/k", 404, "NoSuchBucket"},
		{"PUT", "/nothere", 403, "AccessDenied"}, // CreateBucket
		{"EMPTYAUTH", "/photos/k", 403, "AccessDenied"},
	} {
		req, _ := http.NewRequest(c.method, e.srv.URL+c.path, nil)
		if c.method == "EMPTYAUTH" {
			// An empty Authorization header is none.
			req, _ = http.NewRequest("GET", e.srv.URL+c.path, nil)
			req.Header.Set("Authorization", " ")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if r := (resp{res, body}); res.StatusCode != c.status || r.code() != c.code {
			t.Errorf("anonymous %s %s: %d %s, want %d %s", c.method, c.path, res.StatusCode, r.code(), c.status, c.code)
		}
	}
}

// Creating one's own bucket again: 200 OK and nothing changed in
// us-east-1 (S3's legacy answer there), 409 BucketAlreadyOwnedByYou in
// any other region, and everywhere when the request asks for more (Object
// Lock).
func TestCreateBucketAgain(t *testing.T) {
	e := newEnv(t)
	e.want(e.do("PUT", "/photos", nil), 200, "")
	e.want(e.do("PUT", "/photos/k", []byte("kept")), 200, "")
	e.want(e.do("PUT", "/photos", nil), 200, "")
	if r := e.do("GET", "/photos/k", nil); string(r.body) != "kept" {
		t.Fatalf("object after the bucket was created again: %d %q", r.StatusCode, r.body)
	}
	v := newVersionedEnv(t)
	v.want(v.do("PUT", "/vbk", nil), 200, "")
	v.want(v.do("PUT", "/vbk", nil, "x-amz-bucket-object-lock-enabled: true"), 409, "BucketAlreadyOwnedByYou")

	eu := newStackEnv(t, func(b backends.Backend) backends.Backend { return b }, s3api.Config{Region: "eu-west-1"})
	eu.want(eu.do("PUT", "/photos", nil), 200, "")
	eu.want(eu.do("PUT", "/photos", nil), 409, "BucketAlreadyOwnedByYou")
}

// TestCreateBucketTags checks the Tags of a CreateBucketConfiguration: the
// bucket's first tag set, checked as PutBucketTagging checks it; a bad tag
// set creates nothing. The answer names the bucket's ARN.
func TestCreateBucketTags(t *testing.T) {
	e := newEnv(t)
	cfg := func(tags ...string) []byte {
		var b strings.Builder
		b.WriteString(`<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Tags>`)
		for i := 0; i+1 < len(tags); i += 2 {
			b.WriteString("<Tag><Key>" + tags[i] + "</Key><Value>" + tags[i+1] + "</Value></Tag>")
		}
		b.WriteString("</Tags></CreateBucketConfiguration>")
		return []byte(b.String())
	}
	r := e.do("PUT", "/tagged", cfg("team", "data", "env", "prod"))
	e.want(r, 200, "")
	if got := r.Header.Get("x-amz-bucket-arn"); got != "arn:aws:s3:::tagged" {
		t.Fatalf("x-amz-bucket-arn = %q", got)
	}
	r = e.do("GET", "/tagged?tagging", nil)
	e.want(r, 200, "")
	if !bytes.Contains(r.body, []byte("<Key>env</Key><Value>prod</Value>")) || !bytes.Contains(r.body, []byte("<Key>team</Key><Value>data</Value>")) {
		t.Fatalf("GetBucketTagging after CreateBucket with tags: %s", r.body)
	}
	// The bucket exists: tags cannot be given to it again this way.
	e.want(e.do("PUT", "/tagged", cfg("team", "other")), 409, "BucketAlreadyOwnedByYou")

	var many []string
	for i := range 51 {
		many = append(many, fmt.Sprintf("k%d", i), "v")
	}
	for _, bad := range []struct {
		body       []byte
		code, part string
	}{
		{cfg(strings.Repeat("k", 129), "v"), "InvalidTag", "TagKey"},
		{cfg("k", strings.Repeat("v", 257)), "InvalidTag", "TagValue"},
		{cfg("k?", "v"), "InvalidTag", "TagKey"},
		{cfg("k", "1", "k", "2"), "InvalidTag", "same key"},
		{cfg(many...), "BadRequest", "cannot be greater than 50"},
	} {
		r := e.do("PUT", "/untagged", bad.body)
		e.want(r, 400, bad.code)
		if !bytes.Contains(r.body, []byte(bad.part)) {
			t.Fatalf("%s: %s", bad.code, r.body)
		}
		e.want(e.do("HEAD", "/untagged", nil), 404, "")
	}
}

func TestBuckets(t *testing.T) {
	e := newEnv(t)
	e.want(e.do("PUT", "/Bad_Name", nil), 400, "InvalidBucketName")
	e.want(e.do("PUT", "/ab", nil), 400, "InvalidBucketName")
	e.want(e.do("PUT", "/photos", nil), 200, "")
	e.want(e.do("PUT", "/photos", nil), 200, "") // us-east-1: see TestCreateBucketAgain
	e.want(e.do("HEAD", "/photos", nil), 200, "")
	e.want(e.do("HEAD", "/nope-bucket", nil), 404, "")
	e.want(e.do("GET", "/nope-bucket", nil), 404, "NoSuchBucket")
	e.want(e.do("GET", "/photos?location", nil), 200, "")
	r := e.do("GET", "/", nil)
	e.want(r, 200, "")
	if !bytes.Contains(r.body, []byte("<Name>photos</Name>")) {
		t.Fatalf("ListBuckets: %s", r.body)
	}
	e.want(e.do("PUT", "/photos/x", []byte("1")), 200, "")
	r = e.do("DELETE", "/photos", nil)
	e.want(r, 409, "BucketNotEmpty")
	if !bytes.Contains(r.body, []byte("<Message>The bucket you tried to delete is not empty.</Message>")) {
		t.Fatalf("BucketNotEmpty in S3's words: %s", r.body)
	}
	r = e.do("PUT", "/photos/"+strings.Repeat("k", 1025), []byte("1"))
	e.want(r, 400, "KeyTooLongError")
	if !bytes.Contains(r.body, []byte("<Message>Your key is too long.</Message>")) {
		t.Fatalf("KeyTooLongError in the backend's words: %s", r.body)
	}
	e.want(e.do("DELETE", "/photos/x", nil), 204, "")
	e.want(e.do("DELETE", "/photos", nil), 204, "")
	e.want(e.do("GET", "/photos?policy", nil), 404, "NoSuchBucket")
}

func TestNotImplemented(t *testing.T) {
	e := newEnv(t)
	e.want(e.do("PUT", "/b1b", nil), 200, "")
	e.want(e.do("PUT", "/b1b?policy", []byte("{}")), 501, "NotImplemented")
	e.want(e.do("PUT", "/b1b/k", []byte("x"), "x-amz-server-side-encryption: AES256"), 501, "NotImplemented")
	e.want(e.do("GET", "/b1b?policy", nil), 404, "NoSuchBucketPolicy")
	e.want(e.do("PUT", "/b1b/k?restore", []byte("x")), 501, "NotImplemented")
	if _, err := os.Stat(filepath.Join(e.root, "b1b", "k")); !os.IsNotExist(err) {
		t.Fatalf("refused PUT left a file: %v", err)
	}
}

func TestObjectGetRangeConditions(t *testing.T) {
	e := newEnv(t)
	e.want(e.do("PUT", "/bkt", nil), 200, "")
	data := []byte("0123456789abcdefghij")
	sum := md5.Sum(data)
	etag := `"` + hex.EncodeToString(sum[:]) + `"`
	r := e.do("PUT", "/bkt/dir/file.txt", data, "Content-Type: text/x-test", "x-amz-meta-color: blue",
		"Content-MD5: "+base64.StdEncoding.EncodeToString(sum[:]))
	e.want(r, 200, "")
	if r.Header.Get("ETag") != etag {
		t.Fatalf("etag %q want %q", r.Header.Get("ETag"), etag)
	}
	got, err := os.ReadFile(filepath.Join(e.root, "bkt", "dir", "file.txt"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("plain file: %q %v", got, err)
	}

	r = e.do("GET", "/bkt/dir/file.txt", nil)
	e.want(r, 200, "")
	if !bytes.Equal(r.body, data) || r.Header.Get("Content-Type") != "text/x-test" || r.Header.Get("x-amz-meta-color") != "blue" {
		t.Fatalf("GET: %q %v", r.body, r.Header)
	}
	for _, c := range []struct{ rng, want, cr string }{
		{"bytes=0-3", "0123", "bytes 0-3/20"},
		{"bytes=18-", "ij", "bytes 18-19/20"},
		{"bytes=-3", "hij", "bytes 17-19/20"},
		{"bytes=5-100", "56789abcdefghij", "bytes 5-19/20"},
	} {
		r = e.do("GET", "/bkt/dir/file.txt", nil, "Range: "+c.rng)
		e.want(r, 206, "")
		if string(r.body) != c.want || r.Header.Get("Content-Range") != c.cr {
			t.Fatalf("%s: %q %q", c.rng, r.body, r.Header.Get("Content-Range"))
		}
	}
	r = e.do("GET", "/bkt/dir/file.txt", nil, "Range: bytes=20-")
	e.want(r, 416, "InvalidRange")
	if r.Header.Get("Content-Range") != "bytes */20" {
		t.Fatalf("416 Content-Range %q", r.Header.Get("Content-Range"))
	}
	// Headers S3 does not take for a range are ignored: the whole object.
	for _, rng := range []string{"bytes=abc", "bytes=,", "bytes=0-0,1-2", "foo=0-1", "bytes=--1", "bytes=0--1", "bytes= -1", "bytes=0 -1", "bytes=+1-2", "bytes=-"} {
		r = e.do("GET", "/bkt/dir/file.txt", nil, "Range: "+rng)
		e.want(r, 200, "")
		if !bytes.Equal(r.body, data) || r.Header.Get("Content-Range") != "" {
			t.Fatalf("Range %q: %q, Content-Range %q; want the whole object", rng, r.body, r.Header.Get("Content-Range"))
		}
	}
	// An empty object: a suffix range serves it whole (200, as AWS does),
	// any other range is not satisfiable.
	e.want(e.do("PUT", "/bkt/empty", nil), 200, "")
	for _, m := range []string{"GET", "HEAD"} {
		r = e.do(m, "/bkt/empty", nil, "Range: bytes=-1")
		e.want(r, 200, "")
		if len(r.body) != 0 || r.Header.Get("Content-Length") != "0" || r.Header.Get("Content-Range") != "" {
			t.Fatalf("%s empty object, bytes=-1: %q %v", m, r.body, r.Header)
		}
		for _, rng := range []string{"bytes=0-0", "bytes=0-", "bytes=00-01", "bytes=-0"} {
			if r = e.do(m, "/bkt/empty", nil, "Range: "+rng); r.StatusCode != 416 {
				t.Fatalf("%s empty object, %s: %d, want 416", m, rng, r.StatusCode)
			}
		}
	}
	e.want(e.do("GET", "/bkt/dir/file.txt", nil, "If-None-Match: "+etag), 304, "")
	e.want(e.do("GET", "/bkt/dir/file.txt", nil, "If-Match: \"nope\""), 412, "PreconditionFailed")
	e.want(e.do("GET", "/bkt/dir/file.txt", nil, "If-Match: "+etag), 200, "")
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	past := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	e.want(e.do("GET", "/bkt/dir/file.txt", nil, "If-Modified-Since: "+future), 304, "")
	e.want(e.do("GET", "/bkt/dir/file.txt", nil, "If-Unmodified-Since: "+past), 412, "PreconditionFailed")
	e.want(e.do("GET", "/bkt/dir/file.txt", nil, "If-Match: "+etag, "If-Unmodified-Since: "+past), 200, "")

	r = e.do("GET", "/bkt/dir/file.txt?response-content-type=foo%2Fbar&response-content-disposition=attachment", nil)
	e.want(r, 200, "")
	if r.Header.Get("Content-Type") != "foo/bar" || r.Header.Get("Content-Disposition") != "attachment" {
		t.Fatalf("overrides: %v", r.Header)
	}
	r = e.do("GET", "/bkt/dir/file.txt?partNumber=1", nil)
	e.want(r, 206, "")
	if v := r.Header.Get("x-amz-mp-parts-count"); v != "" {
		t.Fatalf("partNumber=1 of an object made in one piece: x-amz-mp-parts-count %q, want none", v)
	}
	e.want(e.do("GET", "/bkt/dir/file.txt?partNumber=2", nil), 416, "InvalidPartNumber")
	e.want(e.do("GET", "/bkt/dir/nope", nil), 404, "NoSuchKey")
	e.want(e.do("GET", "/bkt/dir", nil), 404, "NoSuchKey")

	// Bad Content-MD5: nothing changes.
	e.want(e.do("PUT", "/bkt/dir/file.txt", []byte("other"), "Content-MD5: "+base64.StdEncoding.EncodeToString(sum[:])), 400, "BadDigest")
	r = e.do("GET", "/bkt/dir/file.txt", nil)
	if !bytes.Equal(r.body, data) {
		t.Fatalf("object changed by a refused PUT: %q", r.body)
	}
	// Conditional PUT.
	e.want(e.do("PUT", "/bkt/dir/file.txt", []byte("x"), "If-None-Match: *"), 412, "PreconditionFailed")
	r = e.do("PUT", "/bkt/dir/file.txt", []byte("x"), "If-Match: \"abc\"")
	e.want(r, 412, "PreconditionFailed")
	if !bytes.Contains(r.body, []byte("<Message>At least one of the pre-conditions you specified did not hold.</Message>")) {
		t.Fatalf("PreconditionFailed in S3's words: %s", r.body)
	}
	e.want(e.do("PUT", "/bkt/dir/new.txt", []byte("x"), "If-None-Match: *"), 200, "")
	e.want(e.do("PUT", "/bkt/dir/file.txt", []byte("y"), "If-Match: "+etag), 200, "")
	// If-None-Match with an ETag is not defined on writes.
	r = e.do("PUT", "/bkt/dir/other.txt", []byte("z"), "If-None-Match: "+etag)
	e.want(r, 501, "NotImplemented")
	if !bytes.Contains(r.body, []byte("<Header>If-None-Match</Header>")) {
		t.Fatalf("If-None-Match with an ETag: %s", r.body)
	}
	e.want(e.do("HEAD", "/bkt/dir/other.txt", nil), 404, "")
	// If-Match and If-None-Match together are not taken either.
	e.want(e.do("PUT", "/bkt/dir/file.txt", []byte("w"), "If-Match: "+etag, "If-None-Match: *"), 501, "NotImplemented")
	e.want(e.do("PUT", "/bkt/dir/other.txt", []byte("w"), "If-Match: "+etag, "If-None-Match: *"), 501, "NotImplemented")
	e.want(e.do("HEAD", "/bkt/dir/other.txt", nil), 404, "")
}

func TestChecksumsStoredAndReturned(t *testing.T) {
	e := newEnv(t)
	e.want(e.do("PUT", "/ck-bucket", nil), 200, "")
	// CRC32 of "hello" is 0x3610a686.
	e.want(e.do("PUT", "/ck-bucket/k", []byte("hello"), "x-amz-checksum-crc32: NhCmhg=="), 200, "")
	e.want(e.do("PUT", "/ck-bucket/k2", []byte("hello"), "x-amz-checksum-crc32: AAAAAA=="), 400, "BadDigest")
	r := e.do("HEAD", "/ck-bucket/k", nil, "x-amz-checksum-mode: ENABLED")
	e.want(r, 200, "")
	if r.Header.Get("x-amz-checksum-crc32") != "NhCmhg==" {
		t.Fatalf("checksum not returned: %v", r.Header)
	}
	e.want(e.do("HEAD", "/ck-bucket/k2", nil), 404, "")

	// The algorithms AWS added in 2025, as headers: checked, kept and
	// returned alike.
	data := []byte("hello")
	for _, alg := range []string{checksum.SHA512, checksum.MD5, checksum.XXHASH64, checksum.XXHASH3, checksum.XXHASH128} {
		h, _ := checksum.New(alg)
		h.Write(data)
		good := base64.StdEncoding.EncodeToString(h.Sum(nil))
		hdr := "x-amz-checksum-" + strings.ToLower(alg)
		bad := base64.StdEncoding.EncodeToString(make([]byte, h.Size()))
		e.want(e.do("PUT", "/ck-bucket/"+alg, data, hdr+": "+bad), 400, "BadDigest")
		e.want(e.do("HEAD", "/ck-bucket/"+alg, nil), 404, "")
		e.want(e.do("PUT", "/ck-bucket/"+alg, data, hdr+": "+good), 200, "")
		r := e.do("HEAD", "/ck-bucket/"+alg, nil, "x-amz-checksum-mode: ENABLED")
		if r.Header.Get(hdr) != good || r.Header.Get("x-amz-checksum-type") != "FULL_OBJECT" {
			t.Fatalf("%s: HEAD %v, want %s %s", alg, r.Header, hdr, good)
		}
	}
	// A copy computes the checksum its request asks for, also onto itself.
	sha := sha256.Sum256(data)
	e.want(e.do("PUT", "/ck-bucket/k", nil, "x-amz-copy-source: /ck-bucket/k", "x-amz-checksum-algorithm: SHA256"), 200, "")
	r = e.do("HEAD", "/ck-bucket/k", nil, "x-amz-checksum-mode: ENABLED")
	if r.Header.Get("x-amz-checksum-sha256") != base64.StdEncoding.EncodeToString(sha[:]) {
		t.Fatalf("copy onto itself with SHA256: %v", r.Header)
	}
	e.want(e.do("PUT", "/ck-bucket/k3", nil, "x-amz-copy-source: /ck-bucket/nothing", "x-amz-checksum-algorithm: BLAKE3"), 400, "InvalidRequest")
	// A part copied into an upload with an algorithm gets its checksum.
	r = e.do("POST", "/ck-bucket/mpc?uploads", nil, "x-amz-checksum-algorithm: CRC32")
	e.want(r, 200, "")
	var upc struct{ UploadId string }
	xml.Unmarshal(r.body, &upc)
	r = e.do("PUT", "/ck-bucket/mpc?partNumber=1&uploadId="+upc.UploadId, nil, "x-amz-copy-source: /ck-bucket/k")
	e.want(r, 200, "")
	if !bytes.Contains(r.body, []byte("<ChecksumCRC32>NhCmhg==</ChecksumCRC32>")) {
		t.Fatalf("UploadPartCopy into a CRC32 upload: %s", r.body)
	}

	// Multipart: composite only, as AWS has them.
	e.want(e.do("POST", "/ck-bucket/mp?uploads", nil, "x-amz-checksum-algorithm: SHA512", "x-amz-checksum-type: FULL_OBJECT"), 400, "InvalidRequest")
	if r := e.do("POST", "/ck-bucket/mp?uploads", nil, "x-amz-checksum-type: WHOLE"); !bytes.Contains(r.body, []byte("Value for x-amz-checksum-type header is invalid.")) {
		t.Fatalf("CreateMultipartUpload with a checksum type that does not exist: %d\n%s", r.StatusCode, r.body)
	}
	e.want(e.do("POST", "/ck-bucket/mp?uploads", nil, "x-amz-checksum-algorithm: BLAKE3"), 400, "InvalidRequest")
	r = e.do("POST", "/ck-bucket/mp?uploads", nil, "x-amz-checksum-algorithm: XXHASH3")
	e.want(r, 200, "")
	if r.Header.Get("x-amz-checksum-type") != "COMPOSITE" {
		t.Fatalf("CreateMultipartUpload XXHASH3: %v, want COMPOSITE", r.Header)
	}
	var init struct{ UploadId string }
	xml.Unmarshal(r.body, &init)
	h, _ := checksum.New(checksum.XXHASH3)
	h.Write(data)
	partSum := base64.StdEncoding.EncodeToString(h.Sum(nil))
	p := e.do("PUT", "/ck-bucket/mp?partNumber=1&uploadId="+init.UploadId, data, "x-amz-checksum-xxhash3: "+partSum)
	e.want(p, 200, "")
	// A part with another algorithm's checksum is refused.
	sha1sum := sha1.Sum(data)
	e.want(e.do("PUT", "/ck-bucket/mp?partNumber=2&uploadId="+init.UploadId, data, "x-amz-checksum-sha1: "+base64.StdEncoding.EncodeToString(sha1sum[:])), 400, "InvalidRequest")
	// So is a part of a composite upload without a checksum: the
	// composite is made of the client's part checksums.
	if r := e.do("PUT", "/ck-bucket/mp?partNumber=2&uploadId="+init.UploadId, data); r.StatusCode != 400 ||
		!bytes.Contains(r.body, []byte("<Message>Checksum Type mismatch occurred, expected checksum Type: xxhash3, actual checksum Type: null</Message>")) {
		t.Fatalf("part without a checksum in a composite upload: %d\n%s", r.StatusCode, r.body)
	}
	// The checksums of a complete request are checked before its parts:
	// a checksum type that does not exist, two checksum headers or a
	// malformed one are InvalidRequest; a part with two checksums or a
	// malformed one InvalidArgument; a part's checksum of another
	// algorithm than the upload's BadDigest.
	part := func(sums string) []byte {
		return []byte("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>" + p.Header.Get("ETag") +
			"</ETag>" + sums + "</Part></CompleteMultipartUpload>")
	}
	good := part("<ChecksumXXHASH3>" + partSum + "</ChecksumXXHASH3>")
	for _, c := range []struct {
		body    []byte
		headers []string
		status  int
		code    string
		message string
	}{
		{good, []string{"x-amz-checksum-type: WHOLE"}, 400, "InvalidRequest", "Value for x-amz-checksum-type header is invalid."},
		{good, []string{"x-amz-checksum-crc32: sGc9Hg==", "x-amz-checksum-crc32c: /2NsFg=="}, 400, "InvalidRequest",
			"Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."},
		{good, []string{"x-amz-checksum-xxhash3: invalid"}, 400, "InvalidRequest", "Value for x-amz-checksum-xxhash3 header is invalid."},
		{good, []string{"x-amz-checksum-xxhash3: LQaABTjTlMI=-bad"}, 400, "InvalidRequest", "Value for x-amz-checksum-xxhash3 header is invalid."},
		{part("<ChecksumXXHASH3>invalid</ChecksumXXHASH3>"), nil, 400, "InvalidArgument", "Invalid Base64 or multiple checksums present in request"},
		{part("<ChecksumXXHASH3>" + partSum + "</ChecksumXXHASH3><ChecksumSHA1>Kq5sNclPz7QV2+lfQIuc6R7oRu0=</ChecksumSHA1>"), nil, 400, "InvalidArgument",
			"Invalid Base64 or multiple checksums present in request"},
		{part("<ChecksumSHA1>Kq5sNclPz7QV2+lfQIuc6R7oRu0=</ChecksumSHA1>"), nil, 400, "BadDigest",
			"The sha1 you specified for part 1 did not match what we received."},
	} {
		r := e.do("POST", "/ck-bucket/mp?uploadId="+init.UploadId, c.body, c.headers...)
		if r.StatusCode != c.status || r.code() != c.code || !bytes.Contains(r.body, []byte("<Message>"+c.message+"</Message>")) {
			t.Fatalf("complete %s %v: %d\n%s\nwant %d %s %q", c.body, c.headers, r.StatusCode, r.body, c.status, c.code, c.message)
		}
	}
	// A composite checksum needs every part's in the complete request;
	// the checksum type and object size, when given, must match.
	noSum := "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>" + p.Header.Get("ETag") + "</ETag></Part></CompleteMultipartUpload>"
	e.want(e.do("POST", "/ck-bucket/mp?uploadId="+init.UploadId, []byte(noSum)), 400, "InvalidRequest")
	body := "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>" + p.Header.Get("ETag") +
		"</ETag><ChecksumXXHASH3>" + partSum + "</ChecksumXXHASH3></Part></CompleteMultipartUpload>"
	e.want(e.do("POST", "/ck-bucket/mp?uploadId="+init.UploadId, []byte(body), "x-amz-checksum-type: FULL_OBJECT"), 400, "InvalidRequest")
	e.want(e.do("POST", "/ck-bucket/mp?uploadId="+init.UploadId, []byte(body), "x-amz-mp-object-size: 6"), 400, "InvalidRequest")
	e.want(e.do("POST", "/ck-bucket/mp?uploadId="+init.UploadId, []byte(body), "x-amz-mp-object-size: -1"), 400, "InvalidRequest")
	r = e.do("POST", "/ck-bucket/mp?uploadId="+init.UploadId, []byte(body), "x-amz-checksum-type: COMPOSITE", "x-amz-mp-object-size: 5")
	e.want(r, 200, "")
	want, _ := checksum.Composite(checksum.XXHASH3, []string{partSum})
	if !bytes.Contains(r.body, []byte("<ChecksumXXHASH3>"+want+"</ChecksumXXHASH3>")) {
		t.Fatalf("complete: %s, want ChecksumXXHASH3 %s", r.body, want)
	}
	r = e.do("HEAD", "/ck-bucket/mp", nil, "x-amz-checksum-mode: ENABLED")
	if r.Header.Get("x-amz-checksum-xxhash3") != want || r.Header.Get("x-amz-checksum-type") != "COMPOSITE" {
		t.Fatalf("HEAD of the multipart object: %v", r.Header)
	}
	// A part asked for by number shows its own checksum.
	r = e.do("GET", "/ck-bucket/mp?partNumber=1", nil, "x-amz-checksum-mode: ENABLED")
	if r.Header.Get("x-amz-checksum-xxhash3") != partSum || string(r.body) != string(data) {
		t.Fatalf("GET partNumber=1: %v %q", r.Header, r.body)
	}
	// An upload made without an algorithm gets S3's default: the
	// full-object CRC64NVME, from its parts' (whatever else a part was
	// sent with); a checksum header on its complete does not apply.
	r = e.do("POST", "/ck-bucket/plain-mp?uploads", nil)
	var plain struct{ UploadId string }
	xml.Unmarshal(r.body, &plain)
	p = e.do("PUT", "/ck-bucket/plain-mp?partNumber=1&uploadId="+plain.UploadId, data, "x-amz-checksum-crc32: NhCmhg==")
	e.want(p, 200, "")
	crc := crc64nvme(data)
	body = "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>" + p.Header.Get("ETag") + "</ETag></Part></CompleteMultipartUpload>"
	r = e.do("POST", "/ck-bucket/plain-mp?uploadId="+plain.UploadId, []byte(body), "x-amz-checksum-crc64nvme: vqf3hRLTlJw=")
	e.want(r, 200, "")
	if !bytes.Contains(r.body, []byte("<ChecksumCRC64NVME>"+crc+"</ChecksumCRC64NVME>")) || !bytes.Contains(r.body, []byte("<ChecksumType>FULL_OBJECT</ChecksumType>")) {
		t.Fatalf("complete of an upload without an algorithm: %s, want ChecksumCRC64NVME %s", r.body, crc)
	}
	r = e.do("HEAD", "/ck-bucket/plain-mp", nil, "x-amz-checksum-mode: ENABLED")
	if r.Header.Get("x-amz-checksum-crc64nvme") != crc || r.Header.Get("x-amz-checksum-type") != "FULL_OBJECT" || r.Header.Get("x-amz-checksum-crc32") != "" {
		t.Fatalf("HEAD of an upload without an algorithm: %v", r.Header)
	}
	// A full-object checksum is no part's: a part asked for shows none.
	r = e.do("GET", "/ck-bucket/plain-mp?partNumber=1", nil, "x-amz-checksum-mode: ENABLED")
	for k := range r.Header {
		if strings.HasPrefix(strings.ToLower(k), "x-amz-checksum-") {
			t.Fatalf("GET partNumber=1 of a FULL_OBJECT object: %s: %s", k, r.Header.Get(k))
		}
	}
}

func TestKeysNeverEscape(t *testing.T) {
	e := newEnv(t)
	e.want(e.do("PUT", "/safe", nil), 200, "")
	for _, p := range []string{"/safe/../x", "/safe/a/../../x", "/safe/a/%2E%2E/%2E%2E/x", "/safe/%2Fabs", "/safe/a%00b", "/safe/a//b"} {
		req, _ := http.NewRequest("PUT", e.srv.URL+"/", strings.NewReader("evil"))
		req.URL.Opaque = "//" + req.URL.Host + p
		sigv4.SignRequest(req, testAK, testSK, "us-east-1", "", time.Now())
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode < 400 {
			t.Errorf("%s accepted: %d", p, res.StatusCode)
		}
	}
	filepath.WalkDir(filepath.Dir(e.root), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Base(p) == "x" {
			t.Errorf("file written outside: %s", p)
		}
		return nil
	})
}

func TestCopyAndMetadata(t *testing.T) {
	e := newEnv(t)
	e.want(e.do("PUT", "/cp-bucket", nil), 200, "")
	e.want(e.do("PUT", "/cp-bucket/src", []byte("source data"), "x-amz-meta-a: 1", "Content-Type: text/plain"), 200, "")
	e.want(e.do("PUT", "/cp-bucket/src", nil, "x-amz-copy-source: /cp-bucket/src"), 400, "InvalidRequest")
	if r := e.do("PUT", "/cp-bucket/dst", nil, "x-amz-copy-source: cp-bucket/%ZZ"); r.StatusCode != 400 || !bytes.Contains(r.body, []byte("Invalid copy source encoding")) {
		t.Fatalf("copy from a badly encoded source: %d\n%s", r.StatusCode, r.body)
	}
	// Metadata past 2 KB is refused even when the directive is COPY.
	for _, directive := range []string{"COPY", "REPLACE"} {
		e.want(e.do("PUT", "/cp-bucket/big-meta", nil, "x-amz-copy-source: cp-bucket/src", "x-amz-metadata-directive: "+directive,
			"x-amz-meta-"+strings.Repeat("s", 2048)+": value"), 400, "MetadataTooLarge")
		e.want(e.do("HEAD", "/cp-bucket/big-meta", nil), 404, "")
	}
	for _, src := range []string{"192.168.1.1/foo", "my-buc@k&()t/obj", "Upper/k"} {
		if r := e.do("PUT", "/cp-bucket/dst", nil, "x-amz-copy-source: "+src); r.StatusCode != 400 || !bytes.Contains(r.body, []byte("Invalid copy source bucket name")) {
			t.Fatalf("copy source %q: %d %s", src, r.StatusCode, r.body)
		}
	}
	r := e.do("PUT", "/cp-bucket/dst", nil, "x-amz-copy-source: cp-bucket/src")
	e.want(r, 200, "")
	r = e.do("GET", "/cp-bucket/dst", nil)
	if string(r.body) != "source data" || r.Header.Get("x-amz-meta-a") != "1" || r.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("copy COPY: %q %v", r.body, r.Header)
	}
	e.want(e.do("PUT", "/cp-bucket/dst", nil, "x-amz-copy-source: cp-bucket/src", "x-amz-metadata-directive: REPLACE", "x-amz-meta-b: 2"), 200, "")
	r = e.do("HEAD", "/cp-bucket/dst", nil)
	if r.Header.Get("x-amz-meta-a") != "" || r.Header.Get("x-amz-meta-b") != "2" {
		t.Fatalf("copy REPLACE: %v", r.Header)
	}
	// Same key, new metadata: data stays.
	e.want(e.do("PUT", "/cp-bucket/src", nil, "x-amz-copy-source: cp-bucket/src", "x-amz-metadata-directive: REPLACE", "x-amz-meta-c: 3"), 200, "")
	r = e.do("GET", "/cp-bucket/src", nil)
	if string(r.body) != "source data" || r.Header.Get("x-amz-meta-c") != "3" {
		t.Fatalf("same-key copy: %q %v", r.body, r.Header)
	}
	e.want(e.do("PUT", "/cp-bucket/dst2", nil, "x-amz-copy-source: cp-bucket/src", "x-amz-copy-source-if-match: \"zzz\""), 412, "PreconditionFailed")
	e.want(e.do("PUT", "/cp-bucket/dst2", nil, "x-amz-copy-source: cp-bucket/nope"), 404, "NoSuchKey")
}

func TestListing(t *testing.T) {
	e := newEnv(t)
	e.want(e.do("PUT", "/lst", nil), 200, "")
	for _, k := range []string{"a-b", "a.txt", "a/1", "a/2", "b c/d", "z"} {
		e.want(e.do("PUT", "/lst/"+strings.ReplaceAll(k, " ", "%20"), []byte(k)), 200, "")
	}
	r := e.do("GET", "/lst?list-type=2&delimiter=/", nil)
	e.want(r, 200, "")
	var res struct {
		Contents []struct{ Key string }
		Prefixes []struct{ Prefix string } `xml:"CommonPrefixes"`
		KeyCount int
		Next     string `xml:"NextContinuationToken"`
	}
	xml.Unmarshal(r.body, &res)
	var got []string
	for _, c := range res.Contents {
		got = append(got, c.Key)
	}
	for _, p := range res.Prefixes {
		got = append(got, p.Prefix)
	}
	if fmt.Sprint(got) != "[a-b a.txt z a/ b c/]" || res.KeyCount != 5 {
		t.Fatalf("list: %v %d\n%s", got, res.KeyCount, r.body)
	}
	// Pagination with continuation tokens walks every key once, in order.
	var all []string
	token := ""
	for i := 0; i < 10; i++ {
		q := "/lst?list-type=2&max-keys=2"
		if token != "" {
			q += "&continuation-token=" + strings.ReplaceAll(token, "=", "%3D")
		}
		r = e.do("GET", q, nil)
		e.want(r, 200, "")
		res.Contents, res.Next = nil, ""
		xml.Unmarshal(r.body, &res)
		for _, c := range res.Contents {
			all = append(all, c.Key)
		}
		if token = res.Next; token == "" {
			break
		}
	}
	if fmt.Sprint(all) != "[a-b a.txt a/1 a/2 b c/d z]" {
		t.Fatalf("paged: %v", all)
	}
	// An empty token is no token (and is echoed); a bad one is refused.
	r = e.do("GET", "/lst?list-type=2&continuation-token=", nil)
	e.want(r, 200, "")
	if !bytes.Contains(r.body, []byte("<ContinuationToken></ContinuationToken>")) || !bytes.Contains(r.body, []byte("<KeyCount>6</KeyCount>")) {
		t.Fatalf("empty continuation token: %s", r.body)
	}
	e.want(e.do("GET", "/lst?list-type=2&continuation-token=bad", nil), 400, "InvalidArgument")
	r = e.do("GET", "/lst?prefix=b&encoding-type=url", nil)
	if !bytes.Contains(r.body, []byte("<Key>b%20c/d</Key>")) {
		t.Fatalf("encoding-type=url: %s", r.body)
	}
	e.want(e.do("GET", "/lst?encoding-type=bad", nil), 400, "InvalidArgument")
	e.want(e.do("GET", "/lst?max-keys=-1", nil), 400, "InvalidArgument")
	r = e.do("GET", "/lst?versions", nil)
	if !bytes.Contains(r.body, []byte("<VersionId>null</VersionId>")) {
		t.Fatalf("versions: %s", r.body)
	}
}

func TestMultipartRules(t *testing.T) {
	e := newEnv(t)
	e.want(e.do("PUT", "/mpu", nil), 200, "")
	r := e.do("POST", "/mpu/obj?uploads", nil)
	e.want(r, 200, "")
	var init struct{ UploadId string }
	xml.Unmarshal(r.body, &init)
	id := init.UploadId
	part := bytes.Repeat([]byte("p"), 5<<20)
	r1 := e.do("PUT", "/mpu/obj?partNumber=1&uploadId="+id, part)
	e.want(r1, 200, "")
	r2 := e.do("PUT", "/mpu/obj?partNumber=2&uploadId="+id, []byte("small"))
	e.want(r2, 200, "")
	r3 := e.do("PUT", "/mpu/obj?partNumber=3&uploadId="+id, []byte("last"))
	e.want(r3, 200, "")
	e.want(e.do("PUT", "/mpu/obj?partNumber=10001&uploadId="+id, []byte("x")), 400, "InvalidArgument")
	e.want(e.do("PUT", "/mpu/obj?partNumber=1&uploadId=nope", []byte("x")), 404, "NoSuchUpload")
	// x-amz-copy-source-range takes only bytes=first-last, within the source.
	e.want(e.do("PUT", "/mpu/src", []byte("0123456789")), 200, "")
	for _, rg := range []string{"byte=1-2", "bytes=invalid", "bytes=5-1", "bytes=-2-3", "bytes=a-1", "bytes=1-a", "bytes=3-", "bytes=-3"} {
		r := e.do("PUT", "/mpu/obj?partNumber=4&uploadId="+id, nil, "x-amz-copy-source: /mpu/src", "x-amz-copy-source-range: "+rg)
		if r.StatusCode != 400 || r.code() != "InvalidArgument" || !bytes.Contains(r.body, []byte("must be of the form bytes=first-last")) {
			t.Fatalf("copy source range %q: %d\n%s", rg, r.StatusCode, r.body)
		}
	}
	if r := e.do("PUT", "/mpu/obj?partNumber=4&uploadId="+id, nil, "x-amz-copy-source: /mpu/src", "x-amz-copy-source-range: bytes=5-10"); r.StatusCode != 400 ||
		!bytes.Contains(r.body, []byte("not valid for source object of size: 10")) {
		t.Fatalf("copy source range past the end: %d\n%s", r.StatusCode, r.body)
	}
	complete := func(parts ...string) resp {
		var b strings.Builder
		b.WriteString("<CompleteMultipartUpload>")
		for i := 0; i < len(parts); i += 2 {
			fmt.Fprintf(&b, "<Part><PartNumber>%s</PartNumber><ETag>%s</ETag></Part>", parts[i], parts[i+1])
		}
		b.WriteString("</CompleteMultipartUpload>")
		return e.do("POST", "/mpu/obj?uploadId="+id, []byte(b.String()))
	}
	et1, et2, et3 := r1.Header.Get("ETag"), r2.Header.Get("ETag"), r3.Header.Get("ETag")
	e.want(complete("2", et2, "1", et1), 400, "InvalidPartOrder")
	if r := complete("-4", et1); r.StatusCode != 400 || r.code() != "InvalidArgument" || !bytes.Contains(r.body, []byte("<ArgumentValue>-4</ArgumentValue>")) {
		t.Fatalf("complete with part number -4: %d\n%s", r.StatusCode, r.body)
	}
	e.want(complete("1", et1, "2", `"bad"`), 400, "InvalidPart")
	e.want(complete("1", et1, "2", et2, "3", et3), 400, "EntityTooSmall")
	e.want(e.do("POST", "/mpu/obj?uploadId="+id, []byte("<not xml")), 400, "MalformedXML")
	// A part without its number or ETag does not fit the schema.
	e.want(e.do("POST", "/mpu/obj?uploadId="+id, []byte("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>")), 400, "MalformedXML")
	e.want(e.do("POST", "/mpu/obj?uploadId="+id, []byte("<CompleteMultipartUpload><Part><ETag>"+et1+"</ETag></Part></CompleteMultipartUpload>")), 400, "MalformedXML")
	r = e.do("GET", "/mpu/obj?uploadId="+id, nil)
	e.want(r, 200, "")
	if c := strings.Count(string(r.body), "<Part>"); c != 3 {
		t.Fatalf("ListParts: %d parts\n%s", c, r.body)
	}
	r = e.do("GET", "/mpu?uploads", nil)
	if !bytes.Contains(r.body, []byte(id)) {
		t.Fatalf("ListMultipartUploads: %s", r.body)
	}
	r = complete("1", et1, "3", et3)
	e.want(r, 200, "")
	if !bytes.Contains(r.body, []byte("-2&#34;</ETag>")) && !bytes.Contains(r.body, []byte("-2\"</ETag>")) {
		t.Fatalf("complete: %s", r.body)
	}
	r = e.do("GET", "/mpu/obj", nil)
	if !bytes.Equal(r.body, append(part, "last"...)) || r.Header.Get("x-amz-mp-parts-count") != "" {
		t.Fatalf("completed object: %d bytes %v", len(r.body), r.Header)
	}
	if r = e.do("HEAD", "/mpu/obj?partNumber=1", nil); r.Header.Get("x-amz-mp-parts-count") != "2" {
		t.Fatalf("HEAD partNumber=1 of the completed object: %v, want x-amz-mp-parts-count 2", r.Header)
	}
	r = e.do("GET", "/mpu/obj?partNumber=2", nil)
	e.want(r, 206, "")
	if string(r.body) != "last" {
		t.Fatalf("part 2: %q", r.body)
	}
	e.want(e.do("GET", "/mpu/obj?uploadId="+id, nil), 404, "NoSuchUpload")
	r = e.do("GET", "/mpu/obj?attributes", nil, "x-amz-object-attributes: ETag,ObjectParts,ObjectSize")
	e.want(r, 200, "")
	if !bytes.Contains(r.body, []byte("<PartsCount>2</PartsCount>")) {
		t.Fatalf("attributes: %s", r.body)
	}
	e.want(e.do("GET", "/mpu/obj?attributes", nil), 400, "InvalidRequest")
	e.want(e.do("GET", "/mpu/obj?attributes", nil, "x-amz-object-attributes: Colour"), 400, "InvalidArgument")
}

func TestDeleteObjectsAndTagging(t *testing.T) {
	e := newEnv(t)
	e.want(e.do("PUT", "/del", nil), 200, "")
	e.want(e.do("PUT", "/del/a", []byte("1"), "x-amz-tagging: k=v&x=y"), 200, "")
	r := e.do("GET", "/del/a?tagging", nil)
	if !bytes.Contains(r.body, []byte("<Key>k</Key><Value>v</Value>")) {
		t.Fatalf("tagging: %s", r.body)
	}
	e.want(e.do("PUT", "/del/a?tagging", []byte("<Tagging><TagSet><Tag><Key>n</Key><Value>m</Value></Tag></TagSet></Tagging>")), 200, "")
	r = e.do("HEAD", "/del/a", nil)
	if r.Header.Get("x-amz-tagging-count") != "1" {
		t.Fatalf("tag count: %v", r.Header)
	}
	e.want(e.do("POST", "/del?delete", []byte("<Delete><Object><Key>a")), 400, "MalformedXML")
	e.want(e.do("PUT", "/del/b", []byte("2")), 200, "")
	r = e.do("POST", "/del?delete", []byte("<Delete><Object><Key>a</Key></Object><Object><Key>b</Key></Object><Object><Key>nope</Key></Object></Delete>"))
	e.want(r, 200, "")
	if strings.Count(string(r.body), "<Deleted>") != 3 {
		t.Fatalf("DeleteObjects: %s", r.body)
	}
	e.want(e.do("HEAD", "/del/a", nil), 404, "")
}

func TestAuthFailures(t *testing.T) {
	e := newEnv(t)
	e.want(e.do("PUT", "/auth", nil), 200, "")
	e.want(e.do("PUT", "/auth/k", []byte("v1")), 200, "")
	e.want(e.doWith("wrong-secret", "PUT", "/auth/k", []byte("v2")), 403, "SignatureDoesNotMatch")
	r := e.do("GET", "/auth/k", nil)
	if string(r.body) != "v1" {
		t.Fatalf("object changed: %q", r.body)
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/auth/k", nil)
	sigv4.Presign(req, testAK, testSK, "us-east-1", time.Now().Add(-2*time.Hour), time.Hour)
	res, _ := http.DefaultClient.Do(req)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 403 || !bytes.Contains(body, []byte("expired")) {
		t.Fatalf("expired presign: %d %s", res.StatusCode, body)
	}
	req, _ = http.NewRequest("GET", e.srv.URL+"/auth/k", nil)
	sigv4.Presign(req, testAK, testSK, "us-east-1", time.Now(), time.Hour)
	res, _ = http.DefaultClient.Do(req)
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != "v1" {
		t.Fatalf("presign: %d %s", res.StatusCode, body)
	}
	// Clock skew.
	req, _ = http.NewRequest("GET", e.srv.URL+"/auth/k", nil)
	sigv4.SignRequest(req, testAK, testSK, "us-east-1", "", time.Now().Add(-20*time.Minute))
	res, _ = http.DefaultClient.Do(req)
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 403 || !bytes.Contains(body, []byte("RequestTimeTooSkewed")) {
		t.Fatalf("skew: %d %s", res.StatusCode, body)
	}
}

func TestVirtualHostStyle(t *testing.T) {
	e := newEnv(t)
	e.want(e.do("PUT", "/vhost", nil), 200, "")
	req, _ := http.NewRequest("PUT", e.srv.URL+"/key.txt", strings.NewReader("vh"))
	req.Host = "vhost.s3.test"
	sigv4.SignRequest(req, testAK, testSK, "us-east-1", "", time.Now())
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("vhost PUT: %v %v", err, res)
	}
	res.Body.Close()
	r := e.do("GET", "/vhost/key.txt", nil)
	if string(r.body) != "vh" {
		t.Fatalf("vhost object: %q", r.body)
	}
}

func TestCORS(t *testing.T) {
	e := newEnv(t)
	e.want(e.do("PUT", "/web", nil), 200, "")
	opt := func() *http.Response {
		req, _ := http.NewRequest("OPTIONS", e.srv.URL+"/web/x", nil)
		req.Header.Set("Origin", "https://app.example.com")
		req.Header.Set("Access-Control-Request-Method", "PUT")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	if res := opt(); res.StatusCode != 403 {
		t.Fatalf("preflight without config: %d", res.StatusCode)
	}
	e.want(e.do("GET", "/web?cors", nil), 404, "NoSuchCORSConfiguration")
	e.want(e.do("PUT", "/web?cors", []byte("<CORSConfiguration><CORSRule><AllowedMethod>PUT</AllowedMethod><AllowedOrigin>https://*.example.com</AllowedOrigin></CORSRule></CORSConfiguration>")), 200, "")
	res := opt()
	if res.StatusCode != 200 || res.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Fatalf("preflight: %d %v", res.StatusCode, res.Header)
	}
	// A refused request (here anonymous: 403) still carries the headers,
	// so that the browser lets the page read the error.
	req, _ := http.NewRequest("PUT", e.srv.URL+"/web/x", strings.NewReader("data"))
	req.Header.Set("Origin", "https://app.example.com")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 403 || res.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Fatalf("refused PUT from an allowed origin: %d %v", res.StatusCode, res.Header)
	}
	e.want(e.do("GET", "/web?cors", nil), 200, "")
	e.want(e.do("DELETE", "/web?cors", nil), 204, "")
	e.want(e.do("PUT", "/web?cors", []byte("<CORSConfiguration><CORSRule>")), 400, "MalformedXML")
}

func benchPutGet(b *testing.B, size int) { benchPutGetOn(b, newEnv(b), size) }

func benchPutGetOn(b *testing.B, e *env, size int) {
	r := e.do("PUT", "/bench", nil)
	if r.StatusCode != 200 {
		b.Fatal(r.StatusCode)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	put := func() {
		req, _ := http.NewRequest("PUT", e.srv.URL+"/bench/obj", bytes.NewReader(data))
		sigv4.SignRequest(req, testAK, testSK, "us-east-1", "", time.Now())
		res, err := http.DefaultClient.Do(req)
		if err != nil || res.StatusCode != 200 {
			b.Fatal(err, res)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	b.Run("PUT", func(b *testing.B) {
		b.SetBytes(int64(size))
		for i := 0; i < b.N; i++ {
			put()
		}
	})
	put()
	b.Run("GET", func(b *testing.B) {
		b.SetBytes(int64(size))
		for i := 0; i < b.N; i++ {
			req, _ := http.NewRequest("GET", e.srv.URL+"/bench/obj", nil)
			sigv4.SignRequest(req, testAK, testSK, "us-east-1", "", time.Now())
			res, err := http.DefaultClient.Do(req)
			if err != nil || res.StatusCode != 200 {
				b.Fatal(err, res)
			}
			if n, _ := io.Copy(io.Discard, res.Body); n != int64(size) {
				b.Fatalf("short read %d", n)
			}
			res.Body.Close()
		}
	})
}

func BenchmarkObject1MiB(b *testing.B)  { benchPutGet(b, 1<<20) }
func BenchmarkObject64MiB(b *testing.B) { benchPutGet(b, 64<<20) }

// The same through the data services: every object encrypted (SSE-S3), and
// the whole stack (encryption, lock, versioning, bitrot).
func BenchmarkObject64MiBSSE(b *testing.B) {
	k, _ := kms.NewBuiltin(map[string][]byte{"bench": make([]byte, 32)}, "bench")
	benchPutGetOn(b, newEnvWrapped(b, func(d backends.Backend) backends.Backend {
		return sse.New(d, sse.Options{KMS: k, AutoEncrypt: true})
	}), 64<<20)
}

func BenchmarkObject64MiBBitrot(b *testing.B) {
	benchPutGetOn(b, newEnvWrapped(b, func(d backends.Backend) backends.Backend {
		return bitrot.New(d, bitrot.Options{})
	}), 64<<20)
}

// x-amz-website-redirect-location is kept with the object and returned on
// GET and HEAD; a copy takes it from its request, never from its source.
// Also through the data services, which keep Meta.Sys entries not theirs.
func TestWebsiteRedirectLocation(t *testing.T) {
	for name, wrap := range map[string]func(backends.Backend) backends.Backend{
		"plain": nil,
		"stack": func(d backends.Backend) backends.Backend { return stack.New(d, stack.Options{}) },
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnvWrapped(t, wrap)
			e.want(e.do("PUT", "/web", nil), 200, "")
			const hdr = "x-amz-website-redirect-location"
			redirect := func(path string) string {
				t.Helper()
				r := e.do("HEAD", path, nil)
				e.want(r, 200, "")
				g := e.do("GET", path, nil)
				if g.Header.Get(hdr) != r.Header.Get(hdr) {
					t.Fatalf("%s: GET says %q, HEAD %q", path, g.Header.Get(hdr), r.Header.Get(hdr))
				}
				return r.Header.Get(hdr)
			}
			e.want(e.do("PUT", "/web/a", []byte("a"), hdr+": /b.html"), 200, "")
			if v := redirect("/web/a"); v != "/b.html" {
				t.Fatalf("PUT: redirect %q, want /b.html", v)
			}
			for _, bad := range []string{"b.html", "ftp://x/y", "/" + strings.Repeat("x", 2048), "/caf\xc3\xa9"} {
				e.want(e.do("PUT", "/web/a", []byte("other"), hdr+": "+bad), 400, "InvalidRedirectLocation")
			}
			if r := e.do("GET", "/web/a", nil); string(r.body) != "a" {
				t.Fatalf("refused PUTs changed the object: %q", r.body)
			}

			// Copies: COPY does not carry it; the request's header sets it
			// with either directive; a copy onto itself may change only it.
			e.want(e.do("PUT", "/web/c1", nil, "x-amz-copy-source: /web/a"), 200, "")
			if v := redirect("/web/c1"); v != "" {
				t.Fatalf("copy: redirect %q, want none", v)
			}
			e.want(e.do("PUT", "/web/c2", nil, "x-amz-copy-source: /web/a", hdr+": https://example.com/x"), 200, "")
			if v := redirect("/web/c2"); v != "https://example.com/x" {
				t.Fatalf("copy with the header: redirect %q", v)
			}
			e.want(e.do("PUT", "/web/c3", nil, "x-amz-copy-source: /web/a", "x-amz-metadata-directive: REPLACE", hdr+": /r"), 200, "")
			if v := redirect("/web/c3"); v != "/r" {
				t.Fatalf("copy REPLACE with the header: redirect %q", v)
			}
			e.want(e.do("PUT", "/web/a", nil, "x-amz-copy-source: /web/a", hdr+": /moved"), 200, "")
			if v := redirect("/web/a"); v != "/moved" {
				t.Fatalf("copy onto itself: redirect %q", v)
			}
			e.want(e.do("PUT", "/web/c4", nil, "x-amz-copy-source: /web/a", hdr+": nope"), 400, "InvalidRedirectLocation")

			// Multipart: given at creation, the completed object has it.
			r := e.do("POST", "/web/mp?uploads", nil, hdr+": http://example.com/")
			e.want(r, 200, "")
			var init struct{ UploadId string }
			xml.Unmarshal(r.body, &init)
			p := e.do("PUT", "/web/mp?partNumber=1&uploadId="+init.UploadId, []byte("part"))
			e.want(p, 200, "")
			body := "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>" + p.Header.Get("ETag") + "</ETag></Part></CompleteMultipartUpload>"
			e.want(e.do("POST", "/web/mp?uploadId="+init.UploadId, []byte(body)), 200, "")
			if v := redirect("/web/mp"); v != "http://example.com/" {
				t.Fatalf("multipart: redirect %q", v)
			}
			e.want(e.do("POST", "/web/mp2?uploads", nil, hdr+": mp2"), 400, "InvalidRedirectLocation")
		})
	}
}

// A CompleteMultipartUpload sent again (a retry after a lost answer) or
// several at once is answered with the object the upload made, as AWS
// does; a different part list, or a key since overwritten, is not.
func TestCompleteMultipartUploadAgain(t *testing.T) {
	for name, wrap := range map[string]func(backends.Backend) backends.Backend{
		"plain": nil,
		"stack": func(d backends.Backend) backends.Backend { return stack.New(d, stack.Options{}) },
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnvWrapped(t, wrap)
			e.want(e.do("PUT", "/again", nil), 200, "")
			upload := func(key string) (id, body string) {
				r := e.do("POST", "/again/"+key+"?uploads", nil)
				e.want(r, 200, "")
				var init struct{ UploadId string }
				xml.Unmarshal(r.body, &init)
				p1 := e.do("PUT", "/again/"+key+"?partNumber=1&uploadId="+init.UploadId, bytes.Repeat([]byte("a"), 5<<20))
				p2 := e.do("PUT", "/again/"+key+"?partNumber=2&uploadId="+init.UploadId, []byte("tail"))
				e.want(p2, 200, "")
				return init.UploadId, "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>" + p1.Header.Get("ETag") +
					"</ETag></Part><Part><PartNumber>2</PartNumber><ETag>" + p2.Header.Get("ETag") + "</ETag></Part></CompleteMultipartUpload>"
			}
			etagOf := func(r resp) string {
				var res struct{ ETag string }
				xml.Unmarshal(r.body, &res)
				return res.ETag
			}

			id, body := upload("k")
			first := e.do("POST", "/again/k?uploadId="+id, []byte(body))
			e.want(first, 200, "")
			again := e.do("POST", "/again/k?uploadId="+id, []byte(body))
			e.want(again, 200, "")
			if etagOf(again) == "" || etagOf(again) != etagOf(first) {
				t.Fatalf("complete again: ETag %q, first %q", etagOf(again), etagOf(first))
			}
			// Not the same parts: the upload is gone.
			one := body[:strings.Index(body, "<Part><PartNumber>2")] + "</CompleteMultipartUpload>"
			e.want(e.do("POST", "/again/k?uploadId="+id, []byte(one)), 404, "NoSuchUpload")
			e.want(e.do("POST", "/again/k?uploadId=nope", []byte(body)), 404, "NoSuchUpload")
			// Overwritten since: the upload's object is no more.
			e.want(e.do("PUT", "/again/k", []byte("new")), 200, "")
			e.want(e.do("POST", "/again/k?uploadId="+id, []byte(body)), 404, "NoSuchUpload")

			// Five at once: every one answers with the same object.
			id, body = upload("race")
			var wg sync.WaitGroup
			res := make([]resp, 5)
			for i := range res {
				wg.Go(func() { res[i] = e.do("POST", "/again/race?uploadId="+id, []byte(body)) })
			}
			wg.Wait()
			for i, r := range res {
				if r.StatusCode != 200 || etagOf(r) != etagOf(res[0]) || etagOf(r) == "" {
					t.Fatalf("concurrent complete %d: %d %s", i, r.StatusCode, r.body)
				}
			}
			if r := e.do("GET", "/again/race", nil); len(r.body) != 5<<20+4 {
				t.Fatalf("the raced object holds %d bytes", len(r.body))
			}
		})
	}
}

// CompleteMultipartUpload with If-None-Match: * or If-Match completes only
// if the condition holds, as PutObject writes, and a refused one keeps its
// upload; a retry of a conditional completion that was done is answered
// with its object, like any retry.
func TestCompleteMultipartUploadConditions(t *testing.T) {
	for name, mk := range map[string]func(testing.TB) *env{
		"plain": newEnv,
		"stack": func(t testing.TB) *env {
			return newEnvWrapped(t, func(d backends.Backend) backends.Backend { return stack.New(d, stack.Options{}) })
		},
		"versioned": newVersionedEnv,
	} {
		t.Run(name, func(t *testing.T) {
			e := mk(t)
			e.want(e.do("PUT", "/cond", nil), 200, "")
			if name == "versioned" {
				e.want(e.do("PUT", "/cond?versioning", []byte(`<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>`)), 200, "")
			}
			upload := func(key, data string) (id, body string) {
				r := e.do("POST", "/cond/"+key+"?uploads", nil)
				e.want(r, 200, "")
				var init struct{ UploadId string }
				xml.Unmarshal(r.body, &init)
				p := e.do("PUT", "/cond/"+key+"?partNumber=1&uploadId="+init.UploadId, []byte(data))
				e.want(p, 200, "")
				return init.UploadId, "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>" + p.Header.Get("ETag") +
					"</ETag></Part></CompleteMultipartUpload>"
			}
			complete := func(key, id, body string, hdr ...string) resp {
				return e.do("POST", "/cond/"+key+"?uploadId="+id, []byte(body), hdr...)
			}
			holds := func(key, want string) {
				t.Helper()
				if r := e.do("GET", "/cond/"+key, nil); r.StatusCode != 200 || string(r.body) != want {
					t.Fatalf("GET %s: %d %q, want %q", key, r.StatusCode, r.body, want)
				}
			}
			kept := func(key, id string) {
				t.Helper()
				e.want(e.do("GET", "/cond/"+key+"?uploadId="+id, nil), 200, "")
			}

			// If-None-Match takes only *, as on PUT: 501, and nothing done.
			id, body := upload("k", "one")
			r := complete("k", id, body, `If-None-Match: "abc"`)
			e.want(r, 501, "NotImplemented")
			if !bytes.Contains(r.body, []byte("<Header>If-None-Match</Header>")) {
				t.Fatalf("If-None-Match: \"abc\": %s", r.body)
			}
			kept("k", id)
			e.want(complete("k", id, body, "If-None-Match: *"), 200, "")
			holds("k", "one")
			// Done already: a retry is answered with its object.
			e.want(complete("k", id, body, "If-None-Match: *"), 200, "")

			// If-None-Match on a key with an object: 412, the upload kept.
			id, body = upload("k", "two")
			e.want(complete("k", id, body, "If-None-Match: *"), 412, "PreconditionFailed")
			holds("k", "one")
			kept("k", id)

			// If-Match: 412 when the ETag differs, 404 NoSuchKey when there
			// is no object; the upload kept.
			e.want(complete("k", id, body, `If-Match: "0123456789abcdef0123456789abcdef"`), 412, "PreconditionFailed")
			holds("k", "one")
			kept("k", id)
			aid, abody := upload("absent", "a")
			e.want(complete("absent", aid, abody, `If-Match: "0123456789abcdef0123456789abcdef"`), 404, "NoSuchKey")
			e.want(e.do("HEAD", "/cond/absent", nil), 404, "")
			kept("absent", aid)

			// The right ETag completes.
			cur := e.do("HEAD", "/cond/k", nil).Header.Get("ETag")
			done := complete("k", id, body, "If-Match: "+cur)
			e.want(done, 200, "")
			holds("k", "two")
			again := complete("k", id, body, "If-Match: "+cur)
			e.want(again, 200, "")
			if !bytes.Equal(again.body, done.body) {
				t.Fatalf("retry of a conditional completion:\n%s\nfirst:\n%s", again.body, done.body)
			}
			e.want(e.do("GET", "/cond/k?uploadId="+id, nil), 404, "NoSuchUpload")

			if name == "versioned" {
				// The refused completions made no version.
				if v := e.versions("/cond?versions&prefix=k"); len(v.Versions) != 2 || len(v.Markers) != 0 {
					t.Fatalf("versions of k: %+v", v)
				}
			}
		})
	}
}

// reversedUploads lists uploads in the reverse of the backend's order, as
// a backend that keeps them in no order of ID might.
type reversedUploads struct{ backends.Backend }

func (r reversedUploads) ListMultipartUploads(ctx context.Context, bucket, prefix string) ([]backends.Upload, error) {
	ups, err := r.Backend.ListMultipartUploads(ctx, bucket, prefix)
	slices.Reverse(ups)
	return ups, err
}

// Uploads of one key page one by one, each once, whatever the order in
// which the backend lists them: the markers follow the listing's order.
func TestListMultipartUploadsPagesOneKey(t *testing.T) {
	e := newEnvWrapped(t, func(b backends.Backend) backends.Backend { return reversedUploads{b} })
	e.want(e.do("PUT", "/mpl", nil), 200, "")
	made := map[string]bool{}
	for _, k := range []string{"a", "k", "k", "k", "z"} {
		r := e.do("POST", "/mpl/"+k+"?uploads", nil)
		e.want(r, 200, "")
		var init struct{ UploadId string }
		xml.Unmarshal(r.body, &init)
		made[k+" "+init.UploadId] = true
	}
	type page struct {
		IsTruncated        bool
		NextKeyMarker      string
		NextUploadIdMarker string
		Upload             []struct{ Key, UploadId string }
	}
	seen := map[string]bool{}
	var order []string
	km, im := "", ""
	for range 10 {
		r := e.do("GET", "/mpl?uploads&max-uploads=1&key-marker="+km+"&upload-id-marker="+im, nil)
		e.want(r, 200, "")
		var p page
		xml.Unmarshal(r.body, &p)
		for _, u := range p.Upload {
			id := u.Key + " " + u.UploadId
			if seen[id] {
				t.Fatalf("%s listed twice", id)
			}
			seen[id] = true
			order = append(order, u.Key)
		}
		if !p.IsTruncated {
			break
		}
		km, im = p.NextKeyMarker, p.NextUploadIdMarker
	}
	if len(seen) != len(made) || !slices.IsSorted(order) {
		t.Fatalf("listed %v in order %v; want all of %v, by key", seen, order, made)
	}
}

// A PUT with neither Content-Length nor a chunked body (`curl -X PUT`
// without data) is 411 MissingContentLength, as on S3; Content-Length: 0
// is an empty object.
func TestPutWithoutContentLength(t *testing.T) {
	e := newEnv(t)
	e.want(e.do("PUT", "/nolen", nil), 200, "")
	send := func(withLength bool) string {
		req, _ := http.NewRequest("PUT", e.srv.URL+"/nolen/k", nil)
		sigv4.SignRequest(req, testAK, testSK, "us-east-1", "", time.Now())
		conn, err := net.Dial("tcp", req.URL.Host)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "PUT /nolen/k HTTP/1.1\r\nHost: %s\r\n", req.URL.Host)
		if withLength {
			fmt.Fprint(conn, "Content-Length: 0\r\n")
		}
		req.Header.Write(conn)
		fmt.Fprint(conn, "Connection: close\r\n\r\n")
		res, err := http.ReadResponse(bufio.NewReader(conn), req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		return fmt.Sprint(res.StatusCode, " ", resp{res, body}.code())
	}
	if got := send(false); got != "411 MissingContentLength" {
		t.Errorf("PUT without Content-Length: %s", got)
	}
	e.want(e.do("HEAD", "/nolen/k", nil), 404, "")
	if got := send(true); got != "200 " {
		t.Errorf("PUT with Content-Length: 0: %s", got)
	}
}

// A multipart upload created without an algorithm ends with S3's default
// checksum, the full-object CRC64NVME, also when a part is a copy.
func TestMultipartDefaultChecksum(t *testing.T) {
	e := newEnv(t)
	e.want(e.do("PUT", "/dck", nil), 200, "")
	src := bytes.Repeat([]byte("source "), 1000)
	e.want(e.do("PUT", "/dck/src", src), 200, "")
	r := e.do("POST", "/dck/obj?uploads", nil)
	e.want(r, 200, "")
	var up struct{ UploadId string }
	xml.Unmarshal(r.body, &up)
	p1 := bytes.Repeat([]byte("0123456789abcdef"), 5<<20/16)
	r1 := e.do("PUT", "/dck/obj?partNumber=1&uploadId="+up.UploadId, p1)
	e.want(r1, 200, "")
	r2 := e.do("PUT", "/dck/obj?partNumber=2&uploadId="+up.UploadId, nil, "x-amz-copy-source: /dck/src")
	e.want(r2, 200, "")
	var cp struct{ ETag string }
	xml.Unmarshal(r2.body, &cp)
	// The default is kept for the completion, not shown on the parts.
	if v := r1.Header.Get("x-amz-checksum-crc64nvme"); v != "" || bytes.Contains(r2.body, []byte("Checksum")) {
		t.Fatalf("parts show the default checksum: %q, %s", v, r2.body)
	}
	body := "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>" + r1.Header.Get("ETag") +
		"</ETag></Part><Part><PartNumber>2</PartNumber><ETag>" + cp.ETag + "</ETag></Part></CompleteMultipartUpload>"
	e.want(e.do("POST", "/dck/obj?uploadId="+up.UploadId, []byte(body)), 200, "")
	want := crc64nvme(p1, src)
	r = e.do("HEAD", "/dck/obj", nil, "x-amz-checksum-mode: ENABLED")
	if r.Header.Get("x-amz-checksum-crc64nvme") != want || r.Header.Get("x-amz-checksum-type") != "FULL_OBJECT" {
		t.Fatalf("HEAD: %v, want CRC64NVME %s", r.Header, want)
	}
	// A part shows no checksum, also after a metadata-only copy onto
	// itself.
	for _, step := range []string{"completed", "copied onto itself"} {
		if step == "copied onto itself" {
			e.want(e.do("PUT", "/dck/obj", nil, "x-amz-copy-source: /dck/obj", "x-amz-metadata-directive: REPLACE", "x-amz-meta-new: 1"), 200, "")
		}
		r = e.do("GET", "/dck/obj?partNumber=1", nil, "x-amz-checksum-mode: ENABLED")
		e.want(r, 206, "")
		for k := range r.Header {
			if strings.HasPrefix(strings.ToLower(k), "x-amz-checksum-") {
				t.Fatalf("%s: GET partNumber=1: %s: %s", step, k, r.Header.Get(k))
			}
		}
	}
}

// crc64nvme is the base64 CRC64NVME of the data, as S3 headers carry it.
func crc64nvme(data ...[]byte) string {
	h, _ := checksum.New(checksum.CRC64NVME)
	for _, d := range data {
		h.Write(d)
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// A body of unknown length (Transfer-Encoding: chunked, no Content-Length)
// is stored whole, for PUT and UploadPart.
func TestPutChunkedTransferEncoding(t *testing.T) {
	e := newEnv(t)
	e.want(e.do("PUT", "/chunked", nil), 200, "")
	data := bytes.Repeat([]byte("streamed "), 100_000)
	send := func(path string) *http.Response {
		// A body of unknown length: net/http sends it chunked.
		req, _ := http.NewRequest("PUT", e.srv.URL+path, io.MultiReader(bytes.NewReader(data)))
		sigv4.SignRequest(req, testAK, testSK, "us-east-1", "", time.Now())
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	sum := md5.Sum(data)
	if res := send("/chunked/k"); res.StatusCode != 200 || res.Header.Get("ETag") != `"`+hex.EncodeToString(sum[:])+`"` {
		t.Fatalf("chunked PUT: %d, ETag %s", res.StatusCode, res.Header.Get("ETag"))
	}
	if r := e.do("GET", "/chunked/k", nil); r.StatusCode != 200 || !bytes.Equal(r.body, data) {
		t.Fatalf("GET after a chunked PUT: %d, %d bytes", r.StatusCode, len(r.body))
	}
	r := e.do("POST", "/chunked/mp?uploads", nil)
	e.want(r, 200, "")
	var up struct{ UploadId string }
	xml.Unmarshal(r.body, &up)
	if res := send("/chunked/mp?partNumber=1&uploadId=" + up.UploadId); res.StatusCode != 200 || res.Header.Get("ETag") != `"`+hex.EncodeToString(sum[:])+`"` {
		t.Fatalf("chunked UploadPart: %d, ETag %s", res.StatusCode, res.Header.Get("ETag"))
	}
}

// Content-Encoding is kept as sent, but for aws-chunked, a transfer detail
// that S3 drops from the stored value.
func TestContentEncodingKept(t *testing.T) {
	e := newEnv(t)
	e.want(e.do("PUT", "/enc", nil), 200, "")
	for sent, want := range map[string]string{
		"gzip":                     "gzip",
		"deflate, gzip":            "deflate, gzip",
		"deflate,gzip":             "deflate,gzip",
		"gzip, aws-chunked":        "gzip",
		"aws-chunked, gzip":        "gzip",
		"aws-chunked":              "",
		"aws-chunked, aws-chunked": "",
	} {
		e.want(e.do("PUT", "/enc/k", []byte("x"), "Content-Encoding: "+sent), 200, "")
		r := e.do("HEAD", "/enc/k", nil)
		if got, ok := r.Header["Content-Encoding"]; got == nil && want != "" || ok && (len(got) != 1 || got[0] != want) {
			t.Errorf("Content-Encoding %q stored as %q, want %q", sent, got, want)
		}
	}
}

// A bad argument to a bucket that does not exist is NoSuchBucket: S3 looks
// the bucket up first. On a bucket that exists, the argument's error.
func TestBadArgumentsOnMissingBucket(t *testing.T) {
	e := newEnv(t)
	e.want(e.do("PUT", "/args-here", nil), 200, "")
	for _, b := range []struct{ bucket, attrs, copyArg, part string }{
		{"args-gone", "NoSuchBucket", "NoSuchBucket", "NoSuchBucket"},
		{"args-here", "InvalidRequest", "InvalidArgument", "InvalidArgument"},
	} {
		r := e.do("GET", "/"+b.bucket+"/k?attributes", nil)
		if r.code() != b.attrs {
			t.Errorf("GetObjectAttributes without attributes on %s: %d %s", b.bucket, r.StatusCode, r.code())
		}
		r = e.do("PUT", "/"+b.bucket+"/k", nil, "x-amz-copy-source: nonsense")
		if r.code() != b.copyArg {
			t.Errorf("CopyObject of a bad source into %s: %d %s", b.bucket, r.StatusCode, r.code())
		}
		r = e.do("PUT", "/"+b.bucket+"/k?partNumber=1&uploadId=x", nil, "x-amz-copy-source: nonsense")
		if r.code() != b.part {
			t.Errorf("UploadPartCopy of a bad source into %s: %d %s", b.bucket, r.StatusCode, r.code())
		}
	}
}

// An unsigned streaming body (aws-chunked with trailers) is for object
// data: a configuration document sent that way is refused as S3 does,
// before the body is read.
func TestStreamingConfigRefused(t *testing.T) {
	e := newEnv(t)
	e.want(e.do("PUT", "/sc-bucket", nil), 200, "")
	e.want(e.do("PUT", "/sc-bucket/k", []byte("data")), 200, "")
	for _, path := range []string{"/sc-bucket?cors", "/sc-bucket?tagging", "/sc-bucket?versioning", "/sc-bucket?object-lock",
		"/sc-bucket?policy", "/sc-bucket/k?tagging", "/sc-bucket/k?retention", "/sc-bucket/k?legal-hold"} {
		req, err := http.NewRequest("PUT", e.srv.URL+path, strings.NewReader("5\r\nabcde\r\n0\r\n\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("x-amz-decoded-content-length", "5")
		sigv4.SignRequest(req, testAK, testSK, "us-east-1", sigv4.StreamingUnsignedTrailer, time.Now())
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 400 || !bytes.Contains(body, []byte("<Code>InvalidRequest</Code>")) ||
			!bytes.Contains(body, []byte("<Message>The value of x-amz-content-sha256 header is invalid.</Message>")) {
			t.Fatalf("PUT %s with an unsigned streaming body: %d\n%s", path, res.StatusCode, body)
		}
	}
}
