package kms

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func randKey(t *testing.T) []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestBuiltinRoundTrip(t *testing.T) {
	ctx := context.Background()
	a, b := randKey(t), randKey(t)
	k, err := NewBuiltin(map[string][]byte{"key-a": a, "key-b": b}, "key-a")
	if err != nil {
		t.Fatal(err)
	}
	encCtx := Context{"bucket": "photos", "key": "2024/cat.jpg"}
	for _, id := range []string{"", "key-a", "key-b"} {
		dk, err := k.GenerateKey(ctx, id, encCtx)
		if err != nil {
			t.Fatal(err)
		}
		want := id
		if want == "" {
			want = "key-a"
		}
		if dk.KeyID != want || len(dk.Plaintext) != 32 {
			t.Fatalf("GenerateKey(%q): key %q, %d bytes", id, dk.KeyID, len(dk.Plaintext))
		}
		if dk.Sealed[0] != 1 || string(dk.Sealed[2:2+dk.Sealed[1]]) != want {
			t.Fatalf("sealed form does not name %q", want)
		}
		// The context's order does not matter: it is canonical.
		got, err := k.Decrypt(ctx, "", dk.Sealed, Context{"key": "2024/cat.jpg", "bucket": "photos"})
		if err != nil || !bytes.Equal(got, dk.Plaintext) {
			t.Fatalf("Decrypt: %v", err)
		}
		if got, err = k.Decrypt(ctx, want, dk.Sealed, encCtx); err != nil || !bytes.Equal(got, dk.Plaintext) {
			t.Fatalf("Decrypt with key ID: %v", err)
		}
		for _, bad := range []Context{nil, {"bucket": "photos"}, {"bucket": "photos", "key": "2024/dog.jpg"}, {"bucket": "photos", "key": "2024/cat.jpg", "x": ""}} {
			if _, err := k.Decrypt(ctx, "", dk.Sealed, bad); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("context %v: %v, want ErrDecrypt", bad, err)
			}
		}
	}
	dk1, _ := k.GenerateKey(ctx, "", encCtx)
	dk2, _ := k.GenerateKey(ctx, "", encCtx)
	if bytes.Equal(dk1.Plaintext, dk2.Plaintext) || bytes.Equal(dk1.Sealed, dk2.Sealed) {
		t.Fatal("two data keys are equal")
	}
	// Tampering with any byte.
	for i := range dk1.Sealed {
		bad := bytes.Clone(dk1.Sealed)
		bad[i] ^= 0x20
		if _, err := k.Decrypt(ctx, "", bad, encCtx); err == nil {
			t.Fatalf("byte %d changed: unsealed", i)
		}
	}
	if _, err := k.Decrypt(ctx, "", dk1.Sealed[:len(dk1.Sealed)-1], encCtx); !errors.Is(err, ErrDecrypt) {
		t.Errorf("truncated: %v", err)
	}
	if _, err := k.Decrypt(ctx, "key-b", dk1.Sealed, encCtx); !errors.Is(err, ErrDecrypt) {
		t.Errorf("wrong key ID: %v", err)
	}
	if _, err := k.GenerateKey(ctx, "nope", encCtx); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("unknown key: %v", err)
	}
	// Same name, other key material: does not unseal.
	other, _ := NewBuiltin(map[string][]byte{"key-a": randKey(t)}, "")
	if _, err := other.Decrypt(ctx, "", dk1.Sealed, encCtx); !errors.Is(err, ErrDecrypt) {
		t.Errorf("other master key: %v", err)
	}
	// A KMS without the key.
	onlyB, _ := NewBuiltin(map[string][]byte{"key-b": b}, "")
	if _, err := onlyB.Decrypt(ctx, "", dk1.Sealed, encCtx); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("missing master key: %v", err)
	}
	// Another KMS with the same keys unseals.
	same, _ := NewBuiltin(map[string][]byte{"key-a": a}, "")
	if got, err := same.Decrypt(ctx, "", dk1.Sealed, encCtx); err != nil || !bytes.Equal(got, dk1.Plaintext) {
		t.Errorf("same master key elsewhere: %v", err)
	}

	if err := k.CreateKey(ctx, "new"); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("CreateKey: %v", err)
	}
	if names, _ := k.ListKeys(ctx); strings.Join(names, ",") != "key-a,key-b" {
		t.Errorf("ListKeys = %v", names)
	}
	if st, err := k.Status(ctx); err != nil || !st.Online || st.Name != "builtin" || st.DefaultKey != "key-a" {
		t.Errorf("Status = %+v, %v", st, err)
	}
	if k.DefaultKey() != "key-a" {
		t.Errorf("DefaultKey = %q", k.DefaultKey())
	}
}

func TestNewBuiltinErrors(t *testing.T) {
	k := make([]byte, 32)
	for _, tc := range []struct {
		keys map[string][]byte
		def  string
		want string
	}{
		{nil, "", "no master key"},
		{map[string][]byte{"a": k[:16]}, "", "16 bytes"},
		{map[string][]byte{"a:b": k}, "", "invalid key name"},
		{map[string][]byte{"a": k, "b": k}, "", "default key"},
		{map[string][]byte{"a": k}, "b", "default key"},
	} {
		if _, err := NewBuiltin(tc.keys, tc.def); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewBuiltin(%v, %q) = %v, want %q", len(tc.keys), tc.def, err, tc.want)
		}
	}
}

func TestParseSecretKey(t *testing.T) {
	key := bytes.Repeat([]byte{0xab}, 32)
	b64 := base64.StdEncoding.EncodeToString(key)
	for _, s := range []string{"my-key:" + b64, " my-key:" + b64 + "\n", "my-key:" + strings.TrimRight(b64, "=")} {
		name, k, err := ParseSecretKey(s)
		if err != nil || name != "my-key" || !bytes.Equal(k, key) {
			t.Errorf("ParseSecretKey(%q) = %q, %v", s, name, err)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"", "no ':'"},
		{b64, "no ':'"},
		{":" + b64, "invalid key name"},
		{"bad name:" + b64, "invalid key name"},
		{"k:not base64!", "not base64"},
		{"k:" + base64.StdEncoding.EncodeToString(key[:31]), "31 bytes, want 32"},
		{"k:" + base64.StdEncoding.EncodeToString(append(key, 1)), "33 bytes, want 32"},
	} {
		_, _, err := ParseSecretKey(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseSecretKey(%q) = %v, want %q", tc.in, err, tc.want)
		}
		if err != nil && len(tc.in) > 40 && strings.Contains(err.Error(), tc.in[2:]) {
			t.Errorf("error shows the key material: %v", err)
		}
	}
}

func TestLoadBuiltinFile(t *testing.T) {
	dir := t.TempDir()
	k1 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	k2 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))
	write := func(s string) string {
		p := filepath.Join(dir, "keys")
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	k, err := LoadBuiltinFile(write("# master keys\n\nsecond:" + k2 + "\r\nfirst:" + k1 + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if k.DefaultKey() != "second" {
		t.Errorf("default = %q, want the first in the file", k.DefaultKey())
	}
	if names, _ := k.ListKeys(context.Background()); len(names) != 2 {
		t.Errorf("keys = %v", names)
	}
	for _, tc := range []struct{ in, want string }{
		{"", "no key"},
		{"# nothing\n", "no key"},
		{"a:" + k1 + "\na:" + k2 + "\n", ":2: kms: key \"a\" appears twice"},
		{"a:" + k1 + "\nb:xyz\n", ":2: kms: secret key \"b\""},
	} {
		if _, err := LoadBuiltinFile(write(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("file %q: %v, want %q", tc.in, err, tc.want)
		}
	}
	if _, err := LoadBuiltinFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file accepted")
	}
}

func TestCanonical(t *testing.T) {
	for _, tc := range []struct {
		c    Context
		want string
	}{
		{nil, "{}"},
		{Context{}, "{}"},
		{Context{"b": "2", "a": "1"}, `{"a":"1","b":"2"}`},
		{Context{"k": "<\"é\">"}, `{"k":"\u003c\"é\"\u003e"}`},
	} {
		if got := string(tc.c.Canonical()); got != tc.want {
			t.Errorf("Canonical(%v) = %s, want %s", tc.c, got, tc.want)
		}
	}
}

func TestFromEnv(t *testing.T) {
	key := "k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	k, err := FromEnv(env(nil))
	if k != nil || err != nil {
		t.Fatalf("nothing configured: %v, %v", k, err)
	}
	k, err = FromEnv(env(map[string]string{"STRATA_KMS_SECRET_KEY": key}))
	if err != nil || k == nil || k.DefaultKey() != "k1" {
		t.Fatalf("secret key: %v, %v", k, err)
	}
	if _, ok := k.(*Builtin); !ok {
		t.Fatalf("secret key: %T", k)
	}
	k, err = FromEnv(env(map[string]string{"STRATA_KMS_SECRET_KEY": "k1:short"}))
	if k != nil || err == nil || !strings.Contains(err.Error(), "STRATA_KMS_SECRET_KEY") {
		t.Fatalf("bad secret key: %v (%T), %v", k, k, err)
	}
	p := filepath.Join(t.TempDir(), "keys")
	_ = os.WriteFile(p, []byte(key+"\n"), 0o600)
	if k, err = FromEnv(env(map[string]string{"STRATA_KMS_SECRET_KEY_FILE": p})); err != nil || k.DefaultKey() != "k1" {
		t.Fatalf("key file: %v", err)
	}
	if k, err = FromEnv(env(map[string]string{"STRATA_KMS_SECRET_KEY_FILE": p + ".missing"})); err == nil || k != nil {
		t.Fatalf("missing key file: %v, %v", k, err)
	}
	if _, err = FromEnv(env(map[string]string{"STRATA_KMS_SECRET_KEY": key, "STRATA_KMS_VAULT_ENDPOINT": "http://x"})); err == nil {
		t.Fatal("two KMSs accepted")
	}
	if _, err = FromEnv(env(map[string]string{"STRATA_KMS_VAULT_TOKEN": "t"})); err == nil {
		t.Fatal("vault token without endpoint accepted")
	}
	k, err = FromEnv(env(map[string]string{"STRATA_KMS_VAULT_ENDPOINT": "https://vault:8200", "STRATA_KMS_VAULT_KEY": "strata", "STRATA_KMS_VAULT_TOKEN": "t"}))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := k.(*Vault); !ok || v.cfg.Mount != "transit" || v.DefaultKey() != "strata" {
		t.Fatalf("vault: %T %+v", k, k)
	}
	if k, err = FromEnv(env(map[string]string{"STRATA_KMS_VAULT_ENDPOINT": "https://vault:8200", "STRATA_KMS_VAULT_KEY": "strata"})); err == nil || k != nil {
		t.Fatalf("vault without credentials: %v", err)
	}
}
