package admin_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/dir"
	"github.com/strata-storage/strata/gateway/bitrot"
	"github.com/strata-storage/strata/s3api"
	"github.com/strata-storage/strata/s3api/admin"
)

const (
	rootAK, rootSK = "rootuser", "rootsecret123"
	userAK, userSK = "someuser", "usersecret123"
)

type env struct {
	t     *testing.T
	srv   *httptest.Server
	root  string
	layer *bitrot.Layer
	worm  []string
}

func newEnv(t *testing.T, withWORM bool) *env {
	root := t.TempDir()
	d, err := dir.Open(root, dir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e := &env{t: t, root: root, layer: bitrot.New(d, bitrot.Options{BlockSize: 4096, Logger: log})}
	creds := map[string]string{rootAK: rootSK, userAK: userSK}
	cfg := admin.Config{
		Lookup:  func(ak string) (string, bool) { s, ok := creds[ak]; return s, ok },
		IsAdmin: func(ak string) bool { return ak == rootAK },
		Version: "test-1",
		Backend: func(context.Context) any { return map[string]string{"type": "dir"} },
		Bitrot:  e.layer,
		Logger:  log,
	}
	if withWORM {
		cfg.EnableWORM = func(ctx context.Context, bucket string) error {
			if _, err := e.layer.HeadBucket(ctx, bucket); err != nil {
				return err
			}
			e.worm = append(e.worm, bucket)
			return nil
		}
	}
	h := s3api.New(s3api.Config{Backend: e.layer, Credentials: creds, Logger: log, Admin: admin.New(cfg)})
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	return e
}

// do sends a request signed as the aws SDK (and strata admin) signs it;
// ak "" sends it unsigned.
func (e *env) do(ak, sk, method, target string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+target, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if ak != "" {
		sum := sha256.Sum256(nil)
		ph := hex.EncodeToString(sum[:])
		req.Header.Set("X-Amz-Content-Sha256", ph)
		err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: ak, SecretAccessKey: sk},
			req, ph, "s3", "us-east-1", time.Now())
		if err != nil {
			e.t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func (e *env) want(resp *http.Response, body []byte, status int, code string) {
	e.t.Helper()
	var ae admin.Error
	json.Unmarshal(body, &ae)
	if resp.StatusCode != status || ae.Code != code || (code != "" && ae.Message == "") {
		e.t.Fatalf("got %d %s, want %d %s", resp.StatusCode, body, status, code)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		e.t.Fatalf("Content-Type %q", ct)
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t, false)
	resp, body := e.do("", "", "GET", "/.strata/admin/v1/info")
	e.want(resp, body, 403, "AccessDenied")
	resp, body = e.do(rootAK, "wrong-secret", "GET", "/.strata/admin/v1/info")
	e.want(resp, body, 403, "SignatureDoesNotMatch")
	resp, body = e.do("nobody", rootSK, "GET", "/.strata/admin/v1/info")
	e.want(resp, body, 403, "InvalidAccessKeyId")
	resp, body = e.do(userAK, userSK, "GET", "/.strata/admin/v1/info")
	e.want(resp, body, 403, "AccessDenied")
	// Unknown routes are only told to an administrator.
	resp, body = e.do(userAK, userSK, "GET", "/.strata/admin/v1/nothing")
	e.want(resp, body, 403, "AccessDenied")
	resp, body = e.do(rootAK, rootSK, "GET", "/.strata/admin/v1/nothing")
	e.want(resp, body, 404, "NotFound")
	resp, body = e.do(rootAK, rootSK, "GET", "/.strata/admin/v2/info")
	e.want(resp, body, 404, "NotFound")
	resp, body = e.do(rootAK, rootSK, "POST", "/.strata/admin/v1/info")
	e.want(resp, body, 405, "MethodNotAllowed")
}

func TestInfo(t *testing.T) {
	e := newEnv(t, false)
	resp, body := e.do(rootAK, rootSK, "GET", "/.strata/admin/v1/info")
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var in struct {
		Version string
		Backend map[string]string
		Bitrot  struct {
			BlockSize int `json:"block_size"`
			Counters  bitrot.Stats
		}
	}
	if err := json.Unmarshal(body, &in); err != nil || in.Version != "test-1" || in.Backend["type"] != "dir" || in.Bitrot.BlockSize != 4096 {
		t.Fatalf("info %s: %v", body, err)
	}
}

// The S3 API is not disturbed: a bucket and key that look alike are S3.
func TestS3Untouched(t *testing.T) {
	e := newEnv(t, false)
	resp, body := e.do(rootAK, rootSK, "GET", "/strata/admin/v1/info")
	if resp.StatusCode != 404 || !bytes.Contains(body, []byte("<Code>NoSuchBucket</Code>")) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

func put(t *testing.T, b backends.Backend, bucket, key string, data []byte) {
	t.Helper()
	if _, err := b.PutObject(t.Context(), bucket, key, bytes.NewReader(data), backends.PutOptions{Meta: &backends.Meta{}}); err != nil {
		t.Fatal(err)
	}
}

func scanLines(t *testing.T, body []byte) []admin.ScanLine {
	t.Helper()
	var out []admin.ScanLine
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		var l admin.ScanLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	return out
}

func TestScan(t *testing.T) {
	e := newEnv(t, false)
	ctx := t.Context()
	e.layer.CreateBucket(ctx, "photos")
	for _, k := range []string{"a", "b", "c/d"} {
		put(t, e.layer, "photos", k, bytes.Repeat([]byte(k), 3*4096+5))
	}
	os.WriteFile(filepath.Join(e.root, "photos", "direct.txt"), []byte("put on the share"), 0o644)
	// Damage b where its second block is, keeping the file's time.
	p := filepath.Join(e.root, "photos", "b")
	fi, _ := os.Stat(p)
	f, _ := os.OpenFile(p, os.O_RDWR, 0)
	f.WriteAt([]byte("X"), 5000)
	f.Close()
	os.Chtimes(p, fi.ModTime(), fi.ModTime())

	resp, body := e.do(rootAK, rootSK, "POST", "/.strata/admin/v1/scan?bucket=photos")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	lines := scanLines(t, body)
	byKey := map[string]admin.ScanLine{}
	var sum *bitrot.ScanSummary
	for _, l := range lines {
		switch l.Type {
		case admin.LineObject:
			byKey[l.Key] = l
		case admin.LineSummary:
			sum = l.ScanSummary
		}
	}
	if len(byKey) != 2 || byKey["b"].Status != bitrot.StatusCorrupt || byKey["b"].Block != 1 ||
		byKey["direct.txt"].Status != bitrot.StatusNoHashes {
		t.Fatalf("lines: %s", body)
	}
	if sum == nil || sum.Objects != 4 || sum.Corrupt != 1 || sum.OK != 2 || sum.Unhashed != 1 || lines[len(lines)-1].Type != admin.LineSummary {
		t.Fatalf("summary: %s", body)
	}

	resp, body = e.do(rootAK, rootSK, "POST", "/.strata/admin/v1/scan?bucket=photos&hash-missing=true&remove-orphans=true")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"status":"hashed"`) || !strings.Contains(string(body), `"hashed":1`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}

	resp, body = e.do(rootAK, rootSK, "POST", "/.strata/admin/v1/scan?bucket=nothere")
	e.want(resp, body, 404, "NoSuchBucket")
	resp, body = e.do(rootAK, rootSK, "POST", "/.strata/admin/v1/scan")
	e.want(resp, body, 400, "InvalidArgument")
	resp, body = e.do(rootAK, rootSK, "POST", "/.strata/admin/v1/scan?bucket=photos&hash-missing=maybe")
	e.want(resp, body, 400, "InvalidArgument")
	resp, body = e.do(userAK, userSK, "POST", "/.strata/admin/v1/scan?bucket=photos")
	e.want(resp, body, 403, "AccessDenied")
}

func TestWORM(t *testing.T) {
	e := newEnv(t, false)
	resp, body := e.do(rootAK, rootSK, "POST", "/.strata/admin/v1/bucket/worm?bucket=photos")
	e.want(resp, body, 501, "NotImplemented")

	e = newEnv(t, true)
	e.layer.CreateBucket(t.Context(), "photos")
	resp, body = e.do(rootAK, rootSK, "POST", "/.strata/admin/v1/bucket/worm?bucket=photos")
	if resp.StatusCode != 200 || len(e.worm) != 1 || e.worm[0] != "photos" {
		t.Fatalf("%d %s %v", resp.StatusCode, body, e.worm)
	}
	resp, body = e.do(rootAK, rootSK, "POST", "/.strata/admin/v1/bucket/worm?bucket=other")
	e.want(resp, body, 404, "NoSuchBucket")
}

// Routes added by other parts of the server.
func TestHandle(t *testing.T) {
	h := admin.New(admin.Config{
		Lookup:  func(ak string) (string, bool) { return rootSK, ak == rootAK },
		IsAdmin: func(ak string) bool { return ak == rootAK },
	})
	h.Handle("POST", "kms/key/create", func(w http.ResponseWriter, r *http.Request) error {
		if r.URL.Query().Get("name") == "" {
			return admin.Errorf(400, "InvalidArgument", "name is missing")
		}
		admin.WriteJSON(w, 200, map[string]string{"created": r.URL.Query().Get("name")})
		return nil
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	e := &env{t: t, srv: srv}
	resp, body := e.do(rootAK, rootSK, "POST", "/.strata/admin/v1/kms/key/create?name=k1")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"created":"k1"`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	resp, body = e.do(rootAK, rootSK, "POST", "/.strata/admin/v1/kms/key/create")
	e.want(resp, body, 400, "InvalidArgument")
}
