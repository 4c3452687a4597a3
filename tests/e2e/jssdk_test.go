package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestJSSDK drives the AWS SDK for JavaScript v3 (client-s3, lib-storage,
// the presigner) with its default configuration: default CRC32 checksums,
// aws-chunked trailers, multipart uploads, ranges, attributes, copies,
// tagging, listings, presigned URLs and batch deletes
// (testdata/js_flow.mjs). tests/services/jssdk.sh installs the SDK.
func TestJSSDK(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node is not installed (%v); run `make test` (it installs the test tools)", err)
	}
	out, err := exec.Command("../services/jssdk.sh", "dir").Output()
	must(t, err, "jssdk.sh dir")
	dir := strings.TrimSpace(string(out))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@aws-sdk", "client-s3")); err != nil {
		t.Fatalf("the JavaScript SDK is not installed (%v); run `make test` or tests/services/jssdk.sh install", err)
	}
	// Node resolves the imports of an ES module from the module's own
	// folder: the script runs from a copy in the SDK's folder.
	src, err := os.ReadFile("testdata/js_flow.mjs")
	must(t, err, "read js_flow.mjs")
	script, err := os.CreateTemp(dir, "flow-*.mjs")
	must(t, err, "script copy")
	t.Cleanup(func() { os.Remove(script.Name()) })
	_, err = script.Write(src)
	must(t, err, "write script copy")
	must(t, script.Close(), "close script copy")

	s := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "--no-warnings", script.Name())
	cmd.Env = append(os.Environ(), "S3_ENDPOINT="+s.URL, "AWS_ACCESS_KEY_ID="+accessKey, "AWS_SECRET_ACCESS_KEY="+secretKey,
		"AWS_REGION="+region, "NO_PROXY=127.0.0.1", "no_proxy=127.0.0.1")
	res, err := cmd.CombinedOutput()
	t.Logf("node js_flow.mjs:\n%s", res)
	if err != nil {
		t.Fatalf("the JavaScript SDK flow failed: %v", err)
	}
}
