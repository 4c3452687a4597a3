package bitrot

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/backendtest"
	"github.com/strata-storage/strata/backends/dir"
	"github.com/strata-storage/strata/erasure/erasuretest"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newDir returns a dir backend over a fresh temp dir, and the dir.
func newDir(t testing.TB) (backends.Backend, string) {
	root := t.TempDir()
	d, err := dir.Open(root, dir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, root
}

func TestSuiteDir(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		d, _ := newDir(t)
		return New(d, Options{Logger: quietLog()})
	})
}

// Small blocks: every multipart part and most objects of the suite have
// more than MaxInline hashes, so hash objects are used throughout.
func TestSuiteDirSmallBlocks(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		d, _ := newDir(t)
		return New(d, Options{BlockSize: 4096, Logger: quietLog()})
	})
}

// The same, over a backend that keeps PartInfo.Sys (as every file-system
// backend will): completion joins the parts' hashes without reading.
func TestSuiteDirKeptPartSys(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		d, _ := newDir(t)
		return New(d, Options{BlockSize: 4096, Logger: quietLog()})
	})
}

// verifying marks a backend as checking its own data.
type verifying struct{ backends.Backend }

func (verifying) VerifiesIntegrity(string) bool { return true }

func newErasure(t testing.TB) backends.Backend {
	s := erasuretest.Open(t)
	var b backends.Backend = s
	if !backends.VerifiesIntegrity(b, "any") {
		// Until the erasure store says so itself.
		b = verifying{s}
	}
	return b
}

func TestSuiteErasure(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		return New(newErasure(t), Options{BlockSize: 4096, Logger: quietLog()})
	})
}

// Over a backend that verifies itself the layer writes nothing of its own.
func TestErasurePassThrough(t *testing.T) {
	ctx := t.Context()
	inner := newErasure(t)
	l := New(inner, Options{BlockSize: 4096, Logger: quietLog()})
	l.CreateBucket(ctx, "bkt")
	data := randBytes(1, 100*4096)
	info := put(t, l, "bkt", "k", data)
	if hasRecord(info.Sys) {
		t.Fatalf("record written over erasure: %v", info.Sys)
	}
	got, _ := get(t, l, "bkt", "k", nil)
	if !bytes.Equal(got, data) {
		t.Fatal("data differs")
	}
	res, _ := inner.ListObjects(ctx, "bkt", backends.ListOptions{})
	if len(res.Objects) != 1 || len(res.Prefixes) != 0 {
		t.Fatalf("inner listing: %+v", res)
	}
	if _, err := l.Scan(ctx, "bkt", ScanOptions{}, nil); !backends.Is(err, backends.InvalidArgument) {
		t.Fatalf("Scan over erasure: %v", err)
	}
}

// ---- helpers ----

// keepPartSys is a backend that keeps PartInfo.Sys of uploads in memory,
// for a backend that does not persist it.
type partSysKeeper struct {
	backends.Backend
	mu  sync.Mutex
	sys map[string]map[string]string // uploadID/part -> Sys
}

func keepPartSys(b backends.Backend) *partSysKeeper {
	return &partSysKeeper{Backend: b, sys: map[string]map[string]string{}}
}

// partSysLoser is a backend that does not keep PartInfo.Sys (as the dir
// backend did before it learned to).
type partSysLoser struct{ backends.Backend }

func (l partSysLoser) UploadPart(ctx context.Context, bucket, key, id string, n int, data io.Reader, meta *backends.Meta) (backends.PartInfo, error) {
	p, err := l.Backend.UploadPart(ctx, bucket, key, id, n, data, meta)
	p.Sys = nil
	return p, err
}

func (l partSysLoser) ListParts(ctx context.Context, bucket, key, id string) (backends.Upload, []backends.PartInfo, error) {
	u, ps, err := l.Backend.ListParts(ctx, bucket, key, id)
	for i := range ps {
		ps[i].Sys = nil
	}
	return u, ps, err
}

func (k *partSysKeeper) UploadPart(ctx context.Context, bucket, key, id string, n int, data io.Reader, meta *backends.Meta) (backends.PartInfo, error) {
	p, err := k.Backend.UploadPart(ctx, bucket, key, id, n, data, meta)
	if err == nil && meta != nil {
		k.mu.Lock()
		k.sys[fmt.Sprintf("%s/%d", id, n)] = meta.Sys
		k.mu.Unlock()
		p.Sys = meta.Sys
	}
	return p, err
}

func (k *partSysKeeper) ListParts(ctx context.Context, bucket, key, id string) (backends.Upload, []backends.PartInfo, error) {
	u, ps, err := k.Backend.ListParts(ctx, bucket, key, id)
	k.mu.Lock()
	for i := range ps {
		ps[i].Sys = k.sys[fmt.Sprintf("%s/%d", id, ps[i].Number)]
	}
	k.mu.Unlock()
	return u, ps, err
}

func randBytes(seed byte, n int) []byte {
	b := make([]byte, n)
	x := uint32(seed)*2654435761 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func put(t testing.TB, b backends.Backend, bucket, key string, data []byte) backends.ObjectInfo {
	t.Helper()
	m := &backends.Meta{ETag: md5hex(data), Size: int64(len(data)), ContentType: "application/octet-stream"}
	info, err := b.PutObject(context.Background(), bucket, key, bytes.NewReader(data), backends.PutOptions{Meta: m})
	if err != nil {
		t.Fatalf("PutObject(%s): %v", key, err)
	}
	return info
}

// get reads an object; err is the error of GetObject or of reading.
func get(t testing.TB, b backends.Backend, bucket, key string, rng *backends.Range) ([]byte, error) {
	t.Helper()
	rc, _, err := b.GetObject(context.Background(), bucket, key, rng)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func wantCorrupt(t testing.TB, what string, got, want []byte, err error) {
	t.Helper()
	if !backends.Is(err, backends.Corrupt) {
		t.Fatalf("%s: err %v, want a Corrupt error", what, err)
	}
	// Whatever came before the error must be good bytes.
	if !bytes.HasPrefix(want, got) {
		t.Fatalf("%s: %d bytes returned before the error are not the object's", what, len(got))
	}
}

// flip changes one byte of a file, keeping its size and modification time
// (the way a failing disk changes data: the file system does not know).
func flip(t testing.TB, path string, off int64) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x5a
	if _, err := f.WriteAt(b[:], off); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
}

// hashObjects lists the hash objects of bucket below the layer.
func hashObjects(t testing.TB, inner backends.Backend, bucket string) []string {
	t.Helper()
	res, err := inner.ListObjects(context.Background(), bucket, backends.ListOptions{Prefix: Prefix, MaxKeys: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range res.Objects {
		keys = append(keys, strings.TrimPrefix(o.Key, Prefix))
	}
	return keys
}
