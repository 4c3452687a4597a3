package sigv4

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// AWS's chunked upload examples ("Transferring Payload in Multiple Chunks"
// and "Including Trailing Headers"): 66560 bytes of 'a' in a 65536-byte and
// a 1024-byte chunk.
const (
	exampleSeed           = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
	exampleTrailerSeed    = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"
	exampleTrailerSig     = "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435"
	exampleDecodedLength  = 66560
	exampleCRC32C         = "sOO8/Q=="
	exampleChunkedHeaders = "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class"
	exampleTrailerHeaders = "content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer"
)

var (
	exampleChunkSigs        = [3]string{"ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648", "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497", "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"}
	exampleTrailerChunkSigs = [3]string{"b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2", "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7", "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992"}
)

// exampleChunks is the wire form of the example's chunks, up to and
// including the final chunk's header line.
func exampleChunks(sigs [3]string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "10000;chunk-signature=%s\r\n%s\r\n", sigs[0], strings.Repeat("a", 65536))
	fmt.Fprintf(&b, "400;chunk-signature=%s\r\n%s\r\n", sigs[1], strings.Repeat("a", 1024))
	fmt.Fprintf(&b, "0;chunk-signature=%s\r\n", sigs[2])
	return b.Bytes()
}

func exampleChunkedBody() []byte { return append(exampleChunks(exampleChunkSigs), "\r\n"...) }

func exampleChunkedRequest(body []byte) *http.Request {
	return request("PUT", "/examplebucket/chunkObject.txt", "s3.amazonaws.com", string(body),
		"x-amz-date", "20130524T000000Z",
		"x-amz-storage-class", "REDUCED_REDUNDANCY",
		"Authorization", authHeader(exampleChunkedHeaders, exampleSeed),
		"x-amz-content-sha256", StreamingPayload,
		"Content-Encoding", "aws-chunked",
		"x-amz-decoded-content-length", "66560",
		"Content-Length", "66824")
}

func exampleTrailerRequest(body []byte) *http.Request {
	return request("PUT", "/examplebucket/chunkObject.txt", "s3.amazonaws.com", string(body),
		"x-amz-date", "20130524T000000Z",
		"x-amz-storage-class", "REDUCED_REDUNDANCY",
		"Authorization", authHeader(exampleTrailerHeaders, exampleTrailerSeed),
		"x-amz-content-sha256", StreamingPayloadTrailer,
		"Content-Encoding", "aws-chunked",
		"x-amz-decoded-content-length", "66560",
		"x-amz-trailer", "x-amz-checksum-crc32c")
}

func TestAWSChunkedExample(t *testing.T) {
	if n := len(exampleChunkedBody()); n != 66824 {
		t.Fatalf("example body is %d bytes", n)
	}
	for _, wrap := range []struct {
		name string
		f    func(io.Reader) io.Reader
	}{
		{"plain", func(r io.Reader) io.Reader { return r }},
		{"one byte", iotest.OneByteReader},
		{"half", iotest.HalfReader},
	} {
		t.Run(wrap.name, func(t *testing.T) {
			r := exampleChunkedRequest(exampleChunkedBody())
			r.Body = io.NopCloser(wrap.f(r.Body))
			res, err := verifierAt(exampleTime).Verify(r)
			if err != nil {
				t.Fatal(err)
			}
			if res.Size != exampleDecodedLength {
				t.Fatalf("Size %d", res.Size)
			}
			got, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, bytes.Repeat([]byte("a"), exampleDecodedLength)) {
				t.Fatalf("decoded %d bytes", len(got))
			}
			if len(res.Trailer()) != 0 {
				t.Fatal("trailer")
			}
		})
	}
}

// failsBeforeEOF reads the whole body and checks that it ends in an error
// with code, not io.EOF.
func failsBeforeEOF(t *testing.T, r *http.Request, code string) {
	t.Helper()
	res, err := verifierAt(exampleTime).Verify(r)
	if err != nil {
		if !isErr(err, code) {
			t.Fatalf("Verify: %v, want %s", err, code)
		}
		return
	}
	buf := make([]byte, 1000)
	for {
		_, err := res.Body.Read(buf)
		if err == io.EOF {
			t.Fatalf("io.EOF, want %s", code)
		}
		if err != nil {
			if !isErr(err, code) {
				t.Fatalf("got %v, want %s", err, code)
			}
			if _, again := res.Body.Read(buf); again != err {
				t.Fatalf("error not sticky: %v", again)
			}
			return
		}
	}
}

func TestAWSChunkedExampleTampered(t *testing.T) {
	body := exampleChunkedBody()
	cases := []struct {
		name   string
		change func([]byte) []byte
		req    func(*http.Request)
		code   string
	}{
		{"first chunk byte", func(b []byte) []byte { b[200] = 'b'; return b }, nil, "SignatureDoesNotMatch"},
		{"second chunk byte", func(b []byte) []byte { b[65626+100] = 'b'; return b }, nil, "SignatureDoesNotMatch"},
		{"final signature", func(b []byte) []byte { return bytes.Replace(b, []byte("b6c6ea8a"), []byte("b6c6ea8b"), 1) }, nil, "SignatureDoesNotMatch"},
		{"chunk signatures swapped", func(b []byte) []byte {
			b = bytes.Replace(b, []byte(exampleChunkSigs[0]), []byte("X"), 1)
			b = bytes.Replace(b, []byte(exampleChunkSigs[1]), []byte(exampleChunkSigs[0]), 1)
			return bytes.Replace(b, []byte("X"), []byte(exampleChunkSigs[1]), 1)
		}, nil, "SignatureDoesNotMatch"},
		{"signature missing", func(b []byte) []byte {
			return bytes.Replace(b, []byte("400;chunk-signature="+exampleChunkSigs[1]), []byte("400"), 1)
		}, nil, "IncompleteBody"},
		{"size not hex", func(b []byte) []byte { return bytes.Replace(b, []byte("400;"), []byte("4g0;"), 1) }, nil, "IncompleteBody"},
		{"size changed", func(b []byte) []byte { return bytes.Replace(b, []byte("400;"), []byte("3ff;"), 1) }, nil, "SignatureDoesNotMatch"},
		{"CRLF missing", func(b []byte) []byte { return bytes.Replace(b, []byte("a\r\n400;"), []byte("aa\n400;"), 1) }, nil, "IncompleteBody"},
		{"garbage after final chunk", func(b []byte) []byte { return append(b[:len(b)-2], "xx\r\n"...) }, nil, "IncompleteBody"},
		{"closing CRLF changed", func(b []byte) []byte { return append(b[:len(b)-1], 's') }, nil, "IncompleteBody"},
		{"short chunk signature", func(b []byte) []byte {
			return bytes.Replace(b, []byte(exampleChunkSigs[1]), []byte(exampleChunkSigs[1][:59]), 1)
		}, nil, "IncompleteBody"},
		{"CRLF after chunk header missing", func(b []byte) []byte {
			return bytes.Replace(b, []byte(exampleChunkSigs[0]+"\r\n"), []byte(exampleChunkSigs[0]), 1)
		}, nil, "IncompleteBody"},
		{"decoded length larger", nil, func(r *http.Request) { r.Header.Set("X-Amz-Decoded-Content-Length", "66561") }, "SignatureDoesNotMatch"},
		{"seed signature", nil, func(r *http.Request) {
			r.Header.Set("Authorization", authHeader(exampleChunkedHeaders, strings.Replace(exampleSeed, "4f23", "4f24", 1)))
		}, "SignatureDoesNotMatch"},
		{"no decoded length", nil, func(r *http.Request) {
			r.Header.Del("X-Amz-Decoded-Content-Length")
			SignRequest(r, exampleKey, exampleSecret, "us-east-1", StreamingPayload, exampleTime)
		}, "MissingContentLength"},
		{"decoded length not a number", nil, func(r *http.Request) {
			r.Header.Set("X-Amz-Decoded-Content-Length", "-1")
			SignRequest(r, exampleKey, exampleSecret, "us-east-1", StreamingPayload, exampleTime)
		}, "MissingContentLength"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := bytes.Clone(body)
			if c.change != nil {
				b = c.change(b)
			}
			r := exampleChunkedRequest(b)
			if c.req != nil {
				c.req(r)
			}
			failsBeforeEOF(t, r, c.code)
		})
	}
}

// The declared decoded length is checked by the decoder too, apart from
// the signature (which covers the header).
func TestChunkedDecodedLength(t *testing.T) {
	for _, size := range []int64{66559, 66561, 0} {
		s := &signing{key: SigningKey(exampleSecret, "20130524", "us-east-1", "s3"), date: "20130524T000000Z", scope: "20130524/us-east-1/s3/aws4_request", prev: exampleSeed}
		cr := newChunkedReader(bytes.NewReader(exampleChunkedBody()), s, size, false, nil)
		if _, err := io.ReadAll(cr); !isErr(err, "IncompleteBody") {
			t.Errorf("declared %d: %v", size, err)
		}
	}
}

func TestAWSChunkedExampleTruncated(t *testing.T) {
	body := exampleChunkedBody()
	var cuts []int
	for i := 0; i < 200; i++ {
		cuts = append(cuts, i, 65536+i, 65626-100+i, len(body)-200+i)
	}
	for i, cut := range cuts {
		r := exampleChunkedRequest(body[:cut])
		if i%2 == 0 {
			// A source that returns io.EOF with its last bytes.
			r.Body = io.NopCloser(iotest.DataErrReader(r.Body))
		}
		res, err := verifierAt(exampleTime).Verify(r)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(io.Discard, struct{ io.Reader }{res.Body}) // 32 KiB reads
		if cut >= len(body)-2 {
			// Only the closing CRLF is missing: nothing is lost.
			if err != nil {
				t.Errorf("cut at %d: %v", cut, err)
			}
			continue
		}
		if !isErr(err, "IncompleteBody") && !isErr(err, "SignatureDoesNotMatch") {
			t.Errorf("cut at %d of %d: %v", cut, len(body), err)
		}
	}
}

func TestAWSTrailerExample(t *testing.T) {
	trailer := "x-amz-checksum-crc32c:" + exampleCRC32C + "\r\nx-amz-trailer-signature:" + exampleTrailerSig + "\r\n\r\n"
	forms := map[string]string{
		"as SDKs send it":        string(exampleChunks(exampleTrailerChunkSigs)) + trailer,
		"with an empty line":     string(exampleChunks(exampleTrailerChunkSigs)) + "\r\n" + trailer,
		"without the final CRLF": string(exampleChunks(exampleTrailerChunkSigs)) + strings.TrimSuffix(trailer, "\r\n"),
		"with bare LFs":          string(exampleChunks(exampleTrailerChunkSigs)) + strings.ReplaceAll(trailer, "\r\n", "\n"),
		// minio-go ends the checksum line with a bare LF and puts an
		// empty line before the signature.
		"as minio-go sends it": string(exampleChunks(exampleTrailerChunkSigs)) +
			"x-amz-checksum-crc32c:" + exampleCRC32C + "\n\r\nx-amz-trailer-signature:" + exampleTrailerSig + "\r\n\r\n",
	}
	for name, body := range forms {
		t.Run(name, func(t *testing.T) {
			r := exampleTrailerRequest([]byte(body))
			r.Body = io.NopCloser(iotest.HalfReader(r.Body))
			res, err := verifierAt(exampleTime).Verify(r)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != exampleDecodedLength || res.Size != exampleDecodedLength {
				t.Fatalf("decoded %d bytes, Size %d", len(got), res.Size)
			}
			if v := res.Trailer().Get("x-amz-checksum-crc32c"); v != exampleCRC32C {
				t.Fatalf("trailer %v", res.Trailer())
			}
			if res.Trailer().Get("x-amz-trailer-signature") != "" {
				t.Fatal("the trailer signature is passed on")
			}
		})
	}
	body := string(exampleChunks(exampleTrailerChunkSigs))
	for name, c := range map[string]struct{ trailer, code string }{
		"value changed": {"x-amz-checksum-crc32c:sOO8/A==\r\nx-amz-trailer-signature:" + exampleTrailerSig + "\r\n\r\n", "SignatureDoesNotMatch"},
		// A signed trailer section without its signature, or with one
		// that is not 64 hex digits, is cut short (IncompleteBody), as
		// S3 answers it.
		"signature missing":   {"x-amz-checksum-crc32c:" + exampleCRC32C + "\r\n\r\n", "IncompleteBody"},
		"no trailer at all":   {"\r\n", "IncompleteBody"},
		"signature renamed":   {"x-amz-checksum-crc32c:" + exampleCRC32C + "\r\nx-aminvalidrailer-signature:" + exampleTrailerSig + "\r\n\r\n", "IncompleteBody"},
		"no signature line":   {"x-amz-checksum-crc32c:" + exampleCRC32C + "\rbcdx-amz-trailer-signature:" + exampleTrailerSig + "\r\n\r\n", "IncompleteBody"},
		"garbage at the end":  {"x-amz-checksum-crc32c:" + exampleCRC32C + "\r\nx-amz-trailer-signature:" + exampleTrailerSig + "\r\npp", "IncompleteBody"},
		"signature not sent":  {"\r\nx-amz-trailer-signature:" + exampleTrailerSig + "\r\n\r\n", "MalformedTrailerError"},
		"undeclared trailer":  {"x-amz-checksum-crc32:AAAAAA==\r\nx-amz-trailer-signature:" + exampleTrailerSig + "\r\n\r\n", "MalformedTrailerError"},
		"duplicate trailer":   {"x-amz-checksum-crc32c:" + exampleCRC32C + "\r\nx-amz-checksum-crc32c:" + exampleCRC32C + "\r\nx-amz-trailer-signature:" + exampleTrailerSig + "\r\n\r\n", "MalformedTrailerError"},
		"line without colon":  {"x-amz-checksum-crc32c " + exampleCRC32C + "\r\nx-amz-trailer-signature:" + exampleTrailerSig + "\r\n\r\n", "MalformedTrailerError"},
		"two signatures":      {"x-amz-checksum-crc32c:" + exampleCRC32C + "\r\nx-amz-trailer-signature:" + exampleTrailerSig + "\r\nx-amz-trailer-signature:" + exampleTrailerSig + "\r\n\r\n", "MalformedTrailerError"},
		"huge trailer":        {strings.Repeat("x-amz-checksum-crc32c:"+strings.Repeat("A", 3000)+"\r\n", 8), "MalformedTrailerError"},
		"over-long line":      {"x-amz-checksum-crc32c:" + strings.Repeat("A", 5000) + "\r\n", "MalformedTrailerError"},
		"truncated signature": {"x-amz-checksum-crc32c:" + exampleCRC32C + "\r\nx-amz-trailer-signature:" + exampleTrailerSig[:20], "IncompleteBody"},
		"short signature":     {"x-amz-checksum-crc32c:" + exampleCRC32C + "\r\nx-amz-trailer-signature:" + exampleTrailerSig[:20] + "\r\n\r\n", "IncompleteBody"},
	} {
		t.Run(name, func(t *testing.T) {
			failsBeforeEOF(t, exampleTrailerRequest([]byte(body+c.trailer)), c.code)
		})
	}
}

// chunked encodes data as aws-chunked in chunks of the given sizes (the
// last repeated), signed with s when it is not nil, followed by trailer
// fields ("name", "value", ...) when trailer is not nil.
func chunked(s *signing, data []byte, sizes []int, trailer ...string) []byte {
	var b bytes.Buffer
	for i := 0; ; i++ {
		n := sizes[min(i, len(sizes)-1)]
		n = min(n, len(data))
		chunk := data[:n]
		data = data[n:]
		b.WriteString(strconv.FormatInt(int64(n), 16))
		if s != nil {
			sum := sha256.Sum256(chunk)
			s.prev = s.chunk(sum[:])
			b.WriteString(";chunk-signature=" + s.prev)
		}
		b.WriteString("\r\n")
		if n == 0 {
			break
		}
		b.Write(chunk)
		b.WriteString("\r\n")
	}
	if trailer == nil {
		b.WriteString("\r\n")
		return b.Bytes()
	}
	var canonical strings.Builder
	for i := 0; i+1 < len(trailer); i += 2 {
		b.WriteString(trailer[i] + ":" + trailer[i+1] + "\r\n")
		canonical.WriteString(trailer[i] + ":" + trailer[i+1] + "\n")
	}
	if s != nil {
		b.WriteString("x-amz-trailer-signature:" + s.trailer(canonical.String()) + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// TestChunkedRoundTrip signs random payloads in random chunk sizes in all
// three streaming modes, through Verify.
func TestChunkedRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now().UTC()
	v := &Verifier{Lookup: func(string) (string, bool) { return "sk", true }}
	for i := range 60 {
		data := make([]byte, rng.IntN(200_000))
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		sizes := []int{1 + rng.IntN(70_000), 1 + rng.IntN(9000)}
		mode := []string{StreamingPayload, StreamingPayloadTrailer, StreamingUnsignedTrailer}[i%3]
		r, err := http.NewRequest("PUT", "http://h/b/k", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Content-Encoding", "aws-chunked")
		r.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(data)))
		if mode != StreamingPayload {
			r.Header.Set("X-Amz-Trailer", "x-amz-checksum-sha256")
		}
		SignRequest(r, "ak", "sk", "us-east-1", mode, now)
		a, err := parseAuthorization(r.Header.Get("Authorization"))
		if err != nil {
			t.Fatal(err)
		}
		var s *signing
		if mode != StreamingUnsignedTrailer {
			s = newSigning("sk", now.Truncate(time.Second), "us-east-1")
			s.prev = a.signature
		}
		var trailer []string
		if mode != StreamingPayload {
			trailer = []string{"x-amz-checksum-sha256", "dGVzdA=="}
		}
		body := chunked(s, data, sizes, trailer...)
		r.Body = io.NopCloser(iotest.HalfReader(bytes.NewReader(body)))
		r.ContentLength = int64(len(body))
		res, err := v.Verify(r)
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		got, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatalf("%s, %d bytes in chunks of %v: %v", mode, len(data), sizes, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("%s: payload differs", mode)
		}
		if mode != StreamingPayload && res.Trailer().Get("X-Amz-Checksum-Sha256") != "dGVzdA==" {
			t.Fatalf("%s: trailer %v", mode, res.Trailer())
		}
	}
}

func TestUnsignedTrailer(t *testing.T) {
	data := []byte("hello, unsigned trailer")
	body := "17\r\n" + string(data) + "\r\n0\r\nx-amz-checksum-crc32:d0vFqQ==\r\n\r\n"
	mk := func(body string) *http.Request {
		r := request("PUT", "/b/k", "h", body,
			"Content-Encoding", "aws-chunked",
			"X-Amz-Decoded-Content-Length", strconv.Itoa(len(data)),
			"X-Amz-Trailer", "x-amz-checksum-crc32")
		SignRequest(r, exampleKey, exampleSecret, "us-east-1", StreamingUnsignedTrailer, exampleTime)
		return r
	}
	res, err := verifierAt(exampleTime).Verify(mk(body))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(res.Body)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("%q, %v", got, err)
	}
	if res.Trailer().Get("X-Amz-Checksum-Crc32") != "d0vFqQ==" {
		t.Fatalf("trailer %v", res.Trailer())
	}
	for name, b := range map[string]string{
		// A trailer declared in x-amz-trailer and not sent, as S3
		// answers it.
		"declared, not sent": "17\r\n" + string(data) + "\r\n0\r\n\r\n",
		"empty name":         "17\r\n" + string(data) + "\r\n0\r\n:d0vFqQ==\r\n\r\n",
		"undeclared":         "17\r\n" + string(data) + "\r\n0\r\nx-amz-meta-a:b\r\n\r\n",
		"signature":          "17\r\n" + string(data) + "\r\n0\r\nx-amz-checksum-crc32:d0vFqQ==\r\nx-amz-trailer-signature:00\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) { failsBeforeEOF(t, mk(b), "MalformedTrailerError") })
	}
	t.Run("short", func(t *testing.T) {
		failsBeforeEOF(t, mk("16\r\n"+string(data[1:])+"\r\n0\r\n\r\n"), "IncompleteBody")
	})
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add(authHeader("host;range;x-amz-content-sha256;x-amz-date", "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"))
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/20130524/r/s3/aws4_request, SignedHeaders=host, Signature=00")
	f.Add("AWS4-HMAC-SHA256 ,,, = ==")
	f.Add("AWS4-HMAC-SHA256 Credential=////")
	f.Add("AWS AK:sig")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := parseAuthorization(h)
		if err != nil {
			if !isErr(err, "AuthorizationHeaderMalformed") {
				t.Fatalf("error %v", err)
			}
			return
		}
		if a.cred.accessKey == "" || a.cred.region == "" || len(a.cred.date) != 8 || len(a.signedHeaders) == 0 || a.signature != strings.ToLower(a.signature) {
			t.Fatalf("accepted %q as %+v", h, a)
		}
	})
}

func FuzzChunkedReader(f *testing.F) {
	key := SigningKey(exampleSecret, "20130524", "us-east-1", "s3")
	newSig := func(seed string) *signing {
		return &signing{key: key, date: "20130524T000000Z", scope: "20130524/us-east-1/s3/aws4_request", prev: seed}
	}
	small := chunked(newSig(exampleSeed), []byte("hello world, hello chunks"), []int{7})
	f.Add(small, int64(25), uint8(0))
	f.Add(chunked(nil, []byte("hello world"), []int{3}, "x-amz-checksum-crc32", "AAAAAA=="), int64(11), uint8(2))
	f.Add(chunked(newSig(exampleSeed), []byte("trailer"), []int{2}, "x-amz-checksum-crc32", "AAAAAA=="), int64(7), uint8(1))
	f.Add([]byte("0;chunk-signature=\r\n\r\n"), int64(0), uint8(0))
	f.Add([]byte("ffffffffffffff;chunk-signature=00\r\n"), int64(1<<62), uint8(0))
	f.Add([]byte("1\r\na\r\n0\r\n\r\n\r\nx:y\r\n"), int64(1), uint8(2))
	f.Fuzz(func(t *testing.T, body []byte, size int64, mode uint8) {
		if size < 0 {
			size = -size
		}
		var s *signing
		if mode%3 != 2 {
			s = newSig(exampleSeed)
		}
		cr := newChunkedReader(bytes.NewReader(body), s, size, mode%3 != 0, []string{"x-amz-checksum-crc32"})
		buf := make([]byte, 1+int(mode)%17)
		var n int64
		for range 1 << 20 {
			m, err := cr.Read(buf)
			n += int64(m)
			if m > len(buf) || n > size {
				t.Fatalf("read %d bytes of %d declared", n, size)
			}
			if err == io.EOF {
				if n != size {
					t.Fatalf("EOF after %d bytes of %d", n, size)
				}
				return
			}
			if err != nil {
				if _, again := cr.Read(buf); again != err {
					t.Fatalf("error not sticky")
				}
				return
			}
		}
		t.Fatal("the reader does not end")
	})
}

// A caller that reads no more than the decoded length still gets the
// verdict on the last chunk, the final chunk and the trailer, with the last
// bytes.
func TestChunkedVerdictWithLastBytes(t *testing.T) {
	good := exampleChunkedBody()
	badFinal := bytes.Replace(bytes.Clone(good), []byte("b6c6ea8a"), []byte("b6c6ea8b"), 1)
	badTrailer := append(exampleChunks(exampleTrailerChunkSigs), "x-amz-checksum-crc32c:AAAAAA==\r\nx-amz-trailer-signature:"+exampleTrailerSig+"\r\n\r\n"...)
	for _, c := range []struct {
		name string
		r    *http.Request
		code string
	}{
		{"good", exampleChunkedRequest(good), ""},
		{"bad final signature", exampleChunkedRequest(badFinal), "SignatureDoesNotMatch"},
		{"bad trailer", exampleTrailerRequest(badTrailer), "SignatureDoesNotMatch"},
	} {
		res, err := verifierAt(exampleTime).Verify(c.r)
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, io.LimitReader(res.Body, res.Size))
		if n != exampleDecodedLength || (c.code == "" && err != nil) || (c.code != "" && !isErr(err, c.code)) {
			t.Errorf("%s: %d bytes, %v", c.name, n, err)
		}
	}
}

// S3's errors for broken aws-chunked bodies, as versitygw's tests (written
// against S3) send them: unsigned chunks with a declared trailer.
func TestUnsignedTrailerErrors(t *testing.T) {
	const (
		terminated = "The request body terminated unexpectedly"
		notAllSent = "You did not provide the number of bytes specified by the Content-Length HTTP header"
	)
	cases := []struct {
		body, decoded, trailer string
		code, msg              string
	}{
		{"A\ndummy data\r\n0\r\n\r\n", "10", "x-amz-checksum-crc64nvme", "IncompleteBody", terminated},
		{"A\r\ndummy data0\r\n\r\n", "10", "x-amz-checksum-crc64nvme", "IncompleteBody", terminated},
		{"A\r\nXYZ\r\ndummy data\r\n0\r\n\r\n", "10", "x-amz-checksum-crc64nvme", "IncompleteBody", terminated},
		{"B\r\ndummy data\r\n0\r\n\r\n", "10", "x-amz-checksum-crc64nvme", "IncompleteBody", terminated},
		{"A\r\ndummy data\r\n0\r\n", "10", "x-amz-checksum-crc64nvme", "IncompleteBody", terminated},
		{"A\r\n", "10", "x-amz-checksum-crc64nvme", "IncompleteBody", terminated},
		{"A\r\nA\r\ndummy data\r\n0\r\n\r\n", "10", "x-amz-checksum-crc64nvme", "IncompleteBody", terminated},
		{"invalid_chunk_size\r\ndummy data\r\n0\r\nx-amz-checksum-crc64nvme:dPVWc2vU1+Q=\r\n\r\n", "10", "x-amz-checksum-crc64nvme", "IncompleteBody", terminated},
		{"A\r\ndummy data\r\nJ\r\nx-amz-checksum-crc64nvme:dPVWc2vU1+Q=\r\n\r\n", "10", "x-amz-checksum-crc64nvme", "IncompleteBody", terminated},
		// The chunks do not add up to x-amz-decoded-content-length.
		{"b\r\nabcdefghijk\r\n0\r\n\r\n", "5", "", "IncompleteBody", notAllSent},
		{"b\r\nabcdefghijk\r\n0\r\n\r\n", "200", "", "IncompleteBody", notAllSent},
		{"a\r\ndummy data\r\n0\r\nx-amz-checksum-crc64nvme:dPVWc2vU1+Q=\r\n\r\n", "128", "x-amz-checksum-crc64nvme", "IncompleteBody", notAllSent},
		{"a\r\ndummy data\r\n0\r\nx-amz-checksum-sha256:eXuwq/95jXIAr3aF3KeQHt/8Ur8mUA1b2XKCZY7iQVI=\r\n\r\n", "7", "x-amz-checksum-crc64nvme", "IncompleteBody", notAllSent},
		// Malformed trailers.
		{"5\r\nhello\r\n0\r\n\r\n", "5", "x-amz-checksum-crc64nvme", "MalformedTrailerError", ""},
		{"5\r\nhello\r\n0\r\n:M3eFcAZSQlc=\r\n\r\n", "5", "x-amz-checksum-crc64nvme", "MalformedTrailerError", ""},
		{"5\r\nhello\r\n0\r\nx-amz-checksum-crc64nvme:M3eFcAZSQlc=\r\n\r\n", "5", "", "MalformedTrailerError", ""},
		{"5\r\nhello\r\n0\r\ninvalid_trailer:M3eFcAZSQlc=\r\n\r\n", "5", "x-amz-checksum-crc64nvme", "MalformedTrailerError", ""},
		// x-amz-decoded-content-length missing or not a number.
		{"5\r\nhello\r\n0\r\n\r\n", "", "", "MissingContentLength", "You must provide the Content-Length HTTP header."},
		{"5\r\nhello\r\n0\r\n\r\n", "abc", "", "MissingContentLength", "You must provide the Content-Length HTTP header."},
		{"5\r\nhello\r\n0\r\n\r\n", "12x", "", "MissingContentLength", "You must provide the Content-Length HTTP header."},
	}
	for i, c := range cases {
		t.Run(strconv.Itoa(i+1), func(t *testing.T) {
			r := request("PUT", "/b/k", "h", c.body, "Content-Encoding", "aws-chunked")
			if c.decoded != "" {
				r.Header.Set("X-Amz-Decoded-Content-Length", c.decoded)
			}
			if c.trailer != "" {
				r.Header.Set("X-Amz-Trailer", c.trailer)
			}
			SignRequest(r, exampleKey, exampleSecret, "us-east-1", StreamingUnsignedTrailer, exampleTime)
			res, err := verifierAt(exampleTime).Verify(r)
			if err == nil {
				_, err = io.ReadAll(res.Body)
			}
			if !isErr(err, c.code) || (c.msg != "" && errMessage(err) != c.msg) {
				t.Fatalf("%q: got %v, want %s: %s", c.body, err, c.code, c.msg)
			}
		})
	}
}
