package bitrot

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/dir"
)

const bs = 4096

// setup returns a layer with 4 KiB blocks over a dir backend, the backend
// and the bucket's folder on disk.
func setup(t *testing.T) (*Layer, backends.Backend, string) {
	t.Helper()
	d, root := newDir(t)
	l := New(d, Options{BlockSize: bs, Logger: quietLog()})
	if err := l.CreateBucket(t.Context(), "bkt"); err != nil {
		t.Fatal(err)
	}
	return l, d, filepath.Join(root, "bkt")
}

func TestFlippedByte(t *testing.T) {
	for _, size := range []int{1, bs - 1, bs, 3*bs + 17, 40 * bs, 100*bs + 5} {
		l, _, dir := setup(t)
		data := randBytes(byte(size), size)
		put(t, l, "bkt", "obj", data)
		path := filepath.Join(dir, "obj")
		n := int64(size)
		offsets := []int64{0, n - 1, n / 2}
		for _, off := range offsets {
			flip(t, path, off)
			bad := off / bs
			got, err := get(t, l, "bkt", "obj", nil)
			wantCorrupt(t, "whole object", got, data, err)

			// A range inside the bad block fails; ranges that do not
			// touch it are served.
			got, err = get(t, l, "bkt", "obj", &backends.Range{Start: off, End: off})
			wantCorrupt(t, "range on the flipped byte", got, data[off:off+1], err)
			if bad > 0 {
				got, err = get(t, l, "bkt", "obj", &backends.Range{Start: 0, End: bad*bs - 1})
				if err != nil || !bytes.Equal(got, data[:bad*bs]) {
					t.Fatalf("size %d: range before the bad block: %v", size, err)
				}
				got, err = get(t, l, "bkt", "obj", &backends.Range{Start: bad*bs - 3, End: bad*bs + 2})
				wantCorrupt(t, "range into the bad block", got, data[bad*bs-3:], err)
			}
			if after := (bad + 1) * bs; after < n {
				got, err = get(t, l, "bkt", "obj", &backends.Range{Start: after, End: -1})
				if err != nil || !bytes.Equal(got, data[after:]) {
					t.Fatalf("size %d: range after the bad block: %v", size, err)
				}
				got, err = get(t, l, "bkt", "obj", &backends.Range{Start: -(n - after)})
				if err != nil || !bytes.Equal(got, data[after:]) {
					t.Fatalf("size %d: suffix range after the bad block: %v", size, err)
				}
			}
			flip(t, path, off) // back as it was
			if got, err := get(t, l, "bkt", "obj", nil); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("size %d: after repair: %v", size, err)
			}
		}
		if st := l.Stats(); st.CorruptBlocks == 0 || st.VerifiedBlocks == 0 {
			t.Fatalf("stats: %+v", st)
		}
	}
}

// Every range of an object reads back right: blocks are trimmed exactly.
func TestRanges(t *testing.T) {
	l, _, _ := setup(t)
	data := randBytes(7, 5*bs+300)
	put(t, l, "bkt", "obj", data)
	n := int64(len(data))
	points := []int64{0, 1, bs - 1, bs, bs + 1, 2*bs - 1, 3 * bs, 5*bs - 1, 5 * bs, n - 2, n - 1}
	for _, a := range points {
		for _, b := range points {
			if b < a {
				continue
			}
			got, err := get(t, l, "bkt", "obj", &backends.Range{Start: a, End: b})
			if err != nil || !bytes.Equal(got, data[a:b+1]) {
				t.Fatalf("range %d-%d: %v (%d bytes)", a, b, err, len(got))
			}
		}
		got, err := get(t, l, "bkt", "obj", &backends.Range{Start: -(a + 1)})
		if err != nil || !bytes.Equal(got, data[n-a-1:]) {
			t.Fatalf("suffix %d: %v", a+1, err)
		}
	}
	if _, err := get(t, l, "bkt", "obj", &backends.Range{Start: n, End: -1}); !backends.Is(err, backends.InvalidRange) {
		t.Fatalf("range past the end: %v", err)
	}
}

// A file changed on disk by a program (new modification time) is a new
// file to the dir backend: served as it is now, unverified. The same
// change with the old time kept is damage.
func TestChangedOnDisk(t *testing.T) {
	l, _, dir := setup(t)
	data := randBytes(3, 3*bs)
	put(t, l, "bkt", "obj", data)
	path := filepath.Join(dir, "obj")
	fi, _ := os.Stat(path)
	changed := randBytes(4, 3*bs)
	if err := os.WriteFile(path, changed, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(path, fi.ModTime().Add(time.Second), fi.ModTime().Add(time.Second))
	before := l.Stats().UnverifiedReads
	if got, err := get(t, l, "bkt", "obj", nil); err != nil || !bytes.Equal(got, changed) {
		t.Fatalf("changed file: %v", err)
	}
	if l.Stats().UnverifiedReads != before+1 {
		t.Fatalf("unverified read not counted: %+v", l.Stats())
	}

	put(t, l, "bkt", "obj2", data)
	path2 := filepath.Join(dir, "obj2")
	fi, _ = os.Stat(path2)
	os.WriteFile(path2, changed, 0o644)
	os.Chtimes(path2, fi.ModTime(), fi.ModTime())
	got, err := get(t, l, "bkt", "obj2", nil)
	wantCorrupt(t, "same size, same time", got, nil, err)
}

func TestDirectFileAndScan(t *testing.T) {
	ctx := t.Context()
	l, inner, dir := setup(t)
	small, large := randBytes(5, 2*bs+1), randBytes(6, 80*bs)
	os.WriteFile(filepath.Join(dir, "small.bin"), small, 0o644)
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", "large.bin"), large, 0o644)
	put(t, l, "bkt", "through.bin", randBytes(9, 10*bs))

	if got, err := get(t, l, "bkt", "small.bin", nil); err != nil || !bytes.Equal(got, small) {
		t.Fatalf("direct file: %v", err)
	}
	scan := func(opts ScanOptions) (ScanSummary, map[string]ScanEntry) {
		t.Helper()
		found := map[string]ScanEntry{}
		sum, err := l.Scan(ctx, "bkt", opts, func(e ScanEntry) { found[e.Key] = e })
		if err != nil {
			t.Fatal(err)
		}
		return sum, found
	}
	sum, found := scan(ScanOptions{})
	if sum.Objects != 3 || sum.Unhashed != 2 || sum.OK != 1 || sum.Corrupt != 0 ||
		found["small.bin"].Status != StatusNoHashes || found["sub/large.bin"].Status != StatusNoHashes {
		t.Fatalf("scan: %+v %+v", sum, found)
	}
	sum, found = scan(ScanOptions{HashMissing: true})
	if sum.Hashed != 2 || found["sub/large.bin"].Status != StatusHashed {
		t.Fatalf("scan --hash-missing: %+v %+v", sum, found)
	}
	if ids := hashObjects(t, inner, "bkt"); len(ids) != 1 {
		t.Fatalf("hash objects: %v", ids)
	}
	sum, _ = scan(ScanOptions{})
	if sum.OK != 3 || sum.Unhashed != 0 || sum.Bytes != int64(len(small)+len(large)+10*bs) {
		t.Fatalf("scan after hashing: %+v", sum)
	}
	// The file is still the plain file it was.
	if b, _ := os.ReadFile(filepath.Join(dir, "sub", "large.bin")); !bytes.Equal(b, large) {
		t.Fatal("hashing changed the file")
	}
	flip(t, filepath.Join(dir, "sub", "large.bin"), 50*bs+7)
	flip(t, filepath.Join(dir, "small.bin"), 0)
	got, err := get(t, l, "bkt", "sub/large.bin", nil)
	wantCorrupt(t, "hashed direct file", got, large, err)
	sum, found = scan(ScanOptions{})
	if sum.Corrupt != 2 || found["sub/large.bin"].Block != 50 || found["sub/large.bin"].Offset != 50*bs ||
		found["small.bin"].Block != 0 {
		t.Fatalf("scan after damage: %+v %+v", sum, found)
	}
	// Hash leaves an object that has hashes alone, damaged or not.
	if done, err := l.Hash(ctx, "bkt", "small.bin"); done || err != nil {
		t.Fatalf("Hash of a hashed object: %v %v", done, err)
	}
}

func TestHashRefusesChangingFile(t *testing.T) {
	l, _, dir := setup(t)
	path := filepath.Join(dir, "f")
	os.WriteFile(path, randBytes(1, 3*bs), 0o644)
	info, _ := l.HeadObject(t.Context(), "bkt", "f")
	// Simulate a change between the reads by hashing through a backend
	// whose GetObject changes the file first.
	cb := &changingBackend{Backend: l.Backend, path: path}
	l2 := New(cb, Options{BlockSize: bs, Logger: quietLog()})
	if done, err := l2.Hash(t.Context(), "bkt", "f"); done || err == nil {
		t.Fatalf("Hash of a changing file: %v %v", done, err)
	}
	now, _ := l.HeadObject(t.Context(), "bkt", "f")
	if hasRecord(now.Sys) || now.ETag == info.ETag {
		t.Fatalf("record written for a changing file: %+v", now)
	}
}

type changingBackend struct {
	backends.Backend
	path string
	n    int
}

func (c *changingBackend) GetObject(ctx context.Context, bucket, key string, rng *backends.Range) (io.ReadCloser, backends.ObjectInfo, error) {
	rc, info, err := c.Backend.GetObject(ctx, bucket, key, rng)
	c.n++
	os.WriteFile(c.path, randBytes(byte(c.n+10), 3*bs), 0o644)
	os.Chtimes(c.path, time.Now().Add(time.Duration(c.n)*time.Second), time.Now().Add(time.Duration(c.n)*time.Second))
	return rc, info, err
}

func uploadParts(t *testing.T, b backends.Backend, key string, parts [][]byte) backends.ObjectInfo {
	t.Helper()
	ctx := t.Context()
	id, err := b.CreateMultipartUpload(ctx, "bkt", key, backends.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	var infos []backends.PartInfo
	var nums []int
	for i, p := range parts {
		m := &backends.Meta{ETag: md5hex(p)}
		pi, err := b.UploadPart(ctx, "bkt", key, id, i+1, bytes.NewReader(p), m)
		if err != nil {
			t.Fatal(err)
		}
		infos = append(infos, pi)
		nums = append(nums, i+1)
	}
	_, listed, err := b.ListParts(ctx, "bkt", key, id)
	if err != nil || len(listed) != len(parts) {
		t.Fatalf("ListParts: %v %d", err, len(listed))
	}
	var size int64
	for _, p := range parts {
		size += int64(len(p))
	}
	info, err := b.CompleteMultipartUpload(ctx, "bkt", key, id, nums,
		backends.PutOptions{Meta: &backends.Meta{Size: size, ETag: "0123456789abcdef0123456789abcdef-" + string(rune('0'+len(parts))), Parts: listed}})
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func TestMultipart(t *testing.T) {
	for _, tc := range []struct {
		name string
		keep bool
	}{{"PartSysKept", true}, {"PartSysLost", false}} {
		t.Run(tc.name, func(t *testing.T) {
			d, root := newDir(t)
			var inner backends.Backend = d
			if !tc.keep {
				inner = partSysLoser{d}
			}
			l := New(inner, Options{BlockSize: bs, Logger: quietLog()})
			l.CreateBucket(t.Context(), "bkt")
			for _, sizes := range [][]int{
				{3*bs + 100, 5 * bs, bs + 7},          // inline, parts unaligned
				{70*bs + 1, 2 * bs, 0 + 1, 64*bs - 3}, // hash object
				{10 * bs},                             // one part
			} {
				var parts [][]byte
				var data []byte
				for i, s := range sizes {
					p := randBytes(byte(i+s), s)
					parts = append(parts, p)
					data = append(data, p...)
				}
				info := uploadParts(t, l, "mp", parts)
				if !hasRecord(info.Sys) {
					t.Fatalf("%v: completed object without hashes: %v", sizes, info.Sys)
				}
				if got, err := get(t, l, "bkt", "mp", nil); err != nil || !bytes.Equal(got, data) {
					t.Fatalf("%v: %v", sizes, err)
				}
				// Ranges across every part boundary.
				var bound int64
				for _, s := range sizes[:len(sizes)-1] {
					bound += int64(s)
					for _, r := range [][2]int64{{bound - 1, bound}, {bound - bs - 3, bound + bs + 3}, {bound - 1, int64(len(data)) - 1}} {
						a, b := max(r[0], 0), min(r[1], int64(len(data))-1)
						got, err := get(t, l, "bkt", "mp", &backends.Range{Start: a, End: b})
						if err != nil || !bytes.Equal(got, data[a:b+1]) {
							t.Fatalf("%v: range %d-%d: %v", sizes, a, b, err)
						}
					}
				}
				// Damage in the second part is found where it is.
				if len(sizes) > 1 {
					path := filepath.Join(root, "bkt", "mp")
					off := int64(sizes[0]) + 1
					flip(t, path, off)
					got, err := get(t, l, "bkt", "mp", nil)
					wantCorrupt(t, "multipart", got, data, err)
					end := min(int64(sizes[0]), off/bs*bs) // before the bad block, whatever the layout
					got, err = get(t, l, "bkt", "mp", &backends.Range{Start: 0, End: end - 1})
					if err != nil || !bytes.Equal(got, data[:end]) {
						t.Fatalf("%v: first part: %v", sizes, err)
					}
					flip(t, path, off)
				}
			}
			// Overwrites and the uploads left nothing behind (the last
			// object's hashes are inline). A backend that loses the parts'
			// Sys loses the names of their hash objects too: the scan
			// removes those.
			if !tc.keep {
				sum, err := l.Scan(t.Context(), "bkt", ScanOptions{RemoveOrphans: true, OrphanAge: time.Nanosecond}, nil)
				if err != nil || sum.Removed != 1 {
					t.Fatalf("scan: %+v %v", sum, err)
				}
			}
			if ids := hashObjects(t, d, "bkt"); len(ids) != 0 {
				t.Fatalf("hash objects left: %v", ids)
			}
		})
	}
}

func TestAbortRemovesPartHashes(t *testing.T) {
	d, _ := newDir(t)
	l := New(keepPartSys(d), Options{BlockSize: bs, Logger: quietLog()})
	ctx := t.Context()
	l.CreateBucket(ctx, "bkt")
	id, _ := l.CreateMultipartUpload(ctx, "bkt", "k", backends.Meta{})
	p := randBytes(1, 100*bs)
	if _, err := l.UploadPart(ctx, "bkt", "k", id, 1, bytes.NewReader(p), &backends.Meta{ETag: md5hex(p)}); err != nil {
		t.Fatal(err)
	}
	if ids := hashObjects(t, d, "bkt"); len(ids) != 1 {
		t.Fatalf("part hash object: %v", ids)
	}
	if err := l.AbortMultipartUpload(ctx, "bkt", "k", id); err != nil {
		t.Fatal(err)
	}
	if ids := hashObjects(t, d, "bkt"); len(ids) != 0 {
		t.Fatalf("hash objects after abort: %v", ids)
	}
}

// The lifecycle of hash objects, with the metadata in extended attributes
// and in sidecars (where the replaced object's record comes from the
// sidecar that the write reads anyway).
func TestHashObjectLifecycle(t *testing.T) {
	for _, noXattrs := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoXattrs=%v", noXattrs), func(t *testing.T) {
			root := t.TempDir()
			d, err := dir.Open(root, dir.Options{NoXattrs: noXattrs})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			l := New(d, Options{BlockSize: bs, Logger: quietLog()})
			if err := l.CreateBucket(t.Context(), "bkt"); err != nil {
				t.Fatal(err)
			}
			testHashObjectLifecycle(t, l, d, filepath.Join(root, "bkt"))
		})
	}
}

func testHashObjectLifecycle(t *testing.T, l *Layer, inner backends.Backend, dir string) {
	ctx := t.Context()
	big := randBytes(1, 100*bs)
	info := put(t, l, "bkt", "k", big)
	if info.Sys[sysRef] == "" {
		t.Fatalf("no hash object for %d blocks: %v", 100, info.Sys)
	}
	ids := hashObjects(t, inner, "bkt")
	if len(ids) != 1 || ids[0] != info.Sys[sysRef] {
		t.Fatalf("hash objects: %v", ids)
	}
	// Hidden from listings, refused as keys.
	for _, opts := range []backends.ListOptions{{}, {Delimiter: "/"}, {Prefix: ".strata"}, {Prefix: Prefix}, {MaxKeys: 1}} {
		res, err := l.ListObjects(ctx, "bkt", opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Objects {
			if Reserved(o.Key) {
				t.Fatalf("listed %q with %+v", o.Key, opts)
			}
		}
		for _, p := range res.Prefixes {
			if Reserved(p) {
				t.Fatalf("listed prefix %q with %+v", p, opts)
			}
		}
	}
	for _, err := range []error{
		func() error {
			_, err := l.PutObject(ctx, "bkt", Prefix+"x", strings.NewReader("x"), backends.PutOptions{Meta: &backends.Meta{}})
			return err
		}(),
		func() error { _, _, err := l.GetObject(ctx, "bkt", hashKey(ids[0]), nil); return err }(),
		func() error { return l.DeleteObject(ctx, "bkt", hashKey(ids[0])) }(),
		func() error { _, err := l.CreateMultipartUpload(ctx, "bkt", Prefix+"m", backends.Meta{}); return err }(),
	} {
		if !backends.Is(err, backends.InvalidKey) {
			t.Fatalf("reserved key: %v", err)
		}
	}

	// Overwrite: the old hash object goes.
	big2 := randBytes(2, 90*bs)
	info2 := put(t, l, "bkt", "k", big2)
	if ids := hashObjects(t, inner, "bkt"); len(ids) != 1 || ids[0] != info2.Sys[sysRef] {
		t.Fatalf("after overwrite: %v", ids)
	}
	// Metadata update keeps the record, even from a caller that drops Sys.
	m := info2.Meta
	m.Sys = map[string]string{"other-x": "1"}
	m.ContentType = "text/x-new"
	if _, err := l.UpdateMeta(ctx, "bkt", "k", m); err != nil {
		t.Fatal(err)
	}
	h, _ := l.HeadObject(ctx, "bkt", "k")
	if h.Sys[sysRef] != info2.Sys[sysRef] || h.Sys["other-x"] != "1" || h.ContentType != "text/x-new" {
		t.Fatalf("after UpdateMeta: %+v", h)
	}
	flip(t, filepath.Join(dir, "k"), 89*bs)
	got, err := get(t, l, "bkt", "k", nil)
	wantCorrupt(t, "after UpdateMeta", got, big2, err)
	flip(t, filepath.Join(dir, "k"), 89*bs)

	// Move keeps the hashes with the object.
	if err := l.MoveObject(ctx, "bkt", "k", "moved/k"); err != nil {
		t.Fatal(err)
	}
	if got, err := get(t, l, "bkt", "moved/k", nil); err != nil || !bytes.Equal(got, big2) {
		t.Fatalf("moved: %v", err)
	}
	if ids := hashObjects(t, inner, "bkt"); len(ids) != 1 || ids[0] != info2.Sys[sysRef] {
		t.Fatalf("after move: %v", ids)
	}
	flip(t, filepath.Join(dir, "moved", "k"), 3)
	got, err = get(t, l, "bkt", "moved/k", nil)
	wantCorrupt(t, "moved", got, big2, err)

	// A move onto a large object takes its hash object away.
	put(t, l, "bkt", "k3", big)
	if err := l.MoveObject(ctx, "bkt", "moved/k", "k3"); err != nil {
		t.Fatal(err)
	}
	if ids := hashObjects(t, inner, "bkt"); len(ids) != 1 || ids[0] != info2.Sys[sysRef] {
		t.Fatalf("after a move onto an object: %v", ids)
	}
	if err := l.MoveObject(ctx, "bkt", "k3", "moved/k"); err != nil {
		t.Fatal(err)
	}

	// Overwrite with a small object, then delete: nothing is left.
	put(t, l, "bkt", "moved/k", []byte("small"))
	put(t, l, "bkt", "k2", big)
	if err := l.DeleteObject(ctx, "bkt", "k2"); err != nil {
		t.Fatal(err)
	}
	if ids := hashObjects(t, inner, "bkt"); len(ids) != 0 {
		t.Fatalf("after delete: %v", ids)
	}
	// A failed conditional write leaves no hash object.
	_, err = l.PutObject(ctx, "bkt", "moved/k", bytes.NewReader(big), backends.PutOptions{Meta: &backends.Meta{ETag: md5hex(big)}, IfNoneMatch: true})
	if !backends.Is(err, backends.PreconditionFailed) {
		t.Fatalf("IfNoneMatch: %v", err)
	}
	if ids := hashObjects(t, inner, "bkt"); len(ids) != 0 {
		t.Fatalf("after a failed write: %v", ids)
	}
	// The bucket empties and goes.
	l.DeleteObject(ctx, "bkt", "moved/k")
	if err := l.DeleteBucket(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
}

// A hash object whose object is gone (a crash between writing it and
// publishing the data) is an orphan: the scan finds it and removes it once
// it is old enough.
func TestOrphans(t *testing.T) {
	ctx := t.Context()
	l, inner, dir := setup(t)
	put(t, l, "bkt", "keep", randBytes(1, 100*bs))
	id := newID()
	if err := l.putHashObject(ctx, "bkt", id, bytes.NewReader(make([]byte, 3*HashSize))); err != nil {
		t.Fatal(err)
	}
	sum, err := l.Scan(ctx, "bkt", ScanOptions{RemoveOrphans: true}, nil)
	if err != nil || sum.Orphans != 0 {
		t.Fatalf("young orphan: %+v %v", sum, err)
	}
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(filepath.Join(dir, Prefix, id), old, old)
	var found []ScanEntry
	sum, err = l.Scan(ctx, "bkt", ScanOptions{}, func(e ScanEntry) { found = append(found, e) })
	if err != nil || sum.Orphans != 1 || sum.Removed != 0 || sum.OK != 1 {
		t.Fatalf("orphan: %+v %v", sum, err)
	}
	if i := slices.IndexFunc(found, func(e ScanEntry) bool { return e.Status == StatusOrphan }); i < 0 || found[i].Key != hashKey(id) {
		t.Fatalf("entries: %+v", found)
	}
	sum, err = l.Scan(ctx, "bkt", ScanOptions{RemoveOrphans: true}, nil)
	if err != nil || sum.Removed != 1 {
		t.Fatalf("remove: %+v %v", sum, err)
	}
	if ids := hashObjects(t, inner, "bkt"); len(ids) != 1 {
		t.Fatalf("left: %v", ids)
	}
	if got, err := get(t, l, "bkt", "keep", nil); err != nil || len(got) != 100*bs {
		t.Fatalf("kept object: %v", err)
	}
}

// A missing hash object leaves the object readable, unverified; the scan
// reports it and can hash it again.
func TestMissingHashObject(t *testing.T) {
	ctx := t.Context()
	l, inner, _ := setup(t)
	data := randBytes(1, 100*bs)
	info := put(t, l, "bkt", "k", data)
	inner.DeleteObject(ctx, "bkt", hashKey(info.Sys[sysRef]))
	if got, err := get(t, l, "bkt", "k", nil); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read: %v", err)
	}
	sum, err := l.Scan(ctx, "bkt", ScanOptions{HashMissing: true}, nil)
	if err != nil || sum.Hashed != 1 {
		t.Fatalf("scan: %+v %v", sum, err)
	}
	h, _ := l.HeadObject(ctx, "bkt", "k")
	if h.Sys[sysRef] == "" || h.Sys[sysRef] == info.Sys[sysRef] {
		t.Fatalf("record: %v", h.Sys)
	}
	if got, err := get(t, l, "bkt", "k", nil); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read after hashing: %v", err)
	}
}

// A damaged hash object or record is an error, never unverified data.
func TestDamagedHashes(t *testing.T) {
	ctx := t.Context()
	l, inner, dir := setup(t)
	data := randBytes(1, 100*bs)
	info := put(t, l, "bkt", "k", data)
	p := filepath.Join(dir, Prefix, info.Sys[sysRef])
	flip(t, p, int64(len(hashObjectHeader))+HashSize*50)
	got, err := get(t, l, "bkt", "k", nil)
	wantCorrupt(t, "damaged hash", got, data, err)
	if got, err := get(t, l, "bkt", "k", &backends.Range{Start: 0, End: 49*bs - 1}); err != nil || !bytes.Equal(got, data[:49*bs]) {
		t.Fatalf("range before: %v", err)
	}
	// Truncated hash object.
	os.Truncate(p, 100)
	_, err = get(t, l, "bkt", "k", nil)
	if !backends.Is(err, backends.Corrupt) {
		t.Fatalf("truncated hash object: %v", err)
	}
	// A damaged record.
	m := info.Meta
	m.Sys = map[string]string{sysVersion: "1", sysBlock: "4096", sysSize: "12", sysInline: "!!"}
	if _, err := inner.UpdateMeta(ctx, "bkt", "k", m); err != nil {
		t.Fatal(err)
	}
	if _, err := get(t, l, "bkt", "k", nil); !backends.Is(err, backends.Corrupt) {
		t.Fatalf("damaged record: %v", err)
	}
	// A record of a newer format is read unverified.
	m.Sys = map[string]string{sysVersion: "2"}
	inner.UpdateMeta(ctx, "bkt", "k", m)
	if got, err := get(t, l, "bkt", "k", nil); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("newer record: %v", err)
	}
}

// Reading stops at the first bad block even with read-ahead going, and
// Close in the middle of a read does not leak or hang.
func TestCloseMidRead(t *testing.T) {
	l, _, _ := setup(t)
	data := randBytes(1, 200*bs)
	put(t, l, "bkt", "k", data)
	for range 20 {
		rc, _, err := l.GetObject(t.Context(), "bkt", "k", nil)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 3*bs+5)
		io.ReadFull(rc, buf)
		if !bytes.Equal(buf, data[:len(buf)]) {
			t.Fatal("data differs")
		}
		rc.Close()
		rc.Close()
	}
}

func TestRecordFormat(t *testing.T) {
	for _, segs := range [][]int64{{5}, {8, 8, 8, 3}, {1, 2, 2, 1, 1}, {0}} {
		if got, err := parseSegments(formatSegments(segs)); err != nil || !slices.Equal(got, segs) {
			t.Fatalf("%v -> %q -> %v %v", segs, formatSegments(segs), got, err)
		}
	}
	if s := formatSegments([]int64{8388608, 8388608, 8388608, 1000}); s != "8388608*3,1000" {
		t.Fatal(s)
	}
	for _, bad := range []string{"", "x", "1*0", "-1", "1*10001", "1,,2"} {
		if _, err := parseSegments(bad); err == nil {
			t.Fatalf("parseSegments(%q) accepted", bad)
		}
	}
	// Blocks restart at segment boundaries.
	lo := layout{bs: 4, segs: []int64{6, 0, 4, 3}}
	var got []block
	for it := lo.iter(0, 13); ; {
		b, ok := it.next()
		if !ok {
			break
		}
		got = append(got, b)
	}
	want := []block{{0, 0, 4}, {1, 4, 2}, {2, 6, 4}, {3, 10, 3}}
	if !slices.Equal(got, want) || lo.blocks() != 4 {
		t.Fatalf("blocks %v", got)
	}
	first, last, _ := lo.bounds(5, 11)
	if first != want[1] || last != want[3] {
		t.Fatalf("bounds %v %v", first, last)
	}
}
