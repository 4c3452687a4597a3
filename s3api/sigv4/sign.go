package sigv4

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SignRequest signs r in place with an Authorization header, as an SDK
// does: it sets X-Amz-Date and X-Amz-Content-Sha256 (payloadHash, or
// UnsignedPayload when empty) and signs host and every header already on r
// but Authorization, User-Agent and Expect. It is meant for tests.
func SignRequest(r *http.Request, accessKey, secret, region, payloadHash string, t time.Time) {
	if payloadHash == "" {
		payloadHash = UnsignedPayload
	}
	t = t.UTC()
	r.Header.Del("Authorization")
	r.Header.Set("X-Amz-Date", t.Format(iso8601Basic))
	r.Header.Set("X-Amz-Content-Sha256", payloadHash)
	signed := []string{"host"}
	for k := range r.Header {
		switch k = strings.ToLower(k); k {
		case "user-agent", "expect", "host":
		default:
			signed = append(signed, k)
		}
	}
	slices.Sort(signed)
	s := newSigning(secret, t, region)
	creq := canonicalRequest(r, canonicalQuery(r.URL.RawQuery, false), signed, payloadHash)
	sig := s.sign(stringToSign(s.date, s.scope, creq))
	r.Header.Set("Authorization", Algorithm+" Credential="+accessKey+"/"+s.scope+
		", SignedHeaders="+strings.Join(signed, ";")+", Signature="+sig)
}

// Presign adds the query parameters of a presigned URL to r, valid for
// expires from t. It signs host and the x-amz-* headers on r, with an
// unsigned payload. It is meant for tests.
func Presign(r *http.Request, accessKey, secret, region string, t time.Time, expires time.Duration) {
	t = t.UTC()
	s := newSigning(secret, t, region)
	signed := []string{"host"}
	for k := range r.Header {
		if k = strings.ToLower(k); strings.HasPrefix(k, "x-amz-") {
			signed = append(signed, k)
		}
	}
	slices.Sort(signed)
	q := r.URL.Query()
	q.Set("X-Amz-Algorithm", Algorithm)
	q.Set("X-Amz-Credential", accessKey+"/"+s.scope)
	q.Set("X-Amz-Date", s.date)
	q.Set("X-Amz-Expires", strconv.Itoa(int(expires/time.Second)))
	q.Set("X-Amz-SignedHeaders", strings.Join(signed, ";"))
	q.Del("X-Amz-Signature")
	r.URL.RawQuery = q.Encode()
	creq := canonicalRequest(r, canonicalQuery(r.URL.RawQuery, true), signed, UnsignedPayload)
	r.URL.RawQuery += "&X-Amz-Signature=" + s.sign(stringToSign(s.date, s.scope, creq))
}
