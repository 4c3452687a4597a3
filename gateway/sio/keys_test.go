package sio

import (
	"bytes"
	"errors"
	"testing"
)

func TestDeriveKey(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, 32)
	a := DeriveKey(secret, "bucket", "object")
	if len(a) != KeySize {
		t.Fatalf("derived %d bytes", len(a))
	}
	if !bytes.Equal(a, DeriveKey(secret, "bucket", "object")) {
		t.Fatal("DeriveKey is not deterministic")
	}
	seen := map[string]bool{string(a): true}
	for _, ctx := range [][]string{{"bucketobject"}, {"bucket", "object", ""}, {"bucke", "tobject"}, {}, {""}, {"object", "bucket"}} {
		k := string(DeriveKey(secret, ctx...))
		if seen[k] {
			t.Fatalf("context %q gives a key already seen", ctx)
		}
		seen[k] = true
	}
	if bytes.Equal(a, DeriveKey(bytes.Repeat([]byte{8}, 32), "bucket", "object")) {
		t.Fatal("the key does not depend on the secret")
	}
}

func TestSealUnseal(t *testing.T) {
	kek, key := testKey(t), testKey(t)
	aad := []byte("bucket/object")
	sealed, err := Seal(kek, key, aad)
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) != SealedSize || sealed[0] != SealVersion {
		t.Fatalf("sealed key: %d bytes, version %d", len(sealed), sealed[0])
	}
	again, _ := Seal(kek, key, aad)
	if bytes.Equal(sealed, again) {
		t.Fatal("two seals are equal: the nonce is not random")
	}
	got, err := Unseal(kek, sealed, aad)
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("Unseal: %v", err)
	}
	if _, err := Unseal(kek, sealed, []byte("bucket/other")); !errors.Is(err, ErrAuth) {
		t.Errorf("other aad: %v", err)
	}
	if _, err := Unseal(testKey(t), sealed, aad); !errors.Is(err, ErrAuth) {
		t.Errorf("other kek: %v", err)
	}
	for i := range sealed {
		bad := bytes.Clone(sealed)
		bad[i] ^= 1
		if _, err := Unseal(kek, bad, aad); !errors.Is(err, ErrAuth) {
			t.Fatalf("byte %d flipped: %v", i, err)
		}
	}
	if _, err := Unseal(kek, sealed[:len(sealed)-1], aad); !errors.Is(err, ErrAuth) {
		t.Errorf("short: %v", err)
	}
	if _, err := Seal(kek, key[:16], aad); err == nil {
		t.Error("16-byte key sealed")
	}
	if _, err := Seal(kek[:16], key, aad); err == nil {
		t.Error("16-byte kek accepted")
	}
}
