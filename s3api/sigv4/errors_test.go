package sigv4

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// sdkSigned is a request to PUT /b/k signed in its header by aws-sdk-go-v2
// at exampleTime with the example credentials (or accessKey, when not "").
// before changes the request before it is signed, after once it is.
func sdkSigned(t *testing.T, accessKey, payloadHash, body string, before, after func(*http.Request)) *http.Request {
	t.Helper()
	r := request("PUT", "/b/k", "h", body)
	r.Header.Set("X-Amz-Content-Sha256", payloadHash)
	if before != nil {
		before(r)
	}
	ak := exampleKey
	if accessKey != "" {
		ak = accessKey
	}
	creds := aws.Credentials{AccessKeyID: ak, SecretAccessKey: exampleSecret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, payloadHash, "s3", "us-east-1", exampleTime); err != nil {
		t.Fatal(err)
	}
	if after != nil {
		after(r)
	}
	return r
}

// TestErrorElements checks the code, message and extra body elements of
// the errors S3 gives them for, as versitygw's tests (written against S3)
// check them.
func TestErrorElements(t *testing.T) {
	const emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	setHeader := func(k, v string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set(k, v) }
	}
	cases := []struct {
		name   string
		r      func(t *testing.T) *http.Request
		code   string
		msg    string // "" to skip
		fields map[string]string
	}{
		{"Authorization without a space", func(*testing.T) *http.Request {
			return request("GET", "/b/k", "h", "", "Authorization", "invalid_header")
		}, "InvalidArgument", "Authorization header is invalid -- one and only one ' ' (space) required.",
			map[string]string{"ArgumentName": "Authorization", "ArgumentValue": "invalid_header"}},
		{"unsupported mechanism", func(t *testing.T) *http.Request {
			return sdkSigned(t, "", emptyHash, "", nil, func(r *http.Request) {
				r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256", "AWS2-HMAC-SHA1", 1))
			})
		}, "InvalidArgument", "Unsupported Authorization Type",
			map[string]string{"ArgumentName": "Authorization", "ArgumentValue": "AWS2-HMAC-SHA1"}},
		{"unknown access key", func(t *testing.T) *http.Request {
			return sdkSigned(t, "no_such_key", emptyHash, "", nil, nil)
		}, "InvalidAccessKeyId", "", map[string]string{"AWSAccessKeyId": "no_such_key"}},
		{"unknown access key, presigned", func(*testing.T) *http.Request {
			return request("GET", strings.Replace(examplePresigned, "AKIAIOSFODNN7EXAMPLE", "no_such_key", 1), "h", "")
		}, "InvalidAccessKeyId", "", map[string]string{"AWSAccessKeyId": "no_such_key"}},
		{"headers not signed", func(t *testing.T) *http.Request {
			return sdkSigned(t, "", emptyHash, "", nil, func(r *http.Request) {
				r.Header.Set("X-Amz-Tagging", "a=b")
				r.Header.Set("X-Amz-Copy-Source", "sb/sk")
			})
		}, "AccessDenied", "There were headers present in the request which were not signed",
			map[string]string{"HeadersNotSigned": "x-amz-copy-source, x-amz-tagging"}},
		{"headers not signed, presigned", func(*testing.T) *http.Request {
			return request("GET", examplePresigned, "examplebucket.s3.amazonaws.com", "", "X-Amz-Copy-Source", "sb/sk", "X-Amz-Tagging", "a=b")
		}, "AccessDenied", "", map[string]string{"HeadersNotSigned": "x-amz-copy-source, x-amz-tagging"}},
		{"payload hash not valid", func(t *testing.T) *http.Request {
			return sdkSigned(t, "", "invalid_sha256", "", nil, nil)
		}, "InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER or a valid sha256 value.",
			map[string]string{"ArgumentName": "x-amz-content-sha256", "ArgumentValue": "invalid_sha256"}},
		{"session token with long-term keys", func(t *testing.T) *http.Request {
			return sdkSigned(t, "", emptyHash, "", setHeader("X-Amz-Security-Token", "tok"), nil)
		}, "InvalidToken", "The provided token is malformed or otherwise invalid.", nil},
		{"signature mismatch, signed header changed", func(t *testing.T) *http.Request {
			return sdkSigned(t, "", emptyHash, "", setHeader("X-Amz-Meta-A", "b"), setHeader("X-Amz-Meta-A", "c"))
		}, "SignatureDoesNotMatch", "", map[string]string{"AWSAccessKeyId": exampleKey}},
	}
	v := verifierAt(exampleTime)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := v.Verify(c.r(t))
			if !isErr(err, c.code) {
				t.Fatalf("got %v, want %s", err, c.code)
			}
			if c.msg != "" && errMessage(err) != c.msg {
				t.Errorf("message %q, want %q", errMessage(err), c.msg)
			}
			got := errFields(err)
			for k, want := range c.fields {
				if got[k] != want {
					t.Errorf("%s = %q, want %q", k, got[k], want)
				}
			}
		})
	}
}

// A SignatureDoesNotMatch carries what S3's does: the string to sign and
// the canonical request, each also as hex bytes.
func TestSignatureMismatchElements(t *testing.T) {
	r := sdkSigned(t, "", UnsignedPayload, "", nil, func(r *http.Request) { r.URL.Path = "/b/other" })
	_, err := verifierAt(exampleTime).Verify(r)
	f := errFields(err)
	if !isErr(err, "SignatureDoesNotMatch") || f["StringToSign"] == "" || f["CanonicalRequest"] == "" {
		t.Fatalf("got %v, %v", err, f)
	}
	if f["StringToSignBytes"] != hexBytes(f["StringToSign"]) || f["CanonicalRequestBytes"] != hexBytes(f["CanonicalRequest"]) {
		t.Errorf("bytes: %v", f)
	}
	if f["SignatureProvided"] == "" || f["AWSAccessKeyId"] != exampleKey {
		t.Errorf("fields: %v", f)
	}
	if got := hexBytes("AWS\n"); got != "41 57 53 0a" {
		t.Errorf("hexBytes = %q", got)
	}
}

// XAmzContentSHA256Mismatch names both hashes.
func TestSHA256MismatchElements(t *testing.T) {
	const wrong = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b854"
	res, err := verifierAt(exampleTime).Verify(sdkSigned(t, "", wrong, "", nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	_, err = readAll(t, res)
	f := errFields(err)
	if !isErr(err, "XAmzContentSHA256Mismatch") || f["ClientComputedContentSHA256"] != wrong ||
		f["S3ComputedContentSHA256"] != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Fatalf("got %v, %v", err, f)
	}
}
