package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestBadInput sends requests that must be refused with the right S3 error,
// and checks after each that the stored data did not change.
func TestBadInput(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data")
	must(t, os.MkdirAll(data, 0o755), "mkdir")
	s := startServer(t, withDir(data))
	c := s.S3(t)

	t.Run("WrongCredentials", func(t *testing.T) { testWrongCredentials(t, s, c) })
	t.Run("ExpiredPresign", func(t *testing.T) { testExpiredPresign(t, s, c) })
	t.Run("ClockSkew", func(t *testing.T) { testClockSkew(t, s, c) })
	t.Run("MalformedXML", func(t *testing.T) { testMalformedXML(t, s, c) })
	t.Run("ChunkSignatures", func(t *testing.T) { testChunkSignatures(t, s, c) })
	t.Run("PayloadDigests", func(t *testing.T) { testPayloadDigests(t, s, c) })
	t.Run("NoSuchBucket", func(t *testing.T) { testNoSuchBucket(t, s, c) })
	t.Run("InvalidRange", func(t *testing.T) { testInvalidRange(t, c) })
	t.Run("PartNumber", func(t *testing.T) { testPartNumber(t, c) })
	t.Run("KeyEscapes", func(t *testing.T) { testKeyEscapes(t, s, c, root) })
	t.Run("BucketNotEmpty", func(t *testing.T) { testBucketNotEmpty(t, c) })
	t.Run("BucketNames", func(t *testing.T) { testBucketNames(t, s, c) })
	t.Run("NotImplemented", func(t *testing.T) { testNotImplemented(t, s, c) })
}

func testWrongCredentials(t *testing.T, s *server, c *s3.Client) {
	ctx := ctxT(t)
	b := newBucket(t, c)
	putBytes(t, c, b, "k", []byte("original"))

	bad := s.s3With(t, accessKey, "not-the-secret")
	_, err := bad.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("k"), Body: strings.NewReader("overwritten")})
	wantErr(t, err, "SignatureDoesNotMatch", 403)
	_, err = bad.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("k")})
	wantErr(t, err, "SignatureDoesNotMatch", 403)
	_, err = bad.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b), Key: aws.String("k")})
	wantErr(t, err, "SignatureDoesNotMatch", 403)

	unknown := s.s3With(t, "nobody-knows-me", secretKey)
	_, err = unknown.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("k"), Body: strings.NewReader("overwritten")})
	wantErr(t, err, "InvalidAccessKeyId", 403)

	r := s.do(t, rawReq{method: "PUT", target: "/" + b + "/k", body: []byte("anonymous"), anonymous: true})
	wantRaw(t, "anonymous PUT", r, 403, "AccessDenied")
	r = s.do(t, rawReq{method: "GET", target: "/" + b + "/k", anonymous: true})
	wantRaw(t, "anonymous GET", r, 403, "AccessDenied")

	wantObject(t, c, b, "k", []byte("original"))
}

func testExpiredPresign(t *testing.T, s *server, c *s3.Client) {
	ctx := ctxT(t)
	b := newBucket(t, c)
	putBytes(t, c, b, "k", []byte("original"))
	pc := s3.NewPresignClient(c)
	pg, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("k")}, s3.WithPresignExpires(time.Second))
	must(t, err, "PresignGetObject")
	pp, err := pc.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("k")}, s3.WithPresignExpires(time.Second))
	must(t, err, "PresignPutObject")
	time.Sleep(2100 * time.Millisecond)

	hc := s.HTTPClient()
	resp, err := hc.Get(pg.URL)
	must(t, err, "GET expired URL")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if code, _ := parseS3Error(body); resp.StatusCode != 403 || code != "AccessDenied" {
		t.Errorf("expired presigned GET: HTTP %d %s, want 403 AccessDenied\n%s", resp.StatusCode, code, body)
	}
	req, _ := http.NewRequest("PUT", pp.URL, strings.NewReader("overwritten"))
	for k, vs := range pp.SignedHeader {
		if !strings.EqualFold(k, "host") {
			req.Header[k] = vs
		}
	}
	resp, err = hc.Do(req)
	must(t, err, "PUT expired URL")
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if code, _ := parseS3Error(body); resp.StatusCode != 403 || code != "AccessDenied" {
		t.Errorf("expired presigned PUT: HTTP %d %s, want 403 AccessDenied\n%s", resp.StatusCode, code, body)
	}
	wantObject(t, c, b, "k", []byte("original"))

	// Seven days is the longest a presigned URL may live.
	sg := defaultSigner()
	u := sg.presign("GET", s.URL+"/"+b+"/k", time.Now(), 7*24*3600)
	resp, err = hc.Get(u)
	must(t, err, "GET 7-day URL")
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "original" {
		t.Errorf("presigned GET valid for 7 days: HTTP %d\n%s", resp.StatusCode, body)
	}
	u = sg.presign("GET", s.URL+"/"+b+"/k", time.Now(), 7*24*3600+1)
	resp, err = hc.Get(u)
	must(t, err, "GET 7-day+1s URL")
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if code, _ := parseS3Error(body); resp.StatusCode != 400 || code != "AuthorizationQueryParametersError" {
		t.Errorf("presigned GET valid for over 7 days: HTTP %d %s, want 400 AuthorizationQueryParametersError\n%s", resp.StatusCode, code, body)
	}
}

func testClockSkew(t *testing.T, s *server, c *s3.Client) {
	b := newBucket(t, c)
	putBytes(t, c, b, "k", []byte("original"))
	for _, d := range []time.Duration{-20 * time.Minute, 20 * time.Minute} {
		r := s.do(t, rawReq{method: "PUT", target: "/" + b + "/k", body: []byte("skewed"), date: time.Now().Add(d)})
		wantRaw(t, fmt.Sprintf("PUT with a clock off by %v", d), r, 403, "RequestTimeTooSkewed")
	}
	// Within 15 minutes is fine.
	r := s.do(t, rawReq{method: "GET", target: "/" + b + "/k", date: time.Now().Add(-10 * time.Minute)})
	wantRaw(t, "GET with a clock off by -10m", r, 200, "")
	wantObject(t, c, b, "k", []byte("original"))
}

func testMalformedXML(t *testing.T, s *server, c *s3.Client) {
	ctx := ctxT(t)
	b := newBucket(t, c)
	putBytes(t, c, b, "a", []byte("a"))
	putBytes(t, c, b, "b", []byte("b"))

	for _, body := range []string{
		`<Delete><Object><Key>a</Key></Object>`,
		`this is not XML`,
		`<Delete><Object><Key>a</Key></Object><Object><Key>b</Key></Objec></Delete>`,
	} {
		r := s.do(t, rawReq{method: "POST", target: "/" + b + "?delete", body: []byte(body),
			header: http.Header{"Content-Md5": {contentMD5([]byte(body))}, "Content-Type": {"application/xml"}}})
		wantRaw(t, "DeleteObjects "+body, r, 400, "MalformedXML")
	}
	wantObject(t, c, b, "a", []byte("a"))
	wantObject(t, c, b, "b", []byte("b"))

	key := "mp/obj"
	cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(b), Key: aws.String(key)})
	must(t, err, "CreateMultipartUpload")
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(b), Key: aws.String(key), UploadId: cr.UploadId,
		PartNumber: aws.Int32(1), Body: strings.NewReader("part one")})
	must(t, err, "UploadPart")
	for _, body := range []string{
		`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>`,
		`<CompleteMultipartUpload><Part><PartNumber>one</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>`,
		`{"parts": [1]}`,
	} {
		r := s.do(t, rawReq{method: "POST", target: "/" + b + "/" + key + "?uploadId=" + s3Escape(aws.ToString(cr.UploadId), false), body: []byte(body)})
		wantRaw(t, "CompleteMultipartUpload "+body, r, 400, "MalformedXML")
	}
	wantNoObject(t, c, b, key)
	lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(b), Key: aws.String(key), UploadId: cr.UploadId})
	must(t, err, "ListParts after malformed complete")
	if len(lp.Parts) != 1 {
		t.Errorf("upload has %d parts after malformed completes, want 1", len(lp.Parts))
	}

	r := s.do(t, rawReq{method: "PUT", target: "/" + b + "/a?tagging", body: []byte(`<Tagging><TagSet><Tag><Key>k`)})
	wantRaw(t, "PutObjectTagging truncated XML", r, 400, "MalformedXML")
	r = s.do(t, rawReq{method: "PUT", target: "/" + b + "?cors", body: []byte(`<CORSConfiguration><CORSRule>`),
		header: http.Header{"Content-Md5": {contentMD5([]byte(`<CORSConfiguration><CORSRule>`))}}})
	wantRaw(t, "PutBucketCors truncated XML", r, 400, "MalformedXML")
	_, err = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(b), Key: aws.String(key), UploadId: cr.UploadId})
	must(t, err, "AbortMultipartUpload")
}

func crc32Base64(b []byte) string {
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc32.ChecksumIEEE(b))
	return base64.StdEncoding.EncodeToString(sum[:])
}

func testChunkSignatures(t *testing.T, s *server, c *s3.Client) {
	ctx := ctxT(t)
	b := newBucket(t, c)
	original := []byte("original contents")
	putBytes(t, c, b, "k", original)
	data := randBytes(42, 3*defaultChunkBytes+1234) // three full chunks, a short one, the final empty one
	target := "/" + b + "/k"

	// The well-formed request first, so the failures below mean what they say.
	r := s.do(t, rawReq{method: "PUT", target: "/" + b + "/good", chunked: &chunkSpec{data: data, badChunk: -1}})
	wantRaw(t, "signed aws-chunked PUT", r, 200, "")
	wantObject(t, c, b, "good", data)

	for _, bad := range []struct {
		name  string
		chunk int
	}{{"first chunk", 0}, {"second chunk", 1}, {"short last data chunk", 3}, {"final empty chunk", 4}} {
		r := s.do(t, rawReq{method: "PUT", target: target, chunked: &chunkSpec{data: data, badChunk: bad.chunk}})
		wantRaw(t, "aws-chunked PUT with a bad signature on the "+bad.name, r, 403, "SignatureDoesNotMatch")
		wantObject(t, c, b, "k", original)
	}

	// A bad chunk signature on a part leaves the upload without that part.
	cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("mp")})
	must(t, err, "CreateMultipartUpload")
	r = s.do(t, rawReq{method: "PUT", target: "/" + b + "/mp?partNumber=1&uploadId=" + s3Escape(aws.ToString(cr.UploadId), false),
		chunked: &chunkSpec{data: data, badChunk: 2}})
	wantRaw(t, "UploadPart with a bad chunk signature", r, 403, "SignatureDoesNotMatch")
	lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(b), Key: aws.String("mp"), UploadId: cr.UploadId})
	must(t, err, "ListParts")
	if len(lp.Parts) != 0 {
		t.Errorf("refused part was stored: %d parts", len(lp.Parts))
	}
	c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("mp"), UploadId: cr.UploadId})

	// Signed chunks with a signed trailing checksum.
	good := chunkSpec{data: data, badChunk: -1, trailerName: "x-amz-checksum-crc32", trailerValue: crc32Base64(data)}
	r = s.do(t, rawReq{method: "PUT", target: "/" + b + "/trailer", chunked: &good})
	wantRaw(t, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER PUT", r, 200, "")
	get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("trailer"), ChecksumMode: types.ChecksumModeEnabled})
	if err == nil {
		got, _ := io.ReadAll(get.Body)
		get.Body.Close()
		if !bytes.Equal(got, data) || aws.ToString(get.ChecksumCRC32) != good.trailerValue {
			t.Errorf("object PUT with a trailer: %d bytes, x-amz-checksum-crc32 %q; want %d bytes, %q",
				len(got), aws.ToString(get.ChecksumCRC32), len(data), good.trailerValue)
		}
	} else {
		t.Errorf("GetObject of the trailer upload: %v", err)
	}

	wrongSum := good
	wrongSum.trailerValue = crc32Base64([]byte("something else"))
	r = s.do(t, rawReq{method: "PUT", target: target, chunked: &wrongSum})
	if r.Status != 400 || (r.Code != "BadDigest" && r.Code != "XAmzContentChecksumMismatch") {
		t.Errorf("trailer with a wrong CRC32: got %s\nwant HTTP 400 BadDigest (or XAmzContentChecksumMismatch)", r)
	}
	wantObject(t, c, b, "k", original)

	wrongSig := good
	wrongSig.badTrailerSig = true
	r = s.do(t, rawReq{method: "PUT", target: target, chunked: &wrongSig})
	wantRaw(t, "trailer with a bad x-amz-trailer-signature", r, 403, "SignatureDoesNotMatch")
	wantObject(t, c, b, "k", original)

	// A body shorter than x-amz-decoded-content-length promises.
	r = s.putLyingDecodedLength(t, target, data, len(data)+100)
	if r.Status < 400 || r.Status > 499 {
		t.Errorf("aws-chunked body shorter than x-amz-decoded-content-length: got %s, want a 4xx error", r)
	}
	wantObject(t, c, b, "k", original)
}

// putLyingDecodedLength sends data as a correctly signed aws-chunked body
// whose (signed) X-Amz-Decoded-Content-Length says decoded bytes.
func (s *server) putLyingDecodedLength(t testing.TB, target string, data []byte, decoded int) rawResp {
	t.Helper()
	req, _ := http.NewRequest("PUT", s.URL+target, nil)
	req.Header.Set("Content-Encoding", "aws-chunked")
	req.Header.Set("X-Amz-Decoded-Content-Length", fmt.Sprint(decoded))
	now := time.Now()
	sg := defaultSigner()
	seed := sg.signRequest(req, streamingPayload, now)
	body := sg.encodeChunks(seed, now, chunkSpec{data: data, badChunk: -1})
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		// Closing the connection on a short body is a refusal too.
		return rawResp{Status: 499, Message: err.Error()}
	}
	defer resp.Body.Close()
	out := rawResp{Status: resp.StatusCode, Header: resp.Header}
	out.Body, _ = io.ReadAll(resp.Body)
	out.Code, out.Message = parseS3Error(out.Body)
	return out
}

func testPayloadDigests(t *testing.T, s *server, c *s3.Client) {
	b := newBucket(t, c)
	original := []byte("original contents")
	putBytes(t, c, b, "k", original)
	body := []byte("new contents")
	target := "/" + b + "/k"

	r := s.do(t, rawReq{method: "PUT", target: target, body: body, payloadHash: sha256Hex([]byte("other contents"))})
	wantRaw(t, "PUT with a wrong x-amz-content-sha256", r, 400, "XAmzContentSHA256Mismatch")
	wantObject(t, c, b, "k", original)

	r = s.do(t, rawReq{method: "PUT", target: target, body: body, header: http.Header{"Content-Md5": {contentMD5([]byte("other"))}}})
	wantRaw(t, "PUT with a wrong Content-MD5", r, 400, "BadDigest")
	wantObject(t, c, b, "k", original)

	r = s.do(t, rawReq{method: "PUT", target: target, body: body, header: http.Header{"Content-Md5": {"not base64 md5"}}})
	wantRaw(t, "PUT with an invalid Content-MD5", r, 400, "InvalidDigest")
	wantObject(t, c, b, "k", original)

	for _, h := range []string{"X-Amz-Checksum-Crc32", "X-Amz-Checksum-Sha256"} {
		wrong := crc32Base64([]byte("other"))
		if strings.HasSuffix(h, "Sha256") {
			sum := sha256.Sum256([]byte("other"))
			wrong = base64.StdEncoding.EncodeToString(sum[:])
		}
		r = s.do(t, rawReq{method: "PUT", target: target, body: body, payloadHash: unsignedPayload, header: http.Header{h: {wrong}}})
		if r.Status != 400 || (r.Code != "BadDigest" && r.Code != "XAmzContentChecksumMismatch") {
			t.Errorf("PUT with a wrong %s: got %s\nwant HTTP 400 BadDigest", h, r)
		}
		wantObject(t, c, b, "k", original)
	}

	// The right ones are accepted.
	r = s.do(t, rawReq{method: "PUT", target: target, body: body, header: http.Header{
		"Content-Md5": {contentMD5(body)}, "X-Amz-Checksum-Crc32": {crc32Base64(body)}}})
	wantRaw(t, "PUT with correct Content-MD5 and CRC32", r, 200, "")
	wantObject(t, c, b, "k", body)
}

func testNoSuchBucket(t *testing.T, s *server, c *s3.Client) {
	ctx := ctxT(t)
	const b = "no-such-bucket-e2e"
	_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("k")})
	wantErr(t, err, "NoSuchBucket", 404)
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("k"), Body: strings.NewReader("x")})
	wantErr(t, err, "NoSuchBucket", 404)
	_, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b)})
	wantErr(t, err, "NoSuchBucket", 404)
	_, err = c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("k")})
	wantErr(t, err, "NoSuchBucket", 404)
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(b)})
	wantErr(t, err, "NoSuchBucket", 404)
	if _, err := os.Stat(filepath.Join(s.Dir, b)); !os.IsNotExist(err) {
		t.Errorf("requests to a missing bucket created %s (%v)", filepath.Join(s.Dir, b), err)
	}

	// The error format: XML with a RequestId matching x-amz-request-id.
	r := s.do(t, rawReq{method: "GET", target: "/" + b + "/k"})
	wantRaw(t, "GET in a missing bucket", r, 404, "NoSuchBucket")
	id := r.Header.Get("X-Amz-Request-Id")
	if id == "" || !bytes.Contains(r.Body, []byte("<RequestId>"+id+"</RequestId>")) {
		t.Errorf("error response: x-amz-request-id %q, body %s; want the id in <RequestId>", id, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.Contains(ct, "xml") {
		t.Errorf("error Content-Type %q, want application/xml", ct)
	}
}

func testInvalidRange(t *testing.T, c *s3.Client) {
	ctx := ctxT(t)
	b := newBucket(t, c)
	putBytes(t, c, b, "ten", []byte("0123456789"))
	for _, rng := range []string{"bytes=100-200", "bytes=10-"} {
		_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("ten"), Range: aws.String(rng)})
		wantErr(t, err, "InvalidRange", 416)
	}
	wantObject(t, c, b, "ten", []byte("0123456789"))
}

func testPartNumber(t *testing.T, c *s3.Client) {
	ctx := ctxT(t)
	b := newBucket(t, c)
	cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("mp")})
	must(t, err, "CreateMultipartUpload")
	for _, n := range []int32{10001, 0, -1} {
		_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(b), Key: aws.String("mp"), UploadId: cr.UploadId,
			PartNumber: aws.Int32(n), Body: strings.NewReader("part")})
		if n == 10001 {
			wantErr(t, err, "InvalidArgument", 400)
		} else if errStatus(err) != 400 {
			t.Errorf("UploadPart partNumber=%d: %v, want 400", n, err)
		}
	}
	lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(b), Key: aws.String("mp"), UploadId: cr.UploadId})
	must(t, err, "ListParts")
	if len(lp.Parts) != 0 {
		t.Errorf("refused parts were stored: %d", len(lp.Parts))
	}
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(b), Key: aws.String("mp"), UploadId: cr.UploadId,
		PartNumber: aws.Int32(10000), Body: strings.NewReader("part")})
	must(t, err, "UploadPart partNumber=10000")
	_, err = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("mp"), UploadId: cr.UploadId})
	must(t, err, "AbortMultipartUpload")
}

func testKeyEscapes(t *testing.T, s *server, c *s3.Client, root string) {
	b := newBucket(t, c)
	putBytes(t, c, b, "inside.txt", []byte("inside"))
	secret := []byte("secret outside the data dir")
	must(t, os.WriteFile(filepath.Join(root, "secret.txt"), secret, 0o644), "write secret")
	must(t, os.WriteFile(filepath.Join(s.Dir, "toplevel.txt"), secret, 0o644), "write top-level file")
	abs := filepath.Join(os.TempDir(), fmt.Sprintf("strata-e2e-escape-%d", time.Now().UnixNano()))
	marker := []byte(fmt.Sprintf("escape attempt %d", time.Now().UnixNano()))

	// Raw paths: Go's client sends them as written, without cleaning. The
	// signature covers the decoded path re-encoded (as SigV4 says), so for
	// the plain ones a SignatureDoesNotMatch would mean the server cleaned
	// the path before checking it; for the needlessly %-encoded ones a
	// server that signs the raw path refuses with SignatureDoesNotMatch,
	// which is a refusal too.
	targets := []struct {
		path    string
		encoded bool
	}{
		{"/" + b + "/../x", false},
		{"/" + b + "/a/../../x", false},
		{"/" + b + "/../../x", false},
		{"/" + b + "/../../../x", false},
		{"/" + b + "/" + abs, false},
		{"/" + b + "/a%00b", false},
		{"/" + b + "/%2e%2e/x", true},
		{"/" + b + "/a/%2E%2E/%2e%2e/%2e%2e/x", true},
		{"/" + b + "/..%2f..%2fx", true},
	}
	for _, tg := range targets {
		r := s.do(t, rawReq{method: "PUT", target: tg.path, body: marker})
		if r.Status < 400 || r.Status > 499 || r.Code == "" || (!tg.encoded && r.Code == "SignatureDoesNotMatch") {
			t.Errorf("PUT %s: got %s\nwant a 4xx S3 error refusing the key", tg.path, r)
		} else {
			t.Logf("PUT %s: HTTP %d %s", tg.path, r.Status, r.Code)
		}
	}
	for _, tg := range []string{
		"/" + b + "/../../secret.txt",
		"/" + b + "/a/../../../secret.txt",
		"/" + b + "/../toplevel.txt",
		"/" + b + "/%2e%2e/toplevel.txt",
		"/" + b + "/..%2ftoplevel.txt",
	} {
		r := s.do(t, rawReq{method: "GET", target: tg})
		if r.Status < 400 || r.Status > 499 || bytes.Contains(r.Body, secret) {
			t.Errorf("GET %s: got %s\nwant a 4xx error and not the file", tg, r)
		}
	}
	// Copy from an escaping source.
	r := s.do(t, rawReq{method: "PUT", target: "/" + b + "/copied", header: http.Header{"X-Amz-Copy-Source": {b + "/../../secret.txt"}}})
	if r.Status < 400 || r.Status > 499 {
		t.Errorf("CopyObject from %s/../../secret.txt: got %s\nwant a 4xx error", b, r)
	}
	wantNoObject(t, c, b, "copied")

	if _, err := os.Stat(abs); !os.IsNotExist(err) {
		t.Errorf("%s exists after PUT of an absolute key (%v)", abs, err)
		os.Remove(abs)
	}
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if got, _ := os.ReadFile(p); bytes.Equal(got, marker) {
				t.Errorf("a refused PUT left its data at %s", p)
			}
		}
		return nil
	})
	wantObject(t, c, b, "inside.txt", []byte("inside"))
	if got, _ := os.ReadFile(filepath.Join(root, "secret.txt")); !bytes.Equal(got, secret) {
		t.Errorf("the file outside the data dir changed")
	}
}

func testBucketNotEmpty(t *testing.T, c *s3.Client) {
	ctx := ctxT(t)
	b := newBucket(t, c)
	putBytes(t, c, b, "a/b/c", []byte("c"))
	cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("mp")})
	must(t, err, "CreateMultipartUpload")
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(b)})
	wantErr(t, err, "BucketNotEmpty", 409)
	wantObject(t, c, b, "a/b/c", []byte("c"))
	lu, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(b)})
	must(t, err, "ListMultipartUploads")
	if len(lu.Uploads) != 1 {
		t.Errorf("a refused DeleteBucket left %d uploads, want the one in progress", len(lu.Uploads))
	}

	// An upload in progress does not keep the bucket (as on AWS): it goes
	// with it.
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b), Key: aws.String("a/b/c")})
	must(t, err, "DeleteObject")
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(b)})
	must(t, err, "DeleteBucket with only an upload in progress")
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(b), Key: aws.String("mp"), UploadId: cr.UploadId,
		PartNumber: aws.Int32(1), Body: strings.NewReader("part")})
	wantErr(t, err, "NoSuchBucket", 404)
}

func testBucketNames(t *testing.T, s *server, c *s3.Client) {
	for _, name := range []string{"Upper-Case", "ab", "under_score", "-leading", "trailing-", "192.168.1.1", "two..dots", strings.Repeat("a", 64)} {
		r := s.do(t, rawReq{method: "PUT", target: "/" + name})
		wantRaw(t, "CreateBucket "+name, r, 400, "InvalidBucketName")
		if _, err := os.Stat(filepath.Join(s.Dir, name)); !os.IsNotExist(err) {
			t.Errorf("CreateBucket %s created a folder", name)
		}
	}
	// The reserved folder is no bucket.
	r := s.do(t, rawReq{method: "PUT", target: "/.strata.sys"})
	if r.Status < 400 || r.Status > 499 {
		t.Errorf("CreateBucket .strata.sys: %s, want 4xx", r)
	}
	r = s.do(t, rawReq{method: "GET", target: "/.strata.sys"})
	if r.Status < 400 || r.Status > 499 {
		t.Errorf("ListObjects .strata.sys: %s, want 4xx", r)
	}
	b := newBucket(t, c)
	r = s.do(t, rawReq{method: "PUT", target: "/" + b + "/.strata.sys/x", body: []byte("x")})
	t.Logf("PUT %s/.strata.sys/x: HTTP %d %s", b, r.Status, r.Code)
}

func testNotImplemented(t *testing.T, s *server, c *s3.Client) {
	b := newBucket(t, c)
	cases := []struct{ method, query, body string }{
		{"PUT", "lifecycle", `<LifecycleConfiguration><Rule><ID>r</ID><Status>Enabled</Status><Filter><Prefix>x/</Prefix></Filter><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>`},
		{"PUT", "replication", `<ReplicationConfiguration><Role>arn:aws:iam::1:role/r</Role></ReplicationConfiguration>`},
		{"PUT", "website", `<WebsiteConfiguration><IndexDocument><Suffix>index.html</Suffix></IndexDocument></WebsiteConfiguration>`},
	}
	for _, tc := range cases {
		r := s.do(t, rawReq{method: tc.method, target: "/" + b + "?" + tc.query, body: []byte(tc.body),
			header: http.Header{"Content-Md5": {contentMD5([]byte(tc.body))}}})
		wantRaw(t, tc.method+" ?"+tc.query, r, 501, "NotImplemented")
	}
}
