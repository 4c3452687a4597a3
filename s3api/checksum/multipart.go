package checksum

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/strata-storage/strata/s3api/s3err"
)

func badPart(alg string, i int) error {
	return s3err.ErrInvalidPart.WithMessage("The " + alg + " checksum of part " + strconv.Itoa(i+1) + " is missing or not valid.")
}

// Composite is the COMPOSITE checksum of a multipart upload: the checksum
// of the concatenated raw part checksums, base64, then "-" and the number
// of parts.
func Composite(alg string, parts []string) (string, error) {
	alg = strings.ToUpper(alg)
	h, err := New(alg)
	if err != nil {
		return "", err
	}
	if len(parts) == 0 {
		return "", s3err.ErrInvalidRequest.WithMessage("A multipart checksum needs at least one part.")
	}
	for i, p := range parts {
		b := decode(alg, p)
		if b == nil {
			return "", badPart(alg, i)
		}
		h.Write(b)
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(parts)), nil
}

// crcParams describes a reflected CRC whose initial value and final XOR are
// all ones (CRC32, CRC32C, CRC64NVME): width in bits and the bit-reversed
// polynomial.
type crcParams struct {
	width uint
	poly  uint64
}

func crcOf(alg string) (crcParams, bool) {
	switch alg {
	case CRC32:
		return crcParams{32, 0xedb88320}, true
	case CRC32C:
		return crcParams{32, 0x82f63b78}, true
	case CRC64NVME:
		return crcParams{64, nvmePoly}, true
	}
	return crcParams{}, false
}

// In the reflected representation bit width-1 holds the coefficient of x^0
// and bit 0 that of x^(width-1); multiplying by x is a right shift, reduced
// by the polynomial when x^(width-1) shifts out.

// mulmod multiplies two polynomials modulo the CRC polynomial.
func (c crcParams) mulmod(a, b uint64) uint64 {
	var p uint64
	for m := uint64(1) << (c.width - 1); m != 0; m >>= 1 {
		if a&m != 0 {
			p ^= b
		}
		if b&1 != 0 {
			b = b>>1 ^ c.poly
		} else {
			b >>= 1
		}
	}
	return p
}

// shift is x^(8n) modulo the polynomial: what appending n bytes does to a
// CRC register.
func (c crcParams) shift(n int64) uint64 {
	one := uint64(1) << (c.width - 1)
	r, base := one, one>>8 // 1 and x^8
	for ; n > 0; n >>= 1 {
		if n&1 != 0 {
			r = c.mulmod(r, base)
		}
		base = c.mulmod(base, base)
	}
	return r
}

// Combine is the FULL_OBJECT checksum of a multipart upload: the CRC of the
// whole object, computed from the parts' CRCs (base64) and sizes, with no
// "-N" suffix. Only the CRC algorithms combine; SHA1 and SHA256 are an
// error.
//
// For these CRCs, CRC(A||B) = CRC(A)·x^(8|B|) ⊕ CRC(B) modulo the
// polynomial: the all-ones initial value and final XOR cancel out.
func Combine(alg string, parts []string, sizes []int64) (string, error) {
	alg = strings.ToUpper(alg)
	c, ok := crcOf(alg)
	if !ok {
		if size(alg) == 0 {
			return "", ErrUnsupported
		}
		return "", s3err.ErrInvalidRequest.WithMessage("The FULL_OBJECT checksum type cannot be used with the " + strings.ToLower(alg) + " checksum algorithm.")
	}
	if len(parts) != len(sizes) {
		return "", s3err.ErrInvalidRequest.WithMessage("Each part needs a checksum and a size.")
	}
	var crc uint64
	for i, p := range parts {
		b := decode(alg, p)
		if b == nil || sizes[i] < 0 {
			return "", badPart(alg, i)
		}
		var v uint64
		if c.width == 32 {
			v = uint64(binary.BigEndian.Uint32(b))
		} else {
			v = binary.BigEndian.Uint64(b)
		}
		crc = c.mulmod(crc, c.shift(sizes[i])) ^ v
	}
	var out []byte
	if c.width == 32 {
		out = binary.BigEndian.AppendUint32(nil, uint32(crc))
	} else {
		out = binary.BigEndian.AppendUint64(nil, crc)
	}
	return base64.StdEncoding.EncodeToString(out), nil
}

// MultipartETag is the ETag S3 gives a multipart object: the hex MD5 of the
// concatenated raw part MD5s, then "-" and the number of parts. Part ETags
// may be quoted.
func MultipartETag(partMD5Hex []string) string {
	h := md5.New()
	for _, e := range partMD5Hex {
		e = strings.Trim(e, `"`)
		b, err := hex.DecodeString(e)
		if err != nil {
			b = []byte(e) // not ours; hashed as is, deterministically
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(partMD5Hex))
}
