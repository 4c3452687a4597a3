package vaulttest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// call makes a raw request the way curl would against Vault.
func call(t *testing.T, s *Server, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s %s: not JSON: %s", method, path, raw)
		}
	}
	return resp.StatusCode, m
}

func TestAPIShapes(t *testing.T) {
	s := New(Options{})
	defer s.Close()

	code, m := call(t, s, "POST", "/v1/transit/keys/k", "bad", `{}`)
	if code != 403 || m["errors"].([]any)[0] != "permission denied" {
		t.Fatalf("bad token: %d %v", code, m)
	}
	code, m = call(t, s, "GET", "/v1/transit/keys/k", "root", "")
	if code != 404 || len(m["errors"].([]any)) != 0 {
		t.Fatalf("read unknown key: %d %v", code, m)
	}
	code, _ = call(t, s, "LIST", "/v1/transit/keys", "root", "")
	if code != 404 {
		t.Fatalf("list without keys: %d", code)
	}
	code, m = call(t, s, "POST", "/v1/transit/keys/k", "root", `{"type":"aes256-gcm96"}`)
	if code != 200 || m["data"].(map[string]any)["latest_version"].(float64) != 1 || m["warnings"] != nil {
		t.Fatalf("create: %d %v", code, m)
	}
	code, m = call(t, s, "PUT", "/v1/transit/keys/k", "root", ``)
	if code != 200 || !strings.Contains(m["warnings"].([]any)[0].(string), "already existed") {
		t.Fatalf("create again: %d %v", code, m)
	}
	for _, req := range [][2]string{{"LIST", "/v1/transit/keys"}, {"GET", "/v1/transit/keys?list=true"}} {
		code, m = call(t, s, req[0], req[1], "root", "")
		if code != 200 || m["data"].(map[string]any)["keys"].([]any)[0] != "k" {
			t.Fatalf("%s: %d %v", req, code, m)
		}
	}
	code, m = call(t, s, "POST", "/v1/transit/encrypt/k", "root", `{"plaintext":"aGVsbG8="}`)
	ct, _ := m["data"].(map[string]any)["ciphertext"].(string)
	if code != 200 || !strings.HasPrefix(ct, "vault:v1:") {
		t.Fatalf("encrypt: %d %v", code, m)
	}
	code, _ = call(t, s, "POST", "/v1/transit/keys/k/rotate", "root", "")
	if code != 200 {
		t.Fatalf("rotate: %d", code)
	}
	code, m = call(t, s, "POST", "/v1/transit/decrypt/k", "root", `{"ciphertext":"`+ct+`"}`)
	if code != 200 || m["data"].(map[string]any)["plaintext"] != "aGVsbG8=" {
		t.Fatalf("decrypt v1 after rotation: %d %v", code, m)
	}
	code, m = call(t, s, "POST", "/v1/transit/datakey/plaintext/k", "root", `{}`)
	d := m["data"].(map[string]any)
	if code != 200 || !strings.HasPrefix(d["ciphertext"].(string), "vault:v2:") || d["key_version"].(float64) != 2 || len(d["plaintext"].(string)) != 44 {
		t.Fatalf("datakey: %d %v", code, m)
	}
	code, m = call(t, s, "POST", "/v1/transit/datakey/wrapped/k", "root", `{"bits":128}`)
	if code != 200 || m["data"].(map[string]any)["plaintext"] != nil {
		t.Fatalf("wrapped datakey: %d %v", code, m)
	}
	for _, tc := range []struct{ path, body, want string }{
		{"/v1/transit/decrypt/nope", `{"ciphertext":"vault:v1:AAAA"}`, "encryption key not found"},
		{"/v1/transit/datakey/plaintext/nope", `{}`, "encryption key not found"},
		{"/v1/transit/decrypt/k", `{"ciphertext":"AAAA"}`, "invalid ciphertext: no prefix"},
		{"/v1/transit/decrypt/k", `{"ciphertext":"vault:v9:AAAA"}`, "invalid ciphertext: version is too new"},
		{"/v1/transit/decrypt/k", `{"ciphertext":"vault:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`, "cipher: message authentication failed"},
		{"/v1/transit/datakey/other/k", `{}`, "Invalid path"},
	} {
		code, m = call(t, s, "POST", tc.path, "root", tc.body)
		if code != 400 || !strings.Contains(m["errors"].([]any)[0].(string), tc.want) {
			t.Errorf("%s %s: %d %v, want 400 %q", tc.path, tc.body, code, m, tc.want)
		}
	}
	// Derived keys need a context.
	call(t, s, "POST", "/v1/transit/keys/d", "root", `{"derived":true}`)
	code, m = call(t, s, "POST", "/v1/transit/datakey/plaintext/d", "root", `{}`)
	if code != 400 || !strings.Contains(m["errors"].([]any)[0].(string), "missing 'context'") {
		t.Fatalf("derived without context: %d %v", code, m)
	}
	// AppRole.
	s.AddAppRole("r", "s", time.Minute)
	code, m = call(t, s, "POST", "/v1/auth/approle/login", "", `{"role_id":"r","secret_id":"s"}`)
	auth, _ := m["auth"].(map[string]any)
	if code != 200 || auth["client_token"] == "" || auth["lease_duration"].(float64) != 60 {
		t.Fatalf("login: %d %v", code, m)
	}
	code, _ = call(t, s, "GET", "/v1/transit/keys/k", auth["client_token"].(string), "")
	if code != 200 {
		t.Fatalf("with the AppRole token: %d", code)
	}
	code, m = call(t, s, "POST", "/v1/auth/approle/login", "", `{"role_id":"r","secret_id":"x"}`)
	if code != 400 || m["errors"].([]any)[0] != "invalid role or secret ID" {
		t.Fatalf("bad login: %d %v", code, m)
	}
}
