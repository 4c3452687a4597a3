package admin_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/strata-storage/strata/backends/dir"
	"github.com/strata-storage/strata/gateway/kms"
	"github.com/strata-storage/strata/gateway/kms/vaulttest"
	"github.com/strata-storage/strata/s3api"
	"github.com/strata-storage/strata/s3api/admin"
)

func newKMSEnv(t *testing.T, k kms.KMS) *env {
	d, err := dir.Open(t.TempDir(), dir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	creds := map[string]string{rootAK: rootSK, userAK: userSK}
	h := admin.New(admin.Config{
		Lookup:  func(ak string) (string, bool) { s, ok := creds[ak]; return s, ok },
		IsAdmin: func(ak string) bool { return ak == rootAK },
		Logger:  log,
	})
	h.HandleKMS(k)
	e := &env{t: t}
	e.srv = httptest.NewServer(s3api.New(s3api.Config{Backend: d, Credentials: creds, Logger: log, Admin: h}))
	t.Cleanup(e.srv.Close)
	return e
}

func TestKMSRoutes(t *testing.T) {
	const p = "/.strata/admin/v1/"
	// No KMS: every route says so.
	e := newKMSEnv(t, nil)
	resp, body := e.do(rootAK, rootSK, "GET", p+"kms/status")
	e.want(resp, body, 501, "NotImplemented")

	// The built-in KMS lists its keys and cannot make new ones.
	b, err := kms.NewBuiltin(map[string][]byte{"k1": make([]byte, 32)}, "k1")
	if err != nil {
		t.Fatal(err)
	}
	e = newKMSEnv(t, b)
	resp, body = e.do(rootAK, rootSK, "GET", p+"kms/key/list")
	var list struct {
		Keys    []string `json:"keys"`
		Default string   `json:"default"`
	}
	if json.Unmarshal(body, &list); resp.StatusCode != 200 || !slices.Equal(list.Keys, []string{"k1"}) || list.Default != "k1" {
		t.Fatalf("list: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do(rootAK, rootSK, "POST", p+"kms/key/create?key=k2")
	e.want(resp, body, 501, "NotImplemented")
	resp, body = e.do(userAK, userSK, "GET", p+"kms/status")
	e.want(resp, body, 403, "AccessDenied")

	// Vault: keys are made, listed, and a second create is a conflict.
	vs := vaulttest.New(vaulttest.Options{})
	t.Cleanup(vs.Close)
	v, err := kms.NewVault(kms.VaultConfig{Endpoint: vs.URL, Token: "root", DefaultKey: "strata"})
	if err != nil {
		t.Fatal(err)
	}
	e = newKMSEnv(t, v)
	for _, name := range []string{"strata", "other"} {
		resp, body = e.do(rootAK, rootSK, "POST", p+"kms/key/create?key="+name)
		if resp.StatusCode != 200 {
			t.Fatalf("create %s: %d %s", name, resp.StatusCode, body)
		}
	}
	resp, body = e.do(rootAK, rootSK, "POST", p+"kms/key/create?key=other")
	e.want(resp, body, 409, "KeyExists")
	resp, body = e.do(rootAK, rootSK, "POST", p+"kms/key/create?key=bad/name")
	e.want(resp, body, 400, "InvalidArgument")
	resp, body = e.do(rootAK, rootSK, "GET", p+"kms/key/list")
	if json.Unmarshal(body, &list); resp.StatusCode != 200 || !slices.Contains(list.Keys, "other") || !slices.Contains(list.Keys, "strata") {
		t.Fatalf("vault list: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do(rootAK, rootSK, "GET", p+"kms/status")
	var st kms.Status
	if json.Unmarshal(body, &st); resp.StatusCode != 200 || !st.Online {
		t.Fatalf("vault status: %d %s", resp.StatusCode, body)
	}
}
