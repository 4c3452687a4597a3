//go:build linux

package mount

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
)

// TestBench measures the mount against direct S3 on the same local Strata:
// sequential write and read of a large file, ls -l of 10,000 files, and the
// rate of small-file creates. It runs with STRATA_MOUNT_BENCH=1 (make
// bench-mount); STRATA_MOUNT_BENCH_MIB sets the large file's size (default
// 1024).
// Read before TestMain clears the STRATA_ variables.
var (
	benchOn  = os.Getenv("STRATA_MOUNT_BENCH")
	benchMiB = os.Getenv("STRATA_MOUNT_BENCH_MIB")
)

func TestBench(t *testing.T) {
	if benchOn == "" {
		t.Skip("set STRATA_MOUNT_BENCH=1 (make bench-mount) to run the benchmark")
	}
	mib := 1024
	if v := benchMiB; v != "" {
		mib, _ = strconv.Atoi(v)
	}
	size := int64(mib) << 20
	s := startServer(t, "")
	b := s.bucket(t, "bench")
	c := s.S3(t)
	work := t.TempDir()
	src := filepath.Join(work, "src.bin")
	writeRandomFile(t, src, 42, size)
	rate := func(d time.Duration) float64 { return float64(size) / d.Seconds() / (1 << 20) }
	type row struct {
		what   string
		direct float64
		mount  float64
		unit   string
	}
	var rows []row

	// Sequential write: the SDK's upload manager (8 MiB parts, 4 at a
	// time, as the mount) against cp into the mount.
	up := manager.NewUploader(c, func(u *manager.Uploader) { u.PartSize = 8 << 20; u.Concurrency = 4 })
	putDirect := best(3, func() time.Duration {
		f, _ := os.Open(src)
		defer f.Close()
		start := time.Now()
		if _, err := up.Upload(ctx(t), &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("direct.bin"), Body: f}); err != nil {
			t.Fatalf("upload: %v", err)
		}
		return time.Since(start)
	})
	// The mount sends UNSIGNED-PAYLOAD with a CRC32 (no SHA-256 of the
	// body on either side); the same for the direct upload, to compare
	// like with like.
	upUnsigned := manager.NewUploader(s.S3(t, unsignedPayload), func(u *manager.Uploader) { u.PartSize = 8 << 20; u.Concurrency = 4 })
	putDirectUnsigned := best(3, func() time.Duration {
		f, _ := os.Open(src)
		defer f.Close()
		start := time.Now()
		if _, err := upUnsigned.Upload(ctx(t), &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("direct.bin"), Body: f}); err != nil {
			t.Fatalf("upload: %v", err)
		}
		return time.Since(start)
	})
	m := mountBucket(t, s, b)
	putMount := best(3, func() time.Duration {
		start := time.Now()
		sh(t, work, "cp src.bin "+m.path("mount.bin"))
		return time.Since(start)
	})
	rows = append(rows, row{fmt.Sprintf("sequential write %d MiB", mib), rate(putDirect), rate(putMount), "MiB/s"})
	rows = append(rows, row{"  against unsigned-payload upload", rate(putDirectUnsigned), rate(putMount), "MiB/s"})

	// Sequential read: one GET streamed against a read of a file that no
	// page cache holds (a fresh mount each time), each read in 1 MiB
	// reads (as dd bs=1M, and cp, which reads st_blksize: 1 MiB on the
	// mount) and in 8 KiB reads (io.Copy to io.Discard). Each read
	// through FUSE is a system call; small ones cost the mount more.
	for _, bs := range []int{1 << 20, 8 << 10} {
		getDirect := best(3, func() time.Duration {
			start := time.Now()
			out, err := c.GetObject(ctx(t), &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("direct.bin")})
			if err != nil {
				t.Fatal(err)
			}
			n, err := readAll(out.Body, bs)
			out.Body.Close()
			if err != nil || n != size {
				t.Fatalf("GET: %d bytes, %v", n, err)
			}
			return time.Since(start)
		})
		m.unmount()
		getMount := best(3, func() time.Duration {
			m = mountBucket(t, s, b)
			defer m.unmount()
			start := time.Now()
			f, err := os.Open(m.path("mount.bin"))
			if err != nil {
				t.Fatal(err)
			}
			n, err := readAll(f, bs)
			f.Close()
			if err != nil || n != size {
				t.Fatalf("read: %d bytes, %v", n, err)
			}
			return time.Since(start)
		})
		rows = append(rows, row{fmt.Sprintf("sequential read %d MiB (%s reads)", mib, map[int]string{1 << 20: "1 MiB", 8 << 10: "8 KiB"}[bs]), rate(getDirect), rate(getMount), "MiB/s"})
	}

	// ls -l of 10,000 files (laid out on the server's disk), against
	// listing them with ListObjectsV2.
	dir := filepath.Join(s.Dir, b, "many")
	os.MkdirAll(dir, 0o755)
	for i := range 10000 {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%05d", i)), []byte("x"), 0o644)
	}
	listDirect := best(3, func() time.Duration {
		start := time.Now()
		if n := len(keys(t, c, b, "many/")); n != 10000 {
			t.Fatalf("listed %d", n)
		}
		return time.Since(start)
	})
	var lsWarm time.Duration
	lsCold := best(3, func() time.Duration {
		m := mountBucket(t, s, b)
		defer m.unmount()
		start := time.Now()
		sh(t, m.Dir, "ls -l many > /dev/null")
		d := time.Since(start)
		start = time.Now()
		sh(t, m.Dir, "ls -l many > /dev/null")
		lsWarm = time.Since(start)
		return d
	})
	rows = append(rows, row{"ls -l of 10,000 files (cold)", listDirect.Seconds(), lsCold.Seconds(), "s"})
	rows = append(rows, row{"ls -l of 10,000 files (cached)", listDirect.Seconds(), lsWarm.Seconds(), "s"})

	// Small files: 1000 files of 4 KiB, one after the other (as tar
	// does) and from 8 writers.
	const nSmall = 1000
	small := randBytes(1, 4096)
	createRate := func(writers int, put func(i int)) float64 {
		start := time.Now()
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := w; i < nSmall; i += writers {
					put(i)
				}
			})
		}
		wg.Wait()
		return nSmall / time.Since(start).Seconds()
	}
	m = mountBucket(t, s, b)
	for _, writers := range []int{1, 8} {
		pfx := fmt.Sprintf("small%d", writers)
		os.Mkdir(m.path(pfx), 0o755)
		direct := createRate(writers, func(i int) {
			_, err := c.PutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String(b),
				Key: aws.String(fmt.Sprintf("direct%d/%04d", writers, i)), Body: bytes.NewReader(small)})
			if err != nil {
				t.Error(err)
			}
		})
		mount := createRate(writers, func(i int) {
			if err := os.WriteFile(m.path(pfx, fmt.Sprintf("%04d", i)), small, 0o644); err != nil {
				t.Error(err)
			}
		})
		rows = append(rows, row{fmt.Sprintf("create 4 KiB files, %d writer(s)", writers), direct, mount, "files/s"})
	}

	t.Logf("%-40s %12s %12s %8s", "", "direct S3", "mount", "mount/direct")
	for _, r := range rows {
		ratio := r.mount / r.direct
		if r.unit == "s" {
			ratio = r.direct / r.mount
		}
		t.Logf("%-40s %9.2f %-3s%9.2f %-3s %7.0f%%", r.what, r.direct, short(r.unit), r.mount, short(r.unit), ratio*100)
	}
}

// unsignedPayload makes a client send UNSIGNED-PAYLOAD, as the mount does.
// readAll reads r to its end in reads of bs bytes.
func readAll(r io.Reader, bs int) (int64, error) {
	buf := make([]byte, bs)
	var n int64
	for {
		m, err := r.Read(buf)
		n += int64(m)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

func unsignedPayload(o *s3.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		return st.Build.Add(middleware.BuildMiddlewareFunc("UnsignedPayload",
			func(c context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
				return next.HandleBuild(v4.SetPayloadHash(c, "UNSIGNED-PAYLOAD"), in)
			}), middleware.After)
	})
}

func short(unit string) string {
	switch unit {
	case "MiB/s":
		return "M/s"
	case "files/s":
		return "f/s"
	}
	return unit
}

// best runs f n times and returns its shortest time: the machine is shared.
func best(n int, f func() time.Duration) time.Duration {
	var b time.Duration
	for i := range n {
		if d := f(); i == 0 || d < b {
			b = d
		}
	}
	return b
}
