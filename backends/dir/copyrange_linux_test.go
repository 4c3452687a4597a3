package dir

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// CopyFrom appends a range of another file of the tree inside the kernel;
// the tests' temp dirs are on a file system it trusts (ext4, tmpfs...).
func TestCopyFrom(t *testing.T) {
	root := t.TempDir()
	d, err := NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if !d.copyRange {
		t.Skipf("%s is not on a file system where copy_file_range is used", root)
	}
	src := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	os.WriteFile(filepath.Join(root, "src"), src, 0o644)
	f, err := d.Open("src")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := d.Create("dst")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("head:"))
	fc := w.(*writer)
	if n, err := fc.CopyFrom(f, 300000); n != 300000 || err != nil {
		t.Fatalf("CopyFrom: %d, %v", n, err)
	}
	if n, err := fc.CopyFrom(f, 1<<30); n != int64(len(src))-300000 || err != nil {
		t.Fatalf("CopyFrom to the end: %d, %v", n, err)
	}
	if n, err := fc.CopyFrom(struct{ *file }{f.(*file)}, 1); n != 0 || !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("CopyFrom of a File that is not the tree's: %d, %v", n, err)
	}
	w.Close()
	got, _ := os.ReadFile(filepath.Join(root, "dst"))
	if want := append([]byte("head:"), src...); !bytes.Equal(got, want) {
		t.Fatalf("dst: %d bytes, want %d", len(got), len(want))
	}
}
