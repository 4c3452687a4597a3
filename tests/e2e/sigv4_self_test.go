package e2e

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSignerAWSExamples checks the tests' own signer against the worked
// examples in the Amazon S3 SigV4 documentation, so that a failure of a
// hand-signed request points at the server, not at the test.
func TestSignerAWSExamples(t *testing.T) {
	v := sigv4{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1"}
	when := time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)

	t.Run("GET object header", func(t *testing.T) {
		req, _ := http.NewRequest("GET", "https://examplebucket.s3.amazonaws.com/test.txt", nil)
		req.Header.Set("Range", "bytes=0-9")
		got := v.signRequest(req, emptySHA256, when)
		want := "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
		if got != want {
			t.Errorf("signature %s, want %s", got, want)
		}
	})

	t.Run("presigned GET", func(t *testing.T) {
		u := v.presign("GET", "https://examplebucket.s3.amazonaws.com/test.txt", when, 86400)
		want := "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
		if !strings.HasSuffix(u, want) {
			t.Errorf("presigned URL %s, want it to end in %s", u, want)
		}
	})

	t.Run("chunked PUT", func(t *testing.T) {
		req, _ := http.NewRequest("PUT", "https://s3.amazonaws.com/examplebucket/chunkObject.txt", nil)
		req.Header.Set("X-Amz-Storage-Class", "REDUCED_REDUNDANCY")
		req.Header.Set("Content-Encoding", "aws-chunked")
		req.Header.Set("X-Amz-Decoded-Content-Length", "66560")
		req.Header.Set("Content-Length", "66824")
		seed := v.signRequest(req, streamingPayload, when)
		if want := "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"; seed != want {
			t.Fatalf("seed signature %s, want %s", seed, want)
		}
		body := v.encodeChunks(seed, when, chunkSpec{data: bytes.Repeat([]byte("a"), 66560), chunkSize: 65536, badChunk: -1})
		if len(body) != 66824 {
			t.Errorf("encoded length %d, want 66824", len(body))
		}
		for _, sig := range []string{
			"ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
			"0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
			"b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
		} {
			if !bytes.Contains(body, []byte("chunk-signature="+sig)) {
				t.Errorf("chunk signature %s missing", sig)
			}
		}
	})
}
