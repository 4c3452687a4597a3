package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestVersioningCLI drives S3 versioning with the aws CLI: versioning on,
// versions listed, an old version read by ID, a delete marker, and an old
// version restored by copying it onto its key. The current version stays a
// plain file on disk; the versions stay out of listings.
func TestVersioningCLI(t *testing.T) {
	needAWSCLI(t)
	s := startServer(t)
	work := t.TempDir()
	b := "cli-versions"
	s.mustAWS(t, "s3api", "create-bucket", "--bucket", b)
	s.mustAWS(t, "s3api", "put-bucket-versioning", "--bucket", b, "--versioning-configuration", "Status=Enabled")
	var gv struct{ Status string }
	mustJSON(t, s.mustAWS(t, "s3api", "get-bucket-versioning", "--bucket", b), &gv)
	if gv.Status != "Enabled" {
		t.Fatalf("get-bucket-versioning: %+v", gv)
	}

	put := func(content string) string {
		t.Helper()
		f := filepath.Join(work, "body")
		must(t, os.WriteFile(f, []byte(content), 0o644), "write body")
		var out struct{ VersionId, ETag string }
		mustJSON(t, s.mustAWS(t, "s3api", "put-object", "--bucket", b, "--key", "docs/report.txt", "--body", f), &out)
		if out.VersionId == "" || out.VersionId == "null" {
			t.Fatalf("put-object: no version ID: %+v", out)
		}
		return out.VersionId
	}
	get := func(version string) (string, error) {
		t.Helper()
		f := filepath.Join(work, "got")
		os.Remove(f)
		args := []string{"s3api", "get-object", "--bucket", b, "--key", "docs/report.txt"}
		if version != "" {
			args = append(args, "--version-id", version)
		}
		if _, err := s.awsCLI(t, "", append(args, f)...); err != nil {
			return "", err
		}
		data, err := os.ReadFile(f)
		must(t, err, "read got")
		return string(data), nil
	}
	v1 := put("first draft")
	v2 := put("second draft")
	if v1 == v2 {
		t.Fatalf("two PUTs, one version ID %s", v1)
	}

	type version struct {
		Key, VersionId string
		IsLatest       bool
		Size           int64
	}
	var lv struct {
		Versions      []version
		DeleteMarkers []version
	}
	mustJSON(t, s.mustAWS(t, "s3api", "list-object-versions", "--bucket", b), &lv)
	if len(lv.Versions) != 2 || lv.Versions[0].VersionId != v2 || !lv.Versions[0].IsLatest ||
		lv.Versions[1].VersionId != v1 || lv.Versions[1].IsLatest || lv.Versions[1].Size != int64(len("first draft")) {
		t.Fatalf("list-object-versions: %+v", lv)
	}
	if got, err := get(v1); err != nil || got != "first draft" {
		t.Fatalf("get-object --version-id v1: %q, %v", got, err)
	}

	// A delete adds a marker; the key is gone, its versions are not.
	var del struct {
		DeleteMarker bool
		VersionId    string
	}
	mustJSON(t, s.mustAWS(t, "s3api", "delete-object", "--bucket", b, "--key", "docs/report.txt"), &del)
	if !del.DeleteMarker || del.VersionId == "" {
		t.Fatalf("delete-object: %+v", del)
	}
	if _, err := get(""); err == nil || !strings.Contains(err.Error(), "NoSuchKey") {
		t.Fatalf("get-object after delete: %v, want NoSuchKey", err)
	}
	mustJSON(t, s.mustAWS(t, "s3api", "list-object-versions", "--bucket", b, "--prefix", "docs/"), &lv)
	if len(lv.Versions) != 2 || len(lv.DeleteMarkers) != 1 || lv.DeleteMarkers[0].VersionId != del.VersionId || !lv.DeleteMarkers[0].IsLatest {
		t.Fatalf("list-object-versions after delete: %+v", lv)
	}

	// Restore the first draft: copy that version onto the key.
	var cp struct {
		VersionId           string
		CopySourceVersionId string
	}
	mustJSON(t, s.mustAWS(t, "s3api", "copy-object", "--bucket", b, "--key", "docs/report.txt",
		"--copy-source", b+"/docs/report.txt?versionId="+v1), &cp)
	if cp.CopySourceVersionId != v1 || cp.VersionId == "" || cp.VersionId == v1 {
		t.Fatalf("copy-object (restore): %+v", cp)
	}
	if got, err := get(""); err != nil || got != "first draft" {
		t.Fatalf("after restore: %q, %v", got, err)
	}
	// The current version is the plain file at its key.
	if data, err := os.ReadFile(filepath.Join(s.Dir, b, "docs", "report.txt")); err != nil || string(data) != "first draft" {
		t.Fatalf("file on disk: %q, %v", data, err)
	}
	// Listings show the key only.
	if out := s.mustAWS(t, "s3", "ls", "--recursive", "s3://"+b); strings.Contains(out, ".strata") || !strings.Contains(out, "docs/report.txt") {
		t.Fatalf("s3 ls: %s", out)
	}
	mustJSON(t, s.mustAWS(t, "s3api", "list-object-versions", "--bucket", b), &lv)
	if len(lv.Versions) != 3 || len(lv.DeleteMarkers) != 1 {
		t.Fatalf("list-object-versions after restore: %+v", lv)
	}
	// Delete a version for good.
	s.mustAWS(t, "s3api", "delete-object", "--bucket", b, "--key", "docs/report.txt", "--version-id", v2)
	if _, err := get(v2); err == nil || !strings.Contains(err.Error(), "NoSuchVersion") {
		t.Fatalf("get-object of a deleted version: %v", err)
	}
}

func mustJSON(t *testing.T, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("parsing %q: %v", out, err)
	}
}

// TestObjectLockBoto3 runs testdata/boto3_lock.py: Object Lock with boto3,
// with a second user from a --users file who may not bypass governance
// retention.
func TestObjectLockBoto3(t *testing.T) {
	py := needBoto3(t)
	script, err := filepath.Abs(filepath.Join("testdata", "boto3_lock.py"))
	must(t, err, "script path")
	users := filepath.Join(t.TempDir(), "users.yaml")
	must(t, os.WriteFile(users, []byte("users:\n  - access_key: clerk\n    secret_key: ${CLERK_SECRET}\n    bypass_governance: false\n"), 0o600), "users file")
	t.Setenv("CLERK_SECRET", "clerk-secret-123")
	s := startServer(t, withArgs("--users", users))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, script)
	cmd.Env = append(os.Environ(),
		"STRATA_ENDPOINT="+s.URL,
		"STRATA_ACCESS_KEY="+accessKey,
		"STRATA_SECRET_KEY="+secretKey,
		"STRATA_USER_KEY=clerk",
		"STRATA_USER_SECRET=clerk-secret-123",
		"STRATA_BUCKET=boto3-lock",
		"AWS_CONFIG_FILE="+os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE="+os.DevNull,
		"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost",
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	t.Logf("boto3_lock.py:\n%s", out.String())
	if err != nil {
		t.Errorf("boto3_lock.py failed: %v", err)
	}
}

// TestWORMServer runs the server with --worm: objects can be written once
// and read, never overwritten or deleted.
func TestWORMServer(t *testing.T) {
	needAWSCLI(t)
	s := startServer(t, withArgs("--worm"))
	work := t.TempDir()
	f := filepath.Join(work, "body")
	must(t, os.WriteFile(f, []byte("once"), 0o644), "write body")
	s.mustAWS(t, "s3api", "create-bucket", "--bucket", "worm")
	s.mustAWS(t, "s3api", "put-object", "--bucket", "worm", "--key", "ledger", "--body", f)
	for _, args := range [][]string{
		{"s3api", "put-object", "--bucket", "worm", "--key", "ledger", "--body", f},
		{"s3api", "delete-object", "--bucket", "worm", "--key", "ledger"},
		{"s3api", "put-object-tagging", "--bucket", "worm", "--key", "ledger", "--tagging", "TagSet=[{Key=a,Value=b}]"},
	} {
		if _, err := s.awsCLI(t, "", args...); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
			t.Errorf("aws %s in WORM mode: %v, want AccessDenied", strings.Join(args, " "), err)
		}
	}
	s.mustAWS(t, "s3api", "put-object", "--bucket", "worm", "--key", "another", "--body", f)
	if data, err := os.ReadFile(filepath.Join(s.Dir, "worm", "ledger")); err != nil || string(data) != "once" {
		t.Fatalf("ledger on disk: %q, %v", data, err)
	}
}
