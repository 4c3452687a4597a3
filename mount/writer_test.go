//go:build linux

package mount

import (
	"bytes"
	"context"
	"io"
	"os"
	"sync/atomic"
	"testing"
)

// countStore counts the calls that store data.
type countStore struct {
	Store
	puts, parts, completes, aborts atomic.Int64
}

func (c *countStore) Put(ctx context.Context, key string, body io.ReadSeeker, size int64, meta Meta) (Object, error) {
	c.puts.Add(1)
	return c.Store.Put(ctx, key, body, size, meta)
}

func (c *countStore) UploadPart(ctx context.Context, key, id string, n int, body io.ReadSeeker, size int64) (string, error) {
	c.parts.Add(1)
	return c.Store.UploadPart(ctx, key, id, n, body, size)
}

func (c *countStore) CompleteMultipart(ctx context.Context, key, id string, parts []Part) (Object, error) {
	c.completes.Add(1)
	return c.Store.CompleteMultipart(ctx, key, id, parts)
}

func (c *countStore) AbortMultipart(ctx context.Context, key, id string) error {
	c.aborts.Add(1)
	return c.Store.AbortMultipart(ctx, key, id)
}

func newWriterFS(t *testing.T) (*FS, *countStore) {
	s, _ := newDirStore(t)
	cs := &countStore{Store: s}
	f, err := newFS(cs, Options{CacheDir: t.TempDir(), PartSize: 5 << 20, Uploads: 2})
	if err != nil {
		t.Fatal(err)
	}
	return f, cs
}

func TestStreamWriter(t *testing.T) {
	f, cs := newWriterFS(t)
	// Small: one PUT.
	w := newStreamWriter(f, "small", Meta{})
	w.write([]byte("hello "))
	w.write([]byte("world"))
	if o, err := w.finish(Meta{}); err != nil || o.Size != 11 {
		t.Fatalf("finish: %+v %v", o, err)
	}
	if cs.puts.Load() != 1 || cs.parts.Load() != 0 {
		t.Errorf("small file: %d puts, %d parts", cs.puts.Load(), cs.parts.Load())
	}
	if got := readAll(t, f.store, "small", 0, -1); string(got) != "hello world" {
		t.Errorf("small: %q", got)
	}
	// Large, in odd-sized writes: parts of 5 MiB while writing.
	data := randData(6, 17<<20+3)
	w = newStreamWriter(f, "large", Meta{})
	for off := 0; off < len(data); off += 100003 {
		if err := w.write(data[off:min(off+100003, len(data))]); err != nil {
			t.Fatal(err)
		}
	}
	// Parts go out while the file is written. With two uploads at a time
	// the third full part waits for a slot, so at least one upload has
	// begun (how many more depends on scheduling).
	if cs.parts.Load() < 1 {
		t.Errorf("no part started before finish")
	}
	if o, err := w.finish(Meta{}); err != nil || o.Size != int64(len(data)) {
		t.Fatalf("finish: %+v %v", o, err)
	}
	if cs.parts.Load() != 4 || cs.completes.Load() != 1 {
		t.Errorf("large file: %d parts, %d completes", cs.parts.Load(), cs.completes.Load())
	}
	if got := readAll(t, f.store, "large", 0, -1); !bytes.Equal(got, data) {
		t.Errorf("large file differs")
	}
	// Abort drops the upload.
	w = newStreamWriter(f, "dropped", Meta{})
	w.write(data[:6<<20])
	w.abort()
	if cs.aborts.Load() != 1 {
		t.Errorf("aborts: %d", cs.aborts.Load())
	}
	if _, err := f.store.Head(context.Background(), "dropped"); !notFound(err) {
		t.Errorf("dropped upload: %v", err)
	}
}

func TestUploadFile(t *testing.T) {
	f, cs := newWriterFS(t)
	data := randData(7, 12<<20+1)
	file, err := os.CreateTemp(t.TempDir(), "up")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	file.Write(data)
	o, err := f.uploadFile("up", file, int64(len(data)), Meta{})
	if err != nil || o.Size != int64(len(data)) {
		t.Fatalf("uploadFile: %+v %v", o, err)
	}
	if cs.parts.Load() != 3 {
		t.Errorf("%d parts for 12 MiB in 5 MiB parts", cs.parts.Load())
	}
	if got := readAll(t, f.store, "up", 0, -1); !bytes.Equal(got, data) {
		t.Errorf("uploaded file differs")
	}
	if _, err := f.uploadFile("small", file, 10, Meta{}); err != nil || cs.puts.Load() != 1 {
		t.Errorf("small upload: %v, %d puts", err, cs.puts.Load())
	}
}
