// Package sio is Strata's encrypted package stream: a plaintext stream is cut
// into packages of PayloadSize bytes, and each package is sealed on its own
// with an AEAD (AES-256-GCM or ChaCha20-Poly1305) under the stream's key, the
// way MinIO's DARE format does. docs/formats.md describes the bytes.
//
// Every package carries a 16-byte header (version, cipher, final flag,
// payload length, sequence number) that is authenticated as associated data,
// and a 16-byte tag. The AEAD nonce is made of the package's sequence number
// and its final flag only: there is no random or per-stream part in the
// nonce, because every stream has a key of its own (a per-object or per-part
// key from DeriveKey or a KMS). So a key must never encrypt two streams; a
// stream written again gets a new key.
//
// Because the nonce fixes each package's place in the stream, a reader
// detects packages that were reordered, duplicated, dropped or taken from
// another stream; the final flag detects truncation and appended data. A
// reader never releases the bytes of a package that does not authenticate.
//
// Every package but the last holds exactly PayloadSize bytes, so a plaintext
// offset maps to a package by arithmetic alone (Range), and a reader can start
// at any package given its sequence number (Config.SeqNum).
package sio

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/sys/cpu"

	"github.com/strata-storage/strata/backends"
)

const (
	// PayloadSize is the number of plaintext bytes in every package but
	// the last one.
	PayloadSize = 64 << 10
	// HeaderSize is the size of a package's header.
	HeaderSize = 16
	// TagSize is the size of a package's authentication tag.
	TagSize = 16
	// Overhead is the number of bytes a package adds to its payload.
	Overhead = HeaderSize + TagSize
	// PackageSize is the encrypted size of a full package.
	PackageSize = PayloadSize + Overhead
	// KeySize is the size of a stream key.
	KeySize = 32

	// Version is the format version written in every package header.
	Version = 1

	flagFinal = 1 << 0
)

// MaxSize is the largest plaintext stream: 2^32 packages.
const MaxSize = int64(math.MaxUint32+1) * PayloadSize

// ErrAuth is the error for data that does not authenticate: a wrong key, or a
// stream or sealed key that was altered, reordered or truncated. Errors of
// DecryptReader and Unseal wrap it (errors.Is).
var ErrAuth = errors.New("sio: data does not authenticate")

// Cipher is an AEAD that seals packages.
type Cipher byte

// The ciphers. Their numbers are written in every package header.
const (
	AES256GCM        Cipher = 1
	ChaCha20Poly1305 Cipher = 2
)

// DefaultCipher is AES-256-GCM when the CPU has AES and carry-less
// multiplication instructions, else ChaCha20-Poly1305, which is faster
// without them.
func DefaultCipher() Cipher {
	if hasAESGCM() {
		return AES256GCM
	}
	return ChaCha20Poly1305
}

func hasAESGCM() bool {
	switch runtime.GOARCH {
	case "amd64", "386":
		return cpu.X86.HasAES && cpu.X86.HasPCLMULQDQ
	case "arm64":
		return cpu.ARM64.HasAES && cpu.ARM64.HasPMULL
	case "s390x":
		return cpu.S390X.HasAESGCM
	case "ppc64le":
		return true // POWER8 and later, which Go requires, have the instructions
	}
	return false
}

// ParseCipher parses a cipher name: "AES256-GCM" or "CHACHA20-POLY1305" (in
// any case).
func ParseCipher(s string) (Cipher, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "AES256-GCM":
		return AES256GCM, nil
	case "CHACHA20-POLY1305":
		return ChaCha20Poly1305, nil
	}
	return 0, fmt.Errorf("sio: unknown cipher %q (want AES256-GCM or CHACHA20-POLY1305)", s)
}

// String returns the name that ParseCipher parses.
func (c Cipher) String() string {
	switch c {
	case AES256GCM:
		return "AES256-GCM"
	case ChaCha20Poly1305:
		return "CHACHA20-POLY1305"
	}
	return fmt.Sprintf("Cipher(%d)", byte(c))
}

func (c Cipher) aead(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("sio: key is %d bytes, want %d", len(key), KeySize)
	}
	switch c {
	case AES256GCM:
		b, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		return cipher.NewGCM(b)
	case ChaCha20Poly1305:
		return chacha20poly1305.New(key)
	}
	return nil, fmt.Errorf("sio: unknown cipher %d", byte(c))
}

// Config says what a stream is bound to.
type Config struct {
	Key    []byte // 32-byte object (or part) key
	Cipher Cipher // for DecryptReader, 0 takes the cipher from the first header
	SeqNum uint32 // sequence number of the first package (0 for a new stream); lets a reader start mid-stream
}

// EncryptedSize is the size of the encrypted stream of plain bytes.
func EncryptedSize(plain int64) int64 {
	if plain <= 0 {
		return Overhead // one empty final package
	}
	n := (plain + PayloadSize - 1) / PayloadSize
	return plain + n*Overhead
}

// DecryptedSize is the plaintext size of an encrypted stream of enc bytes,
// or an error if no stream has that size.
func DecryptedSize(enc int64) (int64, error) {
	full, rem := enc/PackageSize, enc%PackageSize
	switch {
	case enc < Overhead:
	case rem == 0:
		return full * PayloadSize, nil
	case rem == Overhead && full == 0:
		return 0, nil
	case rem > Overhead:
		return full*PayloadSize + rem - Overhead, nil
	}
	return 0, fmt.Errorf("sio: %d bytes is not the size of an encrypted stream", enc)
}

// Range maps the plaintext range [off, off+length) of a stream of size
// plaintext bytes to the encrypted range [encOff, encOff+encLen) that holds
// it, the sequence number of that range's first package, and the number of
// plaintext bytes to skip after decrypting. The range is clipped to the
// stream; an empty range gives encLen 0.
//
// The packages of the range are read with DecryptRange, or with
// DecryptReader (SeqNum seq) followed by skipping skip bytes and reading
// exactly length bytes: unless the range ends with the stream's final
// package, reading the decrypted range to its end fails with ErrAuth, as a
// truncated stream does.
func Range(off, length, size int64) (encOff, encLen int64, seq uint32, skip int64) {
	if off < 0 {
		length += off
		off = 0
	}
	if off > size {
		off = size
	}
	if length > size-off {
		length = size - off
	}
	first := off / PayloadSize
	encOff = first * PackageSize
	seq = uint32(first)
	skip = off - first*PayloadSize
	if length <= 0 {
		return encOff, 0, seq, 0
	}
	last := (off + length - 1) / PayloadSize
	end := min((last+1)*PackageSize, EncryptedSize(size))
	return encOff, end - encOff, seq, skip
}

// nonce is a package's AEAD nonce: its sequence number (little endian) and
// its flags, then zeros.
func nonce(n *[12]byte, seq uint32, flags byte) {
	*n = [12]byte{}
	binary.LittleEndian.PutUint32(n[0:4], seq)
	n[4] = flags
}

// header writes a package header into h.
func header(h []byte, c Cipher, flags byte, length int, seq uint32) {
	h[0] = Version
	h[1] = byte(c)
	h[2] = flags
	h[3] = 0
	binary.LittleEndian.PutUint32(h[4:8], uint32(length))
	binary.LittleEndian.PutUint32(h[8:12], seq)
	clear(h[12:16])
}

// SealPackages encrypts src into dst as packages, the first of sequence
// number c.SeqNum, and returns the number of bytes written: the batch form
// of EncryptReader. Unless final, src must be whole payloads (a multiple
// of PayloadSize); with final, its last package (empty when src is) ends
// the stream. dst must have room for EncryptedSize(len(src)) bytes, or a
// whole number of packages when not final.
func SealPackages(dst, src []byte, c Config, final bool) (int, error) {
	aead, err := c.Cipher.aead(c.Key)
	if err != nil {
		return 0, err
	}
	if !final && len(src)%PayloadSize != 0 {
		return 0, errors.New("sio: SealPackages: a batch that does not end the stream must be whole packages")
	}
	var nc [12]byte
	n, seq := 0, c.SeqNum
	for first := true; first || len(src) > 0; first = false {
		if !first {
			if seq == math.MaxUint32 {
				return n, errors.New("sio: stream too long")
			}
			seq++
		}
		m := min(len(src), PayloadSize)
		var flags byte
		if final && m == len(src) {
			flags = flagFinal
		}
		if len(dst)-n < HeaderSize+m+TagSize {
			return n, errors.New("sio: SealPackages: dst too short")
		}
		h := dst[n : n+HeaderSize]
		header(h, c.Cipher, flags, m, seq)
		nonce(&nc, seq, flags)
		sealed := aead.Seal(dst[n+HeaderSize:n+HeaderSize], nc[:], src[:m], h)
		n += HeaderSize + len(sealed)
		src = src[m:]
	}
	return n, nil
}

// EncryptReader returns a reader of the encrypted stream of src. It holds one
// package in memory.
func EncryptReader(src io.Reader, c Config) (io.Reader, error) {
	aead, err := c.Cipher.aead(c.Key)
	if err != nil {
		return nil, err
	}
	return &encReader{src: src, aead: aead, cipher: c.Cipher, seq: c.SeqNum, buf: make([]byte, PackageSize)}, nil
}

type encReader struct {
	src    io.Reader
	aead   cipher.AEAD
	cipher Cipher
	seq    uint32
	nonce  [12]byte

	buf     []byte // PackageSize: header, payload (and one byte read ahead), tag
	next    byte   // the first byte of the next payload, read ahead
	ahead   bool   // next is set
	out     []byte // the sealed package not yet returned
	started bool
	done    bool // the final package was sealed
	err     error
}

func (r *encReader) Read(p []byte) (int, error) {
	for len(r.out) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.done {
			r.err = io.EOF
			return 0, io.EOF
		}
		if err := r.seal(); err != nil {
			r.err = err
			return 0, err
		}
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	return n, nil
}

// seal reads the next payload and seals it into r.out. It reads one byte
// past a full payload to know whether the package is the final one.
func (r *encReader) seal() error {
	if r.started && r.seq == math.MaxUint32 {
		return errors.New("sio: stream too long")
	}
	if r.started {
		r.seq++
	}
	r.started = true
	payload := r.buf[HeaderSize : HeaderSize+PayloadSize+1]
	have := 0
	if r.ahead {
		payload[0] = r.next
		have = 1
	}
	n, eof, err := backends.ReadBlock(r.src, payload[have:])
	n += have
	var flags byte
	switch {
	case err != nil:
		return err
	case eof:
		flags = flagFinal
		r.done = true
	default: // a full payload and one more byte
		n = PayloadSize
	}
	next := payload[PayloadSize] // sealing overwrites it with the tag
	header(r.buf[:HeaderSize], r.cipher, flags, n, r.seq)
	nonce(&r.nonce, r.seq, flags)
	sealed := r.aead.Seal(payload[:0], r.nonce[:], payload[:n], r.buf[:HeaderSize])
	r.out = r.buf[:HeaderSize+len(sealed)]
	// The tag is written over the byte read ahead, the first of the
	// next payload: keep it aside.
	r.next, r.ahead = next, !r.done
	return nil
}

// DecryptReader returns a reader of the plaintext of the encrypted stream
// src, whose first package has sequence number c.SeqNum. It holds one
// package in memory and releases a package's bytes only once it
// authenticates. A stream that was altered, reordered or truncated (it ends
// without a final package, or a package is cut short) or that has data after
// its final package gives an error that wraps ErrAuth. Errors of src other
// than an early EOF are returned as they are.
func DecryptReader(src io.Reader, c Config) (io.Reader, error) {
	r := &decReader{src: src, cipher: c.Cipher, key: c.Key, seq: c.SeqNum, buf: make([]byte, PackageSize)}
	if c.Cipher != 0 {
		aead, err := c.Cipher.aead(c.Key)
		if err != nil {
			return nil, err
		}
		r.aead = aead
	} else if len(c.Key) != KeySize {
		return nil, fmt.Errorf("sio: key is %d bytes, want %d", len(c.Key), KeySize)
	}
	return r, nil
}

// DecryptRange returns a reader of length plaintext bytes that start skip
// bytes into the decrypted src: the packages of a range that Range mapped.
// It reads no further than it needs, so the range does not have to end with
// the stream's final package; if src ends early, the reader fails with
// ErrAuth.
func DecryptRange(src io.Reader, c Config, skip, length int64) (io.Reader, error) {
	r, err := DecryptReader(src, c)
	if err != nil {
		return nil, err
	}
	if skip > 0 {
		if _, err := io.CopyN(io.Discard, r, skip); err != nil {
			if err == io.EOF {
				err = fmt.Errorf("%w: stream ends before the range", ErrAuth)
			}
			return nil, err
		}
	}
	return &rangeReader{r: r, n: length}, nil
}

type rangeReader struct {
	r io.Reader
	n int64
}

func (r *rangeReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	n, err := r.r.Read(p)
	r.n -= int64(n)
	if err == io.EOF && r.n > 0 {
		err = fmt.Errorf("%w: stream ends before the range", ErrAuth)
	}
	return n, err
}

type decReader struct {
	src    io.Reader
	cipher Cipher
	key    []byte
	aead   cipher.AEAD
	seq    uint32
	nonce  [12]byte
	one    [1]byte

	buf     []byte
	out     []byte // the opened payload not yet returned
	started bool
	done    bool // the final package was opened
	err     error
}

func (r *decReader) Read(p []byte) (int, error) {
	for len(r.out) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.done {
			r.err = io.EOF
			return 0, io.EOF
		}
		if err := r.open(); err != nil {
			r.err = err
			return 0, err
		}
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	return n, nil
}

// checkHeader checks the header h of package seq (of cipher want, or any
// known one when want is 0) and returns its flags and payload length.
func checkHeader(h []byte, seq uint32, want Cipher) (flags byte, length int, err error) {
	flags = h[2]
	length = int(binary.LittleEndian.Uint32(h[4:8]))
	switch {
	case h[0] != Version:
		return 0, 0, authErr("package %d: unknown format version %d", seq, h[0])
	case want != 0 && Cipher(h[1]) != want:
		return 0, 0, authErr("package %d: cipher %d, want %s", seq, h[1], want)
	case flags&^flagFinal != 0 || h[3] != 0 || binary.LittleEndian.Uint32(h[12:16]) != 0:
		return 0, 0, authErr("package %d: bad header", seq)
	case length > PayloadSize || (flags&flagFinal == 0 && length != PayloadSize):
		return 0, 0, authErr("package %d: bad payload length %d", seq, length)
	case binary.LittleEndian.Uint32(h[8:12]) != seq:
		return 0, 0, authErr("package %d: out of order (it is package %d)", seq, binary.LittleEndian.Uint32(h[8:12]))
	}
	return flags, length, nil
}

// OpenPackages decrypts the whole packages in src, the first of sequence
// number c.SeqNum, into dst, which must have room for their payloads, and
// returns the length of the plaintext: the batch form of DecryptReader,
// with no copy besides the decryption itself. final says src must end with
// the stream's final package; either way a final package can only be the
// last of src. Errors wrap ErrAuth.
func OpenPackages(dst, src []byte, c Config, final bool) (int, error) {
	var aead cipher.AEAD
	if c.Cipher != 0 {
		var err error
		if aead, err = c.Cipher.aead(c.Key); err != nil {
			return 0, err
		}
	}
	var nc [12]byte
	n, seq := 0, c.SeqNum
	for len(src) > 0 {
		if len(src) < HeaderSize {
			return n, authErr("package %d truncated", seq)
		}
		h := src[:HeaderSize]
		flags, length, err := checkHeader(h, seq, c.Cipher)
		if err != nil {
			return n, err
		}
		if aead == nil {
			cph := Cipher(h[1])
			if aead, err = cph.aead(c.Key); err != nil {
				return n, authErr("package %d: %v", seq, err)
			}
			c.Cipher = cph
		}
		end := HeaderSize + length + TagSize
		if len(src) < end {
			return n, authErr("package %d truncated", seq)
		}
		if len(dst)-n < length {
			return n, errors.New("sio: OpenPackages: dst too short")
		}
		nonce(&nc, seq, flags)
		if _, err := aead.Open(dst[n:n], nc[:], src[HeaderSize:end], h); err != nil {
			return n, authErr("package %d does not authenticate", seq)
		}
		n += length
		src = src[end:]
		if flags&flagFinal != 0 {
			if len(src) > 0 {
				return n, authErr("data after the final package")
			}
			return n, nil
		}
		if len(src) > 0 {
			if seq == math.MaxUint32 {
				return n, authErr("stream too long")
			}
			seq++
		}
	}
	if final {
		return n, authErr("stream truncated after package %d", seq)
	}
	return n, nil
}

func authErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrAuth}, args...)...)
}

// open reads, checks and opens the next package into r.out.
func (r *decReader) open() error {
	if r.started {
		if r.seq == math.MaxUint32 {
			return authErr("stream too long")
		}
		r.seq++
	}
	r.started = true
	h := r.buf[:HeaderSize]
	if _, err := io.ReadFull(r.src, h); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return authErr("stream truncated before package %d", r.seq)
		}
		return err
	}
	flags, length, err := checkHeader(h, r.seq, r.cipher)
	if err != nil {
		return err
	}
	if r.aead == nil {
		c := Cipher(h[1])
		aead, err := c.aead(r.key)
		if err != nil {
			return authErr("package %d: %v", r.seq, err)
		}
		r.cipher, r.aead = c, aead
	}
	body := r.buf[HeaderSize : HeaderSize+length+TagSize]
	if _, err := io.ReadFull(r.src, body); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return authErr("package %d truncated", r.seq)
		}
		return err
	}
	nonce(&r.nonce, r.seq, flags)
	plain, err := r.aead.Open(body[:0], r.nonce[:], body, h)
	if err != nil {
		return authErr("package %d does not authenticate", r.seq)
	}
	if flags&flagFinal != 0 {
		// Nothing may follow the final package.
		switch _, err := io.ReadFull(r.src, r.one[:]); err {
		case io.EOF:
		case nil:
			return authErr("data after the final package")
		default:
			return err
		}
		r.done = true
	}
	r.out = plain
	return nil
}
