package checksum

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"io"
	"net/http"
	"strings"

	"github.com/strata-storage/strata/s3api/s3err"
)

var errTooLong = s3err.ErrIncompleteBody.WithMessage("The request body is longer than the Content-Length HTTP header says.")

// Reader hashes a payload as it passes and checks it at its end.
type Reader struct {
	r       io.Reader
	e       Expect
	size    int64
	trailer func() http.Header

	md5 hash.Hash
	sum hash.Hash // of e.Algorithm; nil without one

	alsoAlg string // another algorithm computed (Also), never checked
	also    hash.Hash

	n   int64
	err error // io.EOF or the verification error, once the payload ended

	md5Hex string
	sums   map[string]string
}

// NewReader returns a Reader of r that always computes the MD5 and, if
// e.Algorithm is set, that checksum. size >= 0 is the expected byte count;
// trailer returns the trailing headers and is called only after r's end.
//
// At the end of r, Read checks the byte count (short: IncompleteBody), the
// MD5 against e.ContentMD5 (BadDigest) and the checksum against e.Value or
// the trailer (BadDigest; a declared trailer that is missing:
// InvalidRequest), and returns io.EOF only when all hold. Once size bytes
// have passed, the Read that returns the last of them also looks for r's
// end, so the verdict comes with the last bytes. A payload longer than size
// is refused as soon as its extra bytes arrive; they are not passed on.
// Errors from r pass through, but io.ErrUnexpectedEOF (a body cut short)
// becomes IncompleteBody.
func NewReader(r io.Reader, e Expect, size int64, trailer func() http.Header) *Reader {
	cr := &Reader{r: r, e: e, size: size, trailer: trailer, md5: md5.New(), sums: map[string]string{}}
	if e.Algorithm != "" {
		// An unknown algorithm is left unchecked here; FromHeaders refuses it.
		cr.sum, _ = New(e.Algorithm)
	}
	return cr
}

func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.r.Read(p)
	if err == io.ErrUnexpectedEOF {
		// net/http's answer to a body cut short of its Content-Length:
		// passed on as it is, it reads as a short end of data to code
		// that fills buffers with io.ReadFull.
		err = s3err.ErrIncompleteBody
	}
	if r.size >= 0 && r.n+int64(n) > r.size {
		n, err = int(r.size-r.n), errTooLong
	}
	r.md5.Write(p[:n])
	if r.sum != nil {
		r.sum.Write(p[:n])
	}
	if r.also != nil {
		r.also.Write(p[:n])
	}
	r.n += int64(n)
	if err == nil && len(p) > 0 && r.n == r.size {
		// All the announced bytes are in: look for the end now, so that
		// the last bytes and the verdict on them leave together, also
		// for a caller that reads no more than size bytes.
		var b [1]byte
		if m, perr := io.ReadAtLeast(r.r, b[:], 1); m > 0 {
			err = errTooLong
		} else {
			err = perr
		}
	}
	switch err {
	case io.EOF:
		if err = r.finish(); err == nil {
			err = io.EOF
		}
		r.err = err
	case errTooLong, s3err.ErrIncompleteBody:
		r.err = err
	}
	return n, err
}

// Algorithm is the algorithm the payload is checked with ("" for none).
func (r *Reader) Algorithm() string { return r.e.Algorithm }

// Also computes the checksum of alg too (a default the server adds), when
// it is not the algorithm already checked; call it before the first Read.
func (r *Reader) Also(alg string) {
	if alg == r.e.Algorithm {
		return
	}
	if h, err := New(alg); err == nil {
		r.alsoAlg, r.also = alg, h
	}
}

func (r *Reader) finish() error {
	if r.size >= 0 && r.n < r.size {
		return s3err.ErrIncompleteBody
	}
	if r.also != nil {
		r.sums[r.alsoAlg] = base64.StdEncoding.EncodeToString(r.also.Sum(nil))
	}
	sum := r.md5.Sum(nil)
	r.md5Hex = hex.EncodeToString(sum)
	if r.e.ContentMD5 != nil && !bytes.Equal(sum, r.e.ContentMD5) {
		return s3err.ErrBadDigest.WithMessage("The Content-MD5 you specified did not match what we received.")
	}
	if r.sum == nil {
		return nil
	}
	alg := r.e.Algorithm
	got := r.sum.Sum(nil)
	var want []byte
	if r.e.Trailer {
		var v string
		if r.trailer != nil {
			v = r.trailer().Get(headerName(alg))
		}
		if v == "" {
			return s3err.ErrInvalidRequest.WithMessage("The " + headerName(alg) + " trailer was declared in x-amz-trailer but not sent.")
		}
		if want = decode(alg, v); want == nil {
			return s3err.ErrInvalidRequest.WithMessage("Value for " + headerName(alg) + " trailing header is invalid.")
		}
	} else if r.e.Value != "" {
		if want = decode(alg, r.e.Value); want == nil {
			return invalidValue(alg)
		}
	}
	if want != nil && !bytes.Equal(got, want) {
		return s3err.ErrBadDigest.WithMessage("The " + strings.ToUpper(alg) + " you specified did not match the calculated checksum.")
	}
	r.sums[strings.ToUpper(alg)] = base64.StdEncoding.EncodeToString(got)
	return nil
}

// MD5Hex is the hex MD5 of the payload, after io.EOF.
func (r *Reader) MD5Hex() string { return r.md5Hex }

// Checksums maps the algorithm to the base64 checksum of the payload,
// after io.EOF; empty without an algorithm.
func (r *Reader) Checksums() map[string]string { return r.sums }

// Size is the number of bytes read so far.
func (r *Reader) Size() int64 { return r.n }
