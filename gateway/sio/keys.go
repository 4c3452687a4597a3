package sio

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// DeriveKey derives a 32-byte key from a secret (at least 16 bytes; in
// practice a 32-byte key) and a context, with HKDF-SHA256: no salt, and as
// info the label "strata-sio-derive-v1" followed by each context string
// prefixed with its length (4 bytes, big endian), so that no two context
// lists give the same info. It is how a per-object key is made from a data
// key and how a per-part key is made from an object key.
func DeriveKey(secret []byte, context ...string) []byte {
	info := []byte("strata-sio-derive-v1")
	for _, c := range context {
		info = binary.BigEndian.AppendUint32(info, uint32(len(c)))
		info = append(info, c...)
	}
	k, err := hkdf.Key(sha256.New, secret, nil, string(info), KeySize)
	if err != nil {
		// Only FIPS 140-only mode refuses, for secrets under 112 bits.
		panic("sio: DeriveKey: " + err.Error())
	}
	return k
}

// SealVersion is the first byte of a sealed key.
const SealVersion = 1

// SealedSize is the size of a sealed 32-byte key: version, nonce, the
// encrypted key and the tag.
const SealedSize = 1 + 12 + KeySize + 16

// Seal encrypts a 32-byte key with a 32-byte key-encryption key (kek), bound
// to aad (the object's bucket and key, say), with AES-256-GCM and a random
// nonce. The result is SealedSize bytes: version (1), nonce, ciphertext and
// tag; the version byte is authenticated too.
func Seal(kek, objectKey, aad []byte) ([]byte, error) {
	if len(objectKey) != KeySize {
		return nil, fmt.Errorf("sio: key to seal is %d bytes, want %d", len(objectKey), KeySize)
	}
	aead, err := sealAEAD(kek)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+aead.NonceSize(), SealedSize)
	out[0] = SealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, err
	}
	return aead.Seal(out, out[1:], objectKey, sealAAD(aad)), nil
}

// Unseal decrypts a key that Seal sealed with the same kek and aad. Any
// other kek or aad, or an altered sealed key, gives an error wrapping
// ErrAuth.
func Unseal(kek, sealed, aad []byte) ([]byte, error) {
	aead, err := sealAEAD(kek)
	if err != nil {
		return nil, err
	}
	if len(sealed) != SealedSize {
		return nil, fmt.Errorf("%w: sealed key is %d bytes, want %d", ErrAuth, len(sealed), SealedSize)
	}
	if sealed[0] != SealVersion {
		return nil, fmt.Errorf("%w: unknown sealed key version %d", ErrAuth, sealed[0])
	}
	n := 1 + aead.NonceSize()
	key, err := aead.Open(nil, sealed[1:n], sealed[n:], sealAAD(aad))
	if err != nil {
		return nil, fmt.Errorf("%w: cannot unseal the key (wrong key or associated data)", ErrAuth)
	}
	return key, nil
}

func sealAEAD(kek []byte) (cipher.AEAD, error) {
	if len(kek) != KeySize {
		return nil, fmt.Errorf("sio: key-encryption key is %d bytes, want %d", len(kek), KeySize)
	}
	b, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// sealAAD is the associated data of a sealed key: its version, then aad.
func sealAAD(aad []byte) []byte {
	return append([]byte{SealVersion}, aad...)
}
