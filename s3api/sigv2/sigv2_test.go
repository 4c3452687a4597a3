package sigv2

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/strata-storage/strata/s3api/s3err"
)

// The credentials of the examples in AWS's guide.
const (
	exampleKey    = "AKIAIOSFODNN7EXAMPLE"
	exampleSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

func exampleVerifier(now time.Time) *Verifier {
	return &Verifier{
		Lookup: func(ak string) (string, bool) {
			if ak == exampleKey {
				return exampleSecret, true
			}
			return "", false
		},
		Now:     func() time.Time { return now },
		Domains: []string{"s3.amazonaws.com", "s3.us-west-1.amazonaws.com"},
	}
}

func newRequest(method, host, target string, header map[string][]string) *http.Request {
	r := httptest.NewRequest(method, "http://"+host+target, nil)
	r.Host = host
	for k, vs := range header {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	return r
}

// awsExamples are the "Authentication examples" of the S3 developer guide
// (RESTAuthentication). The guide now shows the bucket as
// "awsexamplebucket1" but kept the signatures it computed for the bucket
// "johnsmith" of its first editions, so the requests here use johnsmith:
// with it each StringToSign and signature is the guide's. The first
// example is the guide's introductory one, signed for awsexamplebucket1.
var awsExamples = []struct {
	name   string
	method string
	host   string
	target string
	header map[string][]string
	bucket string // the bucket of a CNAME-style host, which Domains cannot express
	sts    string
	sig    string
}{
	{
		name: "intro GET", method: "GET", host: "awsexamplebucket1.s3.us-west-1.amazonaws.com", target: "/photos/puppy.jpg",
		header: map[string][]string{"Date": {"Tue, 27 Mar 2007 19:36:42 +0000"}},
		sts:    "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/awsexamplebucket1/photos/puppy.jpg",
		sig:    "qgk2+6Sv9/oM7G3qLEjTH1a1l1g=",
	},
	{
		name: "Object GET", method: "GET", host: "johnsmith.s3.amazonaws.com", target: "/photos/puppy.jpg",
		header: map[string][]string{"Date": {"Tue, 27 Mar 2007 19:36:42 +0000"}},
		sts:    "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/johnsmith/photos/puppy.jpg",
		sig:    "bWq2s1WEIj+Ydj0vQ697zp+IXMU=",
	},
	{
		name: "Object PUT", method: "PUT", host: "johnsmith.s3.amazonaws.com", target: "/photos/puppy.jpg",
		header: map[string][]string{"Content-Type": {"image/jpeg"}, "Content-Length": {"94328"}, "Date": {"Tue, 27 Mar 2007 21:15:45 +0000"}},
		sts:    "PUT\n\nimage/jpeg\nTue, 27 Mar 2007 21:15:45 +0000\n/johnsmith/photos/puppy.jpg",
		sig:    "MyyxeRY7whkBe+bq8fHCL/2kKUg=",
	},
	{
		name: "List", method: "GET", host: "johnsmith.s3.amazonaws.com", target: "/?prefix=photos&max-keys=50&marker=puppy",
		header: map[string][]string{"User-Agent": {"Mozilla/5.0"}, "Date": {"Tue, 27 Mar 2007 19:42:41 +0000"}},
		sts:    "GET\n\n\nTue, 27 Mar 2007 19:42:41 +0000\n/johnsmith/",
		sig:    "htDYFYduRNen8P9ZfE/s9SuKy0U=",
	},
	{
		name: "Fetch ACL", method: "GET", host: "johnsmith.s3.amazonaws.com", target: "/?acl",
		header: map[string][]string{"Date": {"Tue, 27 Mar 2007 19:44:46 +0000"}},
		sts:    "GET\n\n\nTue, 27 Mar 2007 19:44:46 +0000\n/johnsmith/?acl",
		sig:    "c2WLPFtWHVgbEmeEG93a4cG37dM=",
	},
	{
		// Path style, with x-amz-date overriding Date. The guide's text
		// says the Date position is then empty and x-amz-date is signed
		// with the x-amz-* headers; this is the signature of that string.
		// (The table beside it has printed other values over the years,
		// none of which follows the rule it illustrates.)
		name: "Delete", method: "DELETE", host: "s3.amazonaws.com", target: "/johnsmith/photos/puppy.jpg",
		header: map[string][]string{"User-Agent": {"dotnet"}, "Date": {"Tue, 27 Mar 2007 21:20:27 +0000"}, "X-Amz-Date": {"Tue, 27 Mar 2007 21:20:26 +0000"}},
		sts:    "DELETE\n\n\n\nx-amz-date:Tue, 27 Mar 2007 21:20:26 +0000\n/johnsmith/photos/puppy.jpg",
		sig:    "R4dJ53KECjStyBO5iTBJZ4XVOaI=",
	},
	{
		name: "Upload", method: "PUT", host: "static.johnsmith.net:8080", target: "/db-backup.dat.gz", bucket: "static.johnsmith.net",
		header: map[string][]string{
			"User-Agent":                   {"curl/7.15.5"},
			"Date":                         {"Tue, 27 Mar 2007 21:06:08 +0000"},
			"x-amz-acl":                    {"public-read"},
			"content-type":                 {"application/x-download"},
			"Content-MD5":                  {"4gJE4saaMU4BqNR0kLY+lw=="},
			"X-Amz-Meta-ReviewedBy":        {"joe@johnsmith.net", "jane@johnsmith.net"},
			"X-Amz-Meta-FileChecksum":      {"0x02661779"},
			"X-Amz-Meta-ChecksumAlgorithm": {"crc32"},
			"Content-Disposition":          {"attachment; filename=database.dat"},
			"Content-Encoding":             {"gzip"},
			"Content-Length":               {"5913339"},
		},
		sts: "PUT\n4gJE4saaMU4BqNR0kLY+lw==\napplication/x-download\nTue, 27 Mar 2007 21:06:08 +0000\n" +
			"x-amz-acl:public-read\nx-amz-meta-checksumalgorithm:crc32\nx-amz-meta-filechecksum:0x02661779\n" +
			"x-amz-meta-reviewedby:joe@johnsmith.net,jane@johnsmith.net\n/static.johnsmith.net/db-backup.dat.gz",
		sig: "ilyl83RwaSoYIEdixDQcA4OnAnc=",
	},
	{
		name: "List all my buckets", method: "GET", host: "s3.amazonaws.com", target: "/",
		header: map[string][]string{"Date": {"Wed, 28 Mar 2007 01:29:59 +0000"}},
		sts:    "GET\n\n\nWed, 28 Mar 2007 01:29:59 +0000\n/",
		sig:    "qGdzdERIC03wnaRNKh6OqZehG9s=",
	},
	{
		name: "Unicode keys", method: "GET", host: "s3.amazonaws.com", target: "/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re",
		header: map[string][]string{"Date": {"Wed, 28 Mar 2007 01:49:49 +0000"}},
		sts:    "GET\n\n\nWed, 28 Mar 2007 01:49:49 +0000\n/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re",
		sig:    "DNEZGsoieTZ92F3bUfSPQcbGmlM=",
	},
}

func TestStringToSignAWSExamples(t *testing.T) {
	v := exampleVerifier(time.Time{})
	for _, ex := range awsExamples {
		t.Run(ex.name, func(t *testing.T) {
			r := newRequest(ex.method, ex.host, ex.target, ex.header)
			bucket := ex.bucket
			if bucket == "" {
				bucket = v.virtualBucket(r)
			}
			date := r.Header.Get("Date")
			if r.Header.Get("X-Amz-Date") != "" {
				date = ""
			}
			if got := stringToSign(r, bucket, date, nil); got != ex.sts {
				t.Errorf("StringToSign\n got %q\nwant %q", got, ex.sts)
			}
			if got := Sign(exampleSecret, ex.sts); got != ex.sig {
				t.Errorf("signature %s, want %s", got, ex.sig)
			}
		})
	}
}

// TestVerifyAWSExamples sends the guide's signed requests through Verify
// with the clock at their date.
func TestVerifyAWSExamples(t *testing.T) {
	for _, ex := range awsExamples {
		if ex.bucket != "" {
			continue // CNAME-style hosts are not routed as buckets
		}
		t.Run(ex.name, func(t *testing.T) {
			r := newRequest(ex.method, ex.host, ex.target, ex.header)
			r.Header.Set("Authorization", "AWS "+exampleKey+":"+ex.sig)
			now, err := requestTime(r)
			if err != nil {
				t.Fatal(err)
			}
			if !Is(r) {
				t.Fatal("Is = false")
			}
			res, err := exampleVerifier(now.Add(time.Minute)).Verify(r)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if res.AccessKey != exampleKey || res.Anonymous || res.Trailer == nil || len(res.Trailer()) != 0 || res.Size != r.ContentLength {
				t.Errorf("Result %+v", res)
			}
		})
	}
}

// The guide's query-string example: a presigned GET that expires at
// 1175139620 (2007-03-29T03:40:20Z).
const exampleQuery = "/photos/puppy.jpg?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D&Expires=1175139620"

func TestQueryAWSExample(t *testing.T) {
	r := newRequest("GET", "johnsmith.s3.amazonaws.com", exampleQuery, nil)
	v := exampleVerifier(time.Unix(1175139620, 0))
	if got, want := stringToSign(r, v.virtualBucket(r), "1175139620", r.URL.Query()), "GET\n\n\n1175139620\n/johnsmith/photos/puppy.jpg"; got != want {
		t.Errorf("StringToSign %q, want %q", got, want)
	}
	if !Is(r) {
		t.Fatal("Is = false")
	}
	res, err := v.Verify(r)
	if err != nil {
		t.Fatalf("Verify at the expiry second: %v", err)
	}
	if res.AccessKey != exampleKey {
		t.Errorf("AccessKey %q", res.AccessKey)
	}
	// A second later the URL has expired.
	_, err = exampleVerifier(time.Unix(1175139621, 0)).Verify(r)
	wantErr(t, "expired", err, "AccessDenied", "Request has expired")
}

func wantErr(t *testing.T, what string, err error, code, msg string) {
	t.Helper()
	var ae *s3err.APIError
	if !errors.As(err, &ae) || ae.Code != code || (msg != "" && ae.Message != msg) {
		t.Errorf("%s: error %v, want %s %q", what, err, code, msg)
	}
}

// TestQueryRefused covers the URLs that must not pass: expired, tampered
// in any signed part, a wrong key, missing or bad parameters.
func TestQueryRefused(t *testing.T) {
	now := time.Unix(1175139000, 0)
	valid := "/johnsmith/photos/puppy.jpg?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1175139620&Signature="
	sign := func(sts string) string { return url.QueryEscape(Sign(exampleSecret, sts)) }
	good := valid + sign("GET\n\n\n1175139620\n/johnsmith/photos/puppy.jpg")
	r := newRequest("GET", "s3.amazonaws.com", good, nil)
	if _, err := exampleVerifier(now).Verify(r); err != nil {
		t.Fatalf("the untampered URL: %v", err)
	}
	for _, tc := range []struct {
		name, method, target string
		header               map[string][]string
		code, msg            string
	}{
		{"expired", "GET", good, nil, "AccessDenied", "Request has expired"},
		{"other key path", "GET", strings.Replace(good, "puppy", "kitten", 1), nil, "SignatureDoesNotMatch", ""},
		{"other bucket", "GET", strings.Replace(good, "/johnsmith/", "/janedoe/", 1), nil, "SignatureDoesNotMatch", ""},
		{"other method", "PUT", good, nil, "SignatureDoesNotMatch", ""},
		{"later Expires", "GET", strings.Replace(good, "Expires=1175139620", "Expires=1175139999", 1), nil, "SignatureDoesNotMatch", ""},
		{"sub-resource added", "GET", good + "&acl", nil, "SignatureDoesNotMatch", ""},
		{"escaped sub-resource added", "GET", good + "&%61cl", nil, "SignatureDoesNotMatch", ""},
		{"response override added", "GET", good + "&response-content-type=text%2Fhtml", nil, "SignatureDoesNotMatch", ""},
		{"x-amz header added", "GET", good, map[string][]string{"X-Amz-Meta-A": {"b"}}, "SignatureDoesNotMatch", ""},
		{"Content-Type added", "GET", good, map[string][]string{"Content-Type": {"text/html"}}, "SignatureDoesNotMatch", ""},
		{"signature changed", "GET", valid + "AAAA" + sign("GET\n\n\n1175139620\n/johnsmith/photos/puppy.jpg")[4:], nil, "SignatureDoesNotMatch", ""},
		{"unknown key", "GET", strings.Replace(good, "AKIAIOSFODNN7EXAMPLE", "AKIANOBODYKNOWSME", 1), nil, "InvalidAccessKeyId", ""},
		{"no Expires", "GET", strings.Replace(good, "Expires=1175139620&", "", 1), nil, "AccessDenied", "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters"},
		{"two Expires", "GET", good + "&Expires=1175139620", nil, "AccessDenied", "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters"},
		{"bad Expires", "GET", strings.Replace(good, "Expires=1175139620", "Expires=tomorrow", 1), nil, "AccessDenied", "Invalid date (should be seconds since epoch): tomorrow"},
		{"bad query", "GET", good + "&a=%zz", nil, "InvalidArgument", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at := now
			if tc.name == "expired" {
				at = time.Unix(1175139621, 0)
			}
			r := newRequest(tc.method, "s3.amazonaws.com", tc.target, tc.header)
			if !Is(r) {
				t.Fatal("Is = false")
			}
			res, err := exampleVerifier(at).Verify(r)
			if res != nil {
				t.Errorf("Result %+v for a refused request", res)
			}
			wantErr(t, tc.name, err, tc.code, tc.msg)
		})
	}
}

// TestHeaderRefused covers header-signed requests that must not pass.
func TestHeaderRefused(t *testing.T) {
	date := time.Date(2007, 3, 27, 19, 36, 42, 0, time.UTC)
	sign := func(r *http.Request, key string) {
		sts := stringToSign(r, "", r.Header.Get("Date"), nil)
		if r.Header.Get("X-Amz-Date") != "" {
			sts = stringToSign(r, "", "", nil)
		}
		r.Header.Set("Authorization", "AWS "+key+":"+Sign(exampleSecret, sts))
	}
	req := func(h map[string][]string) *http.Request {
		return newRequest("PUT", "s3.amazonaws.com", "/johnsmith/photos/puppy.jpg", h)
	}
	httpDate := func(t time.Time) []string { return []string{t.UTC().Format(http.TimeFormat)} }

	// Within 15 minutes either way is fine, in any RFC 2616 format.
	for _, d := range []time.Duration{-14 * time.Minute, 0, 14 * time.Minute} {
		for _, layout := range []string{http.TimeFormat, time.RFC1123Z, time.RFC850, time.ANSIC} {
			r := req(map[string][]string{"Date": {date.Add(d).Format(layout)}})
			sign(r, exampleKey)
			if _, err := exampleVerifier(date).Verify(r); err != nil {
				t.Errorf("Date %q, clock %v off: %v", r.Header.Get("Date"), d, err)
			}
		}
	}
	r := req(map[string][]string{"X-Amz-Date": {date.Format("20060102T150405Z")}})
	sign(r, exampleKey)
	if _, err := exampleVerifier(date).Verify(r); err != nil {
		t.Errorf("ISO 8601 x-amz-date: %v", err)
	}

	for _, tc := range []struct {
		name      string
		header    map[string][]string
		tamper    func(r *http.Request)
		code, msg string
	}{
		{"Date 16 minutes late", map[string][]string{"Date": httpDate(date.Add(-16 * time.Minute))}, nil, "RequestTimeTooSkewed", ""},
		{"Date 16 minutes early", map[string][]string{"Date": httpDate(date.Add(16 * time.Minute))}, nil, "RequestTimeTooSkewed", ""},
		{"x-amz-date skewed, Date fine", map[string][]string{"Date": httpDate(date), "X-Amz-Date": httpDate(date.Add(time.Hour))}, nil, "RequestTimeTooSkewed", ""},
		{"no date", nil, nil, "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header."},
		{"bad date", map[string][]string{"Date": {"yesterday"}}, nil, "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header."},
		{"empty x-amz-date, Date fine", map[string][]string{"Date": httpDate(date), "X-Amz-Date": {""}}, nil, "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header."},
		{"Date changed", map[string][]string{"Date": httpDate(date)}, func(r *http.Request) { r.Header.Set("Date", date.Add(time.Second).Format(http.TimeFormat)) }, "SignatureDoesNotMatch", ""},
		{"Content-Type changed", map[string][]string{"Date": httpDate(date), "Content-Type": {"image/jpeg"}}, func(r *http.Request) { r.Header.Set("Content-Type", "text/html") }, "SignatureDoesNotMatch", ""},
		{"Content-MD5 added", map[string][]string{"Date": httpDate(date)}, func(r *http.Request) { r.Header.Set("Content-MD5", "4gJE4saaMU4BqNR0kLY+lw==") }, "SignatureDoesNotMatch", ""},
		{"x-amz header added", map[string][]string{"Date": httpDate(date)}, func(r *http.Request) { r.Header.Set("X-Amz-Copy-Source", "/other/key") }, "SignatureDoesNotMatch", ""},
		{"x-amz header changed", map[string][]string{"Date": httpDate(date), "X-Amz-Acl": {"private"}}, func(r *http.Request) { r.Header.Set("X-Amz-Acl", "public-read") }, "SignatureDoesNotMatch", ""},
		{"sub-resource added", map[string][]string{"Date": httpDate(date)}, func(r *http.Request) { r.URL.RawQuery = "tagging"; r.RequestURI += "?tagging" }, "SignatureDoesNotMatch", ""},
		{"method changed", map[string][]string{"Date": httpDate(date)}, func(r *http.Request) { r.Method = "DELETE" }, "SignatureDoesNotMatch", ""},
		{"signature changed", map[string][]string{"Date": httpDate(date)}, func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), ":", ":x", 1))
		}, "SignatureDoesNotMatch", ""},
		{"unknown key", map[string][]string{"Date": httpDate(date)}, func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), exampleKey, "AKIANOBODY", 1))
		}, "InvalidAccessKeyId", ""},
		{"malformed header", map[string][]string{"Date": httpDate(date)}, func(r *http.Request) { r.Header.Set("Authorization", "AWS "+exampleKey) }, "InvalidArgument", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := req(tc.header)
			sign(r, exampleKey)
			if tc.tamper != nil {
				tc.tamper(r)
			}
			res, err := exampleVerifier(date).Verify(r)
			if res != nil {
				t.Errorf("Result %+v for a refused request", res)
			}
			wantErr(t, tc.name, err, tc.code, tc.msg)
		})
	}
}

func TestCanonicalResource(t *testing.T) {
	for _, tc := range []struct{ host, target, want string }{
		{"s3.amazonaws.com", "/", "/"},
		{"b.s3.amazonaws.com", "/", "/b/"},
		{"b.s3.amazonaws.com:9000", "/k", "/b/k"},
		{"B.S3.AMAZONAWS.COM", "/k", "/b/k"},
		{"127.0.0.1:9000", "/b/a%20b/c+d", "/b/a%20b/c+d"},
		{"127.0.0.1:9000", "/b/k?versionId=3&acl&prefix=x&uploads=&response-content-type=text%2Fplain&x-id=GetObject", "/b/k?acl&response-content-type=text/plain&uploads&versionId=3"},
		{"127.0.0.1:9000", "/b/k?partNumber=2&uploadId=a%2Bb", "/b/k?partNumber=2&uploadId=a+b"},
		{"127.0.0.1:9000", "/b?%61cl", "/b?acl"},
		{"127.0.0.1:9000", "/b?delete=", "/b?delete"},
		{"127.0.0.1:9000", "/b?tagging&tagging", "/b?tagging&tagging"},
		{"127.0.0.1:9000", "/b?retention&legal-hold&object-lock&select&select-type=2", "/b?legal-hold&object-lock&retention&select&select-type=2"},
		{"127.0.0.1:9000", "/b?list-type=2&continuation-token=x&bad=%zz&acl;x", "/b"},
	} {
		r := newRequest("GET", tc.host, tc.target, nil)
		v := &Verifier{Domains: []string{"s3.amazonaws.com"}}
		if got := canonicalResource(r, v.virtualBucket(r)); got != tc.want {
			t.Errorf("%s%s: %q, want %q", tc.host, tc.target, got, tc.want)
		}
	}
}

// TestBucketSlash checks that a path-style request for a bucket may be
// signed with or without the slash after the bucket (botocore signs
// "/bucket/" for "PUT /bucket"), and only for a bucket.
func TestBucketSlash(t *testing.T) {
	date := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		target, signed string
		ok             bool
	}{
		{"/dbg", "/dbg/", true},
		{"/dbg", "/dbg", true},
		{"/dbg/", "/dbg/", true},
		{"/dbg?location", "/dbg/?location", true},
		{"/dbg/", "/dbg", false},
		{"/dbg/key", "/dbg/key/", false},
		{"/dbg%2Fkey", "/dbg%2Fkey/", false},
		{"/", "//", false},
	} {
		r := newRequest("PUT", "127.0.0.1:9000", tc.target, map[string][]string{"Date": {date.Format(http.TimeFormat)}})
		sts := "PUT\n\n\n" + date.Format(http.TimeFormat) + "\n" + tc.signed
		r.Header.Set("Authorization", "AWS "+exampleKey+":"+Sign(exampleSecret, sts))
		_, err := exampleVerifier(date).Verify(r)
		if tc.ok && err != nil {
			t.Errorf("%s signed as %s: %v", tc.target, tc.signed, err)
		}
		if !tc.ok {
			wantErr(t, tc.target+" signed as "+tc.signed, err, "SignatureDoesNotMatch", "")
		}
	}
}

func TestCanonicalAmzHeaders(t *testing.T) {
	h := http.Header{}
	h.Add("X-Amz-Meta-B", " two ")
	h.Add("X-Amz-Meta-B", "three")
	h.Add("X-Amz-Meta-A", "folded\r\n   across\r\n\tlines")
	h.Add("Content-Type", "not/amz")
	h["x-amz-meta-b"] = []string{"four"} // not canonical: still the same name
	q := url.Values{"x-amz-meta-a": {"from query"}, "X-Amz-Meta-C": {"c"}, "x-amz-meta-c": {"d"}, "prefix": {"p"}}
	want := "x-amz-meta-a:folded across lines\nx-amz-meta-b:two,three,four\n"
	if got := canonicalAmzHeaders(h, nil); got != want {
		t.Errorf("headers: %q, want %q", got, want)
	}
	want = "x-amz-meta-a:folded across lines\nx-amz-meta-b:two,three,four\nx-amz-meta-c:c,d\n"
	if got := canonicalAmzHeaders(h, q); got != want {
		t.Errorf("headers and query: %q, want %q", got, want)
	}
}

// TestQueryHeadersInQuery checks a presigned URL whose signed Content-Type
// and x-amz-* headers are in its query, as botocore writes them.
func TestQueryHeadersInQuery(t *testing.T) {
	now := time.Unix(1175139000, 0)
	sts := "PUT\n\ntext/plain\n1175139620\nx-amz-meta-a:b\n/johnsmith/k"
	target := "/johnsmith/k?content-type=text%2Fplain&x-amz-meta-a=b&AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1175139620&Signature=" + url.QueryEscape(Sign(exampleSecret, sts))
	for _, h := range []map[string][]string{nil, {"Content-Type": {"text/plain"}, "X-Amz-Meta-A": {"b"}}} {
		r := newRequest("PUT", "127.0.0.1", target, h)
		if _, err := exampleVerifier(now).Verify(r); err != nil {
			t.Errorf("headers %v: %v", h, err)
		}
	}
	r := newRequest("PUT", "127.0.0.1", target, map[string][]string{"Content-Type": {"text/html"}})
	_, err := exampleVerifier(now).Verify(r)
	wantErr(t, "another Content-Type header", err, "SignatureDoesNotMatch", "")
}

func TestIs(t *testing.T) {
	for _, tc := range []struct {
		target string
		auth   []string
		want   bool
	}{
		{"/b/k", nil, false},
		{"/b/k", []string{"AWS ak:sig"}, true},
		{"/b/k", []string{"AWS4-HMAC-SHA256 Credential=x"}, false},
		{"/b/k", []string{"AWSX ak:sig"}, false},
		{"/b/k", []string{"AWS ak:sig", "AWS ak:sig"}, false},
		{"/b/k?AWSAccessKeyId=a&Signature=s&Expires=1", nil, true},
		{"/b/k?AWSAccessKeyId=a&Expires=1", nil, false},
		{"/b/k?AWSAccessKeyId=a&Signature=s&Expires=1", []string{"AWS ak:sig"}, false},
		{"/b/k?AWSAccessKeyId=a&Signature=s&X-Amz-Signature=x", nil, false},
		{"/b/k?X-Amz-Signature=x", []string{"AWS ak:sig"}, false},
	} {
		r := newRequest("GET", "h", tc.target, map[string][]string{"Authorization": tc.auth})
		if got := Is(r); got != tc.want {
			t.Errorf("Is(%s, %q) = %v, want %v", tc.target, tc.auth, got, tc.want)
		}
	}
}

func TestBody(t *testing.T) {
	date := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	body := []byte("the payload")
	sum := sha256.Sum256(body)
	send := func(hash string, data []byte) (io.Reader, error) {
		r := httptest.NewRequest("PUT", "http://h/b/k", bytes.NewReader(data))
		r.Header.Set("Date", date.Format(http.TimeFormat))
		if hash != "" {
			r.Header.Set("X-Amz-Content-Sha256", hash)
		}
		r.Header.Set("Authorization", "AWS "+exampleKey+":"+Sign(exampleSecret, stringToSign(r, "", r.Header.Get("Date"), nil)))
		res, err := exampleVerifier(date).Verify(r)
		if err != nil {
			return nil, err
		}
		if res.Size != int64(len(data)) {
			t.Errorf("Size %d, want %d", res.Size, len(data))
		}
		return res.Body, nil
	}
	for _, hash := range []string{"", "UNSIGNED-PAYLOAD", hex.EncodeToString(sum[:])} {
		b, err := send(hash, body)
		if err != nil {
			t.Fatalf("x-amz-content-sha256 %q: %v", hash, err)
		}
		if got, err := io.ReadAll(b); err != nil || !bytes.Equal(got, body) {
			t.Errorf("x-amz-content-sha256 %q: read %q, %v", hash, got, err)
		}
	}
	b, err := send(hex.EncodeToString(sum[:]), []byte("another payload"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(b)
	wantErr(t, "payload that does not match x-amz-content-sha256", err, "XAmzContentSHA256Mismatch", "")
	_, err = send("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", body)
	wantErr(t, "aws-chunked", err, "InvalidRequest", "")
}

func TestVerifyPost(t *testing.T) {
	v := exampleVerifier(time.Now())
	policy := "eyJleHBpcmF0aW9uIjogIjIwMDctMTItMDFUMTI6MDA6MDAuMDAwWiJ9"
	form := func(kv ...string) map[string]string {
		m := map[string]string{"key": "k", "policy": policy, "awsaccesskeyid": exampleKey, "signature": Sign(exampleSecret, policy)}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	if !IsPost(form()) || IsPost(form("x-amz-signature", "x")) || IsPost(map[string]string{"key": "k"}) || !IsPost(form("awsaccesskeyid", "")) {
		t.Error("IsPost")
	}
	if ak, err := v.VerifyPost(form()); err != nil || ak != exampleKey {
		t.Errorf("VerifyPost = %q, %v", ak, err)
	}
	for _, tc := range []struct {
		name string
		form map[string]string
		code string
	}{
		{"policy changed", form("policy", policy+"e30="), "SignatureDoesNotMatch"},
		{"signature changed", form("signature", Sign("other", policy)), "SignatureDoesNotMatch"},
		{"unknown key", form("awsaccesskeyid", "AKIANOBODY"), "InvalidAccessKeyId"},
		{"no key", form("awsaccesskeyid", ""), "InvalidArgument"},
		{"no signature", form("signature", ""), "InvalidArgument"},
		{"no policy", form("policy", ""), "InvalidArgument"},
	} {
		_, err := v.VerifyPost(tc.form)
		wantErr(t, tc.name, err, tc.code, "")
	}
}
