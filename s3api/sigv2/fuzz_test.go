package sigv2

import (
	"strings"
	"testing"
)

// FuzzParseV2Header checks that the Authorization header parser never
// panics, accepts only "AWS key:signature" with two clean tokens, and
// that what it accepts reads back the same when written out again.
func FuzzParseV2Header(f *testing.F) {
	for _, s := range []string{
		"AWS AKIAIOSFODNN7EXAMPLE:bWq2s1WEIj+Ydj0vQ697zp+IXMU=",
		"AWS AKIAIOSFODNN7EXAMPLE: qgk2+6Sv9/oM7G3qLEjTH1a1l1g=",
		"  AWS\tak : sig  ",
		"AWS ak:",
		"AWS :sig",
		"AWS ak",
		"AWS",
		"AWS ",
		"AWSak:sig",
		"AWS ak:sig:more",
		"AWS a k:sig",
		"AWS4-HMAC-SHA256 Credential=ak/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=abc",
		"AWS ak\x00:sig",
		"AWS ак:подпись",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		ak, sig, err := ParseHeader(h)
		if err != nil {
			if ak != "" || sig != "" {
				t.Fatalf("ParseHeader(%q) = %q, %q with error %v", h, ak, sig, err)
			}
			return
		}
		if !validToken(ak) || !validToken(sig) {
			t.Fatalf("ParseHeader(%q) accepted %q, %q", h, ak, sig)
		}
		if !strings.HasPrefix(strings.TrimSpace(h), "AWS") {
			t.Fatalf("ParseHeader(%q) accepted a header without the AWS scheme", h)
		}
		ak2, sig2, err := ParseHeader("AWS " + ak + ":" + sig)
		if err != nil || ak2 != ak || sig2 != sig {
			t.Fatalf("round trip of %q: %q, %q, %v", h, ak2, sig2, err)
		}
	})
}
