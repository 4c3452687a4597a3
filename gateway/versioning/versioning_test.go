package versioning

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/backendtest"
	"github.com/strata-storage/strata/backends/dir"
	"github.com/strata-storage/strata/erasure/erasuretest"
	"github.com/strata-storage/strata/gateway"
)

// plain hides the optional interfaces of a backend (Mover): the layer
// then moves versions by streaming copies.
type plain struct{ backends.Backend }

func openDir(t *testing.T) backends.Backend {
	s, err := dir.Open(t.TempDir(), dir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openErasure(t *testing.T) backends.Backend {
	s := erasuretest.Open(t)
	return s
}

// inners are the backends every test runs over.
var inners = []struct {
	name string
	open func(t *testing.T) backends.Backend
}{
	{"dir", openDir},
	{"dir-streaming-moves", func(t *testing.T) backends.Backend { return plain{openDir(t)} }},
	{"erasure", openErasure},
}

// skipLayerOwned skips the backendtest subtests that store Sys entries of
// the data-service layers' own prefixes as a backend must (a layer owns
// them); the backends' own suites cover them.
func skipLayerOwned(t *testing.T) {
	switch path.Base(t.Name()) {
	case "Sys", "PartSys", "ListSys", "Move":
		t.Skip("stores Sys entries that the layer owns; covered by the backend's own suite")
	}
}

// enabledAll makes every bucket it creates versioned, and empties the version
// store of a bucket that holds no current object before deleting it, as a
// client of a versioned bucket does.
type enabledAll struct{ *Layer }

func (b enabledAll) CreateBucket(ctx context.Context, bucket string) error {
	if err := b.Layer.CreateBucket(ctx, bucket); err != nil {
		return err
	}
	return b.PutBucketConfig(ctx, bucket, gateway.DocVersioning, ConfigDoc(Enabled))
}

func (b enabledAll) DeleteBucket(ctx context.Context, bucket string) error {
	if err := purge(ctx, b.Layer, bucket); err != nil {
		return err
	}
	return b.Layer.DeleteBucket(ctx, bucket)
}

// purge removes the noncurrent versions and delete markers of a bucket
// that holds no current object.
func purge(ctx context.Context, l backends.Backend, bucket string) error {
	res, err := l.ListObjects(ctx, bucket, backends.ListOptions{MaxKeys: 1})
	if err != nil || len(res.Objects)+len(res.Prefixes) > 0 {
		return nil
	}
	v := l.(gateway.Versioner)
	for {
		list, err := v.ListObjectVersions(ctx, bucket, gateway.VersionListOptions{MaxKeys: 1000})
		if err != nil {
			return err
		}
		for _, o := range list.Versions {
			c := gateway.WithOptions(ctx, &gateway.Options{VersionID: o.VersionID})
			if err := l.DeleteObject(c, bucket, o.Key); err != nil {
				return err
			}
		}
		if !list.IsTruncated {
			return nil
		}
	}
}

func TestBackendSuite(t *testing.T) {
	for _, in := range inners {
		if in.name == "dir-streaming-moves" {
			continue // the same as dir until dir moves natively
		}
		t.Run(in.name+"/unversioned", func(t *testing.T) {
			backendtest.Run(t, func(t *testing.T) backends.Backend {
				skipLayerOwned(t)
				return New(in.open(t))
			})
		})
		t.Run(in.name+"/enabled", func(t *testing.T) {
			backendtest.Run(t, func(t *testing.T) backends.Backend {
				skipLayerOwned(t)
				return enabledAll{New(in.open(t))}
			})
		})
	}
}

// ---- helpers ----

type fixture struct {
	t      *testing.T
	l      *Layer
	inner  backends.Backend
	bucket string
}

// native reports whether the backend keeps the bucket's versions itself.
func (f *fixture) native() bool {
	_, ok := f.l.native(f.bucket)
	return ok
}

func newFixture(t *testing.T, open func(t *testing.T) backends.Backend, status string) *fixture {
	inner := open(t)
	l := New(inner)
	f := &fixture{t: t, l: l, inner: inner, bucket: "vbucket"}
	if err := l.CreateBucket(t.Context(), f.bucket); err != nil {
		t.Fatal(err)
	}
	if status != "" {
		f.setStatus(status)
	}
	return f
}

func (f *fixture) setStatus(st string) {
	f.t.Helper()
	if err := f.l.PutBucketConfig(f.t.Context(), f.bucket, gateway.DocVersioning, ConfigDoc(st)); err != nil {
		f.t.Fatal(err)
	}
}

// ctx returns a context with a version ID and a result.
func (f *fixture) ctx(id string) (context.Context, *gateway.Result) {
	r := &gateway.Result{}
	return gateway.WithOptions(f.t.Context(), &gateway.Options{VersionID: id, Result: r}), r
}

func (f *fixture) put(key, data string) backends.ObjectInfo {
	f.t.Helper()
	ctx, r := f.ctx("")
	m := &backends.Meta{ETag: md5hex(data), Size: int64(len(data)), ContentType: "text/plain"}
	info, err := f.l.PutObject(ctx, f.bucket, key, strings.NewReader(data), backends.PutOptions{Meta: m})
	if err != nil {
		f.t.Fatalf("PutObject(%s): %v", key, err)
	}
	if r.VersionID != info.VersionID {
		f.t.Fatalf("PutObject(%s): result %q, info %q", key, r.VersionID, info.VersionID)
	}
	return info
}

func (f *fixture) get(key, id string) (string, backends.ObjectInfo, error) {
	ctx, _ := f.ctx(id)
	rc, info, err := f.l.GetObject(ctx, f.bucket, key, nil)
	if err != nil {
		return "", info, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return string(b), info, err
}

func (f *fixture) mustGet(key, id, want string) backends.ObjectInfo {
	f.t.Helper()
	got, info, err := f.get(key, id)
	if err != nil {
		f.t.Fatalf("GetObject(%s, %q): %v", key, id, err)
	}
	if got != want {
		f.t.Fatalf("GetObject(%s, %q) = %q, want %q", key, id, got, want)
	}
	hinfo, err := f.head(key, id)
	if err != nil || hinfo.VersionID != info.VersionID || hinfo.ETag != info.ETag {
		f.t.Fatalf("HeadObject(%s, %q) = %+v, %v; GetObject said %+v", key, id, hinfo, err, info)
	}
	return info
}

func (f *fixture) head(key, id string) (backends.ObjectInfo, error) {
	ctx, _ := f.ctx(id)
	return f.l.HeadObject(ctx, f.bucket, key)
}

func (f *fixture) del(key, id string) *gateway.Result {
	f.t.Helper()
	ctx, r := f.ctx(id)
	if err := f.l.DeleteObject(ctx, f.bucket, key); err != nil {
		f.t.Fatalf("DeleteObject(%s, %q): %v", key, id, err)
	}
	return r
}

// v is a version as a listing shows it.
type v struct {
	key, id string
	latest  bool
	marker  bool
	data    string // "" for markers
}

func (f *fixture) versions(opts gateway.VersionListOptions) []v {
	f.t.Helper()
	var out []v
	for page := 0; ; page++ {
		res, err := f.l.ListObjectVersions(f.t.Context(), f.bucket, opts)
		if err != nil {
			f.t.Fatalf("ListObjectVersions(%+v): %v", opts, err)
		}
		if opts.MaxKeys > 0 && len(res.Versions)+len(res.Prefixes) > opts.MaxKeys {
			f.t.Fatalf("ListObjectVersions: %d items, max %d", len(res.Versions)+len(res.Prefixes), opts.MaxKeys)
		}
		var items []v
		for _, o := range res.Versions {
			x := v{key: o.Key, id: o.VersionID, latest: o.IsLatest, marker: o.DeleteMarker}
			if !o.DeleteMarker {
				x.data = o.ETag
			}
			items = append(items, x)
		}
		for _, p := range res.Prefixes {
			items = append(items, v{key: p, id: "prefix"})
		}
		// A page holds versions and prefixes apart; merged, they are in
		// key order.
		slices.SortStableFunc(items, func(a, b v) int { return strings.Compare(a.key, b.key) })
		out = append(out, items...)
		if !res.IsTruncated {
			return out
		}
		if page > 1000 {
			f.t.Fatal("listing does not end")
		}
		opts.KeyMarker, opts.VersionIDMarker = res.NextKeyMarker, res.NextVersionIDMarker
	}
}

func md5hex(s string) string { h := md5.Sum([]byte(s)); return hex.EncodeToString(h[:]) }

func wantKind(t *testing.T, what string, err error, k backends.Kind) {
	t.Helper()
	if !backends.Is(err, k) {
		t.Fatalf("%s: %v (kind %d), want kind %d", what, err, backends.KindOf(err), k)
	}
}

func forEach(t *testing.T, status string, fn func(t *testing.T, f *fixture)) {
	for _, in := range inners {
		t.Run(in.name, func(t *testing.T) { fn(t, newFixture(t, in.open, status)) })
	}
}

// ---- tests ----

func TestNames(t *testing.T) {
	keys := []string{"a", "a/", "a-b", "a.b", "a/b", "ab", "b", "\u00e9", strings.Repeat("x", 100), strings.Repeat("x", 100) + "a",
		strings.Repeat("x", 101), strings.Repeat("y", 300) + "/z", "a\x01", "a\x7f"}
	slices.Sort(keys)
	var names []string
	for _, k := range keys {
		id1, _ := newID("")
		id2, _ := newID(id1)
		for _, n := range []string{storeName(k, id2, true), storeName(k, id1, false)} {
			e, ok := parseName(n)
			if !ok || e.key != k {
				t.Fatalf("parseName(%q) = %+v, %v", n, e, ok)
			}
			for _, el := range strings.Split(n, "/") {
				if len(el) > 255 {
					t.Fatalf("%q: element of %d bytes", n, len(el))
				}
			}
			names = append(names, n)
		}
	}
	if !slices.IsSorted(names) {
		t.Fatalf("store names do not sort in key order, newest first:\n%q", names)
	}
	for _, n := range names {
		if n >= Prefix+nameEnd {
			t.Fatalf("%q sorts after the end marker", n)
		}
	}
	np := nullPart(time.Unix(100, 5))
	e, ok := parseName(storeName("k", np, false))
	if !ok || !e.null() || e.part != np {
		t.Fatalf("null name: %+v %v", e, ok)
	}
	if tm, _ := partTime(np); !tm.Equal(time.Unix(100, 5)) {
		t.Fatalf("partTime = %v", tm)
	}
	for _, bad := range []string{"x", Prefix + "zz/.0123", Prefix + "61/." + strings.Repeat("g", 32), Prefix + "6/." + strings.Repeat("0", 32), Prefix + "61." + strings.Repeat("0", 32)} {
		if _, ok := parseName(bad); ok {
			t.Fatalf("parseName(%q) accepted", bad)
		}
	}
	if !ValidID(NullID) || ValidID("") || ValidID(strings.Repeat("A", 32)) || !ValidID(strings.Repeat("a", 32)) {
		t.Fatal("ValidID")
	}
	if MaxKeyLen < 480 || MaxKeyLen > 490 {
		t.Fatalf("MaxKeyLen = %d", MaxKeyLen)
	}
}

func TestIDsOrdered(t *testing.T) {
	prev, _ := newID("")
	for range 1000 {
		id, _ := newID(prev)
		if id >= prev {
			t.Fatalf("%s does not sort before %s", id, prev)
		}
		prev = id
	}
	// An ID newer than one from the future.
	future := timePart(time.Now().Add(time.Hour)) + "0000000000000000"
	if id, _ := newID(future); id >= future {
		t.Fatalf("newID(after a future ID) = %s, not before %s", id, future)
	}
}

// In a bucket never versioned, every object is listed as its null
// version, as AWS lists it: with the ID "null", which clients send back to
// delete it. (Native version stores blanked the IDs.)
func TestUnversionedListsNullIDs(t *testing.T) {
	forEach(t, Unversioned, func(t *testing.T, f *fixture) {
		f.put("a", "a1")
		f.put("b", "b1")
		want := []v{{"a", NullID, true, false, md5hex("a1")}, {"b", NullID, true, false, md5hex("b1")}}
		for _, max := range []int{0, 1} {
			if got := f.versions(gateway.VersionListOptions{MaxKeys: max}); !slices.Equal(got, want) {
				t.Fatalf("max-keys %d: versions\n got  %v\n want %v", max, got, want)
			}
		}
	})
}

func TestVersionsListed(t *testing.T) {
	forEach(t, Enabled, func(t *testing.T, f *fixture) {
		a1 := f.put("a", "a1")
		a2 := f.put("a", "a2")
		f.put("b/x", "bx")
		dm := f.del("a", "")
		if !dm.DeleteMarker || !ValidID(dm.VersionID) || dm.VersionID == NullID {
			t.Fatalf("delete marker result %+v", dm)
		}
		a3 := f.put("a", "a3")
		c1 := f.put("c", "c1")
		f.del("c", "")
		want := []v{
			{"a", a3.VersionID, true, false, md5hex("a3")},
			{"a", dm.VersionID, false, true, ""},
			{"a", a2.VersionID, false, false, md5hex("a2")},
			{"a", a1.VersionID, false, false, md5hex("a1")},
			{"b/x", "", true, false, md5hex("bx")},
			{"c", "", true, true, ""},
			{"c", c1.VersionID, false, false, md5hex("c1")},
		}
		got := f.versions(gateway.VersionListOptions{})
		for i := range got {
			if i < len(want) && want[i].id == "" {
				want[i].id = got[i].id
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("versions:\n got  %v\n want %v", got, want)
		}
		for _, max := range []int{1, 2, 3} {
			if p := f.versions(gateway.VersionListOptions{MaxKeys: max}); !slices.Equal(p, want) {
				t.Fatalf("versions by pages of %d:\n got  %v\n want %v", max, p, want)
			}
		}
		// Markers from the middle of a key's versions.
		p := f.versions(gateway.VersionListOptions{KeyMarker: "a", VersionIDMarker: dm.VersionID})
		if !slices.Equal(p, want[2:]) {
			t.Fatalf("after a's marker:\n got  %v\n want %v", p, want[2:])
		}
		p = f.versions(gateway.VersionListOptions{KeyMarker: "a", VersionIDMarker: a3.VersionID})
		if !slices.Equal(p, want[1:]) {
			t.Fatalf("after a's current:\n got  %v\n want %v", p, want[1:])
		}
		p = f.versions(gateway.VersionListOptions{KeyMarker: "a"})
		if !slices.Equal(p, want[4:]) {
			t.Fatalf("after key a:\n got  %v\n want %v", p, want[4:])
		}
		// Delimiter and prefix.
		p = f.versions(gateway.VersionListOptions{Delimiter: "/"})
		wantD := []v{want[0], want[1], want[2], want[3], {"b/", "prefix", false, false, ""}, want[5], want[6]}
		if !slices.Equal(p, wantD) {
			t.Fatalf("with delimiter:\n got  %v\n want %v", p, wantD)
		}
		for _, max := range []int{1, 4} {
			if p := f.versions(gateway.VersionListOptions{Delimiter: "/", MaxKeys: max}); !slices.Equal(p, wantD) {
				t.Fatalf("with delimiter by %d:\n got  %v\n want %v", max, p, wantD)
			}
		}
		p = f.versions(gateway.VersionListOptions{Prefix: "c"})
		if !slices.Equal(p, want[5:]) {
			t.Fatalf("prefix c:\n got  %v\n want %v", p, want[5:])
		}
		// The store never shows in ListObjects.
		res, err := f.l.ListObjects(t.Context(), f.bucket, backends.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, o := range res.Objects {
			keys = append(keys, o.Key)
		}
		if !slices.Equal(keys, []string{"a", "b/x"}) {
			t.Fatalf("ListObjects: %q", keys)
		}
		for _, opts := range []backends.ListOptions{{Delimiter: "/"}, {Delimiter: "."}, {Prefix: ".strata"}, {Prefix: Prefix}, {MaxKeys: 1}} {
			res, err := f.l.ListObjects(t.Context(), f.bucket, opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range res.Objects {
				if reserved(o.Key) {
					t.Fatalf("ListObjects(%+v) shows %q", opts, o.Key)
				}
			}
			for _, p := range res.Prefixes {
				if strings.HasPrefix(Prefix, p) || reserved(p) {
					t.Fatalf("ListObjects(%+v) shows prefix %q", opts, p)
				}
			}
		}
		// A bucket with versions is not empty.
		f.del("a", a3.VersionID)
		f.del("b/x", "")
		wantKind(t, "DeleteBucket(versions left)", f.l.DeleteBucket(t.Context(), f.bucket), backends.NotEmpty)
		if err := purge(t.Context(), f.l, f.bucket); err != nil {
			t.Fatal(err)
		}
		if err := f.l.DeleteBucket(t.Context(), f.bucket); err != nil {
			t.Fatalf("DeleteBucket after purge: %v", err)
		}
	})
}

func TestGetByVersion(t *testing.T) {
	forEach(t, Enabled, func(t *testing.T, f *fixture) {
		v1 := f.put("k", "one")
		v2 := f.put("k", "two")
		if v1.VersionID == v2.VersionID || !v2.IsLatest {
			t.Fatalf("versions %+v %+v", v1, v2)
		}
		f.mustGet("k", "", "two")
		f.mustGet("k", v2.VersionID, "two")
		i := f.mustGet("k", v1.VersionID, "one")
		if i.VersionID != v1.VersionID || i.IsLatest || i.Key != "k" || i.ETag != md5hex("one") {
			t.Fatalf("old version info %+v", i)
		}
		if !i.ModTime.Equal(v1.ModTime) {
			t.Fatalf("old version's Last-Modified %v, was %v when current", i.ModTime, v1.ModTime)
		}
		_, _, err := f.get("k", strings.Repeat("0", 32))
		wantKind(t, "GetObject(unknown version)", err, backends.NoSuchVersion)
		_, _, err = f.get("k", "bogus")
		wantKind(t, "GetObject(bad version)", err, backends.InvalidArgument)
		_, _, err = f.get("k", NullID)
		wantKind(t, "GetObject(null, none)", err, backends.NoSuchVersion)
		// Range reads of an old version.
		ctx, _ := f.ctx(v1.VersionID)
		rc, _, err := f.l.GetObject(ctx, f.bucket, "k", &backends.Range{Start: 1, End: 1})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != "n" {
			t.Fatalf("range of old version: %q", b)
		}
		// Metadata of an old version (tagging) changes that version only.
		old, _ := f.head("k", v1.VersionID)
		m := old.Meta
		m.Tags = map[string]string{"t": "1"}
		ctx, _ = f.ctx(v1.VersionID)
		out, err := f.l.UpdateMeta(ctx, f.bucket, "k", m)
		if err != nil || out.VersionID != v1.VersionID {
			t.Fatalf("UpdateMeta(old version): %+v, %v", out, err)
		}
		if h, _ := f.head("k", v1.VersionID); h.Tags["t"] != "1" || h.VersionID != v1.VersionID || !f.native() && h.Sys[sysID] != v1.VersionID {
			t.Fatalf("old version after UpdateMeta: %+v", h)
		}
		if h, _ := f.head("k", ""); len(h.Tags) != 0 || h.VersionID != v2.VersionID {
			t.Fatalf("current after UpdateMeta of an old version: %+v", h)
		}
		// UpdateMeta without the layer's Sys keeps the version ID.
		cur, _ := f.head("k", "")
		m = cur.Meta
		m.Sys = nil
		if out, err := f.l.UpdateMeta(t.Context(), f.bucket, "k", m); err != nil || out.VersionID != v2.VersionID {
			t.Fatalf("UpdateMeta(current, no Sys): %+v, %v", out, err)
		}
	})
}

func TestDeleteMarkers(t *testing.T) {
	forEach(t, Enabled, func(t *testing.T, f *fixture) {
		v1 := f.put("k", "one")
		dm := f.del("k", "")
		_, _, err := f.get("k", "")
		wantKind(t, "GetObject(deleted)", err, backends.NoSuchKey)
		ctx, r := f.ctx("")
		_, err = f.l.HeadObject(ctx, f.bucket, "k")
		wantKind(t, "HeadObject(deleted)", err, backends.NoSuchKey)
		if !r.DeleteMarker || r.VersionID != dm.VersionID {
			t.Fatalf("HeadObject(deleted) result %+v, want marker %s", r, dm.VersionID)
		}
		ctx, r = f.ctx(dm.VersionID)
		_, err = f.l.HeadObject(ctx, f.bucket, "k")
		wantKind(t, "HeadObject(marker by id)", err, backends.MethodNotAllowed)
		if !r.DeleteMarker || r.VersionID != dm.VersionID {
			t.Fatalf("HeadObject(marker by id) result %+v", r)
		}
		_, _, err = f.get("k", dm.VersionID)
		wantKind(t, "GetObject(marker by id)", err, backends.MethodNotAllowed)
		f.mustGet("k", v1.VersionID, "one")
		// A second delete adds a second marker.
		dm2 := f.del("k", "")
		if dm2.VersionID == dm.VersionID || !dm2.DeleteMarker {
			t.Fatalf("second marker %+v", dm2)
		}
		// Deleting the newest marker leaves the older one in charge.
		if r := f.del("k", dm2.VersionID); !r.DeleteMarker || r.VersionID != dm2.VersionID {
			t.Fatalf("deleting a marker: result %+v", r)
		}
		_, _, err = f.get("k", "")
		wantKind(t, "GetObject(under older marker)", err, backends.NoSuchKey)
		// Removing the last marker brings the version back.
		f.del("k", dm.VersionID)
		info := f.mustGet("k", "", "one")
		if info.VersionID != v1.VersionID || !info.IsLatest {
			t.Fatalf("after removing the markers: %+v", info)
		}
		// Deleting a key that never existed adds a marker too; an
		// unknown version ID is no error.
		if r := f.del("never", ""); !r.DeleteMarker {
			t.Fatalf("delete of a missing key: %+v", r)
		}
		if r := f.del("k", strings.Repeat("1", 32)); r.DeleteMarker || r.VersionID != strings.Repeat("1", 32) {
			t.Fatalf("delete of an unknown version: %+v", r)
		}
		ctx, _ = f.ctx("bad id")
		wantKind(t, "DeleteObject(bad id)", f.l.DeleteObject(ctx, f.bucket, "k"), backends.InvalidArgument)
		// Tagging a key whose newest version is a marker: NoSuchKey.
		f.del("k", "")
		_, err = f.l.UpdateMeta(t.Context(), f.bucket, "k", backends.Meta{})
		wantKind(t, "UpdateMeta(deleted)", err, backends.NoSuchKey)
	})
}

func TestRestoreOldVersion(t *testing.T) {
	forEach(t, Enabled, func(t *testing.T, f *fixture) {
		v1 := f.put("doc", "first draft")
		f.put("doc", "second draft")
		// Restore: copy the old version onto the key.
		ctx, _ := f.ctx(v1.VersionID)
		rc, info, err := f.l.GetObject(ctx, f.bucket, "doc", nil)
		if err != nil {
			t.Fatal(err)
		}
		meta := info.Meta
		restored, err := f.l.PutObject(t.Context(), f.bucket, "doc", rc, backends.PutOptions{Meta: &meta})
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if restored.VersionID == v1.VersionID {
			t.Fatal("the restored copy kept the old version's ID")
		}
		f.mustGet("doc", "", "first draft")
		if got := f.versions(gateway.VersionListOptions{}); len(got) != 3 || got[0].id != restored.VersionID || got[2].id != v1.VersionID {
			t.Fatalf("versions after restore: %v", got)
		}
	})
}

func TestSuspended(t *testing.T) {
	forEach(t, "", func(t *testing.T, f *fixture) {
		// An object from before versioning is the null version.
		pre := f.put("k", "before")
		if pre.VersionID != "" {
			t.Fatalf("unversioned PUT reports version %q", pre.VersionID)
		}
		f.setStatus(Enabled)
		if i := f.mustGet("k", "", "before"); i.VersionID != NullID {
			t.Fatalf("object from before versioning: version %q", i.VersionID)
		}
		v1 := f.put("k", "v1")
		f.mustGet("k", NullID, "before")
		f.setStatus(Suspended)
		n1 := f.put("k", "null one")
		if n1.VersionID != NullID {
			t.Fatalf("suspended PUT: version %q", n1.VersionID)
		}
		// The new null version replaced the old one.
		f.mustGet("k", NullID, "null one")
		f.mustGet("k", v1.VersionID, "v1")
		got := f.versions(gateway.VersionListOptions{})
		want := []v{{"k", NullID, true, false, md5hex("null one")}, {"k", v1.VersionID, false, false, md5hex("v1")}}
		if !slices.Equal(got, want) {
			t.Fatalf("versions:\n got  %v\n want %v", got, want)
		}
		// Overwritten in place.
		f.put("k", "null two")
		f.mustGet("k", NullID, "null two")
		if got := f.versions(gateway.VersionListOptions{}); len(got) != 2 {
			t.Fatalf("after overwriting the null version: %v", got)
		}
		// A delete makes a null marker, replacing the null version.
		r := f.del("k", "")
		if r.VersionID != NullID || !r.DeleteMarker {
			t.Fatalf("suspended delete: %+v", r)
		}
		got = f.versions(gateway.VersionListOptions{})
		want = []v{{"k", NullID, true, true, ""}, {"k", v1.VersionID, false, false, md5hex("v1")}}
		if !slices.Equal(got, want) {
			t.Fatalf("after suspended delete:\n got  %v\n want %v", got, want)
		}
		_, _, err := f.get("k", NullID)
		wantKind(t, "GetObject(null marker)", err, backends.MethodNotAllowed)
		// Enabled again: new IDs; the null marker stays a version.
		f.setStatus(Enabled)
		v3 := f.put("k", "v3")
		got = f.versions(gateway.VersionListOptions{})
		want = []v{{"k", v3.VersionID, true, false, md5hex("v3")}, {"k", NullID, false, true, ""}, {"k", v1.VersionID, false, false, md5hex("v1")}}
		if !slices.Equal(got, want) {
			t.Fatalf("re-enabled:\n got  %v\n want %v", got, want)
		}
		// Suspended again: a PUT archives v3 and makes the null
		// version, replacing the null marker.
		f.setStatus(Suspended)
		f.put("k", "null three")
		got = f.versions(gateway.VersionListOptions{})
		want = []v{{"k", NullID, true, false, md5hex("null three")}, {"k", v3.VersionID, false, false, md5hex("v3")}, {"k", v1.VersionID, false, false, md5hex("v1")}}
		if !slices.Equal(got, want) {
			t.Fatalf("suspended again:\n got  %v\n want %v", got, want)
		}
		// Deleting the null version by ID promotes v3.
		f.del("k", NullID)
		if i := f.mustGet("k", "", "v3"); i.VersionID != v3.VersionID {
			t.Fatalf("after deleting null: %+v", i)
		}
		// Versioning cannot be turned off.
		err = f.l.PutBucketConfig(t.Context(), f.bucket, gateway.DocVersioning, nil)
		wantKind(t, "turning versioning off", err, backends.InvalidBucketState)
	})
}

func TestPromotion(t *testing.T) {
	forEach(t, Enabled, func(t *testing.T, f *fixture) {
		v1 := f.put("k", "one")
		v2 := f.put("k", "two")
		v3 := f.put("k", "three")
		f.del("k", v3.VersionID)
		if i := f.mustGet("k", "", "two"); i.VersionID != v2.VersionID || !i.IsLatest {
			t.Fatalf("after deleting the current version: %+v", i)
		}
		// Deleting a noncurrent version leaves the current one.
		f.del("k", v1.VersionID)
		f.mustGet("k", "", "two")
		_, _, err := f.get("k", v1.VersionID)
		wantKind(t, "GetObject(deleted version)", err, backends.NoSuchVersion)
		// A marker below the current version is not promoted.
		dm := f.del("k", "")
		v4 := f.put("k", "four")
		f.del("k", v4.VersionID)
		_, _, err = f.get("k", "")
		wantKind(t, "GetObject(marker newest)", err, backends.NoSuchKey)
		f.del("k", dm.VersionID)
		f.mustGet("k", "", "two")
		f.del("k", v2.VersionID)
		_, _, err = f.get("k", "")
		wantKind(t, "GetObject(all deleted)", err, backends.NoSuchKey)
		if got := f.versions(gateway.VersionListOptions{}); len(got) != 0 {
			t.Fatalf("versions left: %v", got)
		}
	})
}

func TestConcurrentPuts(t *testing.T) {
	forEach(t, Enabled, func(t *testing.T, f *fixture) {
		const writers, rounds = 6, 5
		var wg sync.WaitGroup
		ids := make(chan string, writers*rounds)
		for w := range writers {
			wg.Go(func() {
				for r := range rounds {
					data := fmt.Sprintf("w%d-r%d", w, r)
					m := &backends.Meta{ETag: md5hex(data)}
					info, err := f.l.PutObject(t.Context(), f.bucket, "hot", strings.NewReader(data), backends.PutOptions{Meta: m})
					if err != nil {
						t.Errorf("PutObject: %v", err)
						return
					}
					ids <- info.VersionID
				}
			})
		}
		var readers sync.WaitGroup
		stop := make(chan struct{})
		for range 3 {
			readers.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					rc, info, err := f.l.GetObject(t.Context(), f.bucket, "hot", nil)
					if backends.Is(err, backends.NoSuchKey) {
						continue // before the first write
					}
					if err != nil {
						t.Errorf("GetObject: %v", err)
						return
					}
					b, _ := io.ReadAll(rc)
					rc.Close()
					if info.ETag != md5hex(string(b)) {
						t.Errorf("read %q with the ETag of other data", b)
						return
					}
				}
			})
		}
		wg.Wait()
		close(stop)
		readers.Wait()
		close(ids)
		seen := map[string]bool{}
		for id := range ids {
			if seen[id] {
				t.Fatalf("version ID %s given twice", id)
			}
			seen[id] = true
		}
		got := f.versions(gateway.VersionListOptions{})
		if len(got) != writers*rounds {
			t.Fatalf("%d versions listed, want %d", len(got), writers*rounds)
		}
		for i, x := range got {
			if !seen[x.id] || x.latest != (i == 0) || x.marker {
				t.Fatalf("version %d: %+v", i, x)
			}
		}
		cur, _ := f.head("hot", "")
		if cur.VersionID != got[0].id {
			t.Fatalf("current %s, newest listed %s", cur.VersionID, got[0].id)
		}
	})
}

func TestCrashRecovery(t *testing.T) {
	forEach(t, Enabled, func(t *testing.T, f *fixture) {
		if f.native() {
			t.Skip("the backend keeps its versions itself: no version store to crash between")
		}
		ctx := t.Context()
		v1 := f.put("k", "one")
		// A crash after archiving the current version, before the new
		// one was written.
		if err := f.l.move(ctx, f.bucket, "k", storeName("k", v1.VersionID, false)); err != nil {
			t.Fatal(err)
		}
		if i := f.mustGet("k", "", "one"); i.VersionID != v1.VersionID || !i.IsLatest {
			t.Fatalf("after the crash: %+v", i)
		}
		// The read moved it back to the key.
		if _, err := f.inner.HeadObject(ctx, f.bucket, "k"); err != nil {
			t.Fatalf("not promoted back: %v", err)
		}
		// While a writer holds the key, readers get the archived version
		// without waiting.
		if err := f.l.move(ctx, f.bucket, "k", storeName("k", v1.VersionID, false)); err != nil {
			t.Fatal(err)
		}
		unlock := f.l.locks.lock(f.bucket, "k")
		f.mustGet("k", "", "one")
		if got := f.versions(gateway.VersionListOptions{}); len(got) != 1 || !got[0].latest {
			t.Fatalf("versions with the key held: %v", got)
		}
		unlock()
		// Conditional writes see it too.
		m := &backends.Meta{ETag: md5hex("x")}
		_, err := f.l.PutObject(ctx, f.bucket, "k", strings.NewReader("x"), backends.PutOptions{Meta: m, IfNoneMatch: true})
		wantKind(t, "PutObject(IfNoneMatch) over a version left by a crash", err, backends.PreconditionFailed)
		f.mustGet("k", "", "one")

		// A crash in a streaming move: the version both at the key and in
		// the store. Listed once; deleting it removes both.
		v2 := f.put("k", "two")
		body, info, err := f.inner.GetObject(ctx, f.bucket, "k", nil)
		if err != nil {
			t.Fatal(err)
		}
		meta := info.Meta
		if _, err := f.inner.PutObject(ctx, f.bucket, storeName("k", v2.VersionID, false), body, backends.PutOptions{Meta: &meta}); err != nil {
			t.Fatal(err)
		}
		body.Close()
		got := f.versions(gateway.VersionListOptions{})
		if len(got) != 2 || got[0].id != v2.VersionID || got[1].id != v1.VersionID {
			t.Fatalf("versions with a duplicate: %v", got)
		}
		f.del("k", v2.VersionID)
		if i := f.mustGet("k", "", "one"); i.VersionID != v1.VersionID {
			t.Fatalf("after deleting a duplicated version: %+v", i)
		}

		// A failed write (the client went away) leaves the old version.
		_, err = f.l.PutObject(ctx, f.bucket, "k", io.MultiReader(strings.NewReader("partial"), errReader{}), backends.PutOptions{Meta: &backends.Meta{}})
		if err == nil {
			t.Fatal("PutObject with a failing body: no error")
		}
		if i := f.mustGet("k", "", "one"); i.VersionID != v1.VersionID {
			t.Fatalf("after a failed write: %+v", i)
		}
		if got := f.versions(gateway.VersionListOptions{}); len(got) != 1 {
			t.Fatalf("versions after a failed write: %v", got)
		}
	})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, fmt.Errorf("client went away") }

func TestMultipartVersions(t *testing.T) {
	forEach(t, Enabled, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		v1 := f.put("mp", "small")
		id, err := f.l.CreateMultipartUpload(ctx, f.bucket, "mp", backends.Meta{Sys: map[string]string{sysID: "forged"}})
		if err != nil {
			t.Fatal(err)
		}
		data := bytes.Repeat([]byte("p"), 1000)
		pm := &backends.Meta{ETag: md5hex(string(data)), Size: 1000}
		part, err := f.l.UploadPart(ctx, f.bucket, "mp", id, 1, bytes.NewReader(data), pm)
		if err != nil {
			t.Fatal(err)
		}
		up, _, err := f.l.ListParts(ctx, f.bucket, "mp", id)
		if err != nil {
			t.Fatal(err)
		}
		meta := up.Meta
		meta.ETag = gateway.MultipartETag([]backends.PartInfo{part})
		meta.Parts = []backends.PartInfo{part}
		meta.Size = 1000
		cctx, r := f.ctx("")
		info, err := f.l.CompleteMultipartUpload(cctx, f.bucket, "mp", id, []int{1}, backends.PutOptions{Meta: &meta})
		if err != nil {
			t.Fatal(err)
		}
		if info.VersionID == v1.VersionID || !ValidID(info.VersionID) || r.VersionID != info.VersionID {
			t.Fatalf("completed: %+v, result %+v", info, r)
		}
		f.mustGet("mp", "", string(data))
		f.mustGet("mp", v1.VersionID, "small")
		ups, _ := f.l.ListMultipartUploads(ctx, f.bucket, "")
		if len(ups) != 0 {
			t.Fatalf("uploads left: %+v", ups)
		}
	})
}

func TestReservedAndLongKeys(t *testing.T) {
	forEach(t, Enabled, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		_, err := f.l.PutObject(ctx, f.bucket, Prefix+"x", strings.NewReader("x"), backends.PutOptions{})
		wantKind(t, "PutObject(reserved)", err, backends.InvalidKey)
		_, err = f.l.CreateMultipartUpload(ctx, f.bucket, Prefix+"x", backends.Meta{})
		wantKind(t, "CreateMultipartUpload(reserved)", err, backends.InvalidKey)
		_, err = f.l.HeadObject(ctx, f.bucket, Prefix+"x")
		wantKind(t, "HeadObject(reserved)", err, backends.NoSuchKey)
		long := strings.Repeat(strings.Repeat("k", 99)+"/", 4)
		long += strings.Repeat("k", MaxKeyLen-len(long))
		f.put(long, "fits")
		f.put(long, "fits again")
		if got := f.versions(gateway.VersionListOptions{}); len(got) != 2 || got[0].key != long {
			t.Fatalf("long key versions: %v", got)
		}
		_, err = f.l.PutObject(ctx, f.bucket, long+"k", strings.NewReader("x"), backends.PutOptions{})
		if f.native() {
			// No store names: a key of any length the backend takes
			// can have versions.
			if err != nil {
				t.Fatalf("PutObject(long key, native versions): %v", err)
			}
		} else {
			wantKind(t, "PutObject(too long for versions)", err, backends.KeyTooLong)
		}
	})
}
