package sio

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/iotest"
)

var ciphers = []Cipher{AES256GCM, ChaCha20Poly1305}

func testKey(t testing.TB) []byte {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func randBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func encrypt(t testing.TB, plain []byte, c Config) []byte {
	t.Helper()
	r, err := EncryptReader(bytes.NewReader(plain), c)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// decrypt returns what DecryptReader released and its error.
func decrypt(enc []byte, c Config) ([]byte, error) {
	r, err := DecryptReader(bytes.NewReader(enc), c)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

var sizes = []int{0, 1, 100, PayloadSize - 1, PayloadSize, PayloadSize + 1, 2*PayloadSize - 1, 2 * PayloadSize, 3*PayloadSize + 7, 5<<20 + 3}

func TestRoundTrip(t *testing.T) {
	key := testKey(t)
	for _, ci := range ciphers {
		for _, n := range sizes {
			t.Run(fmt.Sprintf("%s/%d", ci, n), func(t *testing.T) {
				plain := randBytes(t, n)
				c := Config{Key: key, Cipher: ci}
				enc := encrypt(t, plain, c)
				if int64(len(enc)) != EncryptedSize(int64(n)) {
					t.Fatalf("encrypted %d bytes, EncryptedSize says %d", len(enc), EncryptedSize(int64(n)))
				}
				if d, err := DecryptedSize(int64(len(enc))); err != nil || d != int64(n) {
					t.Fatalf("DecryptedSize(%d) = %d, %v; want %d", len(enc), d, err, n)
				}
				got, err := decrypt(enc, c)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, plain) {
					t.Fatal("round trip differs")
				}
				// The cipher can come from the header.
				got, err = decrypt(enc, Config{Key: key})
				if err != nil || !bytes.Equal(got, plain) {
					t.Fatalf("decrypt without cipher: %v", err)
				}
			})
		}
	}
}

func TestSmallReads(t *testing.T) {
	key := testKey(t)
	plain := randBytes(t, 2*PayloadSize+300)
	c := Config{Key: key, Cipher: AES256GCM}
	er, err := EncryptReader(iotest.HalfReader(bytes.NewReader(plain)), c)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := io.ReadAll(iotest.OneByteReader(er))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(enc, encrypt(t, plain, c)) {
		t.Fatal("encryption depends on how the source is read")
	}
	dr, err := DecryptReader(iotest.HalfReader(bytes.NewReader(enc)), c)
	if err != nil {
		t.Fatal(err)
	}
	if err := iotest.TestReader(dr, plain); err != nil {
		t.Fatal(err)
	}
}

// A source that returns its last bytes together with io.EOF encrypts as
// any other, whatever package boundary that falls on.
func TestSourceEOFWithData(t *testing.T) {
	key := testKey(t)
	c := Config{Key: key, Cipher: AES256GCM}
	for _, n := range []int{1, PayloadSize - 1, PayloadSize, PayloadSize + 1, 2 * PayloadSize, 2*PayloadSize + 1} {
		plain := randBytes(t, n)
		er, err := EncryptReader(iotest.DataErrReader(bytes.NewReader(plain)), c)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := io.ReadAll(er)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if !bytes.Equal(enc, encrypt(t, plain, c)) {
			t.Fatalf("%d bytes: encryption depends on when the source says io.EOF", n)
		}
	}
}

func TestEmpty(t *testing.T) {
	key := testKey(t)
	c := Config{Key: key, Cipher: ChaCha20Poly1305}
	enc := encrypt(t, nil, c)
	if len(enc) != Overhead {
		t.Fatalf("empty stream is %d bytes, want %d", len(enc), Overhead)
	}
	if enc[2] != flagFinal {
		t.Fatal("empty stream's package is not final")
	}
	if _, err := decrypt(nil, c); !errors.Is(err, ErrAuth) {
		t.Fatalf("decrypting nothing: %v, want ErrAuth", err)
	}
}

func TestDecryptedSizeInvalid(t *testing.T) {
	for _, n := range []int64{-1, 0, 1, Overhead - 1, PackageSize + 1, PackageSize + Overhead, 3*PackageSize + Overhead, 2*PackageSize + 5} {
		if d, err := DecryptedSize(n); err == nil {
			t.Errorf("DecryptedSize(%d) = %d, want an error", n, d)
		}
	}
	for p := int64(0); p < 3*PayloadSize+2; p += 997 {
		if d, err := DecryptedSize(EncryptedSize(p)); err != nil || d != p {
			t.Fatalf("DecryptedSize(EncryptedSize(%d)) = %d, %v", p, d, err)
		}
	}
}

func TestBadConfig(t *testing.T) {
	if _, err := EncryptReader(bytes.NewReader(nil), Config{Key: make([]byte, 16), Cipher: AES256GCM}); err == nil {
		t.Error("16-byte key accepted")
	}
	if _, err := EncryptReader(bytes.NewReader(nil), Config{Key: make([]byte, 32), Cipher: 9}); err == nil {
		t.Error("cipher 9 accepted")
	}
	if _, err := EncryptReader(bytes.NewReader(nil), Config{Key: make([]byte, 32)}); err == nil {
		t.Error("no cipher accepted for encryption")
	}
	if _, err := DecryptReader(bytes.NewReader(nil), Config{Key: make([]byte, 31)}); err == nil {
		t.Error("31-byte key accepted")
	}
}

func TestCipherNames(t *testing.T) {
	for _, c := range ciphers {
		got, err := ParseCipher(c.String())
		if err != nil || got != c {
			t.Errorf("ParseCipher(%q) = %v, %v", c.String(), got, err)
		}
	}
	if c, err := ParseCipher("chacha20-poly1305"); err != nil || c != ChaCha20Poly1305 {
		t.Error("lower case name refused")
	}
	if _, err := ParseCipher("AES128-GCM"); err == nil {
		t.Error("AES128-GCM accepted")
	}
	if c := DefaultCipher(); c != AES256GCM && c != ChaCha20Poly1305 {
		t.Errorf("DefaultCipher = %v", c)
	}
}

// checkTampered decrypts a tampered stream and checks that it fails with
// ErrAuth and that what was released before is a prefix of the plaintext
// made of whole packages before the first bad one.
func checkTampered(t *testing.T, what string, enc, plain []byte, c Config, firstBad int) {
	t.Helper()
	got, err := decrypt(enc, c)
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("%s: error %v, want ErrAuth", what, err)
	}
	if len(got) > firstBad*PayloadSize || !bytes.Equal(got, plain[:len(got)]) {
		t.Fatalf("%s: released %d bytes, more than the %d before the bad package or not the plaintext", what, len(got), firstBad*PayloadSize)
	}
}

func TestTamper(t *testing.T) {
	key := testKey(t)
	for _, ci := range ciphers {
		c := Config{Key: key, Cipher: ci}
		plain := randBytes(t, 3*PayloadSize+1000) // 4 packages
		enc := encrypt(t, plain, c)
		pkg := func(i int) []byte { return enc[i*PackageSize : min((i+1)*PackageSize, len(enc))] }
		cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

		// A bit flipped anywhere: header bytes, payload, tag of every package.
		for i := range 4 {
			start := i * PackageSize
			end := min(start+PackageSize, len(enc))
			for _, off := range []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 11, 12, 15, 16, 17, 500, end - start - 17, end - start - 16, end - start - 1} {
				for _, bit := range []byte{0x01, 0x80} {
					bad := bytes.Clone(enc)
					bad[start+off] ^= bit
					checkTampered(t, fmt.Sprintf("%s: package %d byte %d bit %#x", ci, i, off, bit), bad, plain, c, i)
				}
			}
		}
		checkTampered(t, "swap 0 and 1", cat(pkg(1), pkg(0), pkg(2), pkg(3)), plain, c, 0)
		checkTampered(t, "swap 1 and 2", cat(pkg(0), pkg(2), pkg(1), pkg(3)), plain, c, 1)
		checkTampered(t, "drop last", cat(pkg(0), pkg(1), pkg(2)), plain, c, 3)
		checkTampered(t, "drop middle", cat(pkg(0), pkg(2), pkg(3)), plain, c, 1)
		checkTampered(t, "drop first", cat(pkg(1), pkg(2), pkg(3)), plain, c, 0)
		checkTampered(t, "duplicate", cat(pkg(0), pkg(1), pkg(1), pkg(2), pkg(3)), plain, c, 2)
		checkTampered(t, "duplicate last", cat(enc, pkg(3)), plain, c, 4)
		checkTampered(t, "append garbage", cat(enc, []byte{0}), plain, c, 3)
		checkTampered(t, "append a package", cat(enc, pkg(0)), plain, c, 3)
		for _, cut := range []int{1, 15, 16, 17, 100, PackageSize - 1, PackageSize, PackageSize + 1, PackageSize + 16, len(enc) - 1, len(enc) - 16, len(enc) - 17} {
			checkTampered(t, fmt.Sprintf("truncated to %d", cut), enc[:cut], plain, c, cut/PackageSize)
		}
		// The whole stream under another key, cipher or start.
		checkTampered(t, "wrong key", enc, plain, Config{Key: testKey(t), Cipher: ci}, 0)
		other := AES256GCM
		if ci == AES256GCM {
			other = ChaCha20Poly1305
		}
		checkTampered(t, "wrong cipher", enc, plain, Config{Key: key, Cipher: other}, 0)
		checkTampered(t, "wrong seq", enc, plain, Config{Key: key, Cipher: ci, SeqNum: 1}, 0)
		// A package of another stream with the same key (which callers
		// must not do) at the same place is not detected: the key is the
		// stream's identity. With another key, it is.
		plain2 := randBytes(t, len(plain))
		enc2 := encrypt(t, plain2, Config{Key: testKey(t), Cipher: ci})
		checkTampered(t, "package of another stream", cat(pkg(0), enc2[PackageSize:2*PackageSize], pkg(2), pkg(3)), plain, c, 1)
		// The header's cipher byte changed with a decrypter that takes the
		// cipher from the header.
		bad := bytes.Clone(enc)
		bad[1] = byte(other)
		checkTampered(t, "cipher byte", bad, plain, Config{Key: key}, 0)
	}
}

func TestFinalEmptyTamper(t *testing.T) {
	// A stream of exactly one full package: its final package is full.
	key := testKey(t)
	c := Config{Key: key, Cipher: AES256GCM}
	plain := randBytes(t, PayloadSize)
	enc := encrypt(t, plain, c)
	if len(enc) != PackageSize || enc[2] != flagFinal {
		t.Fatalf("stream of one payload: %d bytes, flags %d", len(enc), enc[2])
	}
	// Claiming the final package is not final fails.
	bad := bytes.Clone(enc)
	bad[2] = 0
	checkTampered(t, "final flag cleared", bad, plain, c, 0)
}

func TestSuffix(t *testing.T) {
	key := testKey(t)
	c := Config{Key: key, Cipher: ChaCha20Poly1305}
	plain := randBytes(t, 4*PayloadSize+10)
	enc := encrypt(t, plain, c)
	for k := range 5 {
		got, err := decrypt(enc[k*PackageSize:], Config{Key: key, Cipher: c.Cipher, SeqNum: uint32(k)})
		if err != nil || !bytes.Equal(got, plain[k*PayloadSize:]) {
			t.Fatalf("suffix from package %d: %v", k, err)
		}
	}
	// Encrypting from a sequence number gives the same packages.
	enc2 := encrypt(t, plain[2*PayloadSize:], Config{Key: key, Cipher: c.Cipher, SeqNum: 2})
	if !bytes.Equal(enc2, enc[2*PackageSize:]) {
		t.Fatal("encryption from SeqNum 2 differs from the stream's suffix")
	}
}

func TestRange(t *testing.T) {
	key := testKey(t)
	c := Config{Key: key, Cipher: AES256GCM}
	P := int64(PayloadSize)
	for _, size := range []int64{0, 1, 2, P - 1, P, P + 1, 2 * P, 3*P + 5} {
		plain := randBytes(t, int(size))
		enc := encrypt(t, plain, c)
		points := []int64{0, 1, P - 2, P - 1, P, P + 1, 2*P - 1, 2 * P, 2*P + 1, 3 * P, size - 2, size - 1, size}
		for _, off := range points {
			if off < 0 || off > size {
				continue
			}
			for _, end := range points {
				if end < off || end > size {
					continue
				}
				length := end - off
				encOff, encLen, seq, skip := Range(off, length, size)
				// Brute force: the packages that hold [off, end).
				if length == 0 {
					if encLen != 0 {
						t.Fatalf("Range(%d, 0, %d): encLen %d", off, size, encLen)
					}
					continue
				}
				first, last := off/P, (end-1)/P
				wantOff := first * PackageSize
				wantEnd := min((last+1)*PackageSize, int64(len(enc)))
				if encOff != wantOff || encOff+encLen != wantEnd || int64(seq) != first || skip != off-first*P {
					t.Fatalf("Range(%d, %d, %d) = %d, %d, %d, %d; want %d, %d, %d, %d",
						off, length, size, encOff, encLen, seq, skip, wantOff, wantEnd-wantOff, first, off-first*P)
				}
				part := enc[encOff : encOff+encLen]
				rc := Config{Key: key, Cipher: c.Cipher, SeqNum: seq}
				r, err := DecryptRange(bytes.NewReader(part), rc, skip, length)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(r)
				if err != nil || !bytes.Equal(got, plain[off:end]) {
					t.Fatalf("range [%d, %d) of %d: %v, %d bytes", off, end, size, err, len(got))
				}
				// Short of a byte, the range fails.
				r, err = DecryptRange(bytes.NewReader(part[:len(part)-1]), rc, skip, length)
				if err == nil {
					_, err = io.ReadAll(r)
				}
				if !errors.Is(err, ErrAuth) {
					t.Fatalf("range [%d, %d) of %d short of a byte: %v", off, end, size, err)
				}
			}
		}
	}
	// Clipping.
	size := 3*P + 5
	if o, l, s, k := Range(P+3, 10*P, size); o != PackageSize || l != EncryptedSize(size)-PackageSize || s != 1 || k != 3 {
		t.Errorf("Range past the end = %d, %d, %d, %d", o, l, s, k)
	}
	if _, l, _, _ := Range(size+10, 5, size); l != 0 {
		t.Errorf("Range after the end: encLen %d", l)
	}
}

func TestAllocsPerPackage(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	key := testKey(t)
	for _, ci := range ciphers {
		c := Config{Key: key, Cipher: ci}
		allocs := func(n int) float64 {
			plain := make([]byte, n)
			enc := encrypt(t, plain, c)
			buf := make([]byte, 32<<10)
			src, dst := bytes.NewReader(nil), bytes.NewReader(nil)
			return testing.AllocsPerRun(5, func() {
				src.Reset(plain)
				er, _ := EncryptReader(src, c)
				for {
					if _, err := er.Read(buf); err != nil {
						break
					}
				}
				dst.Reset(enc)
				dr, _ := DecryptReader(dst, c)
				for {
					if _, err := dr.Read(buf); err != nil {
						break
					}
				}
			})
		}
		small, big := allocs(PayloadSize), allocs(64*PayloadSize)
		if big > small+2 {
			t.Errorf("%s: %v allocations for 1 package, %v for 64", ci, small, big)
		}
	}
}

func BenchmarkEncrypt(b *testing.B) {
	for _, ci := range ciphers {
		b.Run(ci.String(), func(b *testing.B) {
			c := Config{Key: testKey(b), Cipher: ci}
			plain := make([]byte, 64<<20)
			src := bytes.NewReader(nil)
			b.SetBytes(int64(len(plain)))
			for b.Loop() {
				src.Reset(plain)
				r, _ := EncryptReader(src, c)
				if _, err := io.Copy(io.Discard, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecrypt(b *testing.B) {
	for _, ci := range ciphers {
		b.Run(ci.String(), func(b *testing.B) {
			c := Config{Key: testKey(b), Cipher: ci}
			enc := encrypt(b, make([]byte, 64<<20), c)
			src := bytes.NewReader(nil)
			b.SetBytes(64 << 20)
			for b.Loop() {
				src.Reset(enc)
				r, _ := DecryptReader(src, c)
				if _, err := io.Copy(io.Discard, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// OpenPackages gives what DecryptReader gives, for whole streams and for
// runs of packages inside one, and refuses what DecryptReader refuses.
func TestOpenPackages(t *testing.T) {
	for _, ci := range ciphers {
		for _, size := range sizes {
			c := Config{Key: testKey(t), Cipher: ci}
			plain := randBytes(t, size)
			enc := encrypt(t, plain, c)
			dst := make([]byte, size+PayloadSize)
			n, err := OpenPackages(dst, enc, c, true)
			if err != nil || !bytes.Equal(dst[:n], plain) {
				t.Fatalf("%s %d: %d bytes, %v", ci, size, n, err)
			}
			// The cipher read from the headers, as DecryptReader does.
			if n, err := OpenPackages(dst, enc, Config{Key: c.Key}, true); err != nil || n != size {
				t.Fatalf("%s %d, cipher from the header: %d %v", ci, size, n, err)
			}
			pkgs := (len(enc) + PackageSize - 1) / PackageSize
			if pkgs < 3 {
				continue
			}
			// Up to the final package, which need not be asked for.
			if n, err := OpenPackages(dst, enc, c, false); err != nil || n != size {
				t.Fatalf("%s %d, final not required: %d %v", ci, size, n, err)
			}
			// The packages between the first and the final one.
			last := pkgs - 1
			mid := enc[PackageSize : last*PackageSize]
			if n, err := OpenPackages(dst, mid, Config{Key: c.Key, Cipher: ci, SeqNum: 1}, false); err != nil || !bytes.Equal(dst[:n], plain[PayloadSize:last*PayloadSize]) {
				t.Fatalf("%s %d, middle packages: %d %v", ci, size, n, err)
			}
			bad := map[string]func() (int, error){
				"wrong seq":        func() (int, error) { return OpenPackages(dst, mid, Config{Key: c.Key, Cipher: ci}, false) },
				"final missing":    func() (int, error) { return OpenPackages(dst, enc[:last*PackageSize], c, true) },
				"cut in a package": func() (int, error) { return OpenPackages(dst, enc[:len(enc)-1], c, true) },
				"dst too short":    func() (int, error) { return OpenPackages(dst[:PayloadSize], enc, c, true) },
				"swapped packages": func() (int, error) {
					sw := bytes.Clone(enc)
					copy(sw[:PackageSize], enc[PackageSize:2*PackageSize])
					copy(sw[PackageSize:2*PackageSize], enc[:PackageSize])
					return OpenPackages(dst, sw, c, true)
				},
				"flipped byte": func() (int, error) {
					fl := bytes.Clone(enc)
					fl[PackageSize+HeaderSize+5] ^= 1
					return OpenPackages(dst, fl, c, true)
				},
				"data after final": func() (int, error) {
					return OpenPackages(make([]byte, 2*len(dst)), append(bytes.Clone(enc), enc[:PackageSize]...), c, true)
				},
			}
			for what, f := range bad {
				if _, err := f(); err == nil || (what != "dst too short" && !errors.Is(err, ErrAuth)) {
					t.Fatalf("%s %d, %s: %v", ci, size, what, err)
				}
			}
		}
	}
}

func BenchmarkOpenPackages(b *testing.B) {
	for _, ci := range ciphers {
		b.Run(ci.String(), func(b *testing.B) {
			c := Config{Key: testKey(b), Cipher: ci}
			enc := encrypt(b, make([]byte, 64<<20), c)
			dst := make([]byte, 64<<20)
			b.SetBytes(64 << 20)
			for b.Loop() {
				if _, err := OpenPackages(dst, enc, c, true); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// SealPackages in batches writes the very bytes EncryptReader writes.
func TestSealPackages(t *testing.T) {
	for _, ci := range ciphers {
		for _, size := range sizes {
			c := Config{Key: testKey(t), Cipher: ci}
			plain := randBytes(t, size)
			want := encrypt(t, plain, c)
			for _, batch := range []int{PayloadSize, 3 * PayloadSize} {
				var got []byte
				dst := make([]byte, EncryptedSize(int64(batch))+PackageSize)
				seq := uint32(0)
				for off := 0; ; off += batch {
					end := min(off+batch, size)
					final := end == size
					bc := c
					bc.SeqNum = seq
					n, err := SealPackages(dst, plain[off:end], bc, final)
					if err != nil {
						t.Fatalf("%s %d/%d: %v", ci, size, batch, err)
					}
					got = append(got, dst[:n]...)
					seq += uint32(batch / PayloadSize)
					if final {
						break
					}
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("%s %d in batches of %d: %d bytes differ from EncryptReader's %d", ci, size, batch, len(got), len(want))
				}
			}
		}
	}
	c := Config{Key: testKey(t), Cipher: AES256GCM}
	if _, err := SealPackages(make([]byte, 1<<20), make([]byte, PayloadSize+1), c, false); err == nil {
		t.Fatal("a partial package sealed in a batch that is not the last")
	}
	if _, err := SealPackages(make([]byte, 10), make([]byte, 100), c, true); err == nil {
		t.Fatal("sealed into a short dst")
	}
}
