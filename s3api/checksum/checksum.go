// Package checksum computes and checks the payload checksums of S3:
// Content-MD5, the x-amz-checksum-* algorithms (CRC32, CRC32C, CRC64NVME,
// SHA1, SHA256, SHA512, MD5, XXHASH64, XXHASH3, XXHASH128) sent as headers
// or as aws-chunked trailers, and the checksums and ETags of multipart
// uploads.
//
// Checksum values are the base64 encoding of the checksum's big-endian
// bytes, as AWS sends and returns them.
package checksum

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"hash/crc32"
	"strings"

	"github.com/cespare/xxhash/v2"
	"github.com/minio/crc64nvme"
	"github.com/strata-storage/strata/s3api/s3err"
	"github.com/zeebo/xxh3"
)

// The algorithms, by their S3 names.
const (
	CRC32     = "CRC32"
	CRC32C    = "CRC32C"
	CRC64NVME = "CRC64NVME"
	SHA1      = "SHA1"
	SHA256    = "SHA256"
	SHA512    = "SHA512"
	MD5       = "MD5"
	XXHASH64  = "XXHASH64"
	XXHASH3   = "XXHASH3"   // XXH3, 64 bits
	XXHASH128 = "XXHASH128" // XXH3, 128 bits
)

// Algorithms lists the algorithms S3 supports.
var Algorithms = []string{CRC32, CRC32C, CRC64NVME, SHA1, SHA256, SHA512, MD5, XXHASH64, XXHASH3, XXHASH128}

// ErrUnsupported is S3's answer to an algorithm it does not know.
var ErrUnsupported = s3err.ErrInvalidRequest.WithMessage("Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, MD5, SHA1, SHA256, SHA512, XXHASH128, XXHASH3, XXHASH64]")

// TypeAllowed reports whether a multipart upload can carry a checksum of
// alg of the type typ: FULL_OBJECT for the CRCs (which combine),
// COMPOSITE for all but CRC64NVME.
func TypeAllowed(alg, typ string) bool {
	switch typ {
	case "FULL_OBJECT":
		_, ok := crcOf(alg)
		return ok
	case "COMPOSITE":
		return size(alg) > 0 && alg != CRC64NVME
	}
	return false
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// New returns a hash of the algorithm alg (its S3 name, in any case).
func New(alg string) (hash.Hash, error) {
	switch strings.ToUpper(alg) {
	case CRC32:
		return crc32.NewIEEE(), nil
	case CRC32C:
		return crc32.New(castagnoli), nil
	case CRC64NVME:
		return crc64nvme.New(), nil // with CLMUL/AVX-512 where the CPU has them
	case SHA1:
		return sha1.New(), nil
	case SHA256:
		return sha256.New(), nil
	case SHA512:
		return sha512.New(), nil
	case MD5:
		return md5.New(), nil
	case XXHASH64:
		return xxhash.New(), nil
	case XXHASH3:
		return xxh3.New(), nil
	case XXHASH128:
		return xxh3.New128(), nil
	}
	return nil, ErrUnsupported
}

// size is the length in bytes of a checksum of alg, 0 if alg is unknown.
func size(alg string) int {
	switch alg {
	case CRC32, CRC32C:
		return 4
	case CRC64NVME, XXHASH64, XXHASH3:
		return 8
	case SHA1:
		return sha1.Size
	case SHA256:
		return sha256.Size
	case SHA512:
		return sha512.Size
	case MD5, XXHASH128:
		return 16
	}
	return 0
}

// CRC-64/NVME: polynomial 0xad93d23594c93659, reflected, initial value and
// final XOR all ones. nvmePoly is the polynomial bit-reversed, as the
// reflected algorithm uses it.
const nvmePoly = 0x9a6c9329ac4bc9b5
