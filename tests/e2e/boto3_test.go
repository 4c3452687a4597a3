package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// needBoto3 fails the test when python3 or boto3 is missing.
func needBoto3(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 is not installed (%v); %s", err, installHint)
	}
	if out, err := exec.Command(py, "-c", "import boto3").CombinedOutput(); err != nil {
		t.Fatalf("boto3 is not importable by %s (%v): %s; %s", py, err, out, installHint)
	}
	return py
}

// TestBoto3 runs testdata/boto3_flow.py over HTTP and over HTTPS; over
// HTTPS boto3 sends uploads as aws-chunked with a trailing CRC.
func TestBoto3(t *testing.T) {
	py := needBoto3(t)
	script, err := filepath.Abs(filepath.Join("testdata", "boto3_flow.py"))
	must(t, err, "script path")
	for _, tc := range []struct {
		name string
		opts []serverOption
	}{
		{"http", nil},
		{"https", []serverOption{withTLS()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, tc.opts...)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, py, script)
			cmd.Env = append(os.Environ(),
				"STRATA_ENDPOINT="+s.URL,
				"STRATA_ACCESS_KEY="+accessKey,
				"STRATA_SECRET_KEY="+secretKey,
				"STRATA_BUCKET=boto3-"+tc.name,
				"STRATA_WORKDIR="+t.TempDir(),
				"STRATA_CA_BUNDLE="+s.CAFile,
				"AWS_CONFIG_FILE="+os.DevNull,
				"AWS_SHARED_CREDENTIALS_FILE="+os.DevNull,
				"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost",
			)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			start := time.Now()
			err := cmd.Run()
			t.Logf("boto3_flow.py over %s (%v):\n%s", tc.name, time.Since(start).Round(time.Millisecond), out.String())
			if err != nil {
				t.Errorf("boto3_flow.py failed: %v", err)
			}
		})
	}
}
