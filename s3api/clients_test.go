package s3api_test

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/xml"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestListIgnoresMinIOMetadata: minio-go's WithMetadata listing adds
// metadata=true, which a listing ignores; elsewhere an unknown parameter
// is still NotImplemented.
func TestListIgnoresMinIOMetadata(t *testing.T) {
	e := newEnv(t)
	e.want(e.do("PUT", "/meta", nil), 200, "")
	e.want(e.do("PUT", "/meta/k", []byte("x")), 200, "")
	r := e.do("GET", "/meta?list-type=2&metadata=true", nil)
	e.want(r, 200, "")
	if !bytes.Contains(r.body, []byte("<Key>k</Key>")) {
		t.Fatalf("listing with metadata=true:\n%s", r.body)
	}
	e.want(e.do("PUT", "/meta/k?metadata=true", []byte("y")), 501, "NotImplemented")
	e.want(e.do("GET", "/meta?list-type=2&no-such-thing=1", nil), 501, "NotImplemented")
}

// TestDefaultChecksum: an object written without a checksum gets the whole
// object's CRC64NVME, as on S3 since 2025; so does a copy of it, and a POST.
func TestDefaultChecksum(t *testing.T) {
	e := newEnv(t)
	e.want(e.do("PUT", "/sums", nil), 200, "")
	data := []byte("no checksum was sent with this")
	sum := crc64.Checksum(data, crc64.MakeTable(0x9a6c9329ac4bc9b5)) // CRC-64/NVME, reflected
	want := base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint64(nil, sum))
	r := e.do("PUT", "/sums/a", data)
	e.want(r, 200, "")
	if got := r.Header.Get("x-amz-checksum-crc64nvme"); got != want || r.Header.Get("x-amz-checksum-type") != "FULL_OBJECT" {
		t.Fatalf("PUT answers CRC64NVME %q type %q, want %q FULL_OBJECT", got, r.Header.Get("x-amz-checksum-type"), want)
	}
	e.want(e.do("PUT", "/sums/b", nil, "x-amz-copy-source: /sums/a"), 200, "")
	for _, k := range []string{"a", "b"} {
		r = e.do("HEAD", "/sums/"+k, nil, "x-amz-checksum-mode: ENABLED")
		e.want(r, 200, "")
		if got := r.Header.Get("x-amz-checksum-crc64nvme"); got != want {
			t.Fatalf("HEAD %s: CRC64NVME %q, want %q", k, got, want)
		}
	}
	// A checksum the client sends is the one kept.
	r = e.do("PUT", "/sums/c", data, "x-amz-checksum-crc32: "+base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(data))))
	e.want(r, 200, "")
	if r.Header.Get("x-amz-checksum-crc64nvme") != "" || r.Header.Get("x-amz-checksum-crc32") == "" {
		t.Fatalf("PUT with CRC32 answers %v", r.Header)
	}
}

// TestHeaderSectionLimit: S3 takes at most 8 KB of request headers.
func TestHeaderSectionLimit(t *testing.T) {
	e := newEnv(t)
	e.want(e.do("PUT", "/hdrs", nil), 200, "")
	e.want(e.do("PUT", "/hdrs/ok", []byte("x"), "x-amz-meta-a: "+strings.Repeat("a", 1500)), 200, "")
	r := e.do("PUT", "/hdrs/big", []byte("x"), "x-amz-custom-header: "+strings.Repeat("d", 8<<10))
	e.want(r, 400, "RequestHeaderSectionTooLarge")
	if !bytes.Contains(r.body, []byte("<MaxSizeAllowed>8192</MaxSizeAllowed>")) {
		t.Fatalf("RequestHeaderSectionTooLarge:\n%s", r.body)
	}
	e.want(e.do("HEAD", "/hdrs/big", nil), 404, "")
}

// TestConditionalDeleteRefused: a delete with a condition is not done
// regardless of it; it is NotImplemented and the object stays.
func TestConditionalDeleteRefused(t *testing.T) {
	e := newEnv(t)
	e.want(e.do("PUT", "/cdel", nil), 200, "")
	e.want(e.do("PUT", "/cdel/k", []byte("x")), 200, "")
	e.want(e.do("DELETE", "/cdel/k", nil, "If-Match: *"), 501, "NotImplemented")
	e.want(e.do("DELETE", "/cdel/k", nil, "x-amz-if-match-size: 1"), 501, "NotImplemented")
	doc := []byte(`<Delete><Object><Key>k</Key><ETag>"abc"</ETag></Object></Delete>`)
	sum := md5.Sum(doc)
	r := e.do("POST", "/cdel?delete", doc, "Content-MD5: "+base64.StdEncoding.EncodeToString(sum[:]))
	e.want(r, 200, "")
	if !bytes.Contains(r.body, []byte("<Code>NotImplemented</Code>")) {
		t.Fatalf("DeleteObjects with an ETag condition:\n%s", r.body)
	}
	e.want(e.do("HEAD", "/cdel/k", nil), 200, "")
}

// TestErrorQuotes: quotes in an error message are written as they are, as
// S3 writes them (clients look for the text).
func TestErrorQuotes(t *testing.T) {
	e := newEnv(t)
	req, _ := http.NewRequest("GET", e.srv.URL+"/", nil)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AK/20130524/r/ec2/aws4_request, SignedHeaders=host, Signature=00")
	req.Header.Set("X-Amz-Date", "20130524T000000Z")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !bytes.Contains(body, []byte(`incorrect service "ec2". This endpoint belongs to "s3".`)) {
		t.Fatalf("error body:\n%s", body)
	}
	var parsed struct{ Message string }
	if err := xml.Unmarshal(body, &parsed); err != nil || !strings.Contains(parsed.Message, `"ec2"`) {
		t.Fatalf("the body does not parse: %v %q", err, parsed.Message)
	}
}
