package config

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/backendtest"
)

func TestParseErrorsNameTheLine(t *testing.T) {
	t.Setenv("STRATA_TEST_SET", "/tmp/x")
	for _, c := range []struct{ name, yaml, want string }{
		{"empty", "", "empty"},
		{"not a mapping", "- a\n", "cfg.yaml:1: expected a mapping"},
		{"unknown top key", "backends:\n  a: {type: dir, path: /x}\nbuckts: {}\n", `cfg.yaml:3: unknown key "buckts"`},
		{"no type", "backends:\n  a: {path: /x}\n", "cfg.yaml:2: backend \"a\": type is missing"},
		{"bad type", "backends:\n  a:\n    type: floppy\n", "cfg.yaml:3: backend \"a\": unknown type \"floppy\""},
		{"unknown backend key", "backends:\n  a:\n    type: dir\n    pth: /x\n", "cfg.yaml:4: backend a: unknown key \"pth\""},
		{"unset env", "backends:\n  a: {type: dir, path: \"${STRATA_TEST_UNSET}\"}\ndefault: a\n", "cfg.yaml:2: environment variable STRATA_TEST_UNSET is not set"},
		{"bad default", "backends:\n  a: {type: dir, path: /x}\ndefault: b\n", "cfg.yaml:3: default: no backend named \"b\""},
		{"bucket to nowhere", "backends:\n  a: {type: dir, path: /x}\nbuckets:\n  pics: {backend: zz}\n", "cfg.yaml:4: bucket \"pics\": no backend named \"zz\""},
		{"bad bucket name", "backends:\n  a: {type: dir, path: /x}\nbuckets:\n  Bad_Name: {backend: a}\n", "cfg.yaml:4: bucket \"Bad_Name\": not a valid S3 bucket name"},
		{"bucket and container", "backends:\n  a: {type: dir, path: /x}\nbuckets:\n  pics: {backend: a, bucket: x, container: y}\n", "bucket or container, not both"},
		{"unknown bucket key", "backends:\n  a: {type: dir, path: /x}\nbuckets:\n  pics: {backend: a, prefx: y}\n", "cfg.yaml:4: bucket pics: unknown key \"prefx\""},
		{"nothing served", "backends:\n  a: {type: dir, path: /x}\n", "nothing would be served"},
		{"bad yaml", "backends: [\n", "cfg.yaml"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("cfg.yaml", []byte(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error with %q", err, c.want)
			}
		})
	}
}

func TestParseValid(t *testing.T) {
	t.Setenv("NAS_ROOT", "/mnt/nas")
	cfg, err := Parse("cfg.yaml", []byte(`
backends:
  nas:  {type: dir, path: "${NAS_ROOT}", no_xattrs: true}
  other: {type: dir, path: "/srv/cost$$/$HOME"}
buckets:
  invoices: {backend: other, container: inv}
  events:   {backend: other, bucket: prod-events, prefix: raw}
  plain:    {backend: nas}
default: nas
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Backends["nas"].Config.(*DirConfig); got.Path != "/mnt/nas" || !got.NoXattrs {
		t.Fatalf("nas: %+v", got)
	}
	if got := cfg.Backends["other"].Config.(*DirConfig).Path; got != "/srv/cost$/$HOME" {
		t.Fatalf("$$: %q", got)
	}
	if m := cfg.Buckets["events"]; m.Remote != "prod-events" || m.Prefix != "raw/" || m.Backend != "other" {
		t.Fatalf("events: %+v", m)
	}
	if m := cfg.Buckets["invoices"]; m.Remote != "inv" {
		t.Fatalf("invoices: %+v", m)
	}
	if m := cfg.Buckets["plain"]; m.Remote != "plain" {
		t.Fatalf("plain: %+v", m)
	}
}

func writeConfig(t *testing.T, text string) string {
	p := filepath.Join(t.TempDir(), "strata.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The namespace of a configuration passes the backend suite, with buckets
// created on its default backend.
func TestNamespaceSuite(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		root, other := t.TempDir(), t.TempDir()
		ns, err := Open(context.Background(), writeConfig(t, "backends:\n  a: {type: dir, path: "+root+"}\n  b: {type: dir, path: "+other+"}\ndefault: a\n"))
		if err != nil {
			t.Fatal(err)
		}
		return ns
	})
}

func TestNamespacePrefixAndPlacement(t *testing.T) {
	ctx := context.Background()
	nas, cloud := t.TempDir(), t.TempDir()
	if err := os.MkdirAll(filepath.Join(cloud, "prod-events", "raw", "2025"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(cloud, "prod-events", "raw", "2025", "e1.json"), []byte("{}"), 0o644)
	os.WriteFile(filepath.Join(cloud, "prod-events", "outside.txt"), []byte("no"), 0o644)
	os.MkdirAll(filepath.Join(nas, "photos"), 0o755)
	path := writeConfig(t, "backends:\n  nas: {type: dir, path: "+nas+"}\n  lake: {type: dir, path: "+cloud+"}\n"+
		"buckets:\n  events: {backend: lake, bucket: prod-events, prefix: raw/}\ndefault: nas\n")
	ns, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	list, err := ns.ListBuckets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range list {
		names = append(names, b.Name)
	}
	if strings.Join(names, ",") != "events,photos" {
		t.Fatalf("buckets: %v", names)
	}
	res, err := ns.ListObjects(ctx, "events", backends.ListOptions{MaxKeys: 1000})
	if err != nil || len(res.Objects) != 1 || res.Objects[0].Key != "2025/e1.json" {
		t.Fatalf("events listing: %+v %v", res, err)
	}
	res, err = ns.ListObjects(ctx, "events", backends.ListOptions{Delimiter: "/", MaxKeys: 1000})
	if err != nil || len(res.Prefixes) != 1 || res.Prefixes[0] != "2025/" {
		t.Fatalf("events delimiter listing: %+v %v", res, err)
	}
	meta := backends.Meta{ETag: "x"}
	if _, err := ns.PutObject(ctx, "events", "2026/e2.json", strings.NewReader("[]"), backends.PutOptions{Meta: &meta}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(cloud, "prod-events", "raw", "2026", "e2.json")); err != nil {
		t.Fatalf("prefix not applied: %v", err)
	}
	rc, info, err := ns.GetObject(ctx, "events", "2026/e2.json", nil)
	if err != nil || info.Key != "2026/e2.json" {
		t.Fatalf("get: %v %+v", err, info)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "[]" {
		t.Fatalf("get: %q", b)
	}
	if _, err := ns.HeadObject(ctx, "events", "../outside.txt"); err == nil {
		t.Fatal("a key reached outside the mount's prefix")
	}
	if err := ns.DeleteBucket(ctx, "events"); !backends.Is(err, backends.AccessDenied) {
		t.Fatalf("deleting a mapped bucket: %v", err)
	}

	// A bucket created on the non-default backend by location constraint
	// is found again after a restart.
	if err := ns.CreateBucketAt(ctx, "placed", "lake"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(cloud, "placed")); err != nil {
		t.Fatalf("not created on lake: %v", err)
	}
	if err := ns.CreateBucketAt(ctx, "placed", "nas"); !backends.Is(err, backends.BucketExists) {
		t.Fatalf("second create: %v", err)
	}
	ns2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ns2.HeadBucket(ctx, "placed"); err == nil {
		t.Fatal("placed bucket found without discovery: it went to the default backend")
	}
	if err := ns2.Discover(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ns2.HeadBucket(ctx, "placed"); err != nil {
		t.Fatalf("placed bucket lost after restart: %v", err)
	}
	if err := ns2.DeleteBucket(ctx, "placed"); err != nil {
		t.Fatalf("delete placed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cloud, "placed")); !os.IsNotExist(err) {
		t.Fatalf("placed bucket still there: %v", err)
	}
}
