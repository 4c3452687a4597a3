package sigv4

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go/encoding/httpbinding"
)

// TestAWSSDKSigner signs random requests with aws-sdk-go-v2's SigV4 signer,
// configured as its S3 client configures it, sends them to a real server
// and verifies them there: header-signed and presigned.
func TestAWSSDKSigner(t *testing.T) {
	creds := aws.Credentials{AccessKeyID: "AKSDK", SecretAccessKey: "sdk/secret+key"}
	v := &Verifier{Lookup: func(ak string) (string, bool) { return creds.SecretAccessKey, ak == creds.AccessKeyID }}
	type outcome struct {
		body string
		err  error
	}
	got := make(chan outcome, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := v.Verify(r)
		var body []byte
		if err == nil {
			body, err = io.ReadAll(res.Body)
		}
		got <- outcome{string(body), err}
	}))
	defer srv.Close()

	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	rng := rand.New(rand.NewPCG(7, 8))
	const chars = "abcXYZ019 -_.~!$&'()*+,;=:@/%?#[]\"<>^`{|}éü€\t"
	randString := func(n int) string {
		r := []rune(chars)
		var b strings.Builder
		for range n {
			b.WriteRune(r[rng.IntN(len(r))])
		}
		return b.String()
	}
	for i := range 200 {
		key := randString(1 + rng.IntN(20))
		q := url.Values{}
		for range rng.IntN(4) {
			q.Add(randString(1+rng.IntN(5)), randString(rng.IntN(8)))
		}
		method := []string{"GET", "PUT", "POST", "DELETE", "HEAD"}[rng.IntN(5)]
		u := srv.URL + "/bucket/" + httpbinding.EscapePath(key, false)
		if len(q) > 0 {
			u += "?" + strings.ReplaceAll(q.Encode(), "+", "%20")
		}
		body := ""
		if method == "PUT" || method == "POST" {
			body = randString(rng.IntN(100))
		}
		r, err := http.NewRequest(method, u, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if rng.IntN(2) == 0 {
			r.Header.Set("X-Amz-Meta-Note", "  a  b   c ")
			r.Header.Set("Content-Type", "text/plain; charset=utf-8")
		}
		if rng.IntN(3) == 0 {
			r.Header.Set("X-Amz-Acl", "private")
		}
		now := time.Now().UTC()
		presign := i%3 == 0
		if presign {
			q := r.URL.Query()
			q.Set("X-Amz-Expires", strconv.Itoa(1+rng.IntN(maxExpires)))
			r.URL.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
			signed, headers, err := signer.PresignHTTP(context.Background(), creds, r, UnsignedPayload, "s3", "eu-west-1", now)
			if err != nil {
				t.Fatal(err)
			}
			r2, err := http.NewRequest(method, signed, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			for k, vs := range headers {
				if !strings.EqualFold(k, "Host") {
					r2.Header[k] = vs
				}
			}
			r = r2
		} else {
			hash := UnsignedPayload
			if rng.IntN(2) == 0 {
				hash = sha256Hex(body)
			}
			r.Header.Set("X-Amz-Content-Sha256", hash)
			if err := signer.SignHTTP(context.Background(), creds, r, hash, "s3", "ap-south-2", now); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		o := <-got
		if o.err != nil {
			t.Fatalf("%s %s (presigned %v): %v", method, r.URL, presign, o.err)
		}
		if o.body != body && method != "HEAD" {
			t.Fatalf("body %q, want %q", o.body, body)
		}
	}
}
