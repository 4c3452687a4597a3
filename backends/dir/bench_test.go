package dir

import (
	"bytes"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-storage/strata/backends"
)

var benchSizes = []struct {
	name string
	size int
}{{"1MiB", 1 << 20}, {"64MiB", 64 << 20}}

func benchStore(b *testing.B, noXattrs bool) backends.Backend {
	root := b.TempDir()
	s, err := Open(root, Options{NoXattrs: noXattrs})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if err := s.CreateBucket(b.Context(), "bench"); err != nil {
		b.Fatal(err)
	}
	return s
}

func BenchmarkPutObject(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			s := benchStore(b, false)
			data := make([]byte, sz.size)
			rand.Read(data)
			b.SetBytes(int64(sz.size))
			for b.Loop() {
				meta := &backends.Meta{ETag: "0123456789abcdef0123456789abcdef"}
				if _, err := s.PutObject(b.Context(), "bench", "dir/obj", bytes.NewReader(data), backends.PutOptions{Meta: meta}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkGetObject(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			s := benchStore(b, false)
			data := make([]byte, sz.size)
			rand.Read(data)
			if _, err := s.PutObject(b.Context(), "bench", "dir/obj", bytes.NewReader(data), backends.PutOptions{Meta: &backends.Meta{}}); err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 256<<10)
			b.SetBytes(int64(sz.size))
			for b.Loop() {
				rc, _, err := s.GetObject(b.Context(), "bench", "dir/obj", nil)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{rc}, buf); err != nil {
					b.Fatal(err)
				}
				rc.Close()
			}
		})
	}
}

// The same work without Strata, as a reference point: write a temp file,
// fsync, rename; read a file.
func BenchmarkRawWriteFsyncRename(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			dir := b.TempDir()
			data := make([]byte, sz.size)
			rand.Read(data)
			b.SetBytes(int64(sz.size))
			for b.Loop() {
				tmp := filepath.Join(dir, "tmp")
				f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
				if err != nil {
					b.Fatal(err)
				}
				for off := 0; off < len(data); off += 256 << 10 {
					f.Write(data[off:min(off+256<<10, len(data))])
				}
				f.Sync()
				f.Close()
				if err := os.Rename(tmp, filepath.Join(dir, "obj")); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRawRead(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			p := filepath.Join(b.TempDir(), "obj")
			data := make([]byte, sz.size)
			rand.Read(data)
			os.WriteFile(p, data, 0o644)
			buf := make([]byte, 256<<10)
			b.SetBytes(int64(sz.size))
			for b.Loop() {
				f, err := os.Open(p)
				if err != nil {
					b.Fatal(err)
				}
				io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{f}, buf)
				f.Close()
			}
		})
	}
}

// BenchmarkListObjects lists a page of 1000 objects, with and without a
// Sys of 200 bytes each: Sys comes with the record that listing reads
// anyway (xattr or sidecar), so it costs no read of its own.
func BenchmarkListObjects(b *testing.B) {
	for _, mode := range []struct {
		name string
		noX  bool
	}{{"xattrs", false}, {"sidecars", true}} {
		for _, withSys := range []bool{false, true} {
			name := mode.name + "/no-sys"
			if withSys {
				name = mode.name + "/sys"
			}
			b.Run(name, func(b *testing.B) {
				s := benchStore(b, mode.noX)
				for i := range 1000 {
					meta := &backends.Meta{ETag: "0123456789abcdef0123456789abcdef", ContentType: "text/plain"}
					if withSys {
						meta.Sys = map[string]string{"sse-key": string(bytes.Repeat([]byte("k"), 180)), "ver-id": "v"}
					}
					key := "d" + string(rune('a'+i%10)) + "/obj" + string(rune('a'+i/100%10)) + string(rune('a'+i%100/10)) + string(rune('a'+i%10))
					if _, err := s.PutObject(b.Context(), "bench", key, bytes.NewReader([]byte("x")), backends.PutOptions{Meta: meta}); err != nil {
						b.Fatal(err)
					}
				}
				for b.Loop() {
					res, err := s.ListObjects(b.Context(), "bench", backends.ListOptions{MaxKeys: 1000})
					if err != nil || len(res.Objects) != 1000 {
						b.Fatalf("%d objects, %v", len(res.Objects), err)
					}
				}
			})
		}
	}
}

// BenchmarkCompleteMultipart joins 32 parts of 8 MiB (256 MiB): inside
// the kernel (copy_file_range) where the tree's file system allows it,
// else through a buffer. Only the complete is timed.
func BenchmarkCompleteMultipart(b *testing.B) {
	const parts, partSize = 32, 8 << 20
	s := benchStore(b, false)
	data := make([]byte, partSize)
	rand.Read(data)
	b.SetBytes(parts * partSize)
	for b.Loop() {
		b.StopTimer()
		id, err := s.CreateMultipartUpload(b.Context(), "bench", "mp", backends.Meta{})
		if err != nil {
			b.Fatal(err)
		}
		nums := make([]int, parts)
		for i := range nums {
			nums[i] = i + 1
			if _, err := s.UploadPart(b.Context(), "bench", "mp", id, i+1, bytes.NewReader(data), &backends.Meta{ETag: "0123456789abcdef0123456789abcdef"}); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if _, err := s.CompleteMultipartUpload(b.Context(), "bench", "mp", id, nums, backends.PutOptions{Meta: &backends.Meta{ETag: "0123456789abcdef0123456789abcdef-32"}}); err != nil {
			b.Fatal(err)
		}
	}
}
