package sigv4

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/strata-storage/strata/s3api/s3err"
)

// The credentials and time of AWS's documented SigV4 examples for S3.
const (
	exampleKey    = "AKIAIOSFODNN7EXAMPLE"
	exampleSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	exampleScope  = "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"
)

var exampleTime = time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)

func verifierAt(t time.Time) *Verifier {
	return &Verifier{
		Lookup: func(ak string) (string, bool) {
			switch ak {
			case exampleKey:
				return exampleSecret, true
			case "other":
				return "other-secret", true
			}
			return "", false
		},
		Now: func() time.Time { return t },
	}
}

// request builds a request as Go's server hands it to a handler: Host out
// of the header map, headers in the given order.
func request(method, target, host string, body string, headers ...string) *http.Request {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Host = host
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

func authHeader(signed, sig string) string {
	return "AWS4-HMAC-SHA256 Credential=" + exampleScope + ",SignedHeaders=" + signed + ",Signature=" + sig
}

// isErr reports whether err is the S3 error with code (and message, when
// not "").
func isErr(err error, code string) bool {
	var e *s3err.APIError
	return errors.As(err, &e) && e.Code == code
}

// errMessage is the message of the S3 error err, "" if it is none.
func errMessage(err error) string {
	var e *s3err.APIError
	if errors.As(err, &e) {
		return e.Message
	}
	return ""
}

// errFields are the extra elements of the S3 error err, by name.
func errFields(err error) map[string]string {
	m := map[string]string{}
	var d *s3err.DetailedError
	if errors.As(err, &d) {
		for _, f := range d.Fields {
			m[f.Name] = f.Value
		}
	}
	return m
}

func readAll(t *testing.T, res *Result) ([]byte, error) {
	t.Helper()
	return io.ReadAll(res.Body)
}

// AWS's examples in "Signature Calculations for the Authorization Header:
// Transferring Payload in a Single Chunk".
func awsHeaderExamples() []struct {
	name string
	r    func() *http.Request
	body string
} {
	const emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	return []struct {
		name string
		r    func() *http.Request
		body string
	}{
		{"GET object with Range", func() *http.Request {
			return request("GET", "/test.txt", "examplebucket.s3.amazonaws.com", "",
				"Authorization", authHeader("host;range;x-amz-content-sha256;x-amz-date", "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
				"Range", "bytes=0-9",
				"x-amz-content-sha256", emptyHash,
				"x-amz-date", "20130524T000000Z")
		}, ""},
		{"PUT object", func() *http.Request {
			return request("PUT", "/test$file.text", "examplebucket.s3.amazonaws.com", "Welcome to Amazon S3.",
				"Date", "Fri, 24 May 2013 00:00:00 GMT",
				"Authorization", authHeader("date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class", "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"),
				"x-amz-date", "20130524T000000Z",
				"x-amz-storage-class", "REDUCED_REDUNDANCY",
				"x-amz-content-sha256", "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
		}, "Welcome to Amazon S3."},
		{"PUT object, $ sent escaped", func() *http.Request {
			return request("PUT", "/test%24file.text", "examplebucket.s3.amazonaws.com", "Welcome to Amazon S3.",
				"Date", "Fri, 24 May 2013 00:00:00 GMT",
				"Authorization", authHeader("date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class", "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"),
				"x-amz-date", "20130524T000000Z",
				"x-amz-storage-class", "REDUCED_REDUNDANCY",
				"x-amz-content-sha256", "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
		}, "Welcome to Amazon S3."},
		{"GET bucket lifecycle", func() *http.Request {
			return request("GET", "/?lifecycle", "examplebucket.s3.amazonaws.com", "",
				"Authorization", authHeader("host;x-amz-content-sha256;x-amz-date", "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
				"x-amz-date", "20130524T000000Z",
				"x-amz-content-sha256", emptyHash)
		}, ""},
		{"list objects", func() *http.Request {
			return request("GET", "/?max-keys=2&prefix=J", "examplebucket.s3.amazonaws.com", "",
				"Authorization", authHeader("host;x-amz-content-sha256;x-amz-date", "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
				"x-amz-date", "20130524T000000Z",
				"x-amz-content-sha256", emptyHash)
		}, ""},
		{"list objects, parameters in another order", func() *http.Request {
			return request("GET", "/?prefix=J&max-keys=2", "examplebucket.s3.amazonaws.com", "",
				"Authorization", "AWS4-HMAC-SHA256 Credential="+exampleScope+", SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
				"x-amz-date", "20130524T000000Z",
				"x-amz-content-sha256", emptyHash)
		}, ""},
	}
}

func TestAWSHeaderExamples(t *testing.T) {
	v := verifierAt(exampleTime.Add(5 * time.Minute))
	for _, tc := range awsHeaderExamples() {
		t.Run(tc.name, func(t *testing.T) {
			res, err := v.Verify(tc.r())
			if err != nil {
				t.Fatal(err)
			}
			if res.AccessKey != exampleKey || res.Anonymous {
				t.Fatalf("result %+v", res)
			}
			got, err := readAll(t, res)
			if err != nil || string(got) != tc.body {
				t.Fatalf("body %q, %v", got, err)
			}
			if len(res.Trailer()) != 0 {
				t.Fatal("trailer on a plain request")
			}
		})
	}
}

func TestAWSHeaderExamplesTampered(t *testing.T) {
	for _, tc := range awsHeaderExamples() {
		t.Run(tc.name, func(t *testing.T) {
			cases := []struct {
				name   string
				change func(*http.Request)
				v      *Verifier
				code   string
			}{
				{"signed header changed", func(r *http.Request) { r.Header.Set("X-Amz-Date", "20130524T000001Z") }, nil, "SignatureDoesNotMatch"},
				{"host changed", func(r *http.Request) { r.Host = "otherbucket.s3.amazonaws.com" }, nil, "SignatureDoesNotMatch"},
				{"method changed", func(r *http.Request) { r.Method = "DELETE" }, nil, "SignatureDoesNotMatch"},
				{"path changed", func(r *http.Request) { r.URL.Path += "x"; r.URL.RawPath = "" }, nil, "SignatureDoesNotMatch"},
				{"query added", func(r *http.Request) { r.URL.RawQuery += "&versionId=1" }, nil, "SignatureDoesNotMatch"},
				{"signature changed", func(r *http.Request) {
					a := r.Header.Get("Authorization")
					r.Header.Set("Authorization", a[:len(a)-1]+"0")
				}, nil, "SignatureDoesNotMatch"},
				{"unsigned x-amz header added", func(r *http.Request) { r.Header.Set("X-Amz-Acl", "public-read") }, nil, "AccessDenied"},
				{"wrong secret", func(*http.Request) {}, &Verifier{Lookup: func(string) (string, bool) { return "wrong", true }, Now: func() time.Time { return exampleTime }}, "SignatureDoesNotMatch"},
				{"unknown key", func(*http.Request) {}, &Verifier{Lookup: func(string) (string, bool) { return "", false }, Now: func() time.Time { return exampleTime }}, "InvalidAccessKeyId"},
				{"skewed ahead", func(*http.Request) {}, verifierAt(exampleTime.Add(16 * time.Minute)), "RequestTimeTooSkewed"},
				{"skewed behind", func(*http.Request) {}, verifierAt(exampleTime.Add(-16 * time.Minute)), "RequestTimeTooSkewed"},
				{"no x-amz-content-sha256", func(r *http.Request) { r.Header.Del("X-Amz-Content-Sha256") }, nil, "InvalidRequest"},
				{"no date", func(r *http.Request) { r.Header.Del("X-Amz-Date"); r.Header.Del("Date") }, nil, "AccessDenied"},
				{"presigned too", func(r *http.Request) { r.URL.RawQuery = "X-Amz-Signature=00" }, nil, "InvalidArgument"},
			}
			for _, c := range cases {
				r := tc.r()
				c.change(r)
				v := c.v
				if v == nil {
					v = verifierAt(exampleTime)
				}
				if _, err := v.Verify(r); !isErr(err, c.code) {
					t.Errorf("%s: got %v, want %s", c.name, err, c.code)
				}
			}
		})
	}
}

func TestPutObjectPayloadHash(t *testing.T) {
	v := verifierAt(exampleTime)
	r := awsHeaderExamples()[1].r()
	r.Body = io.NopCloser(strings.NewReader("Welcome to Amazon S3!"))
	res, err := v.Verify(r)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := io.ReadFull(res.Body, buf)
	if !isErr(err, "XAmzContentSHA256Mismatch") {
		t.Fatalf("read %d bytes, %v; want XAmzContentSHA256Mismatch", n, err)
	}
	if _, err := res.Body.Read(buf); !isErr(err, "XAmzContentSHA256Mismatch") {
		t.Fatalf("error is not sticky: %v", err)
	}
}

// AWS's example in "Authenticating Requests: Using Query Parameters".
const examplePresigned = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"

func TestAWSPresignedExample(t *testing.T) {
	const expiresTooLong = "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds"
	cases := []struct {
		name   string
		now    time.Time
		target string
		change func(*http.Request)
		code   string
		msg    string
	}{
		{"valid", exampleTime.Add(time.Hour), examplePresigned, nil, "", ""},
		{"valid at the last second", exampleTime.Add(24 * time.Hour), examplePresigned, nil, "", ""},
		{"expired", exampleTime.Add(24*time.Hour + time.Second), examplePresigned, nil, "AccessDenied", "Request has expired"},
		{"not yet valid", exampleTime.Add(-16 * time.Minute), examplePresigned, nil, "AccessDenied", "Request is not valid yet"},
		{"within skew", exampleTime.Add(-14 * time.Minute), examplePresigned, nil, "", ""},
		{"expires too long", exampleTime, strings.Replace(examplePresigned, "Expires=86400", "Expires=604801", 1), nil, "AuthorizationQueryParametersError", expiresTooLong},
		{"expires negative", exampleTime, strings.Replace(examplePresigned, "Expires=86400", "Expires=-5", 1), nil, "AuthorizationQueryParametersError", "X-Amz-Expires must be non-negative"},
		{"expires zero", exampleTime, strings.Replace(examplePresigned, "Expires=86400", "Expires=0", 1), nil, "AuthorizationQueryParametersError", expiresTooLong},
		{"expires not a number", exampleTime, strings.Replace(examplePresigned, "Expires=86400", "Expires=-1", 1), nil, "AuthorizationQueryParametersError", ""},
		{"expires changed", exampleTime, strings.Replace(examplePresigned, "Expires=86400", "Expires=86401", 1), nil, "SignatureDoesNotMatch", ""},
		{"bad signature", exampleTime, strings.Replace(examplePresigned, "d404", "d405", 1), nil, "SignatureDoesNotMatch", ""},
		{"param added", exampleTime, examplePresigned + "&x-id=GetObject", nil, "SignatureDoesNotMatch", ""},
		{"missing param", exampleTime, strings.Replace(examplePresigned, "&X-Amz-SignedHeaders=host", "", 1), nil, "AuthorizationQueryParametersError", ""},
		{"duplicate param", exampleTime, examplePresigned + "&X-Amz-Date=20130524T000000Z", nil, "AuthorizationQueryParametersError", ""},
		{"other algorithm", exampleTime, strings.Replace(examplePresigned, "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512", 1), nil, "AuthorizationQueryParametersError", ""},
		{"bad credential", exampleTime, strings.Replace(examplePresigned, "%2Fs3%2F", "%2Fec2%2F", 1), nil, "AuthorizationQueryParametersError", ""},
		{"credential date differs", exampleTime, strings.Replace(examplePresigned, "X-Amz-Date=20130524", "X-Amz-Date=20130523", 1), nil, "AuthorizationQueryParametersError", `Invalid credential date "20130524". This date is not the same as X-Amz-Date: "20130523".`},
		{"security token", exampleTime, examplePresigned + "&X-Amz-Security-Token=tok", nil, "InvalidToken", "The provided token is malformed or otherwise invalid."},
		{"unsigned x-amz header", exampleTime, examplePresigned, func(r *http.Request) { r.Header.Set("X-Amz-Copy-Source", "a/b") }, "AccessDenied", "There were headers present in the request which were not signed"},
		{"host changed", exampleTime, examplePresigned, func(r *http.Request) { r.Host = "evil.s3.amazonaws.com" }, "SignatureDoesNotMatch", ""},
		{"with authorization header", exampleTime, examplePresigned, func(r *http.Request) { r.Header.Set("Authorization", authHeader("host", "00")) }, "InvalidArgument", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := request("GET", c.target, "examplebucket.s3.amazonaws.com", "")
			if c.change != nil {
				c.change(r)
			}
			res, err := verifierAt(c.now).Verify(r)
			if c.code == "" {
				if err != nil || res.AccessKey != exampleKey {
					t.Fatalf("got %v, %v", res, err)
				}
				return
			}
			if !isErr(err, c.code) {
				t.Fatalf("got %v, want %s", err, c.code)
			}
			if c.msg != "" && errMessage(err) != c.msg {
				t.Fatalf("message %q, want %q", errMessage(err), c.msg)
			}
		})
	}
}

func TestAnonymousAndOtherSchemes(t *testing.T) {
	v := verifierAt(exampleTime)
	res, err := v.Verify(request("PUT", "/b/k", "h", "data"))
	if err != nil || !res.Anonymous || res.AccessKey != "" || res.Size != 4 {
		t.Fatalf("anonymous: %+v, %v", res, err)
	}
	if b, _ := io.ReadAll(res.Body); string(b) != "data" {
		t.Fatalf("anonymous body %q", b)
	}
	for _, c := range []struct {
		name string
		r    *http.Request
		code string
	}{
		{"V2 header", request("GET", "/b/k", "h", "", "Authorization", "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg="), "InvalidRequest"},
		{"V2 query", request("GET", "/b/k?AWSAccessKeyId=AK&Expires=1&Signature=x", "h", ""), "InvalidRequest"},
		{"V4A", request("GET", "/b/k", "h", "", "Authorization", "AWS4-ECDSA-P256-SHA256 Credential=x"), "InvalidRequest"},
		{"unknown scheme", request("GET", "/b/k", "h", "", "Authorization", "Bearer x"), "InvalidArgument"},
		{"two Authorization headers", request("GET", "/b/k", "h", "", "Authorization", authHeader("host", "00"), "Authorization", authHeader("host", "00")), "InvalidArgument"},
		{"algorithm only", request("GET", "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256", "h", ""), "AuthorizationQueryParametersError"},
	} {
		if _, err := v.Verify(c.r); !isErr(err, c.code) {
			t.Errorf("%s: got %v, want %s", c.name, err, c.code)
		}
	}
	if _, err := v.Verify(request("GET", "/b/k", "h", "", "Authorization", "AWS a:b")); err != s3err.ErrUnsupportedSignature {
		t.Errorf("V2: got %v", err)
	}
}

func TestParseAuthorization(t *testing.T) {
	const cred = "Credential=AK/20130524/eu-west-3/s3/aws4_request"
	ok := []string{
		"AWS4-HMAC-SHA256 " + cred + ",SignedHeaders=host;x-amz-date,Signature=ABCdef",
		"AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host;x-amz-date, Signature=abcdef",
		"AWS4-HMAC-SHA256 " + cred + " SignedHeaders=host;x-amz-date Signature=abcdef",
		"AWS4-HMAC-SHA256  Signature=abcdef,  SignedHeaders=host;x-amz-date , " + cred + " ",
		"AWS4-HMAC-SHA256\t" + cred + ",\tSignedHeaders=Host;X-Amz-Date,\tSignature=abcdef",
	}
	for _, h := range ok {
		a, err := parseAuthorization(h)
		if err != nil {
			t.Errorf("%q: %v", h, err)
			continue
		}
		if a.cred != (credential{"AK", "20130524", "eu-west-3"}) || strings.Join(a.signedHeaders, ";") != "host;x-amz-date" || a.signature != "abcdef" {
			t.Errorf("%q: %+v", h, a)
		}
	}
	a, err := parseAuthorization("AWS4-HMAC-SHA256 Credential=a/b/c/20130524/r/s3/aws4_request,SignedHeaders=host,Signature=00")
	if err != nil || a.cred.accessKey != "a/b/c" {
		t.Errorf("slashes in the access key: %+v, %v", a, err)
	}
	bad := []string{
		"",
		"AWS4-HMAC-SHA256",
		"AWS4-HMAC-SHA256x " + cred + ",SignedHeaders=host,Signature=00",
		"AWS4-HMAC-SHA256 " + cred + ",SignedHeaders=host",
		"AWS4-HMAC-SHA256 " + cred + ",SignedHeaders=host,Signature=00,Signature=00",
		"AWS4-HMAC-SHA256 " + cred + ",SignedHeaders=host,Signature=",
		"AWS4-HMAC-SHA256 " + cred + ",SignedHeaders=host,Signature=00,Foo=bar",
		"AWS4-HMAC-SHA256 " + cred + ",SignedHeaders=host;;date,Signature=00",
		"AWS4-HMAC-SHA256 " + cred + ",SignedHeaders,Signature=00",
		"AWS4-HMAC-SHA256 Credential=AK/20130524/eu-west-3/ec2/aws4_request,SignedHeaders=host,Signature=00",
		"AWS4-HMAC-SHA256 Credential=AK/2013052/eu-west-3/s3/aws4_request,SignedHeaders=host,Signature=00",
		"AWS4-HMAC-SHA256 Credential=AK/20131324/eu-west-3/s3/aws4_request,SignedHeaders=host,Signature=00",
		"AWS4-HMAC-SHA256 Credential=AK/20130524//s3/aws4_request,SignedHeaders=host,Signature=00",
		"AWS4-HMAC-SHA256 Credential=/20130524/r/s3/aws4_request,SignedHeaders=host,Signature=00",
		"AWS4-HMAC-SHA256 Credential=AK/20130524/r/s3/aws4,SignedHeaders=host,Signature=00",
		"AWS4-HMAC-SHA256 Credential=20130524/r/s3/aws4_request,SignedHeaders=host,Signature=00",
	}
	for _, h := range bad {
		if _, err := parseAuthorization(h); !isErr(err, "AuthorizationHeaderMalformed") {
			t.Errorf("%q: got %v", h, err)
		}
	}
	// AWS's words for what is wrong (as versitygw's tests, written
	// against S3, check them).
	const three = "The authorization header is malformed; the authorization header requires three components: Credential, SignedHeaders, and Signature."
	for h, msg := range map[string]string{
		"AWS4-HMAC-SHA256 " + cred + ",SignedHeaders=host":                                                    three,
		"AWS4-HMAC-SHA256 SignedHeaders=host,Signature=00":                                                    three,
		"AWS4-HMAC-SHA256 " + cred + ",SignedHeaders=host,Signature=00,Signature=00":                          three,
		"AWS4-HMAC-SHA256 missing_creds=AK/20130524/r/s3/aws4_request,SignedHeaders=host,Signature=00":        "The authorization header is malformed; missing Credential.",
		"AWS4-HMAC-SHA256 " + cred + ",missing=host,Signature=00":                                             "The authorization header is malformed; missing SignedHeaders.",
		"AWS4-HMAC-SHA256 " + cred + ",SignedHeaders=host,missing=00":                                         "The authorization header is malformed; missing Signature.",
		"AWS4-HMAC-SHA256 " + cred + ",SignedHeaders=host,Signature":                                          `The authorization header is malformed; the authorization component "Signature" is malformed.`,
		"AWS4-HMAC-SHA256 Credential=access/32234/us-east-1/s3/extra/things,SignedHeaders=host,Signature=00":  `The authorization header is malformed; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`,
		"AWS4-HMAC-SHA256 Credential=access/32234/us-east-1/ec2/aws4_request,SignedHeaders=host,Signature=00": `The authorization header is malformed; incorrect service "ec2". This endpoint belongs to "s3".`,
		"AWS4-HMAC-SHA256 Credential=access/32234/us-east-1/s3/things,SignedHeaders=host,Signature=00":        `The authorization header is malformed; incorrect terminal "things". This endpoint uses "aws4_request".`,
		"AWS4-HMAC-SHA256 Credential=AK/20130524/eu-west-3/ec2/aws4_request,SignedHeaders=host,Signature=00":  `The authorization header is malformed; incorrect service "ec2". This endpoint belongs to "s3".`,
		"AWS4-HMAC-SHA256 Credential=AK/2013052/eu-west-3/s3/aws4_request,SignedHeaders=host,Signature=00":    `The authorization header is malformed; incorrect date format "2013052". This date in the credential must be in the format "yyyyMMdd".`,
		"AWS4-HMAC-SHA256 Credential=AK/20130524/r/s3/aws4,SignedHeaders=host,Signature=00":                   `The authorization header is malformed; incorrect terminal "aws4". This endpoint uses "aws4_request".`,
	} {
		_, err := parseAuthorization(h)
		if ae, ok := err.(*s3err.APIError); !ok || ae.Message != msg {
			t.Errorf("%q:\n got %v\nwant %s", h, err, msg)
		}
	}
}

func TestCredentialDateMustMatch(t *testing.T) {
	r := awsHeaderExamples()[0].r()
	r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "20130524", "20130523", 1))
	if _, err := verifierAt(exampleTime).Verify(r); !isErr(err, "AuthorizationHeaderMalformed") {
		t.Fatalf("got %v", err)
	}
}

func TestCanonicalURI(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"/test$file.text", "/test%24file.text"},
		{"/test%24file.text", "/test%24file.text"},
		{"/a b/c", "/a%20b/c"},
		{"/a%20b/c", "/a%20b/c"},
		{"/a+b", "/a%2Bb"},
		{"/a%2fb", "/a%2Fb"},
		{"/a//b/./../c", "/a//b/./../c"},
		{"/~-._AZaz09", "/~-._AZaz09"},
		{"/%E2%82%AC", "/%E2%82%AC"},
		{"/€", "/%E2%82%AC"},
		{"/%e2%82%ac", "/%E2%82%AC"},
		{"/100%", "/100%25"},
		{"/a=b&c", "/a%3Db%26c"},
	} {
		if got := canonicalURI(c.in); got != c.want {
			t.Errorf("canonicalURI(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestCanonicalQuery(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"lifecycle", "lifecycle="},
		{"prefix=J&max-keys=2", "max-keys=2&prefix=J"},
		{"b=2&a=2&a=1", "a=1&a=2&b=2"},
		{"prefix=a%20b&delimiter=%2F", "delimiter=%2F&prefix=a%20b"},
		{"prefix=a+b", "prefix=a%20b"},
		{"prefix=a%2Bb", "prefix=a%2Bb"},
		{"k=~v*", "k=~v%2A"},
		{"a&&b=", "a=&b="},
		{"X-Amz-Signature=1&x=2", "X-Amz-Signature=1&x=2"},
	} {
		if got := canonicalQuery(c.in, false); got != c.want {
			t.Errorf("canonicalQuery(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := canonicalQuery("X-Amz-Signature=1&x=2", true); got != "x=2" {
		t.Errorf("presigned: %q", got)
	}
}

func TestTrimAll(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"  a   b  c ", "a b c"},
		{"a b", "a b"},
		{"\ta\t", "a"},
	} {
		if got := trimAll(c.in); got != c.want {
			t.Errorf("trimAll(%q) = %q", c.in, got)
		}
	}
}

func TestSigningKey(t *testing.T) {
	// The signing key of AWS's POST example (20151229, us-east-1).
	got := SigningKey(exampleSecret, "20151229", "us-east-1", "s3")
	want := "cbcef1ebeaefc82cce6530b9f0a9ae598846065f5c5bae0674bd5ebc4ba52d28"
	if h := hexString(got); h != want {
		t.Fatalf("SigningKey = %s, want %s", h, want)
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	var s strings.Builder
	for _, c := range b {
		s.WriteByte(digits[c>>4])
		s.WriteByte(digits[c&15])
	}
	return s.String()
}

// TestRealServer signs requests on the client side and verifies them in a
// handler of a real net/http server, which moves Host, Content-Length and
// Transfer-Encoding out of the header map.
func TestRealServer(t *testing.T) {
	now := time.Now()
	v := &Verifier{Lookup: func(ak string) (string, bool) { return "secret/" + ak, ak == "AK" }}
	type outcome struct {
		res  *Result
		body []byte
		err  error
	}
	got := make(chan outcome, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := v.Verify(r)
		var body []byte
		if err == nil {
			body, err = io.ReadAll(res.Body)
		}
		got <- outcome{res, body, err}
	}))
	defer srv.Close()

	payload := "hello, world"
	cases := []struct {
		name    string
		method  string
		path    string
		body    io.Reader
		hash    string
		headers map[string]string
		presign bool
		chunked bool
	}{
		{name: "GET", method: "GET", path: "/bucket/key"},
		{name: "odd key", method: "GET", path: "/bucket/a%20b+c~d%2Fe/%C3%BC%21%2A%27%28%29?prefix=a%20b&delimiter=%2F&x=%E2%82%AC&empty"},
		{name: "PUT with hash", method: "PUT", path: "/bucket/key", body: strings.NewReader(payload), hash: sha256Hex(payload),
			headers: map[string]string{"Content-Type": "text/plain", "X-Amz-Meta-A": "  spaced   value ", "Content-Length": "12"}},
		{name: "PUT chunked transfer", method: "PUT", path: "/bucket/key", body: io.MultiReader(strings.NewReader(payload)), hash: UnsignedPayload, chunked: true},
		{name: "presigned", method: "GET", path: "/bucket/key?versionId=3", presign: true},
		{name: "presigned PUT", method: "PUT", path: "/bucket/key", body: strings.NewReader(payload), presign: true,
			headers: map[string]string{"X-Amz-Acl": "private"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := http.NewRequest(c.method, srv.URL+c.path, c.body)
			if err != nil {
				t.Fatal(err)
			}
			for k, val := range c.headers {
				r.Header.Set(k, val)
			}
			if c.chunked {
				r.ContentLength = -1
				r.TransferEncoding = []string{"chunked"}
				r.Header.Set("Transfer-Encoding", "chunked")
			}
			if c.presign {
				Presign(r, "AK", "secret/AK", "us-west-2", now, time.Minute)
			} else {
				SignRequest(r, "AK", "secret/AK", "eu-central-1", c.hash, now)
			}
			r.Header.Del("Transfer-Encoding")
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			o := <-got
			if o.err != nil {
				t.Fatal(o.err)
			}
			if o.res.AccessKey != "AK" {
				t.Fatalf("access key %q", o.res.AccessKey)
			}
			if c.body != nil && string(o.body) != payload {
				t.Fatalf("body %q", o.body)
			}
		})
	}
}

func TestPayloadHashValues(t *testing.T) {
	for _, h := range []string{"", "abc", strings.Repeat("g", 64), "STREAMING-FOO"} {
		if _, err := parsePayloadHash(h); !isErr(err, "InvalidArgument") {
			t.Errorf("%q: %v", h, err)
		}
	}
	if _, err := parsePayloadHash(strings.ToUpper(emptySHA256)); err != nil {
		t.Error(err)
	}
}

func TestSHA256ReaderShortReads(t *testing.T) {
	body := bytes.Repeat([]byte("xyz"), 1000)
	sum := sha256.Sum256(body)
	r := &sha256Reader{r: iotest.OneByteReader(bytes.NewReader(body)), h: sha256.New(), want: sum[:]}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatal(err)
	}
}

// A Date header stands in for x-amz-date in any HTTP date form, and in
// RFC 1123 with a numeric zone (botocore writes "-0000" when a request
// carries a Date header).
func TestRequestTimeDateForms(t *testing.T) {
	want := time.Date(2026, 11, 26, 1, 9, 42, 0, time.UTC)
	for _, d := range []string{
		"Thu, 26 Nov 2026 01:09:42 GMT",
		"Thu, 26 Nov 2026 01:09:42 -0000",
		"Thu, 26 Nov 2026 02:09:42 +0100",
		"Thursday, 26-Nov-26 01:09:42 GMT",
		"Thu Nov 26 01:09:42 2026",
	} {
		r := httptest.NewRequest("PUT", "/b/k", nil)
		r.Header.Set("Date", d)
		if got, err := requestTime(r); err != nil || !got.Equal(want) {
			t.Errorf("Date %q: %v, %v", d, got, err)
		}
	}
	r := httptest.NewRequest("PUT", "/b/k", nil)
	r.Header.Set("Date", "26 Nov 2026")
	if _, err := requestTime(r); err == nil {
		t.Error("a malformed Date accepted")
	}
}
