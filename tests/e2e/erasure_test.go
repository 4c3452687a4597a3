package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// erasureDrives makes n empty drive folders d1..dn under a temp dir and
// returns their pattern for `strata server` and their paths.
func erasureDrives(t *testing.T, n int) (string, []string) {
	t.Helper()
	root := t.TempDir()
	var paths []string
	for i := 1; i <= n; i++ {
		p := filepath.Join(root, fmt.Sprintf("d%d", i))
		must(t, os.Mkdir(p, 0o755), "mkdir")
		paths = append(paths, p)
	}
	return filepath.Join(root, fmt.Sprintf("d{1...%d}", n)), paths
}

// wipeDrive removes everything in a drive's folder, keeping the folder, as
// a replaced disk mounted in the same place. format.json goes first: the
// server may recreate its reserved folders meanwhile, which the next try
// removes.
func wipeDrive(t *testing.T, path string) {
	t.Helper()
	os.Remove(filepath.Join(path, "format.json"))
	for try := 0; ; try++ {
		ents, err := os.ReadDir(path)
		must(t, err, "reading "+path)
		for _, e := range ents {
			if e.Name() != "format.json" {
				err = errors.Join(err, os.RemoveAll(filepath.Join(path, e.Name())))
			}
		}
		if err == nil {
			return
		}
		if try == 10 {
			t.Fatalf("wiping %s: %v", path, err)
		}
	}
}

// putMultipart uploads parts as one multipart object.
func putMultipart(t *testing.T, c *s3.Client, bucket, key string, parts ...[]byte) {
	t.Helper()
	ctx := ctxT(t)
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	must(t, err, "CreateMultipartUpload")
	var done []types.CompletedPart
	for i, p := range parts {
		n := int32(i + 1)
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key),
			UploadId: up.UploadId, PartNumber: aws.Int32(n), Body: bytes.NewReader(p)})
		must(t, err, "UploadPart")
		done = append(done, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n)})
	}
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key),
		UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
	must(t, err, "CompleteMultipartUpload")
}

// TestErasureHeal: a drive wiped under a running server is refilled by
// `strata admin heal`, and the objects then survive losing the two other
// drives that parity allows.
func TestErasureHeal(t *testing.T) {
	pattern, drives := erasureDrives(t, 4)
	s := startServer(t, withDir(pattern), withArgs("--heal-interval", "off"))
	c := s.S3(t)
	b := newBucket(t, c)
	objs := map[string][]byte{
		"empty":        {},
		"one":          randBytes(1, 1),
		"inline":       randBytes(2, 100<<10),
		"block":        randBytes(3, 1<<20),
		"dir/blocks":   randBytes(4, 3<<20+12345),
		"dir/sub/more": randBytes(5, 1<<20+1),
	}
	for k, v := range objs {
		putBytes(t, c, b, k, v)
	}
	p1, p2 := randBytes(6, 5<<20), randBytes(7, 777)
	putMultipart(t, c, b, "multi", p1, p2)
	objs["multi"] = append(append([]byte(nil), p1...), p2...)

	wipeDrive(t, drives[1])
	// Reads go on with a drive lost.
	for k, v := range objs {
		wantObject(t, c, b, k, v)
	}
	out, code := s.strataAdmin(t, nil, "heal")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("Objects healed    %d", len(objs))) || !strings.Contains(out, "Unrecoverable     0") {
		t.Fatalf("strata admin heal: exit %d\n%s", code, out)
	}
	for k, v := range objs {
		dir := filepath.Join(drives[1], b, k)
		if _, err := os.Stat(filepath.Join(dir, "meta.json")); err != nil {
			t.Fatalf("%s: no meta.json on the healed drive: %v", k, err)
		}
		parts, _ := filepath.Glob(filepath.Join(dir, "~*", "part.*"))
		if len(v) > 128<<10 && len(parts) == 0 {
			t.Fatalf("%s: no shard files on the healed drive", k)
		}
	}
	out, code = s.strataAdmin(t, nil, "info")
	if code != 0 || strings.Count(out, "  online  ") != 4 || !strings.Contains(out, "4 of 4 drives online (ok)") {
		t.Fatalf("strata admin info: exit %d\n%s", code, out)
	}
	// A heal of a bucket and prefix finds nothing more to do.
	out, code = s.strataAdmin(t, nil, "heal", b+"/dir/")
	if code != 0 || !strings.Contains(out, "Objects checked   2") || !strings.Contains(out, "Objects healed    0") {
		t.Fatalf("strata admin heal %s/dir/: exit %d\n%s", b, code, out)
	}

	// Lose the two drives that were never wiped: parity 2 of 4 still reads
	// everything, from the healed drive and the last one.
	wipeDrive(t, drives[0])
	wipeDrive(t, drives[2])
	for k, v := range objs {
		wantObject(t, c, b, k, v)
	}
	if keys := listAll(t, c, b, ""); len(keys) != len(objs) {
		t.Fatalf("listing with two drives lost: %v", keys)
	}
	out, code = s.strataAdmin(t, nil, "info")
	if code != 0 || !strings.Contains(out, "2 of 4 drives online") && !strings.Contains(out, "4 of 4 drives online") {
		t.Fatalf("strata admin info: exit %d\n%s", code, out)
	}
	// Heal refills both; a server without an erasure store has nothing to
	// heal.
	if out, code := s.strataAdmin(t, nil, "heal"); code != 0 || !strings.Contains(out, fmt.Sprintf("Objects healed    %d", len(objs))) {
		t.Fatalf("strata admin heal: exit %d\n%s", code, out)
	}
	plain := startServer(t)
	if out, code := plain.strataAdmin(t, nil, "heal"); code != 1 || !strings.Contains(out, "NotImplemented") {
		t.Fatalf("strata admin heal on a directory server: exit %d\n%s", code, out)
	}
}

// TestErasureKill: kill -9 of the server during a loop of PUTs; after a
// restart every object is whole, the last acknowledged version or the one
// in flight, and the staging areas are empty.
func TestErasureKill(t *testing.T) {
	pattern, drives := erasureDrives(t, 4)
	s := startServer(t, withDir(pattern), withArgs("--heal-interval", "off"))
	c := s.S3(t, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	b := newBucket(t, c)

	const writers, keysPer = 4, 4
	sizes := []int{0, 10, 100 << 10, 300 << 10, 1<<20 + 7, 2<<20 + 100}
	content := func(key string, gen int) []byte {
		var seed uint64
		for _, r := range key {
			seed = seed*31 + uint64(r)
		}
		return randBytes(seed*100000+uint64(gen), sizes[gen%len(sizes)])
	}
	var acked [writers * keysPer]atomic.Int64 // last acknowledged generation
	var puts atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for gen := 1; ctx.Err() == nil; gen++ {
				for k := range keysPer {
					i := w*keysPer + k
					key := fmt.Sprintf("k%02d", i)
					_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String(key),
						Body: bytes.NewReader(content(key, gen)), Metadata: map[string]string{"gen": strconv.Itoa(gen)}})
					if err != nil {
						return // the server is gone
					}
					acked[i].Store(int64(gen))
					puts.Add(1)
				}
			}
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for puts.Load() < 40 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	s.Kill()
	cancel()
	wg.Wait()
	t.Logf("%d PUTs acknowledged before kill -9", puts.Load())

	s = startServer(t, withDir(pattern), withAddr(s.Addr), withArgs("--heal-interval", "off"))
	c = s.S3(t)
	for _, d := range drives {
		left, err := os.ReadDir(filepath.Join(d, ".strata.sys", "tmp"))
		must(t, err, "reading the staging area")
		if len(left) > 0 {
			t.Errorf("staging area of %s not emptied at start: %v", d, left)
		}
	}
	for i := range acked {
		key := fmt.Sprintf("k%02d", i)
		last := int(acked[i].Load())
		out, err := c.GetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String(key)})
		if errStatus(err) == 404 && last == 0 {
			continue // never acknowledged, not published
		}
		must(t, err, "GetObject "+key)
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		must(t, err, "reading "+key)
		gen, _ := strconv.Atoi(out.Metadata["gen"])
		if gen != last && gen != last+1 {
			t.Errorf("%s: generation %d after the restart; the last acknowledged was %d", key, gen, last)
			continue
		}
		if want := content(key, gen); !bytes.Equal(got, want) {
			t.Errorf("%s: generation %d is not whole: %d bytes (md5 %s), want %d (md5 %s)", key, gen, len(got), md5Hex(got), len(want), md5Hex(want))
		}
	}
	// A heal finds every object readable, and removes the data a publish
	// cut short left in object folders.
	if out, code := s.strataAdmin(t, nil, "heal"); code != 0 {
		t.Fatalf("strata admin heal after the restart: exit %d\n%s", code, out)
	}
	for _, d := range drives {
		metas, _ := filepath.Glob(filepath.Join(d, b, "*", "meta.json"))
		for _, m := range metas {
			data, err := os.ReadFile(m)
			must(t, err, "reading "+m)
			var mf struct {
				Versions []struct {
					DataDir string `json:"dataDir"`
				} `json:"versions"`
			}
			must(t, json.Unmarshal(data, &mf), "decoding "+m)
			dirs, _ := filepath.Glob(filepath.Join(filepath.Dir(m), "~*"))
			for _, dir := range dirs {
				if len(mf.Versions) == 0 || filepath.Base(dir) != "~"+mf.Versions[0].DataDir {
					t.Errorf("left-over data dir %s", dir)
				}
			}
		}
	}
}

// TestErasureVersions: a versioned bucket on the erasure store, through the
// SDK: versions are listed and read back, a delete marker hides the key and
// its removal restores it, and the versions live in the key's metadata on
// the drives (nothing below .strata.versions/), surviving the loss of as
// many drives as there are parity shards.
func TestErasureVersions(t *testing.T) {
	pattern, drives := erasureDrives(t, 4)
	s := startServer(t, withDir(pattern), withArgs("--heal-interval", "off"))
	c := s.S3(t)
	ctx := t.Context()
	b := aws.String("erasure-versions")
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b})
	must(t, err, "create bucket")
	_, err = c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: b,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
	must(t, err, "enable versioning")
	bodies := [][]byte{[]byte("first"), bytes.Repeat([]byte("second "), 300000), []byte("third")}
	var ids []string
	for _, body := range bodies {
		out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("doc"), Body: bytes.NewReader(body)})
		must(t, err, "put")
		ids = append(ids, aws.ToString(out.VersionId))
	}
	read := func(id string) ([]byte, error) {
		in := &s3.GetObjectInput{Bucket: b, Key: aws.String("doc")}
		if id != "" {
			in.VersionId = aws.String(id)
		}
		out, err := c.GetObject(ctx, in)
		if err != nil {
			return nil, err
		}
		defer out.Body.Close()
		return io.ReadAll(out.Body)
	}
	checkAll := func() {
		t.Helper()
		for i, id := range ids {
			got, err := read(id)
			if err != nil || !bytes.Equal(got, bodies[i]) {
				t.Fatalf("version %d (%s): %d bytes, %v", i, id, len(got), err)
			}
		}
	}
	checkAll()
	del, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("doc")})
	must(t, err, "delete")
	if !aws.ToBool(del.DeleteMarker) || aws.ToString(del.VersionId) == "" {
		t.Fatalf("delete: no marker: %+v", del)
	}
	if _, err := read(""); err == nil || !strings.Contains(err.Error(), "NoSuchKey") {
		t.Fatalf("GET under a delete marker: %v", err)
	}
	lv, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: b})
	must(t, err, "list versions")
	if len(lv.Versions) != 3 || len(lv.DeleteMarkers) != 1 || !aws.ToBool(lv.DeleteMarkers[0].IsLatest) ||
		aws.ToString(lv.Versions[0].VersionId) != ids[2] {
		t.Fatalf("list-object-versions: %d versions, %d markers", len(lv.Versions), len(lv.DeleteMarkers))
	}
	for _, d := range drives {
		if _, err := os.Stat(filepath.Join(d, "erasure-versions", ".strata.versions")); !os.IsNotExist(err) {
			t.Fatalf("%s: a version store folder exists: %v", d, err)
		}
	}
	// Removing the marker makes the newest version current again.
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("doc"), VersionId: del.VersionId})
	must(t, err, "delete the marker")
	if got, err := read(""); err != nil || !bytes.Equal(got, bodies[2]) {
		t.Fatalf("current after removing the marker: %q, %v", got, err)
	}
	// Two of four drives (the parity) gone: every version reads.
	os.Rename(drives[0], drives[0]+".gone")
	os.Rename(drives[3], drives[3]+".gone")
	checkAll()
}

// A second server on drives that one already serves exits at once with
// the holder's pid, and the first one goes on.
func TestErasureDriveLock(t *testing.T) {
	pattern, _ := erasureDrives(t, 4)
	s := startServer(t, withDir(pattern), withArgs("--heal-interval", "off"))
	c := s.S3(t)
	b := newBucket(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	second := exec.CommandContext(ctx, strataBin, "server", "--address", freeAddr(t), pattern)
	second.Env = append(os.Environ(), "STRATA_ROOT_USER="+accessKey, "STRATA_ROOT_PASSWORD="+secretKey)
	out, err := second.CombinedOutput()
	want := fmt.Sprintf("in use by another Strata process (pid %d)", s.cmd.Process.Pid)
	if err == nil || ctx.Err() != nil || !strings.Contains(string(out), want) {
		t.Fatalf("second server on the same drives: %v\n%s", err, out)
	}
	_, err = c.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("k"), Body: strings.NewReader("still here")})
	must(t, err, "PUT to the first server")
}
