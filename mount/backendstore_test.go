//go:build linux

package mount

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/strata-storage/strata/backends/dir"
)

// newDirStore is a backend store over a fresh backends/dir tree with one
// bucket.
func newDirStore(t *testing.T) (Store, string) {
	t.Helper()
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "bkt"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := dir.Open(root, dir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return NewBackendStore(b, "bkt"), filepath.Join(root, "bkt")
}

func randData(seed uint64, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}).Read(b)
	return b
}

func readAll(t *testing.T, s Store, key string, off, n int64) []byte {
	t.Helper()
	rc, err := s.Get(context.Background(), key, off, n)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBackendStore(t *testing.T) {
	s, root := newDirStore(t)
	ctx := context.Background()
	data := randData(1, 100000)

	o, err := s.Put(ctx, "a/b.txt", bytes.NewReader(data), int64(len(data)), Meta{User: map[string]string{"mode": "33188"}})
	if err != nil {
		t.Fatal(err)
	}
	if o.Size != int64(len(data)) || len(o.ETag) != 32 {
		t.Errorf("put: %+v", o)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "a", "b.txt")); !bytes.Equal(b, data) {
		t.Errorf("the file on disk differs")
	}
	h, err := s.Head(ctx, "a/b.txt")
	if err != nil || h.Size != int64(len(data)) || h.ETag != o.ETag || h.Meta.User["mode"] != "33188" || h.Meta.ContentType != "text/plain; charset=utf-8" {
		t.Errorf("head: %+v %v", h, err)
	}
	if got := readAll(t, s, "a/b.txt", 1000, 500); !bytes.Equal(got, data[1000:1500]) {
		t.Errorf("ranged get differs")
	}
	if got := readAll(t, s, "a/b.txt", 99990, -1); !bytes.Equal(got, data[99990:]) {
		t.Errorf("get to the end differs")
	}
	if _, err := s.Head(ctx, "a/missing"); toErrno(err) != syscall.ENOENT {
		t.Errorf("head of a missing key: %v", err)
	}
	if _, err := s.Get(ctx, "missing", 0, -1); toErrno(err) != syscall.ENOENT {
		t.Errorf("get of a missing key: %v", err)
	}

	// Multipart: two parts of 5 MiB and a short one.
	big := randData(2, 12<<20)
	id, err := s.CreateMultipart(ctx, "big.bin", Meta{User: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	var parts []Part
	for i, off := 1, 0; off < len(big); i, off = i+1, off+5<<20 {
		end := min(off+5<<20, len(big))
		etag, err := s.UploadPart(ctx, "big.bin", id, i, bytes.NewReader(big[off:end]), int64(end-off))
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, Part{Number: i, ETag: etag})
	}
	o, err = s.CompleteMultipart(ctx, "big.bin", id, parts)
	if err != nil {
		t.Fatal(err)
	}
	if o.Size != int64(len(big)) || o.ETag[len(o.ETag)-2:] != "-3" {
		t.Errorf("complete: %+v", o)
	}
	if got := readAll(t, s, "big.bin", 0, -1); !bytes.Equal(got, big) {
		t.Errorf("multipart object differs")
	}
	id, _ = s.CreateMultipart(ctx, "gone.bin", Meta{})
	if err := s.AbortMultipart(ctx, "gone.bin", id); err != nil {
		t.Errorf("abort: %v", err)
	}
	if err := s.AbortMultipart(ctx, "gone.bin", id); err != nil {
		t.Errorf("abort again: %v", err)
	}

	// Copy to a new key keeps the metadata; to the same key with meta
	// changes only the metadata.
	h, _ = s.Head(ctx, "big.bin")
	if _, err := s.Copy(ctx, h, "copy/big.bin", nil); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Head(ctx, "copy/big.bin"); c.Size != h.Size || c.Meta.User["k"] != "v" {
		t.Errorf("copy: %+v", c)
	}
	if _, err := s.Copy(ctx, h, "big.bin", &Meta{User: map[string]string{"k": "w"}}); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Head(ctx, "big.bin"); c.Meta.User["k"] != "w" || c.ETag != h.ETag {
		t.Errorf("metadata update: %+v", c)
	}

	// Folder markers and listing with a delimiter, paged.
	if _, err := s.Put(ctx, "dir/", bytes.NewReader(nil), 0, Meta{}); err != nil {
		t.Fatal(err)
	}
	for i := range 25 {
		s.Put(ctx, fmt.Sprintf("dir/f%02d", i), bytes.NewReader([]byte("x")), 1, Meta{})
	}
	s.Put(ctx, "dir/sub/x", bytes.NewReader([]byte("x")), 1, Meta{})
	var names []string
	token := ""
	pages := 0
	for {
		p, err := s.List(ctx, "dir/", "/", token, 10)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, o := range p.Objects {
			names = append(names, o.Key)
		}
		names = append(names, p.Prefixes...)
		if p.Next == "" {
			break
		}
		token = p.Next
	}
	if len(names) != 27 || !slices.Contains(names, "dir/") || !slices.Contains(names, "dir/sub/") || pages != 3 {
		t.Errorf("listing: %d names in %d pages: %v", len(names), pages, names)
	}

	if err := s.Delete(ctx, "a/b.txt"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "a/b.txt"); err != nil {
		t.Errorf("delete of a missing key: %v", err)
	}
	if _, err := s.Head(ctx, "a/b.txt"); toErrno(err) != syscall.ENOENT {
		t.Errorf("head after delete: %v", err)
	}
}
