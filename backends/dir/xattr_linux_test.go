package dir

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/fsstore"
)

// Where the file system has xattrs, the record is on the file and no
// sidecar is written; in sidecar mode, the reverse.
func TestXattrRecord(t *testing.T) {
	root := t.TempDir()
	s := open(t, root, Options{})
	if !s.Xattrs() {
		t.Skip("no user xattrs on the temp dir")
	}
	s.CreateBucket(t.Context(), "bkt")
	mustPut(t, s, "bkt", "k.txt", []byte("data"), backends.Meta{ContentType: "text/x-a"})
	p := filepath.Join(root, "bkt", "k.txt")
	buf := make([]byte, 4096)
	n, err := unix.Getxattr(p, fsstore.XattrName, buf)
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		V     int   `json:"v"`
		Size  int64 `json:"size"`
		MTime int64 `json:"mtime_ns"`
		Meta  backends.Meta
	}
	if err := json.Unmarshal(buf[:n], &rec); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(p)
	if rec.V != 1 || rec.Size != 4 || rec.MTime != fi.ModTime().UnixNano() || rec.Meta.ContentType != "text/x-a" {
		t.Fatalf("xattr record %+v", rec)
	}
	if n := len(tree(t, filepath.Join(root, fsstore.SysDir, "meta"))); n != 1 {
		t.Fatalf("sidecars written in xattr mode: %v", tree(t, filepath.Join(root, fsstore.SysDir, "meta")))
	}

	root2 := t.TempDir()
	s2 := open(t, root2, Options{NoXattrs: true})
	s2.CreateBucket(t.Context(), "bkt")
	mustPut(t, s2, "bkt", "k.txt", []byte("data"), backends.Meta{ContentType: "text/x-a"})
	if _, err := unix.Getxattr(filepath.Join(root2, "bkt", "k.txt"), fsstore.XattrName, buf); err == nil {
		t.Fatal("xattr set in sidecar mode")
	}
	if n := len(tree(t, filepath.Join(root2, fsstore.SysDir, "meta"))); n != 4 {
		t.Fatalf("sidecar: %v", tree(t, filepath.Join(root2, fsstore.SysDir, "meta")))
	}
}
