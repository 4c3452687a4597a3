package dir

import (
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/backendtest"
	"github.com/strata-storage/strata/backends/fsstore"
)

func open(t *testing.T, root string, opts Options) *fsstore.Store {
	t.Helper()
	s, err := Open(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSuite(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		s := open(t, t.TempDir(), Options{})
		if !s.Xattrs() {
			t.Log("no xattrs on the temp dir: sidecar mode")
		}
		return s
	})
}

func TestSuiteSidecars(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		return open(t, t.TempDir(), Options{NoXattrs: true})
	})
}

func mustPut(t *testing.T, s backends.Backend, bucket, key string, data []byte, meta backends.Meta) backends.ObjectInfo {
	t.Helper()
	return backendtest.Put(t, s, bucket, key, data, meta)
}

func writeFile(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func listKeys(t *testing.T, s backends.Backend, bucket string, opts backends.ListOptions) (keys, prefixes []string) {
	t.Helper()
	res, err := s.ListObjects(t.Context(), bucket, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range res.Objects {
		keys = append(keys, o.Key)
	}
	return keys, res.Prefixes
}

// tree returns every path below root with its kind, for before/after checks.
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = d.Type().String()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func bothModes(t *testing.T, fn func(t *testing.T, noXattrs bool)) {
	t.Run("xattrs", func(t *testing.T) { fn(t, false) })
	t.Run("sidecars", func(t *testing.T) { fn(t, true) })
}

// Files that were there before Strata are served as they are.
func TestForeignFiles(t *testing.T) {
	bothModes(t, func(t *testing.T, noX bool) {
		root := t.TempDir()
		writeFile(t, filepath.Join(root, "photos", "a", "b.jpg"), []byte("jpeg data"))
		writeFile(t, filepath.Join(root, "photos", "readme.txt"), []byte("hello"))
		writeFile(t, filepath.Join(root, "photos", "data.unknownext"), []byte("??"))
		os.MkdirAll(filepath.Join(root, "photos", "empty"), 0o755)
		os.MkdirAll(filepath.Join(root, "photos", "deep", "empty", "dirs"), 0o755)
		os.MkdirAll(filepath.Join(root, "Not_A_Bucket"), 0o755)
		os.MkdirAll(filepath.Join(root, ".hidden"), 0o755)
		writeFile(t, filepath.Join(root, "file-at-top"), []byte("x"))
		s := open(t, root, Options{NoXattrs: noX})
		ctx := t.Context()

		bs, err := s.ListBuckets(ctx)
		if err != nil || len(bs) != 1 || bs[0].Name != "photos" {
			t.Fatalf("ListBuckets: %+v, %v", bs, err)
		}
		keys, _ := listKeys(t, s, "photos", backends.ListOptions{})
		if want := []string{"a/b.jpg", "data.unknownext", "readme.txt"}; !slices.Equal(keys, want) {
			t.Fatalf("keys %q, want %q", keys, want)
		}
		keys, prefixes := listKeys(t, s, "photos", backends.ListOptions{Delimiter: "/"})
		if !slices.Equal(keys, []string{"data.unknownext", "readme.txt"}) || !slices.Equal(prefixes, []string{"a/"}) {
			t.Fatalf("with delimiter: %q %q (empty folders must not be prefixes)", keys, prefixes)
		}
		fi, _ := os.Stat(filepath.Join(root, "photos", "readme.txt"))
		h, err := s.HeadObject(ctx, "photos", "readme.txt")
		if err != nil {
			t.Fatal(err)
		}
		if h.Size != 5 || h.ETag != fsstore.DerivedETag(5, fi.ModTime()) || !strings.HasPrefix(h.ContentType, "text/plain") || !h.ModTime.Equal(fi.ModTime()) {
			t.Fatalf("HeadObject: %+v", h)
		}
		if len(h.ETag) != 34 || !strings.HasSuffix(h.ETag, "-1") {
			t.Fatalf("derived ETag %q does not look like md5-N", h.ETag)
		}
		if h2, _ := s.HeadObject(ctx, "photos", "readme.txt"); h2.ETag != h.ETag {
			t.Fatal("derived ETag not stable")
		}
		if h, _ := s.HeadObject(ctx, "photos", "data.unknownext"); h.ContentType != "application/octet-stream" {
			t.Fatalf("unknown extension: %q", h.ContentType)
		}
		if h, _ := s.HeadObject(ctx, "photos", "a/b.jpg"); h.ContentType != "image/jpeg" {
			t.Fatalf("jpg: %q", h.ContentType)
		}
		res, _ := s.ListObjects(ctx, "photos", backends.ListOptions{Prefix: "readme"})
		if len(res.Objects) != 1 || res.Objects[0].ETag != h.ETag {
			t.Fatalf("listed %+v, head said %+v", res.Objects, h)
		}
		// Modified outside: a new ETag.
		time.Sleep(10 * time.Millisecond)
		writeFile(t, filepath.Join(root, "photos", "readme.txt"), []byte("hello, world"))
		if h2, _ := s.HeadObject(ctx, "photos", "readme.txt"); h2.ETag == h.ETag || h2.Size != 12 {
			t.Fatalf("after outside change: %+v", h2)
		}
		// A foreign file can take metadata.
		m := h.Meta
		m.User = map[string]string{"k": "v"}
		if _, err := s.UpdateMeta(ctx, "photos", "readme.txt", m); err != nil {
			t.Fatal(err)
		}
		if h3, _ := s.HeadObject(ctx, "photos", "readme.txt"); h3.User["k"] != "v" || h3.Size != 12 {
			t.Fatalf("after UpdateMeta: %+v", h3)
		}
		if got, _ := os.ReadFile(filepath.Join(root, "photos", "readme.txt")); string(got) != "hello, world" {
			t.Fatalf("UpdateMeta changed the file: %q", got)
		}
		// Empty folders do not keep a bucket from being deleted.
		for _, k := range []string{"a/b.jpg", "data.unknownext", "readme.txt"} {
			if err := s.DeleteObject(ctx, "photos", k); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.DeleteBucket(ctx, "photos"); err != nil {
			t.Fatalf("DeleteBucket with only empty folders: %v", err)
		}
		if _, err := os.Stat(filepath.Join(root, "photos")); !os.IsNotExist(err) {
			t.Fatalf("bucket folder still there: %v", err)
		}
	})
}

// What Strata writes is a plain file at the key's path, readable by all.
func TestPlainFiles(t *testing.T) {
	bothModes(t, func(t *testing.T, noX bool) {
		root := t.TempDir()
		s := open(t, root, Options{NoXattrs: noX})
		ctx := t.Context()
		if err := s.CreateBucket(ctx, "bkt"); err != nil {
			t.Fatal(err)
		}
		defer setUmask(setUmask(0o077))
		mustPut(t, s, "bkt", "x/y/z.txt", []byte("plain"), backends.Meta{ContentType: "text/x-mine"})
		p := filepath.Join(root, "bkt", "x", "y", "z.txt")
		got, err := os.ReadFile(p)
		if err != nil || string(got) != "plain" {
			t.Fatalf("file at key path: %q, %v", got, err)
		}
		fi, _ := os.Stat(p)
		if fi.Mode().Perm() != 0o644 {
			t.Fatalf("file mode %v, want 0644", fi.Mode())
		}
		di, _ := os.Stat(filepath.Join(root, "bkt", "x", "y"))
		if di.Mode().Perm() != 0o755 {
			t.Fatalf("dir mode %v, want 0755", di.Mode())
		}
		if want := map[string]string{".": "d---------", "x": "d---------", "x/y": "d---------", "x/y/z.txt": "----------"}; !maps.Equal(tree(t, filepath.Join(root, "bkt")), want) {
			t.Fatalf("bucket folder holds %v, want only the object", tree(t, filepath.Join(root, "bkt")))
		}
		// Multipart staging stays out of the bucket.
		id, err := s.CreateMultipartUpload(ctx, "bkt", "mp", backends.Meta{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.UploadPart(ctx, "bkt", "mp", id, 1, strings.NewReader("part"), &backends.Meta{}); err != nil {
			t.Fatal(err)
		}
		if len(tree(t, filepath.Join(root, "bkt"))) != 4 {
			t.Fatalf("upload visible in the bucket folder: %v", tree(t, filepath.Join(root, "bkt")))
		}
		if _, err := s.CompleteMultipartUpload(ctx, "bkt", "mp", id, []int{1}, backends.PutOptions{Meta: &backends.Meta{}}); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(filepath.Join(root, "bkt", "mp")); string(got) != "part" {
			t.Fatalf("completed upload: %q", got)
		}
		if fi, _ := os.Stat(filepath.Join(root, "bkt", "mp")); fi.Mode().Perm() != 0o644 {
			t.Fatalf("completed upload mode %v", fi.Mode())
		}
		// Temp folder is clean after all this: its folders, no files.
		for name, typ := range tree(t, filepath.Join(root, fsstore.SysDir, "tmp")) {
			if !strings.HasPrefix(typ, "d") {
				t.Fatalf("temporary file left: %s", name)
			}
		}
	})
}

func TestReservedFolder(t *testing.T) {
	root := t.TempDir()
	s := open(t, root, Options{})
	ctx := t.Context()
	if fi, err := os.Stat(filepath.Join(root, fsstore.SysDir)); err != nil || !fi.IsDir() {
		t.Fatalf("reserved folder: %v", err)
	}
	if err := s.CreateBucket(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	if bs, _ := s.ListBuckets(ctx); len(bs) != 1 {
		t.Fatalf("ListBuckets: %+v", bs)
	}
	if _, err := s.HeadBucket(ctx, fsstore.SysDir); !backends.Is(err, backends.NoSuchBucket) {
		t.Fatalf("HeadBucket(reserved): %v", err)
	}
	if err := s.CreateBucket(ctx, fsstore.SysDir); !backends.Is(err, backends.InvalidBucketName) {
		t.Fatalf("CreateBucket(reserved): %v", err)
	}
	if _, err := s.ListObjects(ctx, fsstore.SysDir, backends.ListOptions{}); !backends.Is(err, backends.NoSuchBucket) {
		t.Fatalf("ListObjects(reserved): %v", err)
	}
	if _, _, err := s.GetObject(ctx, fsstore.SysDir, "tmp", nil); err == nil {
		t.Fatal("GetObject in the reserved folder worked")
	}
}

// Metadata whose stamp no longer matches the file is ignored.
func TestStaleMetadata(t *testing.T) {
	bothModes(t, func(t *testing.T, noX bool) {
		root := t.TempDir()
		s := open(t, root, Options{NoXattrs: noX})
		ctx := t.Context()
		s.CreateBucket(ctx, "bkt")
		p := filepath.Join(root, "bkt", "doc.html")

		// Rewritten in place (same inode, xattr stays).
		mustPut(t, s, "bkt", "doc.html", []byte("<p>one</p>"), backends.Meta{ContentType: "text/x-custom", User: map[string]string{"a": "b"}})
		f, _ := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
		f.WriteString("<p>changed outside</p>")
		f.Close()
		h, err := s.HeadObject(ctx, "bkt", "doc.html")
		fi, _ := os.Stat(p)
		if err != nil || h.User != nil || !strings.HasPrefix(h.ContentType, "text/html") || h.ETag != fsstore.DerivedETag(fi.Size(), fi.ModTime()) {
			t.Fatalf("after in-place change: %+v, %v", h, err)
		}

		// Same size, only the mtime moved.
		mustPut(t, s, "bkt", "doc.html", []byte("<p>two</p>"), backends.Meta{ContentType: "text/x-custom"})
		os.Chtimes(p, time.Time{}, time.Now().Add(time.Hour))
		if h, _ := s.HeadObject(ctx, "bkt", "doc.html"); h.ContentType == "text/x-custom" {
			t.Fatalf("metadata kept after the mtime changed: %+v", h)
		}

		// Replaced by another file (new inode) of the same size.
		mustPut(t, s, "bkt", "doc.html", []byte("<p>333</p>"), backends.Meta{ContentType: "text/x-custom"})
		writeFile(t, p+".new", []byte("<p>444</p>"))
		os.Rename(p+".new", p)
		if h, _ := s.HeadObject(ctx, "bkt", "doc.html"); h.ContentType == "text/x-custom" {
			t.Fatalf("metadata kept after the file was replaced: %+v", h)
		}
	})
}

// A crash between writing the sidecar and renaming the data leaves the
// old data with a sidecar that still describes it.
func TestSidecarCrashWindow(t *testing.T) {
	root := t.TempDir()
	s := open(t, root, Options{NoXattrs: true})
	ctx := t.Context()
	s.CreateBucket(ctx, "bkt")
	p := filepath.Join(root, "bkt", "k")
	v1 := mustPut(t, s, "bkt", "k", []byte("version 1"), backends.Meta{ContentType: "text/v1"})
	fi1, _ := os.Stat(p)
	saved, _ := os.ReadFile(p)
	v2 := mustPut(t, s, "bkt", "k", []byte("version 2"), backends.Meta{ContentType: "text/v2"})
	if h, _ := s.HeadObject(ctx, "bkt", "k"); h.ContentType != "text/v2" || h.ETag != v2.ETag {
		t.Fatalf("v2: %+v", h)
	}
	// Put v1's file back as if v2's rename had never happened.
	writeFile(t, p, saved)
	os.Chtimes(p, time.Time{}, fi1.ModTime())
	if h, _ := s.HeadObject(ctx, "bkt", "k"); h.ContentType != "text/v1" || h.ETag != v1.ETag {
		t.Fatalf("old data after a crash: %+v, want v1's metadata", h)
	}
}

// Metadata too large for an xattr goes to a sidecar.
func TestLargeMetadata(t *testing.T) {
	root := t.TempDir()
	s := open(t, root, Options{})
	if !s.Xattrs() {
		t.Skip("no xattrs here")
	}
	ctx := t.Context()
	s.CreateBucket(ctx, "bkt")
	m := backends.Meta{User: map[string]string{}}
	for i := range 100 {
		m.User[fmt.Sprint("key", i)] = strings.Repeat("v", 1000)
	}
	mustPut(t, s, "bkt", "big", []byte("x"), m)
	h, err := s.HeadObject(ctx, "bkt", "big")
	if err != nil || len(h.User) != 100 {
		t.Fatalf("large metadata: %d user keys, %v", len(h.User), err)
	}
	// Back to small: the xattr is used again, the sidecar removed.
	mustPut(t, s, "bkt", "big", []byte("x"), backends.Meta{ContentType: "a/b"})
	if h, _ := s.HeadObject(ctx, "bkt", "big"); h.ContentType != "a/b" || len(h.User) != 0 {
		t.Fatalf("small again: %+v", h)
	}
	if n := len(tree(t, filepath.Join(root, fsstore.SysDir, "meta"))); n > 3 {
		t.Fatalf("sidecar left: %v", tree(t, filepath.Join(root, fsstore.SysDir, "meta")))
	}
	// UpdateMeta to large and back.
	if _, err := s.UpdateMeta(ctx, "bkt", "big", m); err != nil {
		t.Fatal(err)
	}
	if h, _ := s.HeadObject(ctx, "bkt", "big"); len(h.User) != 100 {
		t.Fatalf("UpdateMeta large: %d", len(h.User))
	}
	if _, err := s.UpdateMeta(ctx, "bkt", "big", backends.Meta{ContentType: "c/d"}); err != nil {
		t.Fatal(err)
	}
	if h, _ := s.HeadObject(ctx, "bkt", "big"); h.ContentType != "c/d" || len(h.User) != 0 {
		t.Fatalf("UpdateMeta small: %+v", h)
	}
}

func TestTempCleanup(t *testing.T) {
	root := t.TempDir()
	tmp := filepath.Join(root, fsstore.SysDir, "tmp")
	writeFile(t, filepath.Join(tmp, "old"), []byte("x"))
	writeFile(t, filepath.Join(tmp, "young"), []byte("x"))
	os.MkdirAll(filepath.Join(tmp, "olddir", "sub"), 0o755)
	// Temporary files are in 16 folders (0..f): their old files go, the
	// folders stay.
	writeFile(t, filepath.Join(tmp, "a", "old"), []byte("x"))
	writeFile(t, filepath.Join(tmp, "a", "young"), []byte("x"))
	os.MkdirAll(filepath.Join(tmp, "a", "olddir", "sub"), 0o755)
	past := time.Now().Add(-2 * time.Hour)
	for _, p := range []string{"old", "olddir", "a/old", "a/olddir", "a"} {
		os.Chtimes(filepath.Join(tmp, p), past, past)
	}
	open(t, root, Options{})
	for _, p := range []string{"a/old", "a/olddir"} {
		if _, err := os.Stat(filepath.Join(tmp, p)); !os.IsNotExist(err) {
			t.Fatalf("old temporary %s kept", p)
		}
	}
	if _, err := os.Stat(filepath.Join(tmp, "a", "young")); err != nil {
		t.Fatal("young temporary file in a folder of tmp removed")
	}
	if _, err := os.Stat(filepath.Join(tmp, "old")); !os.IsNotExist(err) {
		t.Fatal("old temporary file kept")
	}
	if _, err := os.Stat(filepath.Join(tmp, "olddir")); !os.IsNotExist(err) {
		t.Fatal("old temporary folder kept")
	}
	if _, err := os.Stat(filepath.Join(tmp, "young")); err != nil {
		t.Fatal("young temporary file (maybe another process's) removed")
	}
	open(t, root, Options{TempMaxAge: time.Nanosecond})
	if _, err := os.Stat(filepath.Join(tmp, "young")); !os.IsNotExist(err) {
		t.Fatal("TempMaxAge not applied")
	}
}

// Bad keys are refused and nothing is created anywhere, inside the root or
// next to it.
func TestBadKeysCreateNothing(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "root")
	os.Mkdir(root, 0o755)
	s := open(t, root, Options{})
	ctx := t.Context()
	s.CreateBucket(ctx, "bkt")
	mustPut(t, s, "bkt", "a/ok", []byte("ok"), backends.Meta{})
	before := tree(t, parent)
	bad := append(slices.Clone(backendtest.BadKeys), "a\x00b", strings.Repeat("k", 1025), "a/b/../../../x",
		"../bkt2/x", "../"+fsstore.SysDir+"/tmp/x", "a/ok/../../x", "../x/")
	for _, key := range bad {
		data := strings.NewReader("bad")
		if _, err := s.PutObject(ctx, "bkt", key, data, backends.PutOptions{Meta: &backends.Meta{}}); err == nil {
			t.Errorf("PutObject(%q) worked", key)
		} else if k := backends.KindOf(err); k != backends.InvalidKey && k != backends.KeyTooLong {
			t.Errorf("PutObject(%q): %v, want InvalidKey or KeyTooLong", key, err)
		}
		s.CreateMultipartUpload(ctx, "bkt", key, backends.Meta{})
		s.DeleteObject(ctx, "bkt", key)
		s.UpdateMeta(ctx, "bkt", key, backends.Meta{})
		s.ListObjects(ctx, "bkt", backends.ListOptions{Prefix: key})
	}
	after := tree(t, parent)
	if !maps.Equal(before, after) {
		t.Fatalf("bad keys changed the tree:\n before %v\n after  %v", before, after)
	}
}

// S3 allows "a" and "a/b" as keys; a file system cannot hold both.
func TestConflicts(t *testing.T) {
	root := t.TempDir()
	s := open(t, root, Options{})
	ctx := t.Context()
	s.CreateBucket(ctx, "bkt")
	mustPut(t, s, "bkt", "a", []byte("file"), backends.Meta{})
	for _, key := range []string{"a/b", "a/b/c", "a/"} {
		_, err := s.PutObject(ctx, "bkt", key, strings.NewReader(""), backends.PutOptions{Meta: &backends.Meta{}})
		if !backends.Is(err, backends.Conflict) {
			t.Fatalf("PutObject(%q) under a file: %v, want Conflict", key, err)
		}
		if _, err := s.CreateMultipartUpload(ctx, "bkt", key+"x", backends.Meta{}); key != "a/" && !backends.Is(err, backends.Conflict) {
			t.Fatalf("CreateMultipartUpload(%q) under a file: %v, want Conflict", key+"x", err)
		}
	}
	mustPut(t, s, "bkt", "d/e", []byte("file"), backends.Meta{})
	if _, err := s.PutObject(ctx, "bkt", "d", strings.NewReader("x"), backends.PutOptions{Meta: &backends.Meta{}}); !backends.Is(err, backends.Conflict) {
		t.Fatalf("PutObject(d) over a folder with keys: %v, want Conflict", err)
	}
	mustPut(t, s, "bkt", "f/", nil, backends.Meta{})
	if _, err := s.PutObject(ctx, "bkt", "f", strings.NewReader("x"), backends.PutOptions{Meta: &backends.Meta{}}); !backends.Is(err, backends.Conflict) {
		t.Fatalf("PutObject(f) over a folder object: %v, want Conflict", err)
	}
	// An empty folder without a folder object is no key: a file may take
	// its place.
	os.MkdirAll(filepath.Join(root, "bkt", "g"), 0o755)
	mustPut(t, s, "bkt", "g", []byte("now a file"), backends.Meta{})
	if _, err := s.PutObject(ctx, "bkt", "f/", strings.NewReader("data"), backends.PutOptions{Meta: &backends.Meta{}}); !backends.Is(err, backends.InvalidArgument) {
		t.Fatalf("folder object with data: %v", err)
	}
}

func TestSymlinks(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "root")
	writeFile(t, filepath.Join(parent, "outside.txt"), []byte("secret"))
	writeFile(t, filepath.Join(root, "bkt", "real.txt"), []byte("real"))
	writeFile(t, filepath.Join(root, "bkt", "realdir", "f"), []byte("f"))
	writeFile(t, filepath.Join(root, "other", "x"), []byte("other bucket"))
	for link, target := range map[string]string{
		"bkt/ln.txt":    "real.txt",
		"bkt/out.txt":   "../../outside.txt",
		"bkt/abs.txt":   filepath.Join(parent, "outside.txt"),
		"bkt/cross.txt": "../other/x",
		"bkt/ld":        "realdir",
		"bkt/dangling":  "nothing",
		"bkt/loop":      ".",
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("bkt", filepath.Join(root, "linkbucket")); err != nil {
		t.Fatal(err)
	}
	s := open(t, root, Options{})
	ctx := t.Context()

	if got, info := backendtestGet(t, s, "bkt", "ln.txt"); got != "real" || info.Size != 4 {
		t.Fatalf("link inside the bucket: %q %+v", got, info)
	}
	for _, key := range []string{"out.txt", "abs.txt", "cross.txt", "dangling"} {
		if _, _, err := s.GetObject(ctx, "bkt", key, nil); err == nil {
			t.Fatalf("GetObject(%s) followed a link out of the bucket", key)
		}
	}
	keys, _ := listKeys(t, s, "bkt", backends.ListOptions{})
	if want := []string{"ln.txt", "real.txt", "realdir/f"}; !slices.Equal(keys, want) {
		t.Fatalf("keys %q, want %q (links out, dangling links and linked folders not listed)", keys, want)
	}
	if bs, _ := s.ListBuckets(ctx); len(bs) != 2 || bs[0].Name != "bkt" || bs[1].Name != "other" {
		t.Fatalf("buckets %+v: a linked folder is no bucket", bs)
	}
	// Writes never go through a link.
	if _, err := s.PutObject(ctx, "bkt", "ld/new", strings.NewReader("x"), backends.PutOptions{Meta: &backends.Meta{}}); !backends.Is(err, backends.Conflict) {
		t.Fatalf("PutObject through a linked folder: %v, want Conflict", err)
	}
	if _, err := os.Stat(filepath.Join(root, "bkt", "realdir", "new")); !os.IsNotExist(err) {
		t.Fatal("write went through the link")
	}
	// Writing or deleting a linked key replaces the link, not the target.
	mustPut(t, s, "bkt", "out.txt", []byte("replaced"), backends.Meta{})
	if got, _ := os.ReadFile(filepath.Join(parent, "outside.txt")); string(got) != "secret" {
		t.Fatalf("write changed the link's target: %q", got)
	}
	if err := s.DeleteObject(ctx, "bkt", "ln.txt"); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "bkt", "real.txt")); string(got) != "real" {
		t.Fatal("delete removed the link's target")
	}
}

func backendtestGet(t *testing.T, s backends.Backend, bucket, key string) (string, backends.ObjectInfo) {
	t.Helper()
	data, info := backendtest.Get(t, s, bucket, key, nil)
	return string(data), info
}

// Puts and deletes below one folder race with the pruning of empty
// folders.
func TestPruneRace(t *testing.T) {
	root := t.TempDir()
	s := open(t, root, Options{})
	ctx := t.Context()
	s.CreateBucket(ctx, "bkt")
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				key := fmt.Sprintf("p/q/r/%d-%d", w, i)
				if _, err := s.PutObject(ctx, "bkt", key, strings.NewReader("x"), backends.PutOptions{Meta: &backends.Meta{}}); err != nil {
					t.Errorf("PutObject: %v", err)
					return
				}
				if err := s.DeleteObject(ctx, "bkt", key); err != nil {
					t.Errorf("DeleteObject: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if _, err := os.Stat(filepath.Join(root, "bkt", "p")); !os.IsNotExist(err) {
		t.Fatalf("empty folders left: %v", err)
	}
}
