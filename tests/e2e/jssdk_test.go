package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestJSSDK drives the AWS SDK for JavaScript v3 (client-s3, lib-storage,
// the presigner) with its default configuration: default CRC32 checksums,
// aws-chunked trailers, multipart uploads, ranges, attributes, copies,
// tagging, listings, presigned URLs and batch deletes
// (testdata/js_flow.mjs). tests/services/jssdk.sh installs the SDK.
func TestJSSDK(t *testing.T) {
	b, err := exec.Command("../services/jssdk.sh", "dir").Output()
	must(t, err, "jssdk.sh dir")
	dir := strings.TrimSpace(string(b))
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
	out, err := toolEnv(t, []string{"S3_ENDPOINT=" + s.URL, "AWS_ACCESS_KEY_ID=" + accessKey, "AWS_SECRET_ACCESS_KEY=" + secretKey,
		"AWS_REGION=" + region}, "node", "--no-warnings", script.Name())
	t.Logf("node js_flow.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("the JavaScript SDK flow failed: %v", err)
	}
}
