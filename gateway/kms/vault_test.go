package kms

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/strata-storage/strata/gateway/kms/vaulttest"
)

func newVault(t *testing.T, srv *vaulttest.Server, cfg VaultConfig) *Vault {
	t.Helper()
	cfg.Endpoint = srv.URL
	if cfg.DefaultKey == "" {
		cfg.DefaultKey = "strata"
	}
	v, err := NewVault(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVaultRoundTrip(t *testing.T) {
	for _, derived := range []bool{false, true} {
		srv := vaulttest.New(vaulttest.Options{})
		defer srv.Close()
		srv.CreateKey("strata", derived)
		v := newVault(t, srv, VaultConfig{Token: "root"})
		ctx := context.Background()
		encCtx := Context{"bucket": "b", "key": "k"}

		dk, err := v.GenerateKey(ctx, "", encCtx)
		if err != nil {
			t.Fatal(err)
		}
		if dk.KeyID != "strata" || len(dk.Plaintext) != 32 || !bytes.Contains(dk.Sealed, []byte("vault:v1:")) {
			t.Fatalf("data key: %q, %d bytes, sealed %q", dk.KeyID, len(dk.Plaintext), dk.Sealed)
		}
		got, err := v.Decrypt(ctx, "", dk.Sealed, Context{"key": "k", "bucket": "b"})
		if err != nil || !bytes.Equal(got, dk.Plaintext) {
			t.Fatalf("Decrypt: %v", err)
		}
		if got, err = v.Decrypt(ctx, "strata", dk.Sealed, encCtx); err != nil || !bytes.Equal(got, dk.Plaintext) {
			t.Fatalf("Decrypt with key ID: %v", err)
		}
		// Wrong context fails, whether or not the key is derived.
		for _, bad := range []Context{nil, {"bucket": "b", "key": "other"}} {
			if _, err := v.Decrypt(ctx, "", dk.Sealed, bad); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("derived=%v, context %v: %v, want ErrDecrypt", derived, bad, err)
			}
		}
		if _, err := v.Decrypt(ctx, "other", dk.Sealed, encCtx); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("other key ID: %v", err)
		}
		// Tampered: the local seal, and Vault's ciphertext.
		bad := bytes.Clone(dk.Sealed)
		bad[len(bad)-1] ^= 1
		if _, err := v.Decrypt(ctx, "", bad, encCtx); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("tampered seal: %v", err)
		}
		bad = bytes.Clone(dk.Sealed)
		i := bytes.Index(bad, []byte("vault:v1:")) + 12
		bad[i] ^= 1
		if _, err := v.Decrypt(ctx, "", bad, encCtx); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("tampered Vault ciphertext: %v", err)
		}
		if _, err := v.Decrypt(ctx, "", []byte{1, 2, 3}, encCtx); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("garbage: %v", err)
		}
		st, err := v.Status(ctx)
		if err != nil || !st.Online || st.Name != "vault" || st.DefaultKey != "strata" || st.Endpoint != srv.URL {
			t.Fatalf("Status = %+v, %v", st, err)
		}
	}
}

func TestVaultRotation(t *testing.T) {
	srv := vaulttest.New(vaulttest.Options{Mount: "kms/transit"})
	defer srv.Close()
	srv.CreateKey("strata", true)
	v := newVault(t, srv, VaultConfig{Token: "root", Mount: "/kms/transit/"})
	ctx := context.Background()
	encCtx := Context{"bucket": "b"}
	old, err := v.GenerateKey(ctx, "", encCtx)
	if err != nil {
		t.Fatal(err)
	}
	srv.RotateKey("strata")
	cur, err := v.GenerateKey(ctx, "", encCtx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(cur.Sealed, []byte("vault:v2:")) {
		t.Fatalf("after rotation the key is not sealed with version 2: %q", cur.Sealed)
	}
	for _, dk := range []DataKey{old, cur} {
		if got, err := v.Decrypt(ctx, "", dk.Sealed, encCtx); err != nil || !bytes.Equal(got, dk.Plaintext) {
			t.Fatalf("after rotation: %v", err)
		}
	}
	// Vault refusing old versions (min_decryption_version) is ErrDecrypt.
	if _, err := v.do(ctx, "config", http.MethodPost, v.keyPath("keys", "strata", "config"), map[string]any{"min_decryption_version": 2}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Decrypt(ctx, "", old.Sealed, encCtx); !errors.Is(err, ErrDecrypt) || !strings.Contains(err.Error(), "too old") {
		t.Fatalf("version 1 after min_decryption_version 2: %v", err)
	}
}

func TestVaultKeys(t *testing.T) {
	srv := vaulttest.New(vaulttest.Options{Namespace: "team/a"})
	defer srv.Close()
	v := newVault(t, srv, VaultConfig{Token: "root", Namespace: "team/a"})
	ctx := context.Background()
	if names, err := v.ListKeys(ctx); err != nil || len(names) != 0 {
		t.Fatalf("no keys: %v, %v", names, err)
	}
	if _, err := v.GenerateKey(ctx, "", nil); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("unknown default key: %v", err)
	}
	if err := v.CreateKey(ctx, "strata"); err != nil {
		t.Fatal(err)
	}
	if err := v.CreateKey(ctx, "another"); err != nil {
		t.Fatal(err)
	}
	if err := v.CreateKey(ctx, "strata"); !errors.Is(err, ErrKeyExists) {
		t.Fatalf("create twice: %v", err)
	}
	if err := v.CreateKey(ctx, "bad/name"); err == nil {
		t.Fatal("bad name accepted")
	}
	if names, err := v.ListKeys(ctx); err != nil || strings.Join(names, ",") != "another,strata" {
		t.Fatalf("ListKeys = %v, %v", names, err)
	}
	dk, err := v.GenerateKey(ctx, "another", Context{"a": "b"})
	if err != nil || dk.KeyID != "another" {
		t.Fatalf("named key: %v", err)
	}
	if _, err := v.Decrypt(ctx, "", dk.Sealed, Context{"a": "b"}); err != nil {
		t.Fatalf("decrypt names its key: %v", err)
	}
	if _, err := v.GenerateKey(ctx, "missing", nil); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("unknown key: %v", err)
	}
	// A sealed key naming a key that is gone.
	srv2 := vaulttest.New(vaulttest.Options{Namespace: "team/a"})
	defer srv2.Close()
	v2 := newVault(t, srv2, VaultConfig{Token: "root", Namespace: "team/a"})
	if _, err := v2.Decrypt(ctx, "", dk.Sealed, Context{"a": "b"}); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("decrypt with an unknown key: %v", err)
	}
	// Without the namespace, Vault does not find the route.
	v3 := newVault(t, srv, VaultConfig{Token: "root"})
	if _, err := v3.GenerateKey(ctx, "", nil); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("no namespace: %v", err)
	}
}

func TestVaultAppRole(t *testing.T) {
	srv := vaulttest.New(vaulttest.Options{})
	defer srv.Close()
	srv.CreateKey("strata", false)
	srv.AddAppRole("role-1", "secret-1", time.Hour)
	v := newVault(t, srv, VaultConfig{AppRoleID: "role-1", AppRoleSecret: "secret-1"})
	ctx := context.Background()
	dk, err := v.GenerateKey(ctx, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if srv.Logins() != 1 {
		t.Fatalf("%d logins, want 1", srv.Logins())
	}
	if _, err := v.Decrypt(ctx, "", dk.Sealed, nil); err != nil || srv.Logins() != 1 {
		t.Fatalf("second request: %v, %d logins", err, srv.Logins())
	}
	// The token expires: Vault answers 403, the client logs in again.
	srv.ExpireTokens()
	if _, err := v.Decrypt(ctx, "", dk.Sealed, nil); err != nil {
		t.Fatalf("after the token expired: %v", err)
	}
	if srv.Logins() != 2 {
		t.Fatalf("%d logins after expiry, want 2", srv.Logins())
	}
	// A short lease is renewed before it runs out.
	srv.AddAppRole("role-2", "secret-2", 3*time.Second)
	v2 := newVault(t, srv, VaultConfig{AppRoleID: "role-2", AppRoleSecret: "secret-2"})
	if _, err := v2.GenerateKey(ctx, "", nil); err != nil {
		t.Fatal(err)
	}
	v2.mu.Lock()
	v2.renewAt = time.Now().Add(-time.Millisecond) // as if 2s had passed
	v2.mu.Unlock()
	before, reqs := srv.Logins(), srv.Requests()
	if _, err := v2.GenerateKey(ctx, "", nil); err != nil {
		t.Fatal(err)
	}
	if srv.Logins() != before+1 || srv.Requests() != reqs+2 {
		t.Fatalf("renewal: %d logins, %d requests; want one login and no refused request", srv.Logins()-before, srv.Requests()-reqs)
	}
	// Bad secret.
	bad := newVault(t, srv, VaultConfig{AppRoleID: "role-1", AppRoleSecret: "wrong"})
	if _, err := bad.GenerateKey(ctx, "", nil); err == nil || !strings.Contains(err.Error(), "invalid role or secret ID") {
		t.Fatalf("bad AppRole secret: %v", err)
	}
}

func TestVaultBadToken(t *testing.T) {
	srv := vaulttest.New(vaulttest.Options{})
	defer srv.Close()
	srv.CreateKey("strata", false)
	v := newVault(t, srv, VaultConfig{Token: "not-a-token"})
	ctx := context.Background()
	_, err := v.GenerateKey(ctx, "", nil)
	var ve *vaultError
	if !errors.As(err, &ve) || ve.status != http.StatusForbidden || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("bad token: %v", err)
	}
	st, err := v.Status(ctx)
	if err != nil || st.Online || !strings.Contains(st.Detail, "permission denied") {
		t.Fatalf("Status with a bad token = %+v, %v", st, err)
	}
	if _, err := v.ListKeys(ctx); err == nil {
		t.Fatal("ListKeys with a bad token succeeded")
	}
}

func TestVaultDown(t *testing.T) {
	ctx := context.Background()
	// Nothing listens.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	v, err := NewVault(VaultConfig{Endpoint: "http://" + addr, DefaultKey: "strata", Token: "t", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := v.GenerateKey(ctx, "", nil); err == nil {
		t.Fatal("no server: no error")
	}
	if st, _ := v.Status(ctx); st.Online {
		t.Fatal("no server: online")
	}
	// A server that accepts and never answers: the timeout ends the request.
	srv := vaulttest.New(vaulttest.Options{})
	defer srv.Close()
	srv.CreateKey("strata", false)
	srv.Stall(true)
	defer srv.Stall(false)
	v = newVault(t, srv, VaultConfig{Token: "root", Timeout: 300 * time.Millisecond})
	start = time.Now()
	_, err = v.GenerateKey(ctx, "", nil)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hung server: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("hung server: gave up after %v", d)
	}
	// The caller's context ends it sooner.
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	v = newVault(t, srv, VaultConfig{Token: "root", Timeout: time.Minute})
	start = time.Now()
	if _, err := v.GenerateKey(cctx, "", nil); err == nil || time.Since(start) > 3*time.Second {
		t.Fatalf("caller's deadline: %v after %v", err, time.Since(start))
	}
}

func TestNewVaultErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  VaultConfig
		want string
	}{
		{VaultConfig{Endpoint: "vault:8200", DefaultKey: "k", Token: "t"}, "not an http(s) URL"},
		{VaultConfig{Endpoint: "http://vault:8200", Token: "t"}, "no default key"},
		{VaultConfig{Endpoint: "http://vault:8200", DefaultKey: "a b", Token: "t"}, "invalid key name"},
		{VaultConfig{Endpoint: "http://vault:8200", DefaultKey: "k"}, "no token"},
		{VaultConfig{Endpoint: "http://vault:8200", DefaultKey: "k", AppRoleID: "r"}, "both"},
		{VaultConfig{Endpoint: "https://vault:8200", DefaultKey: "k", Token: "t", CAPath: "/nonexistent/ca.pem"}, "CA path"},
	} {
		if _, err := NewVault(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewVault(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
