package checksum

import (
	"crypto/md5"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/strata-storage/strata/s3api/s3err"
)

// Expect is what a request says its payload's checksums are.
type Expect struct {
	// ContentMD5 is the decoded Content-MD5, nil if absent.
	ContentMD5 []byte
	// Algorithm is the x-amz-checksum-* algorithm, "" if none.
	Algorithm string
	// Value is the base64 checksum from the x-amz-checksum-<alg> header;
	// "" when it comes in the trailer.
	Value string
	// Trailer is set when the value comes in the trailer
	// (x-amz-trailer: x-amz-checksum-<alg>).
	Trailer bool
}

var (
	errMultiple    = s3err.ErrInvalidRequest.WithMessage("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
	errSDKAlone    = s3err.ErrInvalidRequest.WithMessage("x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.")
	errSDKMismatch = s3err.ErrInvalidRequest.WithMessage("Value for x-amz-sdk-checksum-algorithm header is invalid.")
	errBadTrailer  = s3err.ErrInvalidRequest.WithMessage("The value specified in the x-amz-trailer header is not supported")
)

func headerName(alg string) string { return "x-amz-checksum-" + strings.ToLower(alg) }

func invalidValue(alg string) error {
	return s3err.ErrInvalidRequest.WithMessage("Value for " + headerName(alg) + " header is invalid.")
}

// decode decodes a base64 checksum value of alg; nil if it is not one.
func decode(alg, v string) []byte {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
	if err != nil || len(b) != size(alg) {
		return nil
	}
	return b
}

// FromHeaders reads Content-MD5, x-amz-checksum-<alg>,
// x-amz-sdk-checksum-algorithm and x-amz-trailer.
func FromHeaders(h http.Header) (Expect, error) {
	var e Expect
	if vs := h.Values("Content-Md5"); len(vs) > 0 {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(vs[0]))
		if err != nil || len(b) != md5.Size || len(vs) > 1 {
			return Expect{}, s3err.ErrInvalidDigest
		}
		e.ContentMD5 = b
	}
	// Two algorithms are refused before either value is looked at.
	for _, alg := range Algorithms {
		if len(h.Values(headerName(alg))) == 0 {
			continue
		}
		if e.Algorithm != "" {
			return Expect{}, errMultiple
		}
		e.Algorithm = alg
	}
	if e.Algorithm != "" {
		vs := h.Values(headerName(e.Algorithm))
		if len(vs) > 1 || decode(e.Algorithm, vs[0]) == nil {
			return Expect{}, invalidValue(e.Algorithm)
		}
		e.Value = strings.TrimSpace(vs[0])
	}
	for _, v := range h.Values("X-Amz-Trailer") {
		for name := range strings.SplitSeq(v, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			rest, ok := strings.CutPrefix(name, "x-amz-checksum-")
			if !ok {
				continue // not a checksum: the signature layer deals with it
			}
			alg := strings.ToUpper(rest)
			if size(alg) == 0 {
				return Expect{}, errBadTrailer
			}
			if e.Algorithm != "" {
				return Expect{}, errMultiple
			}
			e.Algorithm, e.Trailer = alg, true
		}
	}
	if sdk := h.Get("X-Amz-Sdk-Checksum-Algorithm"); sdk != "" {
		// The algorithm of the checksum the request carries, in a
		// header or a trailer: S3 refuses one that names another.
		if size(strings.ToUpper(sdk)) == 0 {
			return Expect{}, ErrUnsupported
		}
		if e.Algorithm == "" {
			return Expect{}, errSDKAlone
		}
		if !strings.EqualFold(sdk, e.Algorithm) {
			return Expect{}, errSDKMismatch
		}
	}
	return e, nil
}

// Valid reports whether v is a base64 checksum value of alg.
func Valid(alg, v string) bool { return decode(alg, v) != nil }

// FromCompleteHeaders reads the x-amz-checksum-<alg> header of a
// CompleteMultipartUpload: the checksum the client expects of the whole
// object, with a "-<parts>" suffix for a composite one. It returns the
// algorithm and the value ("" and "" when there is none).
func FromCompleteHeaders(h http.Header) (alg, value string, err error) {
	for _, a := range Algorithms {
		if len(h.Values(headerName(a))) == 0 {
			continue
		}
		if alg != "" {
			return "", "", errMultiple
		}
		alg = a
	}
	if alg == "" {
		return "", "", nil
	}
	vs := h.Values(headerName(alg))
	v := strings.TrimSpace(vs[0])
	sum, n, composite := strings.Cut(v, "-")
	if len(vs) > 1 || decode(alg, sum) == nil || composite && !positive(n) {
		return "", "", invalidValue(alg)
	}
	return alg, v, nil
}

// positive reports whether s is a decimal number above zero.
func positive(s string) bool {
	if s == "" || len(s) > 5 || s[0] == '0' {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
