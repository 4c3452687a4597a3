package sse

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/backendtest"
	"github.com/strata-storage/strata/backends/dir"
	"github.com/strata-storage/strata/erasure/erasuretest"
	"github.com/strata-storage/strata/gateway"
	"github.com/strata-storage/strata/gateway/kms"
	"github.com/strata-storage/strata/gateway/sio"
)

// testKMS is a one-key KMS for the layer's tests; gateway/kms has the
// real ones.
type testKMS struct{ master []byte }

func newTestKMS() *testKMS {
	k := make([]byte, 32)
	rand.Read(k)
	return &testKMS{master: k}
}

func aad(keyID string, c kms.Context) []byte {
	b, _ := json.Marshal(c)
	return append([]byte(keyID+"\x00"), b...)
}

func (k *testKMS) GenerateKey(ctx context.Context, keyID string, c kms.Context) (kms.DataKey, error) {
	if keyID != "" && keyID != "test-key" && keyID != "other-key" {
		return kms.DataKey{}, kms.ErrKeyNotFound
	}
	if keyID == "" {
		keyID = "test-key"
	}
	p := make([]byte, 32)
	rand.Read(p)
	s, err := sio.Seal(k.master, p, aad(keyID, c))
	return kms.DataKey{KeyID: keyID, Plaintext: p, Sealed: s}, err
}

func (k *testKMS) Decrypt(ctx context.Context, keyID string, sealed []byte, c kms.Context) ([]byte, error) {
	p, err := sio.Unseal(k.master, sealed, aad(keyID, c))
	if err != nil {
		return nil, kms.ErrDecrypt
	}
	return p, nil
}
func (k *testKMS) CreateKey(context.Context, string) error    { return kms.ErrNotAllowed }
func (k *testKMS) ListKeys(context.Context) ([]string, error) { return []string{"test-key"}, nil }
func (k *testKMS) Status(context.Context) (kms.Status, error) { return kms.Status{Online: true}, nil }
func (k *testKMS) DefaultKey() string                         { return "test-key" }

func openDir(t *testing.T) (backends.Backend, string) {
	root := t.TempDir()
	d, err := dir.Open(root, dir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, root
}

func openErasure(t *testing.T) backends.Backend {
	s := erasuretest.Open(t)
	return s
}

// withSSE gives every call of the backend below the request options o, as
// s3api does per request.
type withSSE struct {
	backends.Backend
	o gateway.Options
}

func (w withSSE) ctx(ctx context.Context) context.Context {
	o := w.o
	return gateway.WithOptions(ctx, &o)
}
func (w withSSE) PutObject(ctx context.Context, b, k string, r io.Reader, opts backends.PutOptions) (backends.ObjectInfo, error) {
	return w.Backend.PutObject(w.ctx(ctx), b, k, r, opts)
}
func (w withSSE) GetObject(ctx context.Context, b, k string, rng *backends.Range) (io.ReadCloser, backends.ObjectInfo, error) {
	return w.Backend.GetObject(w.ctx(ctx), b, k, rng)
}
func (w withSSE) HeadObject(ctx context.Context, b, k string) (backends.ObjectInfo, error) {
	return w.Backend.HeadObject(w.ctx(ctx), b, k)
}
func (w withSSE) UpdateMeta(ctx context.Context, b, k string, m backends.Meta) (backends.ObjectInfo, error) {
	return w.Backend.UpdateMeta(w.ctx(ctx), b, k, m)
}
func (w withSSE) CreateMultipartUpload(ctx context.Context, b, k string, m backends.Meta) (string, error) {
	return w.Backend.CreateMultipartUpload(w.ctx(ctx), b, k, m)
}
func (w withSSE) UploadPart(ctx context.Context, b, k, id string, n int, r io.Reader, m *backends.Meta) (backends.PartInfo, error) {
	return w.Backend.UploadPart(w.ctx(ctx), b, k, id, n, r, m)
}
func (w withSSE) CompleteMultipartUpload(ctx context.Context, b, k, id string, parts []int, o backends.PutOptions) (backends.ObjectInfo, error) {
	return w.Backend.CompleteMultipartUpload(w.ctx(ctx), b, k, id, parts, o)
}

func customerKey() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}

// The layer is transparent: the backend suite passes with every object
// encrypted, over a directory and over the erasure store.
func TestSuiteAutoEncrypt(t *testing.T) {
	for _, c := range []sio.Cipher{sio.AES256GCM, sio.ChaCha20Poly1305} {
		t.Run("dir-"+c.String(), func(t *testing.T) {
			backendtest.Run(t, func(t *testing.T) backends.Backend {
				d, _ := openDir(t)
				return New(d, Options{KMS: newTestKMS(), AutoEncrypt: true, Cipher: c})
			})
		})
	}
	t.Run("erasure", func(t *testing.T) {
		backendtest.Run(t, func(t *testing.T) backends.Backend {
			return New(openErasure(t), Options{KMS: newTestKMS(), AutoEncrypt: true})
		})
	})
}

// ETags: the MD5 of the data for SSE-S3, as AWS answers; for SSE-KMS and
// SSE-C a value that does not reveal it, stable for the object, that
// conditional writes match.
func TestETags(t *testing.T) {
	d, _ := openDir(t)
	l := New(d, Options{KMS: newTestKMS()})
	ctx := context.Background()
	l.CreateBucket(ctx, "bkt")
	data := []byte("the same data")
	sum := md5.Sum(data)
	md5hex := hex.EncodeToString(sum[:])
	for _, o := range []gateway.Options{
		{SSE: &gateway.SSE{Type: gateway.SSES3}},
		{SSE: &gateway.SSE{Type: gateway.SSEKMS}},
		{SSE: &gateway.SSE{Type: gateway.SSEC, CustomerKey: customerKey()}},
	} {
		info := put(t, l, sseCtx(o), "bkt", "k", data)
		if (info.ETag == md5hex) != (o.SSE.Type == gateway.SSES3) || len(info.ETag) != 32 {
			t.Errorf("%s: ETag %s (MD5 %s)", o.SSE.Type, info.ETag, md5hex)
		}
		if h, err := l.HeadObject(sseCtx(o), "bkt", "k"); err != nil || h.ETag != info.ETag {
			t.Errorf("%s: HEAD ETag %s, PUT said %s (%v)", o.SSE.Type, h.ETag, info.ETag, err)
		}
		_, err := l.PutObject(sseCtx(o), "bkt", "k", bytes.NewReader(data), backends.PutOptions{Meta: &backends.Meta{}, IfMatch: info.ETag})
		if err != nil {
			t.Errorf("%s: If-Match with the ETag: %v", o.SSE.Type, err)
		}
	}
}

func put(t *testing.T, b backends.Backend, ctx context.Context, bucket, key string, data []byte) backends.ObjectInfo {
	t.Helper()
	h := md5.Sum(data)
	meta := &backends.Meta{}
	r := &etagReader{r: bytes.NewReader(data), meta: meta, etag: hex.EncodeToString(h[:])}
	info, err := b.PutObject(ctx, bucket, key, r, backends.PutOptions{Meta: meta})
	if err != nil {
		t.Fatalf("PutObject %s: %v", key, err)
	}
	return info
}

// etagReader sets the ETag at the end of the stream, as s3api does.
type etagReader struct {
	r    io.Reader
	meta *backends.Meta
	etag string
}

func (e *etagReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		e.meta.ETag = e.etag
	}
	return n, err
}

func get(ctx context.Context, b backends.Backend, bucket, key string, rng *backends.Range) ([]byte, backends.ObjectInfo, error) {
	r, info, err := b.GetObject(ctx, bucket, key, rng)
	if err != nil {
		return nil, info, err
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	return data, info, err
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func sseCtx(o gateway.Options) context.Context {
	return gateway.WithOptions(context.Background(), &o)
}

// Plaintext never reaches the disk; a changed byte, a truncation or a
// swap of two objects makes GET fail rather than return other data.
func TestOnDisk(t *testing.T) {
	d, root := openDir(t)
	l := New(d, Options{KMS: newTestKMS()})
	ctx := context.Background()
	if err := l.CreateBucket(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	marker := []byte("PLAINTEXT-MARKER-0123456789")
	data := bytes.Repeat(marker, 20000) // ~540 KiB
	ck := customerKey()
	kinds := map[string]gateway.Options{
		"s3":  {SSE: &gateway.SSE{Type: gateway.SSES3}},
		"kms": {SSE: &gateway.SSE{Type: gateway.SSEKMS}},
		"c":   {SSE: &gateway.SSE{Type: gateway.SSEC, CustomerKey: ck}},
	}
	for name, o := range kinds {
		put(t, l, sseCtx(o), "bkt", name, data)
	}
	filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, marker[:16]) {
			t.Errorf("plaintext found in %s", p)
		}
		return nil
	})

	for name, o := range kinds {
		got, info, err := get(sseCtx(o), l, "bkt", name, nil)
		if err != nil || !bytes.Equal(got, data) || info.Size != int64(len(data)) {
			t.Fatalf("%s: GET: %v, size %d", name, err, info.Size)
		}
	}

	// A flipped byte anywhere: the read fails.
	path := filepath.Join(root, "bkt", "s3")
	raw, _ := os.ReadFile(path)
	for _, off := range []int{0, 17, len(raw) / 2, len(raw) - 1} {
		bad := bytes.Clone(raw)
		bad[off] ^= 0x40
		writeKeepStamp(t, path, raw, bad)
		if _, _, err := get(sseCtx(kinds["s3"]), l, "bkt", "s3", nil); err == nil {
			t.Errorf("flip at %d: GET succeeded", off)
		}
	}
	writeKeepStamp(t, path, raw, raw)
	if _, _, err := get(sseCtx(kinds["s3"]), l, "bkt", "s3", nil); err != nil {
		t.Fatalf("restored: %v", err)
	}

	// SSE-C: no key, a wrong key.
	if _, _, err := get(context.Background(), l, "bkt", "c", nil); !backends.Is(err, backends.InvalidRequest) {
		t.Errorf("SSE-C without key: %v, want InvalidRequest", err)
	}
	wrong := gateway.Options{SSE: &gateway.SSE{Type: gateway.SSEC, CustomerKey: customerKey()}}
	if _, _, err := get(sseCtx(wrong), l, "bkt", "c", nil); !backends.Is(err, backends.AccessDenied) {
		t.Errorf("SSE-C wrong key: %v, want AccessDenied", err)
	}
	if _, err := l.HeadObject(sseCtx(wrong), "bkt", "c"); !backends.Is(err, backends.AccessDenied) {
		t.Errorf("HEAD SSE-C wrong key: %v, want AccessDenied", err)
	}
	if info, err := l.HeadObject(context.Background(), "bkt", "c"); err != nil || Describe(info.Meta).Type != gateway.SSEC || info.Size != int64(len(data)) {
		t.Errorf("HEAD SSE-C without key: %v %+v", err, Describe(info.Meta))
	}
	// A key sent for an object that is not SSE-C.
	if _, _, err := get(sseCtx(kinds["c"]), l, "bkt", "s3", nil); !backends.Is(err, backends.InvalidRequest) {
		t.Errorf("SSE-C key on SSE-S3 object: %v", err)
	}
}

// writeKeepStamp replaces a file's bytes and keeps its mtime, so the
// backend still takes its metadata record as valid.
func writeKeepStamp(t *testing.T, path string, orig, data []byte) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	os.Chtimes(path, fi.ModTime(), fi.ModTime())
}

// Objects moved to another key on disk do not decrypt there: keys are
// bound to bucket and key.
func TestSwap(t *testing.T) {
	d, root := openDir(t)
	l := New(d, Options{KMS: newTestKMS()})
	ctx := sseCtx(gateway.Options{SSE: &gateway.SSE{Type: gateway.SSES3}})
	l.CreateBucket(ctx, "bkt")
	put(t, l, ctx, "bkt", "a", randBytes(1000))
	put(t, l, ctx, "bkt", "b", randBytes(1000))
	// Move a's file (and its xattr record) over b.
	if err := os.Rename(filepath.Join(root, "bkt", "a"), filepath.Join(root, "bkt", "b")); err != nil {
		t.Fatal(err)
	}
	_, _, err := get(ctx, l, "bkt", "b", nil)
	if err == nil {
		// Sidecar mode keeps b's record, which does not fit a's file.
		t.Fatal("GET of a swapped object succeeded")
	}
}

// Range reads over single and multipart objects match the plaintext.
func TestRanges(t *testing.T) {
	for _, name := range []string{"dir", "erasure"} {
		t.Run(name, func(t *testing.T) {
			var inner backends.Backend
			if name == "dir" {
				inner, _ = openDir(t)
			} else {
				inner = openErasure(t)
			}
			ck := customerKey()
			for _, o := range []gateway.Options{
				{SSE: &gateway.SSE{Type: gateway.SSES3}},
				{SSE: &gateway.SSE{Type: gateway.SSEC, CustomerKey: ck}},
			} {
				l := New(inner, Options{KMS: newTestKMS()})
				ctx := sseCtx(o)
				bucket := backendtest.NewBucket(t, l)
				single := randBytes(3*sio.PayloadSize + 1234)
				put(t, l, ctx, bucket, "single", single)

				// Parts of uneven sizes (the backend does not check the
				// 5 MiB minimum; s3api does).
				sizes := []int{sio.PayloadSize + 5, 1, 2*sio.PayloadSize - 3, 777}
				id, err := l.CreateMultipartUpload(ctx, bucket, "multi", backends.Meta{})
				if err != nil {
					t.Fatal(err)
				}
				var whole []byte
				var nums []int
				for i, n := range sizes {
					p := randBytes(n)
					whole = append(whole, p...)
					h := md5.Sum(p)
					m := &backends.Meta{}
					pi, err := l.UploadPart(ctx, bucket, "multi", id, i+1, &etagReader{r: bytes.NewReader(p), meta: m, etag: hex.EncodeToString(h[:])}, m)
					if err != nil {
						t.Fatal(err)
					}
					if pi.Size != int64(n) {
						t.Fatalf("part %d size %d, want %d", i+1, pi.Size, n)
					}
					nums = append(nums, i+1)
				}
				_, parts, err := l.ListParts(ctx, bucket, "multi", id)
				if err != nil || len(parts) != len(sizes) || parts[2].Size != int64(sizes[2]) {
					t.Fatalf("ListParts: %v %+v", err, parts)
				}
				info, err := l.CompleteMultipartUpload(ctx, bucket, "multi", id, nums, backends.PutOptions{Meta: &backends.Meta{ETag: "x-4"}})
				if err != nil {
					t.Fatal(err)
				}
				if info.Size != int64(len(whole)) {
					t.Fatalf("completed size %d, want %d", info.Size, len(whole))
				}
				for key, data := range map[string][]byte{"single": single, "multi": whole} {
					n := int64(len(data))
					for _, r := range []backends.Range{
						{Start: 0, End: 0}, {Start: 0, End: -1}, {Start: n - 1, End: -1}, {Start: -1, End: -1},
						{Start: -int64(sio.PayloadSize) - 3, End: -1},
						{Start: sio.PayloadSize - 1, End: sio.PayloadSize},
						{Start: int64(sizes[0]) - 2, End: int64(sizes[0]) + 3},
						{Start: 10, End: n - 10}, {Start: n / 3, End: n / 2}, {Start: 5, End: n + 100},
					} {
						got, _, err := get(ctx, l, bucket, key, &r)
						off, ln, _ := r.Resolve(n)
						if err != nil || !bytes.Equal(got, data[off:off+ln]) {
							t.Errorf("%s %+v: %v, %d bytes, want %d", key, r, err, len(got), ln)
						}
					}
					if _, _, err := get(ctx, l, bucket, key, &backends.Range{Start: n, End: -1}); !backends.Is(err, backends.InvalidRange) {
						t.Errorf("%s: range past the end: %v", key, err)
					}
				}
				res, err := l.ListObjects(ctx, bucket, backends.ListOptions{MaxKeys: 10})
				if err != nil || len(res.Objects) != 2 || res.Objects[0].Size != int64(len(whole)) || res.Objects[1].Size != int64(len(single)) {
					t.Errorf("listing sizes: %v %+v", err, res.Objects)
				}
			}
		})
	}
}

func TestBucketDefault(t *testing.T) {
	d, _ := openDir(t)
	ctx := context.Background()
	doc := `<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>other-key</KMSMasterKeyID></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>`
	noKMS := New(d, Options{})
	noKMS.CreateBucket(ctx, "bkt")
	if err := noKMS.PutBucketConfig(ctx, "bkt", gateway.DocEncryption, []byte(doc)); !backends.Is(err, backends.NotImplemented) {
		t.Fatalf("default encryption without a KMS: %v", err)
	}
	if _, err := noKMS.PutObject(sseCtx(gateway.Options{SSE: &gateway.SSE{Type: gateway.SSES3}}), "bkt", "k", strings.NewReader("x"), backends.PutOptions{}); !backends.Is(err, backends.NotImplemented) {
		t.Fatalf("SSE-S3 without a KMS: %v", err)
	}
	l := New(d, Options{KMS: newTestKMS()})
	for _, bad := range []string{"<x", `<ServerSideEncryptionConfiguration></ServerSideEncryptionConfiguration>`,
		`<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>DES</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>`,
		`<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm><KMSMasterKeyID>k</KMSMasterKeyID></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>`} {
		if err := l.PutBucketConfig(ctx, "bkt", gateway.DocEncryption, []byte(bad)); !backends.Is(err, backends.InvalidArgument) {
			t.Errorf("%s: %v", bad, err)
		}
	}
	if err := l.PutBucketConfig(ctx, "bkt", gateway.DocEncryption, []byte(doc)); err != nil {
		t.Fatal(err)
	}
	put(t, l, ctx, "bkt", "k", []byte("hello"))
	info, err := l.HeadObject(ctx, "bkt", "k")
	if err != nil || Describe(info.Meta).Type != gateway.SSEKMS || Describe(info.Meta).KMSKeyID != "other-key" {
		t.Fatalf("default encryption: %v %+v", err, Describe(info.Meta))
	}
	// The request's own choice wins over the default.
	put(t, l, sseCtx(gateway.Options{SSE: &gateway.SSE{Type: gateway.SSES3}}), "bkt", "k2", []byte("hello"))
	if info, _ := l.HeadObject(ctx, "bkt", "k2"); Describe(info.Meta).Type != gateway.SSES3 {
		t.Fatalf("request over default: %+v", Describe(info.Meta))
	}
	// An unknown KMS key.
	_, err = l.PutObject(sseCtx(gateway.Options{SSE: &gateway.SSE{Type: gateway.SSEKMS, KMSKeyID: "nope"}}), "bkt", "k3", strings.NewReader("x"), backends.PutOptions{})
	if !backends.Is(err, backends.InvalidArgument) {
		t.Fatalf("unknown key: %v", err)
	}
	// Same-key metadata changes keep the encryption.
	if _, err := l.UpdateMeta(ctx, "bkt", "k", backends.Meta{User: map[string]string{"a": "b"}}); err != nil {
		t.Fatal(err)
	}
	if got, _, err := get(ctx, l, "bkt", "k", nil); err != nil || string(got) != "hello" {
		t.Fatalf("after UpdateMeta: %v %q", err, got)
	}
}

func benchPutGet(b *testing.B, l backends.Backend, ctx context.Context) {
	const size = 64 << 20
	data := randBytes(size)
	l.CreateBucket(ctx, "bench")
	b.Run("PUT64MiB", func(b *testing.B) {
		b.SetBytes(size)
		for i := 0; i < b.N; i++ {
			if _, err := l.PutObject(ctx, "bench", "obj", bytes.NewReader(data), backends.PutOptions{Meta: &backends.Meta{}}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GET64MiB", func(b *testing.B) {
		b.SetBytes(size)
		for i := 0; i < b.N; i++ {
			r, _, err := l.GetObject(ctx, "bench", "obj", nil)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, r)
			r.Close()
		}
	})
}

func openBenchDir(b *testing.B) backends.Backend {
	d, err := dir.Open(b.TempDir(), dir.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	return d
}

// BenchmarkDir compares the dir backend without and with encryption.
func BenchmarkDir(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchPutGet(b, openBenchDir(b), context.Background()) })
	for _, c := range []sio.Cipher{sio.AES256GCM, sio.ChaCha20Poly1305} {
		b.Run("sse-s3-"+c.String(), func(b *testing.B) {
			benchPutGet(b, New(openBenchDir(b), Options{KMS: newTestKMS(), AutoEncrypt: true, Cipher: c}), context.Background())
		})
	}
}

// Long reads decrypt batches of packages in parallel: the bytes, ranges,
// multipart streams and damage are handled as on the one-by-one path.
func TestParallelDecrypt(t *testing.T) {
	d, root := openDir(t)
	l := New(d, Options{KMS: newTestKMS()})
	ctx := sseCtx(gateway.Options{SSE: &gateway.SSE{Type: gateway.SSES3}})
	l.CreateBucket(ctx, "bkt")
	data := randBytes(7<<20 + 123)
	put(t, l, ctx, "bkt", "big", data)
	n := int64(len(data))
	for _, r := range []*backends.Range{nil, {Start: 0, End: n - 2}, {Start: 1 << 20, End: 5<<20 + 7}, {Start: 3, End: -1}, {Start: -(4 << 20), End: -1}} {
		got, _, err := get(ctx, l, "bkt", "big", r)
		off, ln, _ := r.Resolve(n)
		if err != nil || !bytes.Equal(got, data[off:off+ln]) {
			t.Fatalf("%+v: %v (%d bytes, want %d)", r, err, len(got), ln)
		}
	}
	// Multipart: two parts long enough for batches.
	id, err := l.CreateMultipartUpload(ctx, "bkt", "mp", backends.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	p1, p2 := randBytes(4<<20+5), randBytes(3<<20+77)
	for i, p := range [][]byte{p1, p2} {
		m := &backends.Meta{}
		if _, err := l.UploadPart(ctx, "bkt", "mp", id, i+1, &etagReader{r: bytes.NewReader(p), meta: m, etag: "e"}, m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.CompleteMultipartUpload(ctx, "bkt", "mp", id, []int{1, 2}, backends.PutOptions{Meta: &backends.Meta{}}); err != nil {
		t.Fatal(err)
	}
	whole := append(bytes.Clone(p1), p2...)
	got, _, err := get(ctx, l, "bkt", "mp", nil)
	if err != nil || !bytes.Equal(got, whole) {
		t.Fatalf("multipart: %v", err)
	}
	got, _, err = get(ctx, l, "bkt", "mp", &backends.Range{Start: 100, End: int64(len(whole)) - 100})
	if err != nil || !bytes.Equal(got, whole[100:len(whole)-99]) {
		t.Fatalf("multipart range: %v", err)
	}

	// A byte changed deep in the object: the read fails there.
	path := filepath.Join(root, "bkt", "big")
	raw, _ := os.ReadFile(path)
	bad := bytes.Clone(raw)
	bad[5<<20] ^= 1
	writeKeepStamp(t, path, raw, bad)
	r, _, err := l.GetObject(ctx, "bkt", "big", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err = io.ReadAll(r)
	r.Close()
	if err == nil || len(got) > 5<<20 {
		t.Fatalf("damaged object: %d bytes, %v", len(got), err)
	}
	// Closing a reader in the middle stops its goroutines.
	writeKeepStamp(t, path, bad, raw)
	for range 20 {
		r, _, err := l.GetObject(ctx, "bkt", "big", nil)
		if err != nil {
			t.Fatal(err)
		}
		io.CopyN(io.Discard, r, 1<<20)
		r.Close()
	}
}

// A part of an upload started with a customer key needs that key: without
// one, or with another, it is InvalidRequest (400), not a refused read.
func TestUploadPartCustomerKeyMismatch(t *testing.T) {
	d, _ := openDir(t)
	l := New(d, Options{KMS: newTestKMS()})
	ck := customerKey()
	ctx := sseCtx(gateway.Options{SSE: &gateway.SSE{Type: gateway.SSEC, CustomerKey: ck}})
	bucket := backendtest.NewBucket(t, l)
	id, err := l.CreateMultipartUpload(ctx, bucket, "mp", backends.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	for name, pctx := range map[string]context.Context{
		"another key": sseCtx(gateway.Options{SSE: &gateway.SSE{Type: gateway.SSEC, CustomerKey: customerKey()}}),
		"no key":      sseCtx(gateway.Options{}),
	} {
		m := &backends.Meta{}
		_, err := l.UploadPart(pctx, bucket, "mp", id, 1, &etagReader{r: bytes.NewReader([]byte("part")), meta: m, etag: "e"}, m)
		if !backends.Is(err, backends.InvalidRequest) {
			t.Errorf("UploadPart with %s: %v", name, err)
		}
	}
	m := &backends.Meta{}
	if _, err := l.UploadPart(ctx, bucket, "mp", id, 1, &etagReader{r: bytes.NewReader([]byte("part")), meta: m, etag: "e"}, m); err != nil {
		t.Fatalf("UploadPart with the upload's key: %v", err)
	}
}
