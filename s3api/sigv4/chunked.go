package sigv4

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"hash"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/strata-storage/strata/s3api/s3err"
)

// The aws-chunked format, as S3 documents it:
//
//	hex-size[;chunk-signature=sig]\r\n data \r\n   (repeated)
//	0[;chunk-signature=sig]\r\n                    (the final, empty chunk)
//	\r\n                                           (without trailer), or
//	name:value\r\n ... [x-amz-trailer-signature:sig\r\n] \r\n
//
// Unsigned chunks (STREAMING-UNSIGNED-PAYLOAD-TRAILER) carry no signature.

const (
	maxLine        = 4 << 10  // a chunk header or trailer line
	maxTrailer     = 16 << 10 // the whole trailer section
	trailerSigName = "x-amz-trailer-signature"
)

var (
	// S3's texts: a body that breaks its aws-chunked encoding
	// "terminated unexpectedly"; one whose chunks do not add up to
	// x-amz-decoded-content-length did not give the bytes announced.
	errTruncated      = s3err.ErrIncompleteBody.WithMessage("The request body terminated unexpectedly")
	errCut            = s3err.ErrIncompleteBody.WithMessage(errTruncated.Message)
	errChunkFraming   = s3err.ErrIncompleteBody.WithMessage(errTruncated.Message)
	errPartialLine    = s3err.ErrIncompleteBody.WithMessage(errTruncated.Message) // a line cut by the end of the body
	errDecodedSize    = s3err.ErrIncompleteBody.WithMessage("You did not provide the number of bytes specified by the Content-Length HTTP header")
	errMalformedTrail = &s3err.APIError{Code: "MalformedTrailerError", Status: 400, Message: "The request contained trailing data that was not well-formed or did not conform to our published schema."}
)

// chunkedReader decodes an aws-chunked body and verifies it as it goes. It
// hashes each chunk while releasing its bytes and checks the chunk's
// signature in the Read that releases the chunk's last byte, before
// anything of the next chunk is read; so a failure always comes before (in
// place of) io.EOF.
type chunkedReader struct {
	src      *bufio.Reader
	sig      *signing // nil: unsigned chunks (and trailer)
	size     int64    // x-amz-decoded-content-length
	hasTrail bool     // a trailer section follows the final chunk
	declared []string // x-amz-trailer names, lower-case

	n       int64     // decoded bytes released so far
	left    int64     // bytes left in the current chunk
	want    string    // the current chunk's claimed signature
	h       hash.Hash // the current chunk's SHA-256
	trailer http.Header
	err     error
}

func newChunkedReader(r io.Reader, s *signing, size int64, trailers bool, declared []string) *chunkedReader {
	c := &chunkedReader{
		src:      bufio.NewReaderSize(r, maxLine),
		sig:      s,
		size:     size,
		hasTrail: trailers,
		declared: declared,
		trailer:  http.Header{},
	}
	if s != nil {
		c.h = sha256.New()
	}
	return c
}

// trailers returns the trailing headers, complete once Read returned io.EOF.
func (c *chunkedReader) trailers() http.Header { return c.trailer }

func (c *chunkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	for c.left == 0 {
		if err := c.next(); err != nil {
			c.err = err
			return 0, err
		}
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.src.Read(p)
	c.left -= int64(n)
	c.n += int64(n)
	if c.h != nil {
		c.h.Write(p[:n])
	}
	switch {
	case err == io.EOF, err == io.ErrUnexpectedEOF:
		err = errTruncated // a stream cannot end in a chunk's data
	case err == nil && c.left == 0:
		// Verify the chunk now, so that its last bytes and the verdict
		// on them leave together; after the last byte of the payload,
		// read the end of the stream too, so that a caller that reads
		// exactly the decoded length still gets the verdict (or io.EOF).
		err = c.endChunk()
		if err == nil && c.n == c.size {
			err = c.next()
		}
	}
	if err != nil {
		c.err = err
	}
	return n, err
}

// next reads the next chunk header. After the final chunk it reads the
// rest of the stream and returns io.EOF if all is well.
func (c *chunkedReader) next() error {
	final, err := c.startChunk()
	if err != nil || !final {
		return err
	}
	if err := c.finish(); err != nil {
		return err
	}
	return io.EOF
}

// line reads one line, without its CRLF (or bare LF).
func (c *chunkedReader) line() ([]byte, error) {
	l, _, err := c.crlfLine()
	return l, err
}

// crlfLine reads one line, without its CRLF (or bare LF), and reports
// whether it ended in CRLF.
func (c *chunkedReader) crlfLine() ([]byte, bool, error) {
	l, err := c.src.ReadSlice('\n')
	switch {
	case err == io.EOF && len(l) > 0 && string(l) != "\r":
		return nil, false, errPartialLine
	case err == io.EOF:
		return nil, false, errTruncated
	case err == io.ErrUnexpectedEOF:
		// The client went away before the end of the body it announced
		// (net/http's way of saying so): never a proper end.
		return nil, false, errCut
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, false, errChunkFraming
	case err != nil:
		return nil, false, err
	}
	l = l[:len(l)-1]
	crlf := len(l) > 0 && l[len(l)-1] == '\r'
	if crlf {
		l = l[:len(l)-1]
	}
	return l, crlf, nil
}

// startChunk reads a chunk header and reports whether it is the final chunk.
func (c *chunkedReader) startChunk() (final bool, err error) {
	// A chunk header ends in CRLF, as every client writes it (only
	// trailer lines come with bare LFs, from minio-go).
	l, crlf, err := c.crlfLine()
	if err != nil {
		return false, err
	}
	if !crlf {
		return false, errChunkFraming
	}
	size, ext, hasExt := bytes.Cut(l, []byte(";"))
	n, ok := parseHexSize(bytes.TrimRight(size, " \t"))
	if !ok {
		return false, errChunkFraming
	}
	if c.sig != nil {
		sig, ok := bytes.CutPrefix(bytes.TrimSpace(ext), []byte("chunk-signature="))
		if !hasExt || !ok {
			return false, errChunkFraming
		}
		if !isSignature(sig) {
			return false, errChunkFraming
		}
		c.want = strings.ToLower(string(sig))
	}
	if n > c.size-c.n {
		// More than x-amz-decoded-content-length announced. S3 reads
		// the chunk before it says so: a chunk that breaks the
		// framing is that error. Its data is not released.
		if _, err := io.CopyN(io.Discard, c.src, n); err != nil {
			return false, errTruncated
		}
		if err := c.crlf(); err != nil {
			return false, err
		}
		return false, errDecodedSize
	}
	c.left = n
	if c.h != nil {
		c.h.Reset()
	}
	if n > 0 {
		return false, nil
	}
	// The final chunk: its signature covers no data.
	if err := c.verifyChunk(); err != nil {
		return false, err
	}
	if c.n != c.size {
		return false, errDecodedSize
	}
	return true, nil
}

// verifyChunk checks the current chunk's signature and moves the chain on.
func (c *chunkedReader) verifyChunk() error {
	if c.sig == nil {
		return nil
	}
	got := c.sig.chunk(c.h.Sum(nil))
	if !hmac.Equal([]byte(got), []byte(c.want)) {
		return s3err.ErrSignatureDoesNotMatch
	}
	c.sig.prev = got
	return nil
}

// endChunk verifies a chunk whose data has all been read and consumes the
// CRLF after it.
func (c *chunkedReader) endChunk() error {
	if err := c.verifyChunk(); err != nil {
		return err
	}
	return c.crlf()
}

// crlf consumes the CRLF that ends a chunk's data.
func (c *chunkedReader) crlf() error {
	var crlf [2]byte
	if _, err := io.ReadFull(c.src, crlf[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return errTruncated
		}
		return err
	}
	if crlf != [2]byte{'\r', '\n'} {
		return errChunkFraming
	}
	return nil
}

// finish reads what follows the final chunk: an empty line, or the trailer
// section, and verifies the trailer signature when the chunks are signed.
func (c *chunkedReader) finish() error {
	if !c.hasTrail {
		l, err := c.line()
		if err == errTruncated {
			return nil // the closing CRLF carries nothing; tolerate its absence
		}
		if err != nil {
			return err
		}
		if len(l) != 0 {
			return errChunkFraming
		}
		return nil
	}
	type field struct{ name, value string }
	var (
		fields []field // name lower-case, value trimmed
		got    = http.Header{}
		sig    string
		total  int
		// S3 tells a signed trailer section without its signature
		// line (IncompleteBody) before a malformed trailer in it.
		malformed bool
	)
	for first := true; ; first = false {
		l, err := c.line()
		if err == errTruncated {
			if first {
				// Nothing at all after the final chunk: the
				// trailer section is missing, not empty.
				return errTruncated
			}
			break // the section may end at the end of the body
		}
		if err == errChunkFraming {
			return errMalformedTrail
		}
		if err != nil {
			return err
		}
		if total += len(l) + 2; total > maxTrailer {
			return errMalformedTrail
		}
		if len(l) == 0 {
			// Empty lines are skipped: some clients, and AWS's own
			// example, put one between the final chunk and the
			// trailer section; minio-go puts one before
			// x-amz-trailer-signature. The section ends with the body.
			continue
		}
		name, value, ok := strings.Cut(string(l), ":")
		name = strings.ToLower(strings.TrimSpace(name))
		value = strings.TrimSpace(value)
		if !ok || name == "" {
			malformed = true
			continue
		}
		if name == trailerSigName {
			if c.sig == nil || sig != "" {
				return errMalformedTrail
			}
			if !isSignature([]byte(value)) {
				return errChunkFraming
			}
			sig = strings.ToLower(value)
			continue
		}
		key := http.CanonicalHeaderKey(name)
		if !slices.Contains(c.declared, name) || got[key] != nil {
			malformed = true
			continue
		}
		got[key] = []string{value}
		fields = append(fields, field{name, value})
	}
	if c.sig != nil && sig == "" {
		return errTruncated
	}
	if malformed {
		return errMalformedTrail
	}
	for _, name := range c.declared {
		if got[http.CanonicalHeaderKey(name)] == nil {
			return errMalformedTrail // announced in x-amz-trailer, not sent
		}
	}
	if c.sig == nil {
		c.trailer = got
		return nil
	}
	slices.SortFunc(fields, func(a, b field) int { return strings.Compare(a.name, b.name) })
	var canonical strings.Builder
	for _, f := range fields {
		canonical.WriteString(f.name)
		canonical.WriteByte(':')
		canonical.WriteString(f.value)
		canonical.WriteByte('\n')
	}
	if !hmac.Equal([]byte(c.sig.trailer(canonical.String())), []byte(sig)) {
		return s3err.ErrSignatureDoesNotMatch
	}
	c.trailer = got
	return nil
}

// isSignature reports whether b is a signature: 64 hex digits.
func isSignature(b []byte) bool {
	if len(b) != 64 {
		return false
	}
	for _, c := range b {
		if !isHex(c) {
			return false
		}
	}
	return true
}

// parseHexSize parses a chunk size: 1 to 15 hex digits, nothing else.
func parseHexSize(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if !isHex(c) {
			return 0, false
		}
		n = n<<4 | int64(unhex(c))
	}
	return n, true
}
