package e2e

import (
	"bufio"
	"fmt"
	"hash"
	"hash/crc64"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

const (
	memObjectSize = 4 << 30   // the object: 4 GiB, generated, never on disk client-side
	memPartSize   = 64 << 20  // multipart part size
	memLimit      = 256 << 20 // the server's peak RSS must stay below this
)

// genReader yields size deterministic bytes: a 1 MiB random block whose
// first 8 bytes carry the block number, so no two MiBs are alike. It hashes
// what it yields.
type genReader struct {
	block     []byte
	off       int   // offset in block
	n         int64 // block number
	remaining int64
	sum       hash.Hash64
}

func newGenReader(size int64) *genReader {
	g := &genReader{block: randBytes(4, 1<<20), remaining: size, sum: crc64.New(crc64.MakeTable(crc64.ECMA))}
	g.stamp()
	return g
}

func (g *genReader) stamp() {
	for i := range 8 {
		g.block[i] = byte(g.n >> (8 * i))
	}
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.remaining == 0 {
		return 0, io.EOF
	}
	if g.off == len(g.block) {
		g.n++
		g.off = 0
		g.stamp()
	}
	n := copy(p, g.block[g.off:])
	n = int(min(int64(n), g.remaining))
	g.sum.Write(p[:n])
	g.off += n
	g.remaining -= int64(n)
	return n, nil
}

// procStatus reads a "kB" field such as VmHWM from /proc/PID/status, in bytes.
func procStatus(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("%s: unexpected %q", field, rest)
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		return kb << 10, err
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// TestMemory4GiB uploads and downloads a 4 GiB object and checks that the
// server's peak resident memory (VmHWM) stays under 256 MiB: objects are
// streams, never held whole.
func TestMemory4GiB(t *testing.T) {
	s := startServer(t)
	c := s.S3(t)
	ctx := ctxT(t)
	b := newBucket(t, c)
	const key = "huge/4gib.bin"

	before, err := procStatus(s.Pid(), "VmHWM")
	must(t, err, "reading VmHWM")

	src := newGenReader(memObjectSize)
	up := manager.NewUploader(c, func(u *manager.Uploader) {
		u.PartSize = memPartSize
		u.Concurrency = 2
	})
	start := time.Now()
	out, err := up.Upload(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String(key), Body: src})
	must(t, err, "uploading 4 GiB")
	upTime := time.Since(start)
	afterUp, err := procStatus(s.Pid(), "VmHWM")
	must(t, err, "reading VmHWM")

	start = time.Now()
	get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String(key)})
	must(t, err, "GetObject 4 GiB")
	sum := crc64.New(crc64.MakeTable(crc64.ECMA))
	n, err := io.Copy(sum, get.Body)
	get.Body.Close()
	must(t, err, "downloading 4 GiB")
	downTime := time.Since(start)

	hwm, err := procStatus(s.Pid(), "VmHWM")
	must(t, err, "reading VmHWM")
	rss, _ := procStatus(s.Pid(), "VmRSS")

	mib := func(b int64) float64 { return float64(b) / (1 << 20) }
	t.Logf("4 GiB upload (parts %d MiB, concurrency 2): %v, %.0f MiB/s, ETag %s",
		memPartSize>>20, upTime.Round(time.Millisecond), mib(memObjectSize)/upTime.Seconds(), aws.ToString(out.ETag))
	t.Logf("4 GiB download (one GET): %v, %.0f MiB/s", downTime.Round(time.Millisecond), mib(memObjectSize)/downTime.Seconds())
	t.Logf("server VmHWM: %.1f MiB at start, %.1f MiB after upload, %.1f MiB after download (limit %d MiB); VmRSS now %.1f MiB",
		mib(before), mib(afterUp), mib(hwm), memLimit>>20, mib(rss))

	if n != memObjectSize {
		t.Errorf("downloaded %d bytes, want %d", n, int64(memObjectSize))
	}
	if sum.Sum64() != src.sum.Sum64() {
		t.Errorf("downloaded data differs from uploaded data (crc64 %x, want %x)", sum.Sum64(), src.sum.Sum64())
	}
	if hwm >= memLimit {
		t.Errorf("server peak RSS (VmHWM) %.1f MiB >= %d MiB", mib(hwm), memLimit>>20)
	}
	if fi, err := os.Stat(s.Dir + "/" + b + "/" + key); err != nil || fi.Size() != memObjectSize {
		t.Errorf("file on disk: %v, %v", fi, err)
	}
	// Free the disk at once rather than at the end of the run.
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b), Key: aws.String(key)})
	must(t, err, "DeleteObject")
}
