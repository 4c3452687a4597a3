package gcs

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/backendtest"
	"github.com/strata-storage/strata/gateway/stack/stacktest"
)

// testChunk is small, so that the suite's larger objects and parts go
// through staging and copy, and its small ones in one request.
const testChunk = 256 << 10

func newTestBackend(t testing.TB, chunk int) (*Backend, *fakestorage.Server) {
	t.Helper()
	f := newFake(t)
	b, err := New(context.Background(), Config{Project: "strata-test", Endpoint: f.endpoint, ChunkSize: chunk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, f.srv
}

func TestSuite(t *testing.T) {
	b, _ := newTestBackend(t, testChunk)
	backendtest.Run(t, func(t *testing.T) backends.Backend { return b })
}

// The data services (encryption, lock, versioning, bitrot) over GCS.
func TestSuiteDataServices(t *testing.T) {
	b, _ := newTestBackend(t, testChunk)
	stacktest.Run(t, func(t *testing.T) backends.Backend { return b })
}

func TestSuiteDefaultChunk(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	b, _ := newTestBackend(t, 0)
	backendtest.Run(t, func(t *testing.T) backends.Backend { return b })
}

func md5hex(p []byte) string {
	s := md5.Sum(p)
	return hex.EncodeToString(s[:])
}

func newBucket(t *testing.T, b *Backend) string {
	t.Helper()
	name := "gcs-" + newID()[:12]
	if err := b.CreateBucket(t.Context(), name); err != nil {
		t.Fatal(err)
	}
	return name
}

// put stores data with its MD5 as ETag, as the gateway would.
func put(t *testing.T, b *Backend, bucket, key string, data []byte, m backends.Meta, opts backends.PutOptions) (backends.ObjectInfo, error) {
	t.Helper()
	m.ETag = md5hex(data)
	opts.Meta = &m
	return b.PutObject(t.Context(), bucket, key, bytes.NewReader(data), opts)
}

func get(t *testing.T, b *Backend, bucket, key string) ([]byte, backends.ObjectInfo) {
	t.Helper()
	rc, info, err := b.GetObject(t.Context(), bucket, key, nil)
	if err != nil {
		t.Fatalf("GetObject(%s): %v", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return data, info
}

// sysNames lists the reserved objects of a bucket.
func sysNames(t *testing.T, srv *fakestorage.Server, bucket string) []string {
	t.Helper()
	objs, _, err := srv.ListObjectsWithOptions(bucket, fakestorage.ListOptions{Prefix: sysPrefix})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs {
		names = append(names, o.Name)
	}
	return names
}

func multipartETag(etags ...string) string {
	h := md5.New()
	for _, e := range etags {
		p, _ := hex.DecodeString(e)
		h.Write(p)
	}
	return fmt.Sprintf("%s-%d", hex.EncodeToString(h.Sum(nil)), len(etags))
}

// completeParts uploads n small parts and completes the upload.
func completeParts(t *testing.T, b *Backend, bucket, key string, n int, meta backends.Meta) ([]byte, backends.ObjectInfo) {
	t.Helper()
	ctx := t.Context()
	id, err := b.CreateMultipartUpload(ctx, bucket, key, meta)
	if err != nil {
		t.Fatal(err)
	}
	var all []byte
	var etags []string
	var parts []backends.PartInfo
	var nums []int
	for i := 1; i <= n; i++ {
		data := fmt.Appendf(nil, "<part %d of %s>", i, key)
		all = append(all, data...)
		m := &backends.Meta{ETag: md5hex(data), Checksums: map[string]string{"CRC32": "AAAAAA=="}}
		p, err := b.UploadPart(ctx, bucket, key, id, i, bytes.NewReader(data), m)
		if err != nil {
			t.Fatalf("UploadPart(%d): %v", i, err)
		}
		etags = append(etags, p.ETag)
		parts = append(parts, p)
		nums = append(nums, i)
	}
	meta.ETag = multipartETag(etags...)
	meta.Parts = parts
	info, err := b.CompleteMultipartUpload(ctx, bucket, key, id, nums, backends.PutOptions{Meta: &meta})
	if err != nil {
		t.Fatalf("CompleteMultipartUpload(%d parts): %v", n, err)
	}
	if info.ETag != meta.ETag || info.Size != int64(len(all)) {
		t.Fatalf("CompleteMultipartUpload: %+v", info)
	}
	return all, info
}

// More parts than one compose takes: composed in a tree.
func TestComposeTree(t *testing.T) {
	b, srv := newTestBackend(t, testChunk)
	ctx := t.Context()
	bucket := newBucket(t, b)
	// An object in the way, with other headers, is replaced whole.
	if _, err := put(t, b, bucket, "big", []byte("old"), backends.Meta{ContentType: "text/old", ContentEncoding: "gzip", User: map[string]string{"old": "1"}}, backends.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 32, 33, 40, 32*32 + 1} {
		if n > 40 && testing.Short() {
			continue
		}
		key := "big"
		if n != 40 {
			key = fmt.Sprintf("parts-%d", n)
		}
		meta := backends.Meta{ContentType: "application/x-parts", User: map[string]string{"n": fmt.Sprint(n)}}
		want, info := completeParts(t, b, bucket, key, n, meta)
		got, g := get(t, b, bucket, key)
		if !bytes.Equal(got, want) {
			t.Fatalf("%d parts: read %d bytes, want %d", n, len(got), len(want))
		}
		if g.ETag != info.ETag || g.ContentType != "application/x-parts" || g.ContentEncoding != "" ||
			g.User["n"] != fmt.Sprint(n) || g.User["old"] != "" || len(g.Parts) != n || g.Parts[n-1].Number != n {
			t.Fatalf("%d parts: info %+v", n, g)
		}
		if !g.ModTime.Equal(info.ModTime) {
			t.Fatalf("%d parts: ModTime %v, Complete said %v", n, g.ModTime, info.ModTime)
		}
		// Nothing staged is left; many parts need a sidecar.
		names := sysNames(t, srv, bucket)
		if n <= 40 && len(names) != 0 || n > 40 && (len(names) != 1 || !strings.HasPrefix(names[0], sidePrefix)) {
			t.Fatalf("%d parts: left %q", n, names)
		}
		rc, _, err := b.GetObject(ctx, bucket, key, &backends.Range{Start: 3, End: 12})
		if err != nil {
			t.Fatal(err)
		}
		r, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(r, want[3:13]) {
			t.Fatalf("%d parts: range differs", n)
		}
	}
	// Deleting the object deletes its sidecar.
	for _, k := range []string{"big", "parts-1", "parts-32", "parts-33", "parts-1025"} {
		if err := b.DeleteObject(ctx, bucket, k); err != nil {
			t.Fatal(err)
		}
	}
	if names := sysNames(t, srv, bucket); len(names) != 0 {
		t.Fatalf("after deletes: %q", names)
	}
}

// Metadata that does not fit GCS's 8 KiB goes to a sidecar, also through
// UpdateMeta, and sidecars do not outlive their object.
func TestMetadataSidecar(t *testing.T) {
	b, srv := newTestBackend(t, testChunk)
	ctx := t.Context()
	bucket := newBucket(t, b)
	tags := map[string]string{}
	for i := range 10 {
		tags[fmt.Sprintf("tag-%d-%s", i, strings.Repeat("k", 100))] = strings.Repeat("v", 256)
	}
	meta := backends.Meta{ContentType: "text/plain", Tags: tags, User: map[string]string{"u": "1"},
		Checksums: map[string]string{"SHA256": strings.Repeat("A", 44)}, Expires: "Wed, 21 Oct 2037 07:28:00 GMT"}
	for i := range 80 {
		meta.Parts = append(meta.Parts, backends.PartInfo{Number: i + 1, Size: 5 << 20, ETag: md5hex([]byte{byte(i)}), ModTime: time.Now()})
	}
	data := []byte("sidecar")
	info, err := put(t, b, bucket, "s", data, meta, backends.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if names := sysNames(t, srv, bucket); len(names) != 1 {
		t.Fatalf("sidecars: %q", names)
	}
	h, err := b.HeadObject(ctx, bucket, "s")
	if err != nil {
		t.Fatal(err)
	}
	if h.ETag != md5hex(data) || len(h.Tags) != 10 || len(h.Parts) != 80 || h.User["u"] != "1" || h.Expires != meta.Expires ||
		h.Checksums["SHA256"] != meta.Checksums["SHA256"] || !h.ModTime.Equal(info.ModTime) {
		t.Fatalf("HeadObject: %+v", h)
	}
	res, err := b.ListObjects(ctx, bucket, backends.ListOptions{})
	if err != nil || len(res.Objects) != 1 || res.Objects[0].ETag != md5hex(data) {
		t.Fatalf("ListObjects: %+v %v", res, err)
	}
	// UpdateMeta to small metadata drops the sidecar, back to large makes one.
	if _, err := b.UpdateMeta(ctx, bucket, "s", backends.Meta{ContentType: "a/b"}); err != nil {
		t.Fatal(err)
	}
	if names := sysNames(t, srv, bucket); len(names) != 0 {
		t.Fatalf("after UpdateMeta: %q", names)
	}
	if _, err := b.UpdateMeta(ctx, bucket, "s", meta); err != nil {
		t.Fatal(err)
	}
	if h, _ := b.HeadObject(ctx, bucket, "s"); len(h.Tags) != 10 || len(h.Parts) != 80 || h.ETag != md5hex(data) {
		t.Fatalf("after UpdateMeta: %+v", h)
	}
	if err := b.DeleteObject(ctx, bucket, "s"); err != nil {
		t.Fatal(err)
	}
	if names := sysNames(t, srv, bucket); len(names) != 0 {
		t.Fatalf("after delete: %q", names)
	}
	// User metadata alone beyond what GCS holds is refused.
	huge := backends.Meta{User: map[string]string{"big": strings.Repeat("x", 9000)}}
	if _, err := put(t, b, bucket, "h", data, huge, backends.PutOptions{}); !backends.Is(err, backends.InvalidArgument) {
		t.Fatalf("huge user metadata: %v", err)
	}
}

// Objects put in the bucket with GCS's own client appear as they are.
func TestForeignObjects(t *testing.T) {
	b, _ := newTestBackend(t, testChunk)
	ctx := t.Context()
	bucket := newBucket(t, b)
	gc := b.client.Bucket(bucket)
	write := func(name string, data []byte, attrs storage.ObjectAttrs) {
		w := gc.Object(name).NewWriter(ctx)
		w.ObjectAttrs = attrs
		w.Name = name
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	data := []byte("written by someone else")
	write("foreign/a.txt", data, storage.ObjectAttrs{ContentType: "text/plain", CacheControl: "no-cache",
		ContentLanguage: "fr", Metadata: map[string]string{"Owner": "ops", "x-strata-odd": "kept"}})
	write("foreign/b.bin", []byte("b"), storage.ObjectAttrs{})

	h, err := b.HeadObject(ctx, bucket, "foreign/a.txt")
	if err != nil {
		t.Fatal(err)
	}
	if h.ETag != md5hex(data) || h.Size != int64(len(data)) || h.ContentType != "text/plain" || h.CacheControl != "no-cache" ||
		h.ContentLanguage != "fr" || h.User["owner"] != "ops" || len(h.User) != 1 || h.ModTime.IsZero() {
		t.Fatalf("HeadObject(foreign): %+v", h)
	}
	got, g := get(t, b, bucket, "foreign/a.txt")
	if !bytes.Equal(got, data) || g.ETag != h.ETag {
		t.Fatalf("GetObject(foreign): %q %+v", got, g)
	}
	res, err := b.ListObjects(ctx, bucket, backends.ListOptions{Prefix: "foreign/"})
	if err != nil || len(res.Objects) != 2 || res.Objects[0].ETag != md5hex(data) || res.Objects[1].ETag != md5hex([]byte("b")) {
		t.Fatalf("ListObjects: %+v, %v", res, err)
	}
	// Tagging a foreign object keeps its ETag and headers.
	m := h.Meta
	m.Tags = map[string]string{"t": "1"}
	if _, err := b.UpdateMeta(ctx, bucket, "foreign/a.txt", m); err != nil {
		t.Fatal(err)
	}
	if h2, _ := b.HeadObject(ctx, bucket, "foreign/a.txt"); h2.ETag != h.ETag || h2.Tags["t"] != "1" || h2.ContentType != "text/plain" || h2.User["owner"] != "ops" {
		t.Fatalf("after tagging: %+v", h2)
	}

	// What Strata writes is plain GCS to others: headers, user metadata
	// under its own name, the data.
	sdata := bytes.Repeat([]byte("strata "), 100000) // staged: larger than a chunk
	if _, err := put(t, b, bucket, "mine", sdata, backends.Meta{ContentType: "text/x-mine", ContentDisposition: "inline",
		User: map[string]string{"color": "blue", "x-strata-meta": "user's"}}, backends.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	a, err := gc.Object("mine").Attrs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a.ContentType != "text/x-mine" || a.ContentDisposition != "inline" || a.Metadata["color"] != "blue" || a.Size != int64(len(sdata)) {
		t.Fatalf("attrs of a Strata object: %+v", a)
	}
	r, err := gc.Object("mine").NewReader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	read, _ := io.ReadAll(r)
	r.Close()
	if !bytes.Equal(read, sdata) {
		t.Fatal("data read with the GCS client differs")
	}
	if h, _ := b.HeadObject(ctx, bucket, "mine"); h.User["x-strata-meta"] != "user's" || h.User["color"] != "blue" || len(h.User) != 2 {
		t.Fatalf("reserved user name: %+v", h.User)
	}
}

func TestForeignETag(t *testing.T) {
	sum := md5.Sum([]byte("x"))
	if e := foreignETag(&storage.ObjectAttrs{MD5: sum[:]}); e != md5hex([]byte("x")) {
		t.Fatalf("MD5 ETag: %s", e)
	}
	c := &storage.ObjectAttrs{Generation: 17, Size: 100, CRC32C: 0xdeadbeef, ComponentCount: 3}
	e := foreignETag(c)
	if !strings.HasSuffix(e, "-3") || len(e) != 34 || foreignETag(c) != e {
		t.Fatalf("composite ETag: %s", e)
	}
	c2 := *c
	c2.Generation++
	if foreignETag(&c2) == e {
		t.Fatal("a new generation has the same ETag")
	}
}

func TestConditionalStaged(t *testing.T) {
	b, _ := newTestBackend(t, testChunk)
	ctx := t.Context()
	bucket := newBucket(t, b)
	big := func(tag string) []byte { return bytes.Repeat([]byte(tag), 3*testChunk/len(tag)) }
	v1 := big("one")
	if _, err := put(t, b, bucket, "c", v1, backends.Meta{}, backends.PutOptions{IfNoneMatch: true}); err != nil {
		t.Fatal(err)
	}
	_, err := put(t, b, bucket, "c", big("two"), backends.Meta{}, backends.PutOptions{IfNoneMatch: true})
	if !backends.Is(err, backends.PreconditionFailed) {
		t.Fatalf("IfNoneMatch on existing: %v", err)
	}
	_, err = put(t, b, bucket, "c", big("two"), backends.Meta{}, backends.PutOptions{IfMatch: md5hex([]byte("x"))})
	if !backends.Is(err, backends.PreconditionFailed) {
		t.Fatalf("IfMatch wrong: %v", err)
	}
	// Writers that all see the same ETag: exactly one publishes.
	for round := range 5 {
		cur, _ := get(t, b, bucket, "c")
		var wg sync.WaitGroup
		var mu sync.Mutex
		var won []string
		for i := range 4 {
			wg.Go(func() {
				tag := fmt.Sprintf("<r%d w%d>", round, i)
				_, err := put(t, b, bucket, "c", big(tag), backends.Meta{}, backends.PutOptions{IfMatch: md5hex(cur)})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won = append(won, tag)
				case !backends.Is(err, backends.PreconditionFailed):
					t.Errorf("racing IfMatch: %v", err)
				}
			})
		}
		wg.Wait()
		if len(won) != 1 {
			t.Fatalf("round %d: %d writers won", round, len(won))
		}
		if got, info := get(t, b, bucket, "c"); !bytes.Equal(got, big(won[0])) || info.ETag != md5hex(got) {
			t.Fatalf("round %d: the object is not the winner's", round)
		}
	}
	// Nothing staged is left behind.
	it := b.client.Bucket(bucket).Objects(ctx, &storage.Query{Prefix: sysPrefix})
	if a, err := it.Next(); err != iterator.Done {
		t.Fatalf("left behind: %+v %v", a, err)
	}
}

// Listings never show the reserved folder, whatever the delimiter, and
// keys around its name sort as they should.
func TestListHidesReserved(t *testing.T) {
	b, _ := newTestBackend(t, testChunk)
	ctx := t.Context()
	bucket := newBucket(t, b)
	keys := []string{"-", ".a", ".strata.sys", ".strata.sysx", ".strata.t", ".t/x", "z"}
	for _, k := range keys {
		if _, err := put(t, b, bucket, k, []byte(k), backends.Meta{}, backends.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.PutBucketConfig(ctx, bucket, "cors", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateMultipartUpload(ctx, bucket, "up", backends.Meta{}); err != nil {
		t.Fatal(err)
	}
	if _, err := put(t, b, bucket, sysPrefix+"x", []byte("x"), backends.Meta{}, backends.PutOptions{}); !backends.Is(err, backends.InvalidKey) {
		t.Fatalf("PutObject(reserved): %v", err)
	}
	for _, tc := range []struct {
		opts           backends.ListOptions
		keys, prefixes []string
	}{
		{backends.ListOptions{}, keys, nil},
		{backends.ListOptions{Delimiter: "/"}, []string{"-", ".a", ".strata.sys", ".strata.sysx", ".strata.t", "z"}, []string{".t/"}},
		{backends.ListOptions{Prefix: ".strata"}, []string{".strata.sys", ".strata.sysx", ".strata.t"}, nil},
		{backends.ListOptions{Prefix: ".strata.sys/"}, nil, nil},
		{backends.ListOptions{Prefix: ".", Delimiter: "s"}, []string{".a", ".t/x"}, []string{".s"}},
		{backends.ListOptions{Marker: ".a"}, keys[2:], nil},
		{backends.ListOptions{Marker: ".strata.sys"}, keys[3:], nil},
	} {
		for _, max := range []int{1000, 1, 2} {
			opts := tc.opts
			opts.MaxKeys = max
			var gotKeys, gotPrefixes []string
			for {
				res, err := b.ListObjects(ctx, bucket, opts)
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range res.Objects {
					gotKeys = append(gotKeys, o.Key)
				}
				gotPrefixes = append(gotPrefixes, res.Prefixes...)
				if !res.IsTruncated {
					break
				}
				opts.Marker = res.NextMarker
			}
			if !slices.Equal(gotKeys, tc.keys) || !slices.Equal(gotPrefixes, tc.prefixes) {
				t.Fatalf("%+v: keys %q prefixes %q, want %q %q", opts, gotKeys, gotPrefixes, tc.keys, tc.prefixes)
			}
		}
	}
}

// UpdateMeta removes what the new metadata lacks, as GCS sees it too.
func TestUpdateMetaRemoves(t *testing.T) {
	b, _ := newTestBackend(t, testChunk)
	ctx := t.Context()
	bucket := newBucket(t, b)
	if _, err := put(t, b, bucket, "k", []byte("data"), backends.Meta{ContentType: "text/a", CacheControl: "max-age=1",
		User: map[string]string{"a": "1", "b": "2"}}, backends.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.UpdateMeta(ctx, bucket, "k", backends.Meta{ContentType: "text/b", User: map[string]string{"b": "3"}}); err != nil {
		t.Fatal(err)
	}
	a, err := b.client.Bucket(bucket).Object("k").Attrs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a.ContentType != "text/b" || a.CacheControl != "" || a.Metadata["b"] != "3" || len(a.Metadata) != 2 {
		t.Fatalf("attrs after UpdateMeta: %+v", a)
	}
	if _, err := b.UpdateMeta(ctx, bucket, "missing", backends.Meta{}); !backends.Is(err, backends.NoSuchKey) {
		t.Fatalf("UpdateMeta(missing): %v", err)
	}
}

func TestReadUpTo(t *testing.T) {
	for _, n := range []int{0, 1, 1000, 32 << 10, 100 << 10, 256 << 10, 256<<10 + 1, 1 << 20} {
		data := bytes.Repeat([]byte{7}, n)
		buf, eof, err := readUpTo(io.MultiReader(bytes.NewReader(data)), 256<<10+1)
		if err != nil {
			t.Fatal(err)
		}
		want := min(n, 256<<10+1)
		if len(buf) != want || eof != (n <= 256<<10) {
			t.Fatalf("n=%d: %d bytes, eof %v", n, len(buf), eof)
		}
	}
	boom := errors.New("boom")
	if _, _, err := readUpTo(io.MultiReader(bytes.NewReader(make([]byte, 10)), errReader{boom}), 100); !errors.Is(err, boom) {
		t.Fatalf("failing reader: %v", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestCheckKey(t *testing.T) {
	for _, k := range []string{".", "..", "a\rb", "a\nb", ".well-known/acme-challenge/x", sysPrefix + "x", sysPrefix} {
		if err := checkKey(k); !backends.Is(err, backends.InvalidKey) {
			t.Errorf("checkKey(%q): %v", k, err)
		}
	}
	for _, k := range []string{"a", "./a", "a/..", ".strata.sys", ".strata.sysx", "../x", "/abs"} {
		if err := checkKey(k); err != nil {
			t.Errorf("checkKey(%q): %v", k, err)
		}
	}
}

// Attribute selections that GCS does not know are dropped silently.
func TestAttrSelections(t *testing.T) {
	for _, sel := range [][]string{listAttrs, {"Name", "Generation"}, {"Name", "Size", "Created", "Generation", "Metadata"}, {"Name", "Metadata"}, {"Name"}} {
		if err := new(storage.Query).SetAttrSelection(sel); err != nil {
			t.Error(err)
		}
	}
}

func TestMapErr(t *testing.T) {
	for code, want := range map[int]backends.Kind{
		400: backends.InvalidArgument, 401: backends.AccessDenied, 403: backends.AccessDenied, 404: backends.NoSuchKey,
		409: backends.Conflict, 412: backends.PreconditionFailed, 416: backends.InvalidRange, 429: backends.SlowDown,
		500: backends.Unavailable, 503: backends.Unavailable, 418: backends.Internal,
	} {
		err := fmt.Errorf("wrapped: %w", &googleapi.Error{Code: code})
		if k := backends.KindOf(mapErr(err, backends.NoSuchKey, "x")); k != want {
			t.Errorf("HTTP %d: kind %d, want %d", code, k, want)
		}
	}
	if k := backends.KindOf(mapErr(storage.ErrBucketNotExist, backends.NoSuchKey, "x")); k != backends.NoSuchBucket {
		t.Errorf("ErrBucketNotExist: %d", k)
	}
	if k := backends.KindOf(mapErr(storage.ErrObjectNotExist, backends.NotFound, "x")); k != backends.NotFound {
		t.Errorf("ErrObjectNotExist: %d", k)
	}
	if err := mapErr(context.Canceled, backends.NoSuchKey, "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
}

// A service that is not there gives errors of kind Unavailable; one that
// stops in the middle of an upload leaves no object.
func TestUnavailable(t *testing.T) {
	dead, err := New(context.Background(), Config{Project: "p", Endpoint: "http://127.0.0.1:1/storage/v1/", Timeout: "2s"})
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	if _, err = dead.HeadObject(t.Context(), "bucket", "k"); !backends.Is(err, backends.Unavailable) {
		t.Fatalf("HeadObject against nothing: %v (kind %d)", err, backends.KindOf(err))
	}

	f := newFake(t)
	b, err := New(context.Background(), Config{Project: "p", Endpoint: f.endpoint, ChunkSize: testChunk, Timeout: "5s"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	bucket := newBucket(t, b)
	if _, err := put(t, b, bucket, "k", []byte("old"), backends.Meta{}, backends.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	stop := readerFunc(func([]byte) (int, error) {
		f.hs.Close()
		return 0, io.EOF
	})
	data := io.MultiReader(bytes.NewReader(make([]byte, 3*testChunk)), stop, bytes.NewReader(make([]byte, 3*testChunk)))
	m := &backends.Meta{ETag: "x"}
	if _, err := b.PutObject(t.Context(), bucket, "k", data, backends.PutOptions{Meta: m}); err == nil {
		t.Fatal("PutObject while the service stops: no error")
	}
	if o, err := f.srv.GetObject(bucket, "k"); err != nil || string(o.Content) != "old" {
		t.Fatalf("after the failed upload: %q, %v", o.Content, err)
	}
	objs, _, _ := f.srv.ListObjectsWithOptions(bucket, fakestorage.ListOptions{})
	if len(objs) != 1 {
		t.Fatalf("objects after the failed upload: %d", len(objs))
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// A failure of the data keeps its kind (the gateway's reader reports a bad
// digest at the end), and nothing is published, small or staged.
func TestReaderErrorKind(t *testing.T) {
	b, srv := newTestBackend(t, testChunk)
	bucket := newBucket(t, b)
	for _, n := range []int{10, 3 * testChunk} {
		bad := readerFunc(func([]byte) (int, error) { return 0, backends.Errorf(backends.BadDigest, "digest") })
		data := io.MultiReader(bytes.NewReader(make([]byte, n)), bad)
		_, err := b.PutObject(t.Context(), bucket, "k", data, backends.PutOptions{Meta: &backends.Meta{}})
		if !backends.Is(err, backends.BadDigest) {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if objs, _, _ := srv.ListObjectsWithOptions(bucket, fakestorage.ListOptions{}); len(objs) != 0 {
			t.Fatalf("%d bytes: %d objects after the failure", n, len(objs))
		}
	}
}

// Sys beside user metadata that leaves it no room goes to the sidecar;
// listings read it from there. Moves give the destination a sidecar of its
// own and remove the source's and the replaced object's.
func TestSysSidecar(t *testing.T) {
	b, srv := newTestBackend(t, testChunk)
	ctx := t.Context()
	bucket := newBucket(t, b)
	sys := map[string]string{"sse-key": strings.Repeat("K", 3000)}
	meta := backends.Meta{User: map[string]string{"big": strings.Repeat("u", 6000)}, Sys: sys}
	if _, err := put(t, b, bucket, "s", []byte("data"), meta, backends.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if names := sysNames(t, srv, bucket); len(names) != 1 {
		t.Fatalf("sidecars: %q", names)
	}
	res, err := b.ListObjects(ctx, bucket, backends.ListOptions{})
	if err != nil || len(res.Objects) != 1 || res.Objects[0].Sys["sse-key"] != sys["sse-key"] {
		t.Fatalf("ListObjects: %d objects, %v", len(res.Objects), err)
	}
	// Onto an object with a sidecar of its own.
	if _, err := put(t, b, bucket, "d", []byte("old"), meta, backends.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	before, _ := b.HeadObject(ctx, bucket, "s")
	if err := b.MoveObject(ctx, bucket, "s", "d"); err != nil {
		t.Fatal(err)
	}
	h, err := b.HeadObject(ctx, bucket, "d")
	if err != nil || h.Sys["sse-key"] != sys["sse-key"] || h.User["big"] != meta.User["big"] || h.ETag != before.ETag || !h.ModTime.Equal(before.ModTime) {
		t.Fatalf("moved: %v (ETag %s, was %s)", err, h.ETag, before.ETag)
	}
	if names := sysNames(t, srv, bucket); len(names) != 1 {
		t.Fatalf("sidecars after the move: %q", names)
	}
	if err := b.DeleteObject(ctx, bucket, "d"); err != nil {
		t.Fatal(err)
	}
	if names := sysNames(t, srv, bucket); len(names) != 0 {
		t.Fatalf("sidecars after the delete: %q", names)
	}
}
