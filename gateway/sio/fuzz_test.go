package sio

import (
	"bytes"
	"io"
	"testing"
)

// FuzzDecryptReader feeds arbitrary streams to DecryptReader: it must not
// panic, and whatever it releases must be authentic. Encryption is
// deterministic for a key, so a stream that decrypts without error must be
// exactly the encryption of what it decrypted to, and the bytes released
// before an error must be whole packages of the input.
func FuzzDecryptReader(f *testing.F) {
	key := bytes.Repeat([]byte{0x42}, KeySize)
	for _, ci := range ciphers {
		for _, n := range []int{0, 1, 17, 300} {
			enc := encrypt(f, bytes.Repeat([]byte{'a'}, n), Config{Key: key, Cipher: ci})
			f.Add(enc, byte(ci))
			f.Add(enc[:len(enc)-1], byte(0))
		}
	}
	f.Add([]byte{}, byte(0))
	f.Add([]byte{1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, byte(1))
	f.Fuzz(func(t *testing.T, enc []byte, ci byte) {
		c := Config{Key: key, Cipher: Cipher(ci)}
		r, err := DecryptReader(bytes.NewReader(enc), c)
		if err != nil {
			return // bad cipher number
		}
		got, err := io.ReadAll(r)
		if err != nil {
			if len(got)%PayloadSize != 0 {
				t.Fatalf("released %d bytes before an error: not whole packages", len(got))
			}
			if len(got) == 0 {
				return
			}
			// Released packages are the input's first packages.
			c.Cipher = Cipher(enc[1])
			pkgs := len(got) / PayloadSize
			re := encrypt(t, append(got, 0), c) // not final: one more byte
			if !bytes.Equal(re[:pkgs*PackageSize], enc[:pkgs*PackageSize]) {
				t.Fatal("released data that is not authentic")
			}
			return
		}
		if len(enc) > 1 {
			c.Cipher = Cipher(enc[1])
		}
		if c.Cipher == 0 {
			t.Fatalf("decrypted %d bytes without a cipher", len(enc))
		}
		if re := encrypt(t, got, c); !bytes.Equal(re, enc) {
			t.Fatal("accepted a stream that is not the encryption of its plaintext")
		}
	})
}
