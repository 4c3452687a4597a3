package dir

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/fsstore"
)

// A move renames the file: same inode, no sidecar left behind, the record
// at the new key.
func TestMoveRenames(t *testing.T) {
	bothModes(t, func(t *testing.T, noX bool) {
		root := t.TempDir()
		s := open(t, root, Options{NoXattrs: noX})
		ctx := t.Context()
		s.CreateBucket(ctx, "bkt")
		meta := backends.Meta{ContentType: "text/x", User: map[string]string{"u": "1"}, Sys: map[string]string{"sse-key": "k"}}
		put := mustPut(t, s, "bkt", "a/b/src", []byte("the data"), meta)
		before, err := os.Stat(filepath.Join(root, "bkt", "a", "b", "src"))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.MoveObject(ctx, "bkt", "a/b/src", "c/dst"); err != nil {
			t.Fatal(err)
		}
		after, err := os.Stat(filepath.Join(root, "bkt", "c", "dst"))
		if err != nil {
			t.Fatal(err)
		}
		if !os.SameFile(before, after) {
			t.Fatal("the data was copied, not renamed")
		}
		if _, err := os.Stat(filepath.Join(root, "bkt", "a")); !os.IsNotExist(err) {
			t.Fatalf("the emptied folders of the source stay: %v", err)
		}
		h, err := s.HeadObject(ctx, "bkt", "c/dst")
		if err != nil || h.ETag != put.ETag || !h.ModTime.Equal(put.ModTime) || h.Sys["sse-key"] != "k" || h.User["u"] != "1" {
			t.Fatalf("moved: %+v, %v (put %+v)", h, err, put)
		}
		// Only the destination's sidecar is left (sidecar mode), or none.
		var sidecars []string
		filepath.WalkDir(filepath.Join(root, fsstore.SysDir, "meta"), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				sidecars = append(sidecars, p)
			}
			return nil
		})
		if want := map[bool]int{false: 0, true: 1}[noX]; len(sidecars) != want {
			t.Fatalf("sidecars %q, want %d", sidecars, want)
		}
	})
}

// A file that Strata did not write moves with the metadata it had: its
// derived ETag and time stay, its type is kept although the new name's
// extension says another.
func TestMoveForeign(t *testing.T) {
	bothModes(t, func(t *testing.T, noX bool) {
		root := t.TempDir()
		writeFile(t, filepath.Join(root, "bkt", "photo.jpg"), []byte("jpeg"))
		s := open(t, root, Options{NoXattrs: noX})
		ctx := t.Context()
		h, err := s.HeadObject(ctx, "bkt", "photo.jpg")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.MoveObject(ctx, "bkt", "photo.jpg", "renamed.txt"); err != nil {
			t.Fatal(err)
		}
		m, err := s.HeadObject(ctx, "bkt", "renamed.txt")
		if err != nil || m.ETag != h.ETag || !m.ModTime.Equal(h.ModTime) || m.ContentType != "image/jpeg" {
			t.Fatalf("moved: %+v, %v; before %+v", m, err, h)
		}
	})
}

// The destination follows PutObject's rules.
func TestMoveConflicts(t *testing.T) {
	root := t.TempDir()
	s := open(t, root, Options{})
	ctx := t.Context()
	s.CreateBucket(ctx, "bkt")
	mustPut(t, s, "bkt", "src", []byte("data"), backends.Meta{})
	mustPut(t, s, "bkt", "file", []byte("file"), backends.Meta{})
	mustPut(t, s, "bkt", "d/e", []byte("e"), backends.Meta{})
	mustPut(t, s, "bkt", "f/", nil, backends.Meta{})
	for _, dst := range []string{"file/x", "file/x/y", "d", "f"} {
		if err := s.MoveObject(ctx, "bkt", "src", dst); !backends.Is(err, backends.Conflict) {
			t.Fatalf("MoveObject(src, %s): %v, want Conflict", dst, err)
		}
	}
	if err := s.MoveObject(ctx, "bkt", "src", "../x"); !backends.Is(err, backends.InvalidKey) {
		t.Fatalf("MoveObject(src, ../x): %v, want InvalidKey", err)
	}
	if err := s.MoveObject(ctx, "bkt", "src", "g/"); !backends.Is(err, backends.InvalidArgument) {
		t.Fatalf("MoveObject(src, g/) with data: %v, want InvalidArgument", err)
	}
	if got, _ := backendtestGet(t, s, "bkt", "src"); got != "data" {
		t.Fatalf("failed moves changed the source: %q", got)
	}
	keys, _ := listKeys(t, s, "bkt", backends.ListOptions{})
	if want := []string{"d/e", "f/", "file", "src"}; !slices.Equal(keys, want) {
		t.Fatalf("keys %q, want %q", keys, want)
	}
}

// Links are copied (the link goes, its target stays); folder objects and
// empty files move between folder and file keys.
func TestMoveByCopy(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "bkt", "real.txt"), []byte("real"))
	if err := os.Symlink("real.txt", filepath.Join(root, "bkt", "ln.txt")); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	s := open(t, root, Options{})
	ctx := t.Context()
	if err := s.MoveObject(ctx, "bkt", "ln.txt", "sub/copy.txt"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(filepath.Join(root, "bkt", "sub", "copy.txt")); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("moved link: %v, %v", fi, err)
	}
	if _, err := os.Lstat(filepath.Join(root, "bkt", "ln.txt")); !os.IsNotExist(err) {
		t.Fatalf("the link stays: %v", err)
	}
	if got, _ := backendtestGet(t, s, "bkt", "real.txt"); got != "real" {
		t.Fatal("the link's target changed")
	}

	mustPut(t, s, "bkt", "dir/", nil, backends.Meta{ContentType: "application/x-directory", Sys: map[string]string{"ver-id": "1"}})
	mustPut(t, s, "bkt", "dir/child", []byte("c"), backends.Meta{})
	h, _ := s.HeadObject(ctx, "bkt", "dir/")
	if err := s.MoveObject(ctx, "bkt", "dir/", "marker"); err != nil {
		t.Fatal(err)
	}
	got, m := backendtestGet(t, s, "bkt", "marker")
	if got != "" || m.ContentType != "application/x-directory" || m.Sys["ver-id"] != "1" || m.ETag != h.ETag || !m.ModTime.Equal(h.ModTime) {
		t.Fatalf("folder object moved to a file key: %q %+v, was %+v", got, m, h)
	}
	if err := s.MoveObject(ctx, "bkt", "marker", "back/"); err != nil {
		t.Fatal(err)
	}
	b, err := s.HeadObject(ctx, "bkt", "back/")
	if err != nil || b.ContentType != "application/x-directory" || b.Sys["ver-id"] != "1" || !b.ModTime.Equal(h.ModTime) {
		t.Fatalf("empty file moved to a folder key: %+v, %v", b, err)
	}
	keys, _ := listKeys(t, s, "bkt", backends.ListOptions{})
	if want := []string{"back/", "dir/child", "real.txt", "sub/copy.txt"}; !slices.Equal(keys, want) {
		t.Fatalf("keys %q, want %q", keys, want)
	}
}

// Readers of both keys, during moves back and forth and writes to both
// keys, always see one whole object with its own metadata.
func TestMoveConcurrent(t *testing.T) {
	bothModes(t, func(t *testing.T, noX bool) {
		s := open(t, t.TempDir(), Options{NoXattrs: noX})
		ctx := t.Context()
		s.CreateBucket(ctx, "bkt")
		content := func(i int) []byte { return []byte(fmt.Sprintf("content number %04d", i)) }
		valid := map[string]string{} // ETag -> data
		for i := range 200 {
			valid[md5hex(content(i))] = string(content(i))
		}
		mustPut(t, s, "bkt", "x", content(0), backends.Meta{})
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for _, key := range []string{"x", "y"} {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					rc, info, err := s.GetObject(ctx, "bkt", key, nil)
					if backends.Is(err, backends.NoSuchKey) {
						continue
					}
					if err != nil {
						t.Errorf("GetObject(%s): %v", key, err)
						return
					}
					buf := make([]byte, 100)
					n, _ := rc.Read(buf)
					rc.Close()
					if want, ok := valid[info.ETag]; !ok || want != string(buf[:n]) {
						t.Errorf("GetObject(%s): %q with ETag %s", key, buf[:n], info.ETag)
						return
					}
				}
			})
		}
		for i := 1; i < 200; i++ {
			switch i % 4 {
			case 0:
				mustPut(t, s, "bkt", "y", content(i), backends.Meta{})
			case 1, 3:
				from, to := "x", "y"
				if i%4 == 3 {
					from, to = to, from
				}
				if err := s.MoveObject(ctx, "bkt", from, to); err != nil && !backends.Is(err, backends.NoSuchKey) {
					t.Fatal(err)
				}
			case 2:
				mustPut(t, s, "bkt", "x", content(i), backends.Meta{})
			}
			time.Sleep(time.Millisecond)
		}
		close(stop)
		wg.Wait()
	})
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}
