package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// bench --direct runs the load against a dir backend's folder, with the
// backend making the bucket, and leaves nothing behind.
func TestBenchDirect(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "strata.yaml")
	data := filepath.Join(dir, "data")
	if err := os.WriteFile(conf, []byte("backends:\n  local: {type: dir, path: "+data+"}\ndefault: local\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	f := benchFlags{config: conf, direct: "local", bucket: "bench-bucket", size: "64KiB", objects: 4, concurrency: 2,
		duration: 100 * time.Millisecond, ops: []string{"put", "get", "list"}}
	if err := runBench(t.Context(), &out, f); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("want a header and three rows:\n%s", out.String())
	}
	for _, l := range lines[1:] {
		if fields := strings.Fields(l); len(fields) < 5 || fields[4] != "0" {
			t.Fatalf("errors in %q", l)
		}
	}
	left, err := os.ReadDir(filepath.Join(data, "bench-bucket", "bench"))
	if err != nil || len(left) != 0 {
		t.Fatalf("left behind: %v %v", left, err)
	}

	for _, bad := range []benchFlags{
		{direct: "local", size: "1KiB", objects: 1, concurrency: 1},                            // no --config
		{config: conf, direct: "nas", bucket: "b1b", size: "1KiB", objects: 1, concurrency: 1}, // no such backend
		{config: conf, direct: "local", endpoint: "http://x", size: "1KiB", objects: 1, concurrency: 1},
		{size: "1KiB", objects: 1, concurrency: 1}, // neither
	} {
		if err := runBench(t.Context(), &out, bad); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}
