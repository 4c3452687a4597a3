// Package sigv2 verifies AWS Signature Version 2 on S3 requests, as the
// Amazon S3 developer guide documents it ("Signing and authenticating REST
// requests"): the Authorization header (AWS AccessKey:Signature), query-string
// authentication (AWSAccessKeyId, Signature, Expires: the presigned URLs that
// boto3 and aws CLI v1 make by default for a custom endpoint) and browser
// POST forms (AWSAccessKeyId, policy, signature).
//
// V2 signs no payload: the body is passed through as it is, and Content-MD5
// and the x-amz-checksum-* headers (both signed) are verified by the
// handlers. A hex x-amz-content-sha256, when a client sends one, is verified
// as the body is read, as SigV4 does; aws-chunked payloads need SigV4.
//
// Verify returns the same sigv4.Result as SigV4 so that handlers do not
// care which signature a request carried.
package sigv2

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/strata-storage/strata/s3api/s3err"
	"github.com/strata-storage/strata/s3api/sigv4"
)

const defaultMaxSkew = 15 * time.Minute

// Errors that s3err has no variable for, as AWS answers them.
var (
	errExpired        = s3err.ErrAccessDenied.WithMessage("Request has expired")
	errQueryParams    = s3err.ErrAccessDenied.WithMessage("Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters")
	errBadQuery       = s3err.ErrInvalidArgument.WithMessage("The query string is not valid.")
	errStreaming      = s3err.ErrInvalidRequest.WithMessage("aws-chunked payloads (x-amz-content-sha256: STREAMING-...) need AWS4-HMAC-SHA256.")
	errHeaderInvalid  = s3err.ErrInvalidArgument.WithMessage("AWS authorization header is invalid.  Expected AwsAccessKeyId:signature")
	errInvalidExpires = "Invalid date (should be seconds since epoch): "
)

// Verifier checks V2 signatures against the secrets that Lookup returns.
type Verifier struct {
	// Lookup returns the secret of an access key. It is required.
	Lookup func(accessKey string) (secret string, ok bool)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxSkew is how far a header-signed request's date may be from Now;
	// 0 means 15 minutes.
	MaxSkew time.Duration
	// Domains are the host names under which buckets are addressed
	// virtual-host style (bucket.domain), as the server routes them: the
	// bucket of such a request is part of the signed resource.
	Domains []string
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) maxSkew() time.Duration {
	if v.MaxSkew > 0 {
		return v.MaxSkew
	}
	return defaultMaxSkew
}

// Is reports whether r is authenticated with V2 and nothing else: one
// Authorization header "AWS ...", or no Authorization header and the
// AWSAccessKeyId and Signature query parameters without any SigV4 one. A
// request that mixes mechanisms is not V2; SigV4's Verify refuses it.
func Is(r *http.Request) bool {
	auths := r.Header.Values("Authorization")
	q := r.URL.Query()
	v4Query := q.Has("X-Amz-Algorithm") || q.Has("X-Amz-Credential") || q.Has("X-Amz-Signature")
	v2Query := q.Has("AWSAccessKeyId") && q.Has("Signature")
	switch len(auths) {
	case 0:
		return v2Query && !v4Query
	case 1:
		if v4Query || v2Query {
			return false
		}
		name, _, _ := strings.Cut(strings.TrimSpace(auths[0]), " ")
		return name == "AWS"
	}
	return false
}

// Verify authenticates a request for which Is is true. The returned
// Result.Body replaces r.Body.
func (v *Verifier) Verify(r *http.Request) (*sigv4.Result, error) {
	if len(r.Header.Values("Authorization")) > 0 {
		return v.verifyHeader(r)
	}
	return v.verifyQuery(r)
}

// verifyHeader checks a request signed in its Authorization header.
func (v *Verifier) verifyHeader(r *http.Request) (*sigv4.Result, error) {
	accessKey, sig, err := ParseHeader(r.Header.Get("Authorization"))
	if err != nil {
		return nil, err
	}
	t, err := requestTime(r)
	if err != nil {
		return nil, err
	}
	if d := v.now().Sub(t); d > v.maxSkew() || d < -v.maxSkew() {
		return nil, s3err.ErrRequestTimeTooSkewed
	}
	secret, ok := v.Lookup(accessKey)
	if !ok {
		return nil, s3err.ErrInvalidAccessKeyID
	}
	date := r.Header.Get("Date")
	if r.Header.Get("X-Amz-Date") != "" {
		date = "" // x-amz-date is signed among the x-amz-* headers instead
	}
	if !signed(r, v.virtualBucket(r), date, nil, secret, sig) {
		return nil, s3err.ErrSignatureDoesNotMatch
	}
	return result(r, accessKey)
}

// verifyQuery checks a presigned request.
func (v *Verifier) verifyQuery(r *http.Request) (*sigv4.Result, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, errBadQuery
	}
	var p [3]string
	for i, name := range []string{"AWSAccessKeyId", "Signature", "Expires"} {
		vs := q[name]
		if len(vs) != 1 || vs[0] == "" {
			return nil, errQueryParams
		}
		p[i] = vs[0]
	}
	accessKey, sig, expires := p[0], p[1], p[2]
	exp, ok := parseEpoch(expires)
	if !ok {
		return nil, s3err.ErrAccessDenied.WithMessage(errInvalidExpires + truncate(expires))
	}
	if v.now().Unix() > exp {
		return nil, errExpired
	}
	secret, ok := v.Lookup(accessKey)
	if !ok {
		return nil, s3err.ErrInvalidAccessKeyID
	}
	// A '+' that the client did not escape arrives as a space.
	sig = strings.ReplaceAll(sig, " ", "+")
	if !signed(r, v.virtualBucket(r), expires, q, secret, sig) {
		return nil, s3err.ErrSignatureDoesNotMatch
	}
	return result(r, accessKey)
}

// signed reports whether sig is r's signature under secret. A path-style
// request for a bucket ("/bucket") is accepted signed as "/bucket/" too,
// the bucket's resource as S3 writes it and as botocore signs it.
func signed(r *http.Request, bucket, date string, q url.Values, secret, sig string) bool {
	head := stringToSignHead(r, date, q)
	path, sub := resourcePath(r, bucket), subResourceQuery(r)
	if hmac.Equal([]byte(Sign(secret, head+path+sub)), []byte(sig)) {
		return true
	}
	return bucket == "" && bucketOnly(path) && hmac.Equal([]byte(Sign(secret, head+path+"/"+sub)), []byte(sig))
}

// Sign is the V2 signature of a string to sign:
// base64(HMAC-SHA1(secret, stringToSign)).
func Sign(secret, stringToSign string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// virtualBucket is the bucket named by r's Host under one of the domains,
// "" for a path-style request. It follows the server's routing.
func (v *Verifier) virtualBucket(r *http.Request) string {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(host)
	for _, d := range v.Domains {
		if strings.HasSuffix(host, "."+d) {
			return strings.TrimSuffix(host, "."+d)
		}
	}
	return ""
}

// parseEpoch parses seconds since the epoch, written in decimal digits.
func parseEpoch(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// dateLayouts are the RFC 2616 date formats (RFC 1123 with GMT or a numeric
// zone, as AWS's own examples use, RFC 850, asctime), and the ISO 8601 basic
// format that some clients put in x-amz-date.
var dateLayouts = []string{
	http.TimeFormat,
	time.RFC1123Z,
	time.RFC1123,
	time.RFC850,
	time.ANSIC,
	"20060102T150405Z",
}

func parseDate(s string) (time.Time, bool) {
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// requestTime is x-amz-date, or Date when there is no x-amz-date. An
// x-amz-date sent empty is no valid date (Date does not stand in).
func requestTime(r *http.Request) (time.Time, error) {
	d, sent := r.Header.Get("X-Amz-Date"), len(r.Header.Values("X-Amz-Date")) > 0
	if !sent {
		d = r.Header.Get("Date")
	}
	t, ok := parseDate(d)
	if !ok {
		return time.Time{}, s3err.ErrMalformedDate
	}
	return t, nil
}

// result is the Result of a verified request: the raw body, checked
// against x-amz-content-sha256 when that is a hex SHA-256.
func result(r *http.Request, accessKey string) (*sigv4.Result, error) {
	res := &sigv4.Result{AccessKey: accessKey, Body: r.Body, Trailer: noTrailer, Size: r.ContentLength}
	if res.Body == nil {
		res.Body = http.NoBody
	}
	h := r.Header.Get("X-Amz-Content-Sha256")
	switch {
	case strings.HasPrefix(h, "STREAMING-"):
		return nil, errStreaming
	case len(h) == 2*sha256.Size:
		if want, err := hex.DecodeString(h); err == nil {
			res.Body = sigv4.VerifySHA256(res.Body, want)
		}
	}
	return res, nil
}

func noTrailer() http.Header { return http.Header{} }

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
