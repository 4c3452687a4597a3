package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/strata-storage/strata/s3api/s3err"
)

// Algorithm is the only signing algorithm Strata accepts.
const Algorithm = "AWS4-HMAC-SHA256"

// Values of x-amz-content-sha256 other than a hex SHA-256.
const (
	UnsignedPayload          = "UNSIGNED-PAYLOAD"
	StreamingPayload         = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	StreamingPayloadTrailer  = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	StreamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
)

const (
	iso8601Basic   = "20060102T150405Z"
	yyyymmdd       = "20060102"
	service        = "s3"
	terminator     = "aws4_request"
	defaultMaxSkew = 15 * time.Minute
	maxExpires     = 7 * 24 * 60 * 60 // seconds: a week
	emptySHA256    = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// Errors that s3err has no variable for, as AWS answers them.
var (
	errHeadersNotSigned = s3err.ErrAccessDenied.WithMessage("There were headers present in the request which were not signed")
	errMissingSHA256    = s3err.ErrInvalidRequest.WithMessage("Missing required header for this request: x-amz-content-sha256")
	// S3's list has the SigV4a (ECDSA) values too, which Strata answers
	// as an unsupported mechanism.
	errBadSHA256       = s3err.ErrInvalidArgument.WithMessage("x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER or a valid sha256 value.")
	errUnsupportedAuth = s3err.ErrInvalidArgument.WithMessage("Unsupported Authorization Type")
	errAuthNoSpace     = s3err.ErrInvalidArgument.WithMessage("Authorization header is invalid -- one and only one ' ' (space) required.")
	// Strata has no temporary credentials: a session token never goes
	// with its access keys.
	errInvalidToken     = &s3err.APIError{Code: "InvalidToken", Status: 400, Message: "The provided token is malformed or otherwise invalid."}
	errOneAuthMechanism = s3err.ErrInvalidArgument.WithMessage("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
	errExpired          = s3err.ErrAccessDenied.WithMessage("Request has expired")
	errNotYetValid      = s3err.ErrAccessDenied.WithMessage("Request is not valid yet")
	// S3 answers a missing or unreadable x-amz-decoded-content-length as
	// a missing Content-Length.
	errDecodedLength = s3err.ErrMissingContentLength
)

// Verifier checks SigV4 signatures against the secrets that Lookup returns.
type Verifier struct {
	// Lookup returns the secret of an access key. It is required.
	Lookup func(accessKey string) (secret string, ok bool)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxSkew is how far a request's date may be from Now; 0 means 15 minutes.
	MaxSkew time.Duration
}

// Result is a verified request.
type Result struct {
	// AccessKey signed the request; "" when Anonymous.
	AccessKey string
	// Anonymous is set when the request carried no authentication at all;
	// Body is then the raw body.
	Anonymous bool
	// Body is the payload to read: decoded from aws-chunked and verified as
	// it is read (see the package documentation for the contract).
	Body io.Reader
	// Trailer returns the trailing headers of an aws-chunked payload with a
	// trailer. It is valid after Body returned io.EOF and returns an empty
	// header when there are none.
	Trailer func() http.Header
	// Size is the payload length: x-amz-decoded-content-length for
	// aws-chunked, else r.ContentLength (-1 when unknown).
	Size int64
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

// scheme is how a request says it is authenticated.
type scheme int

const (
	schemeNone scheme = iota
	schemeV4Header
	schemeV4Query
	schemeV2Header
	schemeV2Query
	schemeV4aHeader
)

// requestScheme tells the authentication schemes apart; a new scheme (V2)
// is one more case here and in Verify.
func requestScheme(r *http.Request) (scheme, error) {
	// An empty Authorization header authenticates nothing: the request is
	// anonymous, as without one.
	auths := slices.DeleteFunc(slices.Clone(r.Header.Values("Authorization")), func(v string) bool {
		return strings.TrimSpace(v) == ""
	})
	q := r.URL.Query()
	v4Query := q.Has("X-Amz-Algorithm") || q.Has("X-Amz-Credential") || q.Has("X-Amz-Signature")
	v2Query := q.Has("AWSAccessKeyId") && q.Has("Signature")
	if len(auths) == 0 {
		switch {
		case v4Query:
			return schemeV4Query, nil
		case v2Query:
			return schemeV2Query, nil
		}
		return schemeNone, nil
	}
	if len(auths) > 1 || v4Query || v2Query {
		return schemeNone, errOneAuthMechanism
	}
	auth := strings.TrimSpace(auths[0])
	name, _, ok := strings.Cut(auth, " ")
	if !ok {
		return schemeNone, errAuthNoSpace.With("ArgumentName", "Authorization", "ArgumentValue", auth)
	}
	switch name {
	case Algorithm:
		return schemeV4Header, nil
	case "AWS":
		return schemeV2Header, nil
	case "AWS4-ECDSA-P256-SHA256":
		return schemeV4aHeader, nil
	}
	return schemeNone, errUnsupportedAuth.With("ArgumentName", "Authorization", "ArgumentValue", name)
}

// Verify authenticates r. A request without any authentication is returned
// as Anonymous; deciding whether that is allowed is the caller's job. The
// returned Result.Body replaces r.Body; see the package documentation for
// when its content can be trusted.
func (v *Verifier) Verify(r *http.Request) (*Result, error) {
	s, err := requestScheme(r)
	if err != nil {
		return nil, err
	}
	switch s {
	case schemeNone:
		return &Result{Anonymous: true, Body: body(r), Trailer: noTrailer, Size: r.ContentLength}, nil
	case schemeV4Header:
		return v.verifyHeader(r)
	case schemeV4Query:
		return v.verifyQuery(r)
	default: // V2 when the server refuses it (s3api/sigv2 serves it otherwise), and V4A.
		return nil, s3err.ErrUnsupportedSignature
	}
}

func body(r *http.Request) io.Reader {
	if r.Body == nil {
		return http.NoBody
	}
	return r.Body
}

func noTrailer() http.Header { return http.Header{} }

// verifyHeader checks a request signed in its Authorization header.
func (v *Verifier) verifyHeader(r *http.Request) (*Result, error) {
	a, err := parseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return nil, err
	}
	t, err := requestTime(r)
	if err != nil {
		return nil, err
	}
	if a.cred.date != t.Format(yyyymmdd) {
		return nil, s3err.ErrAuthorizationHeaderMalformed.WithMessage("The authorization header is malformed; Invalid credential date. Date is not the same as X-Amz-Date.")
	}
	if d := v.now().Sub(t); d > v.maxSkew() || d < -v.maxSkew() {
		return nil, s3err.ErrRequestTimeTooSkewed
	}
	payloadHash := r.Header.Get("X-Amz-Content-Sha256")
	if payloadHash == "" {
		return nil, errMissingSHA256
	}
	mode, err := parsePayloadHash(payloadHash)
	if err != nil {
		return nil, err
	}
	secret, ok := v.Lookup(a.cred.accessKey)
	if !ok {
		return nil, invalidAccessKey(a.cred.accessKey)
	}
	if r.Header.Get("X-Amz-Security-Token") != "" {
		return nil, errInvalidToken
	}
	if err := checkSignedHeaders(r, a.signedHeaders); err != nil {
		return nil, err
	}
	s := newSigning(secret, t, a.cred.region)
	creq := canonicalRequest(r, canonicalQuery(r.URL.RawQuery, false), a.signedHeaders, payloadHash)
	sts := stringToSign(s.date, s.scope, creq)
	sig := s.sign(sts)
	if !hmac.Equal([]byte(sig), []byte(a.signature)) {
		return nil, signatureMismatch(a.cred.accessKey, sts, a.signature, creq)
	}
	s.prev = sig
	return payload(r, a.cred.accessKey, mode, payloadHash, s)
}

// verifyQuery checks a presigned request.
func (v *Verifier) verifyQuery(r *http.Request) (*Result, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, s3err.ErrAuthorizationQueryParametersError.WithMessage("The query string is not valid.")
	}
	var p [6]string
	for i, name := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"} {
		vs := q[name]
		if len(vs) != 1 || vs[0] == "" {
			return nil, s3err.ErrAuthorizationQueryParametersError.WithMessage("Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
		}
		p[i] = vs[0]
	}
	alg, credential, date, expires, signedHeaders, signature := p[0], p[1], p[2], p[3], p[4], p[5]
	if alg != Algorithm {
		return nil, s3err.ErrAuthorizationQueryParametersError.WithMessage(`X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"`)
	}
	cred, err := parseCredential(credential)
	if err != nil {
		return nil, s3err.ErrAuthorizationQueryParametersError.WithMessage("Error parsing the X-Amz-Credential parameter; " + err.Error())
	}
	t, err := time.Parse(iso8601Basic, date)
	if err != nil {
		return nil, s3err.ErrAuthorizationQueryParametersError.WithMessage(`X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'"`)
	}
	exp, err := parseExpires(expires)
	if err != nil {
		return nil, err
	}
	if d := t.Format(yyyymmdd); cred.date != d {
		return nil, s3err.ErrAuthorizationQueryParametersError.WithMessage(`Invalid credential date "` + cred.date + `". This date is not the same as X-Amz-Date: "` + d + `".`)
	}
	now := v.now()
	if t.Sub(now) > v.maxSkew() {
		return nil, errNotYetValid
	}
	if now.After(t.Add(exp)) {
		return nil, errExpired
	}
	signed, err := parseSignedHeaders(signedHeaders)
	if err != nil {
		return nil, s3err.ErrAuthorizationQueryParametersError.WithMessage("X-Amz-SignedHeaders is not valid.")
	}
	payloadHash := UnsignedPayload
	if h := q.Get("X-Amz-Content-Sha256"); h != "" {
		payloadHash = h
	} else if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" {
		payloadHash = h
	}
	mode, err := parsePayloadHash(payloadHash)
	if err != nil {
		return nil, err
	}
	if mode != payloadUnsigned && mode != payloadSHA256 {
		return nil, s3err.ErrInvalidRequest.WithMessage("Streaming payloads cannot be used with a presigned URL.")
	}
	secret, ok := v.Lookup(cred.accessKey)
	if !ok {
		return nil, invalidAccessKey(cred.accessKey)
	}
	if q.Get("X-Amz-Security-Token") != "" || r.Header.Get("X-Amz-Security-Token") != "" {
		return nil, errInvalidToken
	}
	if err := checkSignedHeaders(r, signed); err != nil {
		return nil, err
	}
	s := newSigning(secret, t, cred.region)
	creq := canonicalRequest(r, canonicalQuery(r.URL.RawQuery, true), signed, payloadHash)
	sts := stringToSign(s.date, s.scope, creq)
	sig := s.sign(sts)
	if !hmac.Equal([]byte(sig), []byte(strings.ToLower(signature))) {
		return nil, signatureMismatch(cred.accessKey, sts, signature, creq)
	}
	return payload(r, cred.accessKey, mode, payloadHash, s)
}

func parseExpires(s string) (time.Duration, error) {
	if rest, ok := strings.CutPrefix(s, "-"); ok && rest != "" && strings.Trim(rest, "0123456789") == "" {
		return 0, s3err.ErrAuthorizationQueryParametersError.WithMessage("X-Amz-Expires must be non-negative")
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, s3err.ErrAuthorizationQueryParametersError.WithMessage("X-Amz-Expires should be a number")
		}
		if n > maxExpires {
			break // too large already; keep it from overflowing
		}
		n = n*10 + int(c-'0')
	}
	if n < 1 || n > maxExpires {
		return 0, s3err.ErrAuthorizationQueryParametersError.WithMessage("X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds")
	}
	return time.Duration(n) * time.Second, nil
}

// requestTime is the time of a header-signed request: x-amz-date, or Date
// (an HTTP date, or RFC 1123 with a numeric zone) when there is no
// x-amz-date.
func requestTime(r *http.Request) (time.Time, error) {
	if d := r.Header.Get("X-Amz-Date"); d != "" {
		t, err := time.Parse(iso8601Basic, d)
		if err != nil {
			return time.Time{}, s3err.ErrMalformedDate
		}
		return t, nil
	}
	if d := r.Header.Get("Date"); d != "" {
		t, err := http.ParseTime(d)
		if err != nil {
			// A numeric zone, as Python's email.utils.formatdate
			// writes it (botocore: "Thu, 26 Nov 2026 01:09:42 -0000").
			t, err = time.Parse(time.RFC1123Z, d)
		}
		if err != nil {
			return time.Time{}, s3err.ErrMalformedDate
		}
		return t.UTC(), nil
	}
	return time.Time{}, s3err.ErrMalformedDate
}

// payloadKind is what x-amz-content-sha256 says about the body.
type payloadKind int

const (
	payloadUnsigned payloadKind = iota
	payloadSHA256
	payloadStreaming        // signed chunks
	payloadStreamingTrailer // signed chunks, signed trailer
	payloadUnsignedTrailer  // unsigned chunks, unsigned trailer
)

func parsePayloadHash(h string) (payloadKind, error) {
	switch h {
	case UnsignedPayload:
		return payloadUnsigned, nil
	case StreamingPayload:
		return payloadStreaming, nil
	case StreamingPayloadTrailer:
		return payloadStreamingTrailer, nil
	case StreamingUnsignedTrailer:
		return payloadUnsignedTrailer, nil
	case "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER":
		return 0, s3err.ErrUnsupportedSignature
	}
	if _, err := hex.DecodeString(h); err != nil || len(h) != sha256.Size*2 {
		return 0, errBadSHA256.With("ArgumentName", "x-amz-content-sha256", "ArgumentValue", h)
	}
	return payloadSHA256, nil
}

// payload builds the Result of a verified request: the body reader that
// goes with the payload kind.
func payload(r *http.Request, accessKey string, mode payloadKind, payloadHash string, s *signing) (*Result, error) {
	res := &Result{AccessKey: accessKey, Body: body(r), Trailer: noTrailer, Size: r.ContentLength}
	switch mode {
	case payloadUnsigned:
		return res, nil
	case payloadSHA256:
		want, _ := hex.DecodeString(payloadHash)
		res.Body = &sha256Reader{r: res.Body, h: sha256.New(), want: want}
		return res, nil
	}
	dl := r.Header.Values("X-Amz-Decoded-Content-Length")
	if len(dl) == 0 {
		return nil, errDecodedLength
	}
	size, ok := parseDecimal(dl[0])
	if len(dl) != 1 || !ok {
		return nil, errDecodedLength
	}
	if mode == payloadUnsignedTrailer {
		s = nil
	}
	trailers := mode != payloadStreaming
	cr := newChunkedReader(res.Body, s, size, trailers, declaredTrailers(r))
	res.Body = cr
	res.Trailer = cr.trailers
	res.Size = size
	return res, nil
}

// parseDecimal parses a non-negative int64 written in decimal digits only.
func parseDecimal(s string) (int64, bool) {
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

// declaredTrailers lists the names in x-amz-trailer, lower-cased.
func declaredTrailers(r *http.Request) []string {
	var names []string
	for _, v := range r.Header.Values("X-Amz-Trailer") {
		for name := range strings.SplitSeq(v, ",") {
			if name = strings.ToLower(strings.TrimSpace(name)); name != "" {
				names = append(names, name)
			}
		}
	}
	return names
}

// VerifySHA256 passes r through and, at its end, compares the SHA-256 of
// what passed with want: a mismatch is returned instead of io.EOF.
func VerifySHA256(r io.Reader, want []byte) io.Reader {
	return &sha256Reader{r: r, h: sha256.New(), want: want}
}

type sha256Reader struct {
	r    io.Reader
	h    hash.Hash
	want []byte
	err  error
}

func (s *sha256Reader) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.r.Read(p)
	s.h.Write(p[:n])
	if err == io.EOF {
		if got := s.h.Sum(nil); !hmac.Equal(got, s.want) {
			err = s3err.ErrXAmzContentSHA256Mismatch.With(
				"ClientComputedContentSHA256", hex.EncodeToString(s.want),
				"S3ComputedContentSHA256", hex.EncodeToString(got))
		}
	}
	if err != nil {
		s.err = err
	}
	return n, err
}

// invalidAccessKey is InvalidAccessKeyId naming the key, as S3 gives it.
func invalidAccessKey(accessKey string) error {
	return s3err.ErrInvalidAccessKeyID.With("AWSAccessKeyId", accessKey)
}

// signatureMismatch is SignatureDoesNotMatch with what S3 puts in its
// body: the string to sign and the canonical request, each also as its
// bytes in hex; a POST, whose string to sign is its policy, has no
// canonical request.
func signatureMismatch(accessKey, stringToSign, signature, canonicalRequest string) error {
	d := s3err.ErrSignatureDoesNotMatch.With(
		"AWSAccessKeyId", accessKey,
		"StringToSign", stringToSign,
		"SignatureProvided", signature,
		"StringToSignBytes", hexBytes(stringToSign))
	if canonicalRequest != "" {
		d.Fields = append(d.Fields,
			s3err.Field{Name: "CanonicalRequest", Value: canonicalRequest},
			s3err.Field{Name: "CanonicalRequestBytes", Value: hexBytes(canonicalRequest)})
	}
	return d
}

// hexBytes writes s as S3 does in StringToSignBytes: two hex digits per
// byte, separated by spaces.
func hexBytes(s string) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 0, 3*len(s))
	for i := 0; i < len(s); i++ {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, digits[s[i]>>4], digits[s[i]&15])
	}
	return string(b)
}
