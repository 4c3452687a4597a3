package gateway

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/backendtest"
	"github.com/strata-storage/strata/backends/dir"
)

func dirBackend(t *testing.T) backends.Backend {
	t.Helper()
	s, err := dir.Open(t.TempDir(), dir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// mappedNamespace maps two buckets onto the folder "remote" of one
// directory (under root): "docs" with the prefix "pre", through the
// directory backend itself, and "raw" through plain, without its optional
// interfaces.
func mappedNamespace(t *testing.T) (n *Namespace, root string) {
	t.Helper()
	root = t.TempDir()
	s, err := dir.Open(root, dir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.CreateBucket(t.Context(), "remote"); err != nil {
		t.Fatal(err)
	}
	n, err = NewNamespace(map[string]backends.Backend{"d": s, "p": plain{s}},
		map[string]Mount{"docs": {Backend: "d", Remote: "remote", Prefix: "pre"}, "raw": {Backend: "p", Remote: "remote"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	return n, root
}

// plain is a backend without the optional interfaces.
type plain struct{ backends.Backend }

func TestNamespaceSuite(t *testing.T) {
	for name, wrap := range map[string]func(backends.Backend) backends.Backend{
		"native": func(b backends.Backend) backends.Backend { return b },
		// Moves stream through Strata; nothing is listed with Sys.
		"plain": func(b backends.Backend) backends.Backend { return plain{b} },
	} {
		t.Run(name, func(t *testing.T) {
			backendtest.Run(t, func(t *testing.T) backends.Backend {
				n, err := NewNamespace(map[string]backends.Backend{"d": wrap(dirBackend(t))}, map[string]Mount{}, "d")
				if err != nil {
					t.Fatal(err)
				}
				return n
			})
		})
	}
}

// A mapped bucket with a prefix: moves map both keys, the optional
// interfaces are the routed backend's.
func TestNamespaceMoveMapped(t *testing.T) {
	n, root := mappedNamespace(t)
	ctx := t.Context()
	backendtest.Put(t, n, "docs", "a/src", []byte("data"), backends.Meta{Sys: map[string]string{"ver-id": "1"}})
	if err := n.MoveObject(ctx, "docs", "a/src", "b/dst"); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(root, "remote", "pre", "b", "dst")); err != nil || string(got) != "data" {
		t.Fatalf("moved file: %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(root, "remote", "pre", "a")); !os.IsNotExist(err) {
		t.Fatalf("source folder: %v", err)
	}
	h, err := n.HeadObject(ctx, "docs", "b/dst")
	if err != nil || h.Key != "b/dst" || h.Sys["ver-id"] != "1" {
		t.Fatalf("HeadObject: %+v, %v", h, err)
	}
	if !n.ListsSys("docs") || n.ListsSys("raw") || n.ListsSys("missing") {
		t.Fatal("ListsSys is not the routed backend's")
	}
	if n.VerifiesIntegrity("docs") || n.VerifiesIntegrity("missing") {
		t.Fatal("a directory does not verify its data")
	}
	// Through the plain mount of the same folder: streamed.
	if err := n.MoveObject(ctx, "raw", "pre/b/dst", "moved"); err != nil {
		t.Fatal(err)
	}
	if h, err := n.HeadObject(ctx, "raw", "moved"); err != nil || h.Sys["ver-id"] != "1" {
		t.Fatalf("streamed move: %+v, %v", h, err)
	}
	if err := n.MoveObject(ctx, "missing", "a", "b"); !backends.Is(err, backends.NoSuchBucket) {
		t.Fatalf("MoveObject in a bucket no backend has: %v", err)
	}
}

// The namespace reports the changes of a mapped bucket as its backend
// does: a put names the object it replaces, a delete the one it removes,
// with the bucket's keys; a backend without the interface reports none.
func TestNamespaceReportsChanges(t *testing.T) {
	n, _ := mappedNamespace(t)
	ctx := t.Context()
	if !backends.ReportsChanges(n, "docs") || backends.ReportsChanges(n, "raw") {
		t.Fatal("ReportsChanges is not the mapped backend's")
	}
	backendtest.Put(t, n, "docs", "k", []byte("one"), backends.Meta{Sys: map[string]string{"x": "1"}})
	var replaced, deleted []string
	meta := backends.Meta{Sys: map[string]string{"x": "2"}}
	_, err := n.PutObject(ctx, "docs", "k", bytes.NewReader([]byte("two")), backends.PutOptions{Meta: &meta,
		Replaced: func(old backends.Meta) { replaced = append(replaced, old.Sys["x"]) }})
	if err != nil {
		t.Fatal(err)
	}
	err = n.DeleteObjectReporting(ctx, "docs", "k", func(old backends.Meta) { deleted = append(deleted, old.Sys["x"]) })
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(replaced, deleted) != "[1] [2]" {
		t.Fatalf("replaced %v, deleted %v; want [1] [2]", replaced, deleted)
	}
	if _, err := n.HeadObject(ctx, "docs", "k"); !backends.Is(err, backends.NoSuchKey) {
		t.Fatalf("after the delete: %v", err)
	}
	if err := n.DeleteObjectReporting(ctx, "raw", "k", func(backends.Meta) {}); err == nil {
		t.Fatal("a delete reporting through a backend that cannot report succeeded")
	}
}
