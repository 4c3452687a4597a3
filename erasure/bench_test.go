package erasure

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/klauspost/reedsolomon"
	"github.com/minio/highwayhash"
	"github.com/strata-storage/strata/backends"
)

const benchSize = 64 << 20

func BenchmarkPut64MiB(b *testing.B) {
	s, _ := newStore(b, 4, Options{Parity: 2, NoSync: true})
	s.CreateBucket(b.Context(), "bench")
	data := rnd(benchSize)
	b.SetBytes(benchSize)
	b.ResetTimer()
	for range b.N {
		if _, err := s.PutObject(b.Context(), "bench", "obj", bytes.NewReader(data), backends.PutOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGet64MiB(b *testing.B) { benchGet(b, benchSize) }

// benchGet reads an object of size bytes again and again.
func benchGet(b *testing.B, size int) {
	s, _ := newStore(b, 4, Options{Parity: 2, NoSync: true})
	s.CreateBucket(b.Context(), "bench")
	if _, err := s.PutObject(b.Context(), "bench", "obj", bytes.NewReader(rnd(size)), backends.PutOptions{}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(size))
	b.ResetTimer()
	for range b.N {
		rc, _, err := s.GetObject(b.Context(), "bench", "obj", nil)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, rc)
		rc.Close()
	}
}

// Small objects are inline in meta.json: a PUT is a read of the key's
// list, a write of meta.json on each drive and a rename; versioned or
// not, the same list is rewritten. Keys cycle over 1,000 so that most
// PUTs replace an object.
func BenchmarkPut4KiB(b *testing.B) {
	s, _ := newStore(b, 4, Options{Parity: 2, NoSync: true})
	s.CreateBucket(b.Context(), "bench")
	data := rnd(4 << 10)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := range b.N {
		key := fmt.Sprintf("obj-%03d", i%1000)
		if _, err := s.PutObject(b.Context(), "bench", key, bytes.NewReader(data), backends.PutOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGet4KiB(b *testing.B) { benchGet(b, 4<<10) }

// BenchmarkRawEncodeHash is the limit: Reed-Solomon 2+2 encoding and
// HighwayHash-256 of every shard of 1 MiB blocks, in memory.
func BenchmarkRawEncodeHash(b *testing.B) {
	enc, _ := reedsolomon.New(2, 2)
	data := rnd(1 << 20)
	shards, _ := enc.Split(data)
	b.SetBytes(1 << 20)
	b.ResetTimer()
	for range b.N {
		enc.Encode(shards)
		for _, sh := range shards {
			highwayhash.Sum(sh, hashKey)
		}
	}
}

func BenchmarkRawEncode(b *testing.B) {
	enc, _ := reedsolomon.New(2, 2)
	shards, _ := enc.Split(rnd(1 << 20))
	b.SetBytes(1 << 20)
	b.ResetTimer()
	for range b.N {
		enc.Encode(shards)
	}
}
