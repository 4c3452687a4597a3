package smb

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/strata-storage/strata/backends"
)

// BenchmarkSMB puts and gets objects through the Store beside the raw
// throughput of the same client writing and reading files of the same
// size on the same share (the limit).
func BenchmarkSMB(b *testing.B) {
	srv := startSamba(b, "")
	ctx := context.Background()
	cfg := srv.config("bench")
	fsys, err := NewFS(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer fsys.Close()
	store, err := Open(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	if err := store.CreateBucket(ctx, "bench"); err != nil {
		b.Fatal(err)
	}
	// Reads go through a buffer the size s3api copies with.
	buf := make([]byte, 256<<10)
	seq := 0
	for _, size := range []int{1 << 20, 64 << 20} {
		data := bytes.Repeat([]byte("0123456789abcdef"), size/16)
		name := fmt.Sprintf("%dMiB", size>>20)
		b.Run("raw/PUT/"+name, func(b *testing.B) {
			b.SetBytes(int64(size))
			for i := 0; i < b.N; i++ {
				seq++
				w, err := fsys.Create(fmt.Sprintf("bench/raw-%d-%d", size, seq))
				if err != nil {
					b.Fatal("create: ", err)
				}
				if _, err := w.Write(data); err != nil {
					b.Fatal("write: ", err)
				}
				if err := w.Sync(); err != nil {
					b.Fatal("sync: ", err)
				}
				w.Close()
			}
		})
		b.Run("raw/GET/"+name, func(b *testing.B) {
			b.SetBytes(int64(size))
			for i := 0; i < b.N; i++ {
				f, err := fsys.Open(fmt.Sprintf("bench/raw-%d-%d", size, seq))
				if err != nil {
					b.Fatal(err)
				}
				if n, _ := io.CopyBuffer(struct{ io.Writer }{io.Discard}, f, buf); n != int64(size) {
					b.Fatalf("read %d", n)
				}
				f.Close()
			}
		})
		b.Run("store/PUT/"+name, func(b *testing.B) {
			b.SetBytes(int64(size))
			for i := 0; i < b.N; i++ {
				meta := backends.Meta{ETag: "e"}
				if _, err := store.PutObject(ctx, "bench", "obj-"+name, bytes.NewReader(data), backends.PutOptions{Meta: &meta}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("store/GET/"+name, func(b *testing.B) {
			b.SetBytes(int64(size))
			for i := 0; i < b.N; i++ {
				rc, _, err := store.GetObject(ctx, "bench", "obj-"+name, nil)
				if err != nil {
					b.Fatal(err)
				}
				if n, _ := io.CopyBuffer(struct{ io.Writer }{io.Discard}, rc, buf); n != int64(size) {
					b.Fatalf("read %d", n)
				}
				rc.Close()
			}
		})
	}
}
