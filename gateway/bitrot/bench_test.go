package bitrot

import (
	"bytes"
	"io"
	"testing"

	"github.com/strata-storage/strata/backends"
)

// The layer's cost on the data path: PUT and GET of 64 MiB over the dir
// backend, with the layer and without it (the reference).
const benchSize = 64 << 20

func benchBackends(b *testing.B) map[string]backends.Backend {
	d, _ := newDir(b)
	if err := d.CreateBucket(b.Context(), "bench"); err != nil {
		b.Fatal(err)
	}
	return map[string]backends.Backend{"dir": d, "bitrot": New(d, Options{Logger: quietLog()})}
}

func BenchmarkPut64MiB(b *testing.B) {
	data := randBytes(1, benchSize)
	for _, name := range []string{"dir", "bitrot"} {
		b.Run(name, func(b *testing.B) {
			be := benchBackends(b)[name]
			b.SetBytes(benchSize)
			for b.Loop() {
				m := &backends.Meta{ETag: "0123456789abcdef0123456789abcdef"}
				if _, err := be.PutObject(b.Context(), "bench", "obj", bytes.NewReader(data), backends.PutOptions{Meta: m}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkGet64MiB(b *testing.B) {
	data := randBytes(1, benchSize)
	for _, name := range []string{"dir", "bitrot"} {
		b.Run(name, func(b *testing.B) {
			bes := benchBackends(b)
			if _, err := bes["bitrot"].PutObject(b.Context(), "bench", "obj", bytes.NewReader(data), backends.PutOptions{Meta: &backends.Meta{}}); err != nil {
				b.Fatal(err)
			}
			be := bes[name]
			buf := make([]byte, 256<<10)
			b.SetBytes(benchSize)
			for b.Loop() {
				rc, _, err := be.GetObject(b.Context(), "bench", "obj", nil)
				if err != nil {
					b.Fatal(err)
				}
				// As s3api copies: through a plain reader into a buffer.
				if n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{rc}, buf); err != nil || n != benchSize {
					b.Fatal(n, err)
				}
				rc.Close()
			}
		})
	}
}
