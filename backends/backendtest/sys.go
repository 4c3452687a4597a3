package backendtest

import (
	"bytes"
	"encoding/base64"
	"io"
	"maps"
	"strconv"
	"strings"
	"testing"

	"github.com/strata-storage/strata/backends"
)

// ---- data-service metadata (Meta.Sys, PartInfo.Sys) and moves ----

// bigSys is a Sys of about 1.5 KiB of base64, as a layer may store (a
// sealed key, a list of hashes).
func bigSys() map[string]string {
	return map[string]string{
		"t-key":  base64.StdEncoding.EncodeToString(randBytes(1100)),
		"t-iv":   base64.RawURLEncoding.EncodeToString(randBytes(12)),
		"t-id":   "0192b7c4-3d1e-7a00-8000-" + randHex(6),
		"t-mode": "GOVERNANCE",
		"t-alg":  "",
	}
}

// layerPrefixes name the Sys entries of the gateway's data-service
// layers. The suite also runs over those layers, which add entries of
// their own: those are not the test's to compare.
var layerPrefixes = []string{"sse-", "lock-", "ver-", "rot-"}

func sameSys(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	got = maps.Clone(got)
	for k := range got {
		if _, ok := want[k]; ok {
			continue
		}
		for _, p := range layerPrefixes {
			if strings.HasPrefix(k, p) {
				delete(got, k)
			}
		}
	}
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !maps.Equal(got, want) {
		t.Fatalf("%s: Sys\n got  %v\n want %v", what, abbrev(got), abbrev(want))
	}
}

// abbrev shortens long values for messages.
func abbrev(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if len(v) > 40 {
			v = v[:20] + "..." + v[len(v)-10:] + " (" + itoa(len(v)) + " bytes)"
		}
		out[k] = v
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

// sysReader completes meta at EOF with its ETag, size and Sys, the way a
// layer that hashes the data (bitrot) sets its Sys only when the data has
// ended.
type sysReader struct {
	*hashReader
	sys map[string]string
}

func (s *sysReader) Read(p []byte) (int, error) {
	n, err := s.hashReader.Read(p)
	if err == io.EOF {
		s.meta.Sys = s.sys
	}
	return n, err
}

// putSysAtEOF stores data with meta whose Sys is given only at EOF.
func putSysAtEOF(t *testing.T, b backends.Backend, bucket, key string, data []byte, meta backends.Meta, sys map[string]string) backends.ObjectInfo {
	t.Helper()
	m := meta
	m.Sys = nil
	r := &sysReader{hashReader: newHashReader(bytes.NewReader(data), &m), sys: sys}
	info, err := b.PutObject(t.Context(), bucket, key, r, backends.PutOptions{Meta: &m})
	if err != nil {
		t.Fatalf("PutObject(%s, Sys at EOF): %v", key, err)
	}
	return info
}

// checkSys checks the Sys that HeadObject and GetObject return for key.
func checkSys(t *testing.T, b backends.Backend, bucket, key string, want map[string]string) {
	t.Helper()
	h, err := b.HeadObject(t.Context(), bucket, key)
	if err != nil {
		t.Fatalf("HeadObject(%s): %v", key, err)
	}
	sameSys(t, "HeadObject("+key+")", h.Sys, want)
	_, g := Get(t, b, bucket, key, nil)
	sameSys(t, "GetObject("+key+")", g.Sys, want)
}

func testSys(t *testing.T, b backends.Backend) {
	ctx := t.Context()
	bucket := NewBucket(t, b)
	sys := bigSys()
	meta := fullMeta()
	meta.Sys = sys
	data := randBytes(3000)
	info := Put(t, b, bucket, "s", data, meta)
	sameSys(t, "PutObject", info.Sys, sys)
	checkSys(t, b, bucket, "s", sys)
	// Sys is not user metadata, and user metadata is not Sys.
	h, _ := b.HeadObject(ctx, bucket, "s")
	sameMeta(t, "HeadObject(with Sys)", h.Meta, fullMeta())

	// User metadata whose names look like Strata's own stays user
	// metadata; Sys stays Sys. (No "_" in names: some S3 emulators drop
	// such headers.)
	um := backends.Meta{
		User: map[string]string{"sse-key": "user", "strata": "user", "sys": "u", "x-strata-meta": "u", "strata-s": "u"},
		Sys:  map[string]string{"t-key": "sys"},
	}
	Put(t, b, bucket, "names", []byte("n"), um)
	h, err := b.HeadObject(ctx, bucket, "names")
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(h.User, um.User) {
		t.Fatalf("HeadObject(names): User %v, want %v", h.User, um.User)
	}
	sameSys(t, "HeadObject(names)", h.Sys, um.Sys)

	// UpdateMeta replaces Sys with exactly the one given: kept when given
	// again (tagging), changed, removed.
	m := h.Meta
	m.Tags = map[string]string{"t": "1"}
	if _, err := b.UpdateMeta(ctx, bucket, "names", m); err != nil {
		t.Fatal(err)
	}
	checkSys(t, b, bucket, "names", um.Sys)
	h, _ = b.HeadObject(ctx, bucket, "s")
	m = h.Meta
	m.Sys = map[string]string{"t-id": "v2", "t-until": "2037-01-01T00:00:00Z"}
	out, err := b.UpdateMeta(ctx, bucket, "s", m)
	if err != nil {
		t.Fatal(err)
	}
	sameSys(t, "UpdateMeta", out.Sys, m.Sys)
	checkSys(t, b, bucket, "s", m.Sys)
	if got, g := Get(t, b, bucket, "s", nil); !bytes.Equal(got, data) || g.ETag != md5hex(data) {
		t.Fatalf("UpdateMeta of Sys changed the data or the ETag: %+v", g)
	}
	m.Sys = sys
	if _, err := b.UpdateMeta(ctx, bucket, "s", m); err != nil {
		t.Fatal(err)
	}
	checkSys(t, b, bucket, "s", sys)
	m.Sys = nil
	if _, err := b.UpdateMeta(ctx, bucket, "s", m); err != nil {
		t.Fatal(err)
	}
	checkSys(t, b, bucket, "s", nil)

	// Overwriting replaces Sys, also with none.
	Put(t, b, bucket, "names", []byte("n2"), backends.Meta{})
	checkSys(t, b, bucket, "names", nil)

	// Sys given only at the end of the data, small and large.
	for _, size := range []int{10, 6<<20 + 5} {
		key := "eof-" + itoa(size)
		d := randBytes(size)
		info := putSysAtEOF(t, b, bucket, key, d, backends.Meta{ContentType: "text/x-eof", User: map[string]string{"u": "1"}}, sys)
		sameSys(t, "PutObject(Sys at EOF)", info.Sys, sys)
		checkSys(t, b, bucket, key, sys)
		if got, g := Get(t, b, bucket, key, nil); !bytes.Equal(got, d) || g.ContentType != "text/x-eof" || g.User["u"] != "1" {
			t.Fatalf("%s: %d bytes, %+v", key, len(got), g.Meta)
		}
	}

	// A folder object keeps its Sys too.
	Put(t, b, bucket, "dir/", nil, backends.Meta{Sys: sys})
	checkSys(t, b, bucket, "dir/", sys)
	if _, err := b.UpdateMeta(ctx, bucket, "dir/", backends.Meta{Sys: map[string]string{"t-id": "d"}}); err != nil {
		t.Fatal(err)
	}
	checkSys(t, b, bucket, "dir/", map[string]string{"t-id": "d"})
}

func testPartSys(t *testing.T, b backends.Backend) {
	ctx := t.Context()
	bucket := NewBucket(t, b)
	key := "mp/sys"
	upSys := map[string]string{"t-upload": "u1", "t-id": "pending"}
	id, err := b.CreateMultipartUpload(ctx, bucket, key, backends.Meta{ContentType: "application/x-mp", Sys: upSys})
	if err != nil {
		t.Fatal(err)
	}
	up, _, err := b.ListParts(ctx, bucket, key, id)
	if err != nil {
		t.Fatal(err)
	}
	sameSys(t, "ListParts: the upload's Meta", up.Meta.Sys, upSys)

	p1, p2, p2b := randBytes(partSize), randBytes(1000), randBytes(2000)
	sys1 := map[string]string{"t-sum": base64.StdEncoding.EncodeToString(randBytes(32)), "t-nonce": "n1"}
	sys2 := map[string]string{"t-sum": "second"}
	sys2b := bigSys()
	sendPart := func(n int, data []byte, sys map[string]string) backends.PartInfo {
		t.Helper()
		var m backends.Meta
		r := &sysReader{hashReader: newHashReader(bytes.NewReader(data), &m), sys: sys}
		p, err := b.UploadPart(ctx, bucket, key, id, n, r, &m)
		if err != nil {
			t.Fatalf("UploadPart(%d): %v", n, err)
		}
		sameSys(t, "UploadPart("+itoa(n)+")", p.Sys, sys)
		return p
	}
	sendPart(1, p1, sys1)
	sendPart(2, p2, sys2)
	sendPart(2, p2b, sys2b) // replaces part 2 and its Sys
	_, parts, err := b.ListParts(ctx, bucket, key, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 {
		t.Fatalf("ListParts: %+v", parts)
	}
	sameSys(t, "ListParts: part 1", parts[0].Sys, sys1)
	sameSys(t, "ListParts: part 2", parts[1].Sys, sys2b)
	if parts[1].ETag != md5hex(p2b) {
		t.Fatalf("ListParts: part 2 is %+v, not the second upload", parts[1])
	}

	final := backends.Meta{ContentType: "application/x-mp", Sys: map[string]string{"t-id": "done", "t-key": "k"}}
	final.ETag = multipartETag(md5hex(p1), md5hex(p2b))
	final.Parts = parts
	info, err := b.CompleteMultipartUpload(ctx, bucket, key, id, []int{1, 2}, backends.PutOptions{Meta: &final})
	if err != nil {
		t.Fatal(err)
	}
	sameSys(t, "CompleteMultipartUpload", info.Sys, final.Sys)
	checkSys(t, b, bucket, key, final.Sys)
	for what, i := range map[string]func() (backends.ObjectInfo, error){
		"HeadObject": func() (backends.ObjectInfo, error) { return b.HeadObject(ctx, bucket, key) },
		"GetObject": func() (backends.ObjectInfo, error) {
			rc, i, err := b.GetObject(ctx, bucket, key, nil)
			if err == nil {
				rc.Close()
			}
			return i, err
		},
	} {
		o, err := i()
		if err != nil {
			t.Fatal(err)
		}
		if len(o.Parts) != 2 {
			t.Fatalf("%s: Parts %+v", what, o.Parts)
		}
		sameSys(t, what+": Parts[0]", o.Parts[0].Sys, sys1)
		sameSys(t, what+": Parts[1]", o.Parts[1].Sys, sys2b)
	}
	// UpdateMeta keeps the parts' Sys when it keeps the parts.
	h, _ := b.HeadObject(ctx, bucket, key)
	m := h.Meta
	m.Tags = map[string]string{"t": "v"}
	m.Sys = map[string]string{"t-id": "again"}
	if _, err := b.UpdateMeta(ctx, bucket, key, m); err != nil {
		t.Fatal(err)
	}
	h, _ = b.HeadObject(ctx, bucket, key)
	sameSys(t, "HeadObject after UpdateMeta", h.Sys, m.Sys)
	if len(h.Parts) != 2 {
		t.Fatalf("HeadObject after UpdateMeta: Parts %+v", h.Parts)
	}
	sameSys(t, "HeadObject after UpdateMeta: Parts[1]", h.Parts[1].Sys, sys2b)
}

func testListSys(t *testing.T, b backends.Backend) {
	bucket := NewBucket(t, b)
	if !backends.ListsSys(b, bucket) {
		t.Skip("the backend's listings do not carry Meta.Sys (not a SysLister)")
	}
	big := bigSys()
	want := map[string]map[string]string{
		"a":       {"t-id": "a"},
		"b/c":     big,
		"b/plain": nil,
		"d/":      {"t-mode": "COMPLIANCE"},
		"e":       {"t-key": "e", "t-sum": "x"},
	}
	for k, sys := range want {
		Put(t, b, bucket, k, nil, backends.Meta{Sys: sys, User: map[string]string{"u": k}})
	}
	putSysAtEOF(t, b, bucket, "eof", []byte("data"), backends.Meta{}, map[string]string{"t-sum": "eof"})
	want["eof"] = map[string]string{"t-sum": "eof"}
	// Changed by UpdateMeta after the put.
	if _, err := b.UpdateMeta(t.Context(), bucket, "e", backends.Meta{Sys: map[string]string{"t-key": "e2"}}); err != nil {
		t.Fatal(err)
	}
	want["e"] = map[string]string{"t-key": "e2"}
	seen := 0
	for _, opts := range []backends.ListOptions{{}, {MaxKeys: 2}, {Prefix: "b/"}} {
		for {
			res, err := b.ListObjects(t.Context(), bucket, opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range res.Objects {
				w, ok := want[o.Key]
				if !ok {
					t.Fatalf("listed %q", o.Key)
				}
				sameSys(t, "ListObjects: "+o.Key, o.Sys, w)
				seen++
			}
			if !res.IsTruncated {
				break
			}
			opts.Marker = res.NextMarker
		}
	}
	if seen != 2*len(want)+2 {
		t.Fatalf("listed %d entries, want %d", seen, 2*len(want)+2)
	}
}

func testMove(t *testing.T, b backends.Backend) {
	mv, ok := b.(backends.Mover)
	if !ok {
		t.Skip("the backend does not move objects (not a Mover)")
	}
	ctx := t.Context()
	bucket := NewBucket(t, b)
	meta := fullMeta()
	meta.Sys = bigSys()
	meta.StorageClass = ""
	data := randBytes(200 << 10)
	src := Put(t, b, bucket, "src", data, meta)
	check := func(key string, data []byte, src backends.ObjectInfo) {
		t.Helper()
		got, g := Get(t, b, bucket, key, nil)
		if !bytes.Equal(got, data) {
			t.Fatalf("%s: %d bytes differ from the %d moved", key, len(got), len(data))
		}
		sameMeta(t, "moved "+key, g.Meta, src.Meta)
		sameSys(t, "moved "+key, g.Sys, src.Sys)
		if g.ETag != src.ETag || g.Size != src.Size {
			t.Fatalf("moved %s: ETag %s size %d, want %s %d", key, g.ETag, g.Size, src.ETag, src.Size)
		}
		h, err := b.HeadObject(ctx, bucket, key)
		if err != nil {
			t.Fatal(err)
		}
		sameSys(t, "HeadObject(moved "+key+")", h.Sys, src.Sys)
	}
	gone := func(key string) {
		t.Helper()
		if _, err := b.HeadObject(ctx, bucket, key); !backends.Is(err, backends.NoSuchKey) {
			t.Fatalf("HeadObject(%s) after the move: %v, want NoSuchKey", key, err)
		}
	}
	src, _ = b.HeadObject(ctx, bucket, "src")

	// To a new key, into folders that do not exist yet.
	if err := mv.MoveObject(ctx, bucket, "src", "deep/er/dst"); err != nil {
		t.Fatalf("MoveObject: %v", err)
	}
	check("deep/er/dst", data, src)
	gone("src")

	// Onto an existing key: replaced.
	Put(t, b, bucket, "other", []byte("the old content of other"), backends.Meta{ContentType: "text/old", Sys: map[string]string{"t-id": "old"}})
	if err := mv.MoveObject(ctx, bucket, "deep/er/dst", "other"); err != nil {
		t.Fatalf("MoveObject onto an object: %v", err)
	}
	check("other", data, src)
	gone("deep/er/dst")
	keys, _, _ := listAll(t, b, bucket, backends.ListOptions{})
	eq(t, "keys after the moves", keys, []string{"other"})

	// Onto itself: nothing changes.
	if err := mv.MoveObject(ctx, bucket, "other", "other"); err != nil {
		t.Fatalf("MoveObject onto itself: %v", err)
	}
	check("other", data, src)

	// A missing source.
	wantKind(t, "MoveObject(missing)", mv.MoveObject(ctx, bucket, "nope", "x"), backends.NoSuchKey)
	if _, err := b.HeadObject(ctx, bucket, "x"); !backends.Is(err, backends.NoSuchKey) {
		t.Fatalf("a failed move made its destination: %v", err)
	}
	wantKind(t, "MoveObject(missing bucket)", mv.MoveObject(ctx, "bt-missing-"+randHex(4), "a", "b"), backends.NoSuchBucket, backends.NoSuchKey)

	// A multipart object keeps its ETag and parts.
	id, err := b.CreateMultipartUpload(ctx, bucket, "mp", backends.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	p1, p2 := randBytes(partSize), randBytes(777)
	parts := []backends.PartInfo{uploadPart(t, b, bucket, "mp", id, 1, p1), uploadPart(t, b, bucket, "mp", id, 2, p2)}
	_, parts, _ = b.ListParts(ctx, bucket, "mp", id)
	fm := backends.Meta{ContentType: "application/x-mp", ETag: multipartETag(md5hex(p1), md5hex(p2)), Parts: parts,
		Sys: map[string]string{"t-key": "mp"}}
	if _, err := b.CompleteMultipartUpload(ctx, bucket, "mp", id, []int{1, 2}, backends.PutOptions{Meta: &fm}); err != nil {
		t.Fatal(err)
	}
	mpSrc, _ := b.HeadObject(ctx, bucket, "mp")
	if err := mv.MoveObject(ctx, bucket, "mp", "mp-moved"); err != nil {
		t.Fatalf("MoveObject(multipart): %v", err)
	}
	check("mp-moved", append(bytes.Clone(p1), p2...), mpSrc)
	gone("mp")
	if h, _ := b.HeadObject(ctx, bucket, "mp-moved"); len(h.Parts) != 2 || h.Parts[1].Size != 777 {
		t.Fatalf("moved multipart object: Parts %+v", h.Parts)
	}

	// An empty object, and a folder object with what is below it left.
	Put(t, b, bucket, "empty", nil, backends.Meta{Sys: map[string]string{"t-id": "e"}})
	eSrc, _ := b.HeadObject(ctx, bucket, "empty")
	if err := mv.MoveObject(ctx, bucket, "empty", "sub/empty"); err != nil {
		t.Fatal(err)
	}
	check("sub/empty", nil, eSrc)
	Put(t, b, bucket, "f/", nil, backends.Meta{ContentType: "application/x-directory", Sys: map[string]string{"t-id": "f"}})
	Put(t, b, bucket, "f/x", []byte("x"), backends.Meta{})
	fSrc, _ := b.HeadObject(ctx, bucket, "f/")
	if err := mv.MoveObject(ctx, bucket, "f/", "g/"); err != nil {
		t.Fatalf("MoveObject(folder object): %v", err)
	}
	check("g/", nil, fSrc)
	gone("f/")
	if got, _ := Get(t, b, bucket, "f/x", nil); string(got) != "x" {
		t.Fatalf("f/x after moving f/: %q", got)
	}
	keys, _, _ = listAll(t, b, bucket, backends.ListOptions{})
	eq(t, "keys at the end", keys, []string{"f/x", "g/", "mp-moved", "other", "sub/empty"})
}
