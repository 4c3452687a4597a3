package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// sendCut sends a signed request (UNSIGNED-PAYLOAD) that announces declared
// body bytes, sends the first sent of them and closes the connection: a
// client that died in the middle of an upload.
func (s *server) sendCut(t *testing.T, method, target string, body []byte, sent int) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+target, nil)
	must(t, err, "request")
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Length", fmt.Sprint(len(body)))
	defaultSigner().signRequest(req, unsignedPayload, time.Now())
	conn, err := net.Dial("tcp", req.URL.Host)
	must(t, err, "dial")
	defer conn.Close()
	w := bufio.NewWriter(conn)
	fmt.Fprintf(w, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, req.URL.RequestURI(), req.URL.Host)
	req.Header.Write(w)
	w.WriteString("\r\n")
	w.Write(body[:sent])
	must(t, w.Flush(), "send")
	// Give the server the bytes before the connection goes.
	time.Sleep(100 * time.Millisecond)
}

// TestCutUploads: an upload whose client goes away before the end of its
// Content-Length stores nothing, on the directory backend and on erasure
// (inline and block-coded sizes): the key keeps its old object or stays
// missing, and a part cut short is not among the upload's parts.
func TestCutUploads(t *testing.T) {
	pattern, _ := erasureDrives(t, 4)
	for _, tc := range []struct {
		name string
		opts []serverOption
	}{
		{"dir", nil},
		{"erasure", []serverOption{withDir(pattern), withArgs("--heal-interval", "off")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, tc.opts...)
			c := s.S3(t)
			ctx := t.Context()
			b := "cut-uploads"
			_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)})
			must(t, err, "create bucket")
			old := []byte("the old object")
			_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("kept"), Body: bytes.NewReader(old)})
			must(t, err, "put")
			for _, size := range []int{10 << 10, 3<<20 + 7} {
				body := randBytes(uint64(size), size)
				s.sendCut(t, "PUT", "/"+b+"/kept", body, size/2)
				s.sendCut(t, "PUT", "/"+b+"/new", body, size/2)
				out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("kept")})
				must(t, err, "get kept")
				got, _ := io.ReadAll(out.Body)
				out.Body.Close()
				if !bytes.Equal(got, old) {
					t.Errorf("%d bytes cut at half: the object holds %d bytes, want the old %d", size, len(got), len(old))
				}
				wantNoObject(t, c, b, "new")
			}

			up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("mp")})
			must(t, err, "create upload")
			part := randBytes(9, 5<<20)
			s.sendCut(t, "PUT", fmt.Sprintf("/%s/mp?partNumber=1&uploadId=%s", b, aws.ToString(up.UploadId)), part, len(part)-1)
			parts, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(b), Key: aws.String("mp"), UploadId: up.UploadId})
			must(t, err, "list parts")
			if len(parts.Parts) != 0 {
				t.Errorf("a part cut short is listed: %+v", parts.Parts[0])
			}
		})
	}
}
