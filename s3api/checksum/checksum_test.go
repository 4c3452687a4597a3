package checksum

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/strata-storage/strata/s3api/s3err"
)

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func sum(alg string, data []byte) []byte {
	h, err := New(alg)
	if err != nil {
		panic(err)
	}
	h.Write(data)
	return h.Sum(nil)
}

func isErr(err error, code string) bool {
	var e *s3err.APIError
	return errors.As(err, &e) && e.Code == code
}

func TestCheckValues(t *testing.T) {
	// The standard check values: the CRC of "123456789".
	check := []byte("123456789")
	s1 := sha1.Sum(check)
	s256 := sha256.Sum256(check)
	for alg, want := range map[string]string{
		CRC32:     "cbf43926",
		CRC32C:    "e3069283",
		CRC64NVME: "ae8b14860a799888",
		SHA1:      hex.EncodeToString(s1[:]),
		SHA256:    hex.EncodeToString(s256[:]),
	} {
		if got := hex.EncodeToString(sum(alg, check)); got != want {
			t.Errorf("%s: %s, want %s", alg, got, want)
		}
		if got := hex.EncodeToString(sum(strings.ToLower(alg), check)); got != want {
			t.Errorf("lower-case %s: %s", alg, got)
		}
	}
	if _, err := New("BLAKE3"); !isErr(err, "InvalidRequest") {
		t.Errorf("New(BLAKE3): %v", err)
	}
	// The published digests of the empty input (xxHash's for XXH64 and
	// XXH3, seed 0, in canonical big-endian form).
	for alg, want := range map[string]string{
		MD5:       "d41d8cd98f00b204e9800998ecf8427e",
		SHA512:    "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
		XXHASH64:  "ef46db3751d8e999",
		XXHASH3:   "2d06800538d394c2",
		XXHASH128: "99aa06d3014798d86001c324468d497f",
	} {
		if got := hex.EncodeToString(sum(alg, nil)); got != want {
			t.Errorf("%s of nothing: %s, want %s", alg, got, want)
		}
		if n := size(alg); n != len(want)/2 {
			t.Errorf("size(%s) = %d, want %d", alg, n, len(want)/2)
		}
	}
	for alg, want := range map[string][2]bool{
		CRC32: {true, true}, CRC64NVME: {true, false}, SHA256: {false, true}, XXHASH128: {false, true}, "NOPE": {false, false},
	} {
		if f, c := TypeAllowed(alg, "FULL_OBJECT"), TypeAllowed(alg, "COMPOSITE"); f != want[0] || c != want[1] {
			t.Errorf("TypeAllowed(%s): FULL_OBJECT %v COMPOSITE %v, want %v", alg, f, c, want)
		}
	}
	// AWS's trailer example: 66560 bytes of 'a' have x-amz-checksum-crc32c sOO8/Q==.
	if got := b64(sum(CRC32C, bytes.Repeat([]byte("a"), 66560))); got != "sOO8/Q==" {
		t.Errorf("CRC32C of the AWS example: %s", got)
	}
	if got := b64(sum(CRC64NVME, nil)); got != "AAAAAAAAAAA=" {
		t.Errorf("CRC64NVME of nothing: %s", got)
	}
}

// TestCRC64NVMEWrites checks minio/crc64nvme (vector code on large writes)
// against hash/crc64 with the same polynomial, over lengths and write
// splits.
func TestCRC64NVMEWrites(t *testing.T) {
	ref := crc64.MakeTable(nvmePoly)
	rng := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 1<<20+3)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	for _, n := range []int{0, 1, 7, 8, 9, 63, 64, 65, 2047, 2048, 4099, 10000, 1 << 20, 1<<20 + 3} {
		want := crc64.Checksum(data[:n], ref)
		h, _ := New(CRC64NVME)
		rest := data[:n]
		for len(rest) > 0 {
			k := min(len(rest), 1+rng.IntN(100<<10))
			h.Write(rest[:k])
			rest = rest[k:]
		}
		if got := h.(hash.Hash64).Sum64(); got != want {
			t.Fatalf("length %d: %x, want %x", n, got, want)
		}
		if !bytes.Equal(h.Sum(nil), binary.BigEndian.AppendUint64(nil, want)) {
			t.Fatalf("length %d: Sum is not big-endian", n)
		}
		h.Reset()
		h.Write(data[:n])
		if h.(hash.Hash64).Sum64() != want || h.Size() != 8 || h.BlockSize() != 1 {
			t.Fatalf("length %d after Reset", n)
		}
	}
}

func TestCombine(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, alg := range []string{CRC32, CRC32C, CRC64NVME} {
		for range 40 {
			nparts := 1 + rng.IntN(6)
			var all []byte
			parts := make([]string, nparts)
			sizes := make([]int64, nparts)
			for i := range nparts {
				n := 0
				switch rng.IntN(4) {
				case 0: // empty part
				case 1:
					n = 1 + rng.IntN(16)
				default:
					n = rng.IntN(100_000)
				}
				p := make([]byte, n)
				for j := range p {
					p[j] = byte(rng.Uint32())
				}
				all = append(all, p...)
				parts[i], sizes[i] = b64(sum(alg, p)), int64(n)
			}
			got, err := Combine(alg, parts, sizes)
			if err != nil {
				t.Fatal(err)
			}
			if want := b64(sum(alg, all)); got != want {
				t.Fatalf("%s of %v: %s, want %s", alg, sizes, got, want)
			}
		}
	}
	// A part of zeros written in pieces, against its CRC combined.
	zero := make([]byte, 1<<20)
	h := crc32.NewIEEE()
	h.Write([]byte("x"))
	for range 3 {
		h.Write(zero)
	}
	got, err := Combine("crc32", []string{b64(sum(CRC32, []byte("x"))), b64(sum(CRC32, make([]byte, 3<<20)))}, []int64{1, 3 << 20})
	if err != nil || got != b64(h.Sum(nil)) {
		t.Fatalf("large zero part: %s, %v", got, err)
	}
	// Part sizes of many GiB: x^(8a)·x^(8b) = x^(8(a+b)).
	for _, alg := range []string{CRC32, CRC32C, CRC64NVME} {
		c, _ := crcOf(alg)
		for _, n := range [][2]int64{{5 << 30, 5 << 30}, {1, 5<<40 + 3}, {0, 7}} {
			if c.mulmod(c.shift(n[0]), c.shift(n[1])) != c.shift(n[0]+n[1]) {
				t.Errorf("%s: shift(%d)·shift(%d) != shift(sum)", alg, n[0], n[1])
			}
		}
	}
	for name, c := range map[string]struct {
		alg   string
		parts []string
		sizes []int64
		code  string
	}{
		"SHA256":        {SHA256, []string{b64(make([]byte, 32))}, []int64{1}, "InvalidRequest"},
		"SHA1":          {SHA1, []string{b64(make([]byte, 20))}, []int64{1}, "InvalidRequest"},
		"unknown":       {"MD5", nil, nil, "InvalidRequest"},
		"lengths":       {CRC32, []string{"AAAAAA=="}, nil, "InvalidRequest"},
		"bad base64":    {CRC32, []string{"AAAA*A=="}, []int64{1}, "InvalidPart"},
		"wrong size":    {CRC32, []string{b64(make([]byte, 8))}, []int64{1}, "InvalidPart"},
		"missing":       {CRC64NVME, []string{""}, []int64{1}, "InvalidPart"},
		"negative size": {CRC32C, []string{"AAAAAA=="}, []int64{-1}, "InvalidPart"},
	} {
		if _, err := Combine(c.alg, c.parts, c.sizes); !isErr(err, c.code) {
			t.Errorf("%s: %v, want %s", name, err, c.code)
		}
	}
}

func TestComposite(t *testing.T) {
	for _, alg := range Algorithms {
		a, b := sum(alg, []byte("part one")), sum(alg, []byte("part two"))
		want := b64(sum(alg, append(append([]byte{}, a...), b...))) + "-2"
		got, err := Composite(alg, []string{b64(a), b64(b)})
		if err != nil || got != want {
			t.Errorf("%s: %s, %v; want %s", alg, got, err, want)
		}
		if _, err := Composite(alg, []string{b64(a), "x"}); !isErr(err, "InvalidPart") {
			t.Errorf("%s bad part: %v", alg, err)
		}
		if _, err := Composite(alg, nil); err == nil {
			t.Errorf("%s no parts", alg)
		}
	}
}

func TestMultipartETag(t *testing.T) {
	p1, p2 := md5.Sum([]byte("one")), md5.Sum([]byte("two"))
	all := md5.Sum(append(p1[:], p2[:]...))
	want := hex.EncodeToString(all[:]) + "-2"
	if got := MultipartETag([]string{hex.EncodeToString(p1[:]), `"` + hex.EncodeToString(p2[:]) + `"`}); got != want {
		t.Fatalf("%s, want %s", got, want)
	}
	// S3's well-known value: the ETag of one part whose MD5 is that of "".
	if got := MultipartETag([]string{"d41d8cd98f00b204e9800998ecf8427e"}); got != "59adb24ef3cdbe0297f05b395827453f-1" {
		t.Fatalf("single part: %s", got)
	}
}

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestFromHeaders(t *testing.T) {
	md5b64 := "XrY7u+Ae7tCTyyK7j1rNww==" // MD5 of "hello world"
	crc := b64(sum(CRC32, []byte("hello world")))
	cases := []struct {
		name string
		h    http.Header
		want Expect
		code string
		msg  string
	}{
		{name: "none", h: header()},
		{name: "Content-MD5", h: header("Content-MD5", md5b64), want: Expect{ContentMD5: mustB64(md5b64)}},
		{name: "bad Content-MD5", h: header("Content-MD5", "not base64!"), code: "InvalidDigest"},
		{name: "short Content-MD5", h: header("Content-MD5", "AAAA"), code: "InvalidDigest"},
		{name: "two Content-MD5", h: header("Content-MD5", md5b64, "Content-MD5", md5b64), code: "InvalidDigest"},
		{name: "crc32", h: header("x-amz-checksum-crc32", crc), want: Expect{Algorithm: CRC32, Value: crc}},
		{name: "sha256 with sdk", h: header("x-amz-checksum-sha256", b64(make([]byte, 32)), "x-amz-sdk-checksum-algorithm", "sha256"), want: Expect{Algorithm: SHA256, Value: b64(make([]byte, 32))}},
		{name: "two checksums", h: header("x-amz-checksum-crc32", crc, "x-amz-checksum-crc32c", crc), code: "InvalidRequest", msg: "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."},
		{name: "two checksums, one bad", h: header("x-amz-checksum-crc32", "bad", "x-amz-checksum-crc32c", crc), code: "InvalidRequest", msg: "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."},
		{name: "bad value", h: header("x-amz-checksum-crc32", "AAAA"), code: "InvalidRequest", msg: "Value for x-amz-checksum-crc32 header is invalid."},
		{name: "not base64", h: header("x-amz-checksum-crc64nvme", "!!!!!!!!!!!="), code: "InvalidRequest", msg: "Value for x-amz-checksum-crc64nvme header is invalid."},
		{name: "trailer", h: header("x-amz-trailer", "x-amz-checksum-crc32c"), want: Expect{Algorithm: CRC32C, Trailer: true}},
		{name: "trailer, other case", h: header("X-Amz-Trailer", " X-Amz-Checksum-CRC64NVME "), want: Expect{Algorithm: CRC64NVME, Trailer: true}},
		{name: "trailer and header", h: header("x-amz-trailer", "x-amz-checksum-crc32c", "x-amz-checksum-crc32", crc), code: "InvalidRequest"},
		{name: "two trailers", h: header("x-amz-trailer", "x-amz-checksum-crc32c,x-amz-checksum-sha1"), code: "InvalidRequest"},
		{name: "unknown trailer", h: header("x-amz-trailer", "x-amz-checksum-blake3"), code: "InvalidRequest"},
		{name: "other trailer", h: header("x-amz-trailer", "x-amz-meta-foo")},
		{name: "sdk alone", h: header("x-amz-sdk-checksum-algorithm", "CRC32"), code: "InvalidRequest"},
		{name: "sdk unknown", h: header("x-amz-sdk-checksum-algorithm", "BLAKE3", "x-amz-checksum-crc32", crc), code: "InvalidRequest"},
		{name: "sha512", h: header("x-amz-checksum-sha512", b64(sum(SHA512, nil))), want: Expect{Algorithm: SHA512, Value: b64(sum(SHA512, nil))}},
		{name: "xxhash128 short", h: header("x-amz-checksum-xxhash128", b64(sum(XXHASH64, nil))), code: "InvalidRequest"},
		{name: "sdk differs from the header", h: header("x-amz-sdk-checksum-algorithm", "SHA1", "x-amz-checksum-crc32", crc), code: "InvalidRequest"},
		{name: "sdk differs from the trailer", h: header("x-amz-sdk-checksum-algorithm", "SHA1", "x-amz-trailer", "x-amz-checksum-crc32"), code: "InvalidRequest"},
		{name: "sdk names the trailer", h: header("x-amz-sdk-checksum-algorithm", "crc32", "x-amz-trailer", "x-amz-checksum-crc32"), want: Expect{Algorithm: CRC32, Trailer: true}},
		{name: "not checksum values", h: header("x-amz-checksum-type", "FULL_OBJECT", "x-amz-checksum-algorithm", "CRC32", "x-amz-checksum-mode", "ENABLED")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := FromHeaders(c.h)
			if c.code != "" {
				if !isErr(err, c.code) {
					t.Fatalf("got %v, want %s", err, c.code)
				}
				if c.msg != "" && err.(*s3err.APIError).Message != c.msg {
					t.Fatalf("message %q", err.(*s3err.APIError).Message)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(e.ContentMD5, c.want.ContentMD5) || e.Algorithm != c.want.Algorithm || e.Value != c.want.Value || e.Trailer != c.want.Trailer {
				t.Fatalf("%+v, want %+v", e, c.want)
			}
		})
	}
}

func mustB64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestReader(t *testing.T) {
	data := []byte("hello world")
	md5sum := md5.Sum(data)
	crc := b64(sum(CRC32, data))
	trailer := func(kv ...string) func() http.Header { return func() http.Header { return header(kv...) } }
	cases := []struct {
		name    string
		r       io.Reader
		e       Expect
		size    int64
		trailer func() http.Header
		code    string
		msg     string
	}{
		{name: "nothing expected", size: 11},
		{name: "unknown size", size: -1},
		{name: "all good", e: Expect{ContentMD5: md5sum[:], Algorithm: CRC32, Value: crc}, size: 11},
		{name: "computed only", e: Expect{Algorithm: SHA256}, size: 11},
		{name: "trailer", e: Expect{Algorithm: CRC32, Trailer: true}, size: 11, trailer: trailer("X-Amz-Checksum-Crc32", crc)},
		{name: "short", size: 12, code: "IncompleteBody"},
		{name: "long", size: 10, code: "IncompleteBody"},
		{name: "MD5 mismatch", e: Expect{ContentMD5: make([]byte, 16)}, size: 11, code: "BadDigest"},
		{name: "checksum mismatch", e: Expect{Algorithm: CRC32, Value: "AAAAAA=="}, size: 11, code: "BadDigest", msg: "The CRC32 you specified did not match the calculated checksum."},
		{name: "trailer mismatch", e: Expect{Algorithm: CRC32C, Trailer: true}, size: 11, trailer: trailer("x-amz-checksum-crc32c", "AAAAAA=="), code: "BadDigest", msg: "The CRC32C you specified did not match the calculated checksum."},
		{name: "trailer missing", e: Expect{Algorithm: CRC32, Trailer: true}, size: 11, trailer: trailer(), code: "InvalidRequest"},
		{name: "no trailer func", e: Expect{Algorithm: CRC32, Trailer: true}, size: 11, code: "InvalidRequest"},
		{name: "trailer malformed", e: Expect{Algorithm: CRC32, Trailer: true}, size: 11, trailer: trailer("x-amz-checksum-crc32", "AAAA"), code: "InvalidRequest"},
		{name: "source error", r: iotest.ErrReader(errors.New("connection reset")), size: 11, code: "-"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := c.r
			if src == nil {
				src = iotest.HalfReader(bytes.NewReader(data))
			}
			r := NewReader(src, c.e, c.size, c.trailer)
			got, err := io.ReadAll(r)
			switch c.code {
			case "":
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("%q, %v", got, err)
				}
				if r.MD5Hex() != hex.EncodeToString(md5sum[:]) || r.Size() != 11 {
					t.Fatalf("MD5Hex %s, Size %d", r.MD5Hex(), r.Size())
				}
				if c.e.Algorithm != "" && r.Checksums()[c.e.Algorithm] != b64(sum(c.e.Algorithm, data)) {
					t.Fatalf("Checksums %v", r.Checksums())
				}
				if c.e.Algorithm == "" && len(r.Checksums()) != 0 {
					t.Fatalf("Checksums %v", r.Checksums())
				}
			case "-":
				if err == nil || err.Error() != "connection reset" {
					t.Fatalf("source error: %v", err)
				}
			default:
				if !isErr(err, c.code) {
					t.Fatalf("got %v, want %s", err, c.code)
				}
				if c.msg != "" && err.(*s3err.APIError).Message != c.msg {
					t.Fatalf("message %q", err.(*s3err.APIError).Message)
				}
				if int64(len(got)) > max(c.size, 0) {
					t.Fatalf("passed on %d bytes of %d", len(got), c.size)
				}
				if _, again := r.Read(make([]byte, 1)); again != err {
					t.Fatalf("error not sticky: %v", again)
				}
			}
		})
	}
}

// A caller that reads exactly size bytes gets the verdict with the last
// of them.
func TestReaderVerdictWithLastBytes(t *testing.T) {
	data := []byte("hello world")
	for _, c := range []struct {
		e    Expect
		src  []byte
		want error
	}{
		{Expect{Algorithm: CRC32, Value: b64(sum(CRC32, data))}, data, nil},
		{Expect{Algorithm: CRC32, Value: "AAAAAA=="}, data, s3err.ErrBadDigest},
		{Expect{}, append(data, '!'), s3err.ErrIncompleteBody},
	} {
		r := NewReader(bytes.NewReader(c.src), c.e, int64(len(data)), nil)
		n, err := io.Copy(io.Discard, io.LimitReader(r, int64(len(data))))
		if n != int64(len(data)) || (c.want == nil) != (err == nil) || (c.want != nil && !isErr(err, c.want.(*s3err.APIError).Code)) {
			t.Errorf("%+v: %d, %v; want %v", c.e, n, err, c.want)
		}
		if c.want == nil && r.MD5Hex() == "" {
			t.Errorf("%+v: not finished", c.e)
		}
	}
}

// The trailer is read only after the source's end.
func TestReaderTrailerAfterEOF(t *testing.T) {
	data := []byte("some data")
	ended := false
	src := readerFunc(func(p []byte) (int, error) {
		if ended {
			return 0, io.EOF
		}
		ended = true
		return copy(p, data), nil
	})
	r := NewReader(src, Expect{Algorithm: SHA1, Trailer: true}, -1, func() http.Header {
		if !ended {
			t.Fatal("trailer read before the end")
		}
		return header("x-amz-checksum-sha1", b64(sum(SHA1, data)))
	})
	if _, err := io.ReadAll(r); err != nil {
		t.Fatal(err)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func BenchmarkHash(b *testing.B) {
	data := make([]byte, 1<<20)
	for _, alg := range Algorithms {
		b.Run(alg, func(b *testing.B) {
			h, _ := New(alg)
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				h.Write(data)
			}
		})
	}
}

// A body cut short (net/http's io.ErrUnexpectedEOF) is IncompleteBody, and
// stays so: never a short end of data for io.ReadFull to swallow.
func TestReaderCutBody(t *testing.T) {
	src := io.MultiReader(bytes.NewReader([]byte("hello")), iotest.ErrReader(io.ErrUnexpectedEOF))
	r := NewReader(src, Expect{}, 11, nil)
	buf := make([]byte, 11)
	n, err := io.ReadFull(r, buf)
	if n != 5 || !isErr(err, "IncompleteBody") {
		t.Fatalf("ReadFull: %d, %v", n, err)
	}
	if _, err := r.Read(buf); !isErr(err, "IncompleteBody") {
		t.Fatalf("Read again: %v", err)
	}
}

// Also adds a checksum that is computed but never checked.
func TestReaderAlso(t *testing.T) {
	data := []byte("hello world")
	r := NewReader(bytes.NewReader(data), Expect{Algorithm: CRC32, Value: b64(sum(CRC32, data))}, int64(len(data)), nil)
	r.Also(CRC64NVME)
	if _, err := io.Copy(io.Discard, r); err != nil {
		t.Fatal(err)
	}
	got := r.Checksums()
	if got[CRC32] != b64(sum(CRC32, data)) || got[CRC64NVME] != b64(sum(CRC64NVME, data)) || r.Algorithm() != CRC32 {
		t.Fatalf("checksums %v, algorithm %q", got, r.Algorithm())
	}
}
