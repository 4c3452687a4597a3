package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
