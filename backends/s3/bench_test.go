package s3

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/strata-storage/strata/backends"
)

// The benchmarks run against Strata's own S3 server over a temp dir, as the
// backend (through Strata) and directly with the SDK (the reference: the
// same work without this backend).

var benchSizes = []int{64 << 10, 4 << 20, 32 << 20}

func BenchmarkPut(b *testing.B) {
	be := newBackend(b, strataServer(b).cfg)
	bucket := benchBucket(b, be)
	for _, size := range benchSizes {
		data := randBytes(size)
		b.Run(fmt.Sprintf("backend/%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				m := backends.Meta{}
				if _, err := be.PutObject(b.Context(), bucket, "k", bytes.NewReader(data), backends.PutOptions{Meta: &m}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("sdk/%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := be.Client().PutObject(b.Context(), &s3sdk.PutObjectInput{
					Bucket: &bucket, Key: aws.String("k"), Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(size)),
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkGet(b *testing.B) {
	be := newBackend(b, strataServer(b).cfg)
	bucket := benchBucket(b, be)
	for _, size := range benchSizes {
		key := fmt.Sprint(size)
		m := backends.Meta{}
		if _, err := be.PutObject(b.Context(), bucket, key, bytes.NewReader(randBytes(size)), backends.PutOptions{Meta: &m}); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("backend/%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				rc, _, err := be.GetObject(b.Context(), bucket, key, nil)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, rc)
				rc.Close()
			}
		})
		b.Run(fmt.Sprintf("sdk/%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				out, err := be.Client().GetObject(b.Context(), &s3sdk.GetObjectInput{Bucket: &bucket, Key: &key})
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, out.Body)
				out.Body.Close()
			}
		})
	}
}

func benchBucket(b *testing.B, be *Backend) string {
	name := "bench-" + fmt.Sprint(b.N)
	if err := be.CreateBucket(b.Context(), name); err != nil && !backends.Is(err, backends.BucketExists) {
		b.Fatal(err)
	}
	return name
}
