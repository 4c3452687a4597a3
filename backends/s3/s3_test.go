package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/backends/backendtest"
	"github.com/strata-storage/strata/backends/dir"
	"github.com/strata-storage/strata/gateway/stack/stacktest"
	"github.com/strata-storage/strata/s3api"
)

// server is a real S3 service for the tests.
type server struct {
	name string
	cfg  Config
}

const testAccess, testSecret = "AKSTRATATEST", "strata-test-secret-key"

// strataServer starts Strata's own S3 API over a temporary directory.
func strataServer(t testing.TB) server {
	t.Helper()
	store, err := dir.Open(t.TempDir(), dir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	srv := httptest.NewServer(s3api.New(s3api.Config{
		Backend:     store,
		Credentials: map[string]string{testAccess: testSecret},
	}))
	t.Cleanup(srv.Close)
	return server{name: "strata", cfg: Config{
		Endpoint: srv.URL, AccessKey: testAccess, SecretKey: testSecret, PathStyle: true,
	}}
}

var (
	motoOnce sync.Once
	motoURL  string
	motoErr  error
	motoCmd  *exec.Cmd
)

// motoServer returns moto's server, started once for the package, or
// skips the test when moto_server is not installed.
func motoServer(t testing.TB) server {
	t.Helper()
	motoOnce.Do(func() {
		path, err := exec.LookPath("moto_server")
		if err != nil {
			motoErr = err
			return
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			motoErr = err
			return
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		cmd := exec.Command(path, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Start(); err != nil {
			motoErr = err
			return
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		for deadline := time.Now().Add(30 * time.Second); ; {
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				cmd.Wait()
				motoErr = fmt.Errorf("moto_server did not listen on %s within 30s", addr)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		motoCmd, motoURL = cmd, "http://"+addr
	})
	if motoErr != nil {
		if os.Getenv("STRATA_REQUIRE_MOTO") != "" {
			t.Fatalf("moto's server is not available: %v (install it with: pip install 'moto[server]')", motoErr)
		}
		t.Skipf("moto's server is not available (%v): these tests ran against Strata's own S3 server only; set STRATA_REQUIRE_MOTO=1 to make this a failure", motoErr)
	}
	return server{name: "moto", cfg: Config{
		Endpoint: motoURL, AccessKey: "testing", SecretKey: "testing", PathStyle: true,
	}}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if motoCmd != nil {
		motoCmd.Process.Kill()
		motoCmd.Wait()
	}
	os.Exit(code)
}

func newBackend(t testing.TB, cfg Config) *Backend {
	t.Helper()
	b, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSuiteStrata(t *testing.T) {
	srv := strataServer(t)
	b := newBackend(t, srv.cfg)
	backendtest.Run(t, func(t *testing.T) backends.Backend { return b })
}

func TestSuiteMoto(t *testing.T) {
	srv := motoServer(t)
	b := newBackend(t, srv.cfg)
	backendtest.Run(t, func(t *testing.T) backends.Backend { return b })
}

// The data services (encryption, lock, bitrot) over an S3 service. The
// versioned run is left to the Azure, GCS and NFS suites: moto answers
// slowly, and versioning over S3 takes the same paths (server-side copy
// moves, Sys in metadata) that the plain suite's Move and Sys cases check.
func TestSuiteDataServices(t *testing.T) {
	srv := motoServer(t)
	b := newBackend(t, srv.cfg)
	stacktest.RunUnversioned(t, func(t *testing.T) backends.Backend { return b })
}

// servers runs fn against every server there is.
func servers(t *testing.T, fn func(t *testing.T, srv server)) {
	t.Run("strata", func(t *testing.T) { fn(t, strataServer(t)) })
	t.Run("moto", func(t *testing.T) { fn(t, motoServer(t)) })
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/1000)
	}
	return b
}

// hashReader completes meta at EOF, as the gateway does.
type hashReader struct {
	r    io.Reader
	data bytes.Buffer
	meta *backends.Meta
}

func (h *hashReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.data.Write(p[:n])
	if err == io.EOF {
		h.meta.Size = int64(h.data.Len())
		h.meta.ETag = md5hex(h.data.Bytes())
		h.data.Reset()
	}
	return n, err
}

func put(t *testing.T, b backends.Backend, bucket, key string, data []byte, meta backends.Meta) backends.ObjectInfo {
	t.Helper()
	m := meta
	info, err := b.PutObject(t.Context(), bucket, key, &hashReader{r: bytes.NewReader(data), meta: &m}, backends.PutOptions{Meta: &m})
	if err != nil {
		t.Fatalf("PutObject(%s): %v", key, err)
	}
	return info
}

func get(t *testing.T, b backends.Backend, bucket, key string) ([]byte, backends.ObjectInfo) {
	t.Helper()
	rc, info, err := b.GetObject(t.Context(), bucket, key, nil)
	if err != nil {
		t.Fatalf("GetObject(%s): %v", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return data, info
}

// TestExistingObjects: objects written to the bucket by another client,
// with the SDK, appear through the backend as they are.
func TestExistingObjects(t *testing.T) {
	servers(t, func(t *testing.T, srv server) {
		ctx := t.Context()
		b := newBackend(t, srv.cfg)
		bucket := backendtest.NewBucket(t, b)
		c := b.Client()
		data := []byte("written by someone else")
		_, err := c.PutObject(ctx, &s3sdk.PutObjectInput{
			Bucket: &bucket, Key: aws.String("their/file.txt"), Body: bytes.NewReader(data),
			ContentType:  aws.String("text/plain"),
			CacheControl: aws.String("no-cache"),
			Metadata:     map[string]string{"Owner": "them", "strata": "not ours", "note": "=?UTF-8?B?w7w=?="},
			Tagging:      aws.String("team=data&stage=raw"),
		})
		if err != nil {
			t.Fatal(err)
		}
		h, err := b.HeadObject(ctx, bucket, "their/file.txt")
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"owner": "them", "strata": "not ours", "note": "ü"}
		if h.Size != int64(len(data)) || h.ETag != md5hex(data) || h.ContentType != "text/plain" || h.CacheControl != "no-cache" ||
			!mapsEqual(h.User, want) || !mapsEqual(h.Tags, map[string]string{"team": "data", "stage": "raw"}) {
			t.Fatalf("HeadObject: %+v", h)
		}
		got, g := get(t, b, bucket, "their/file.txt")
		if !bytes.Equal(got, data) || g.ETag != h.ETag || !g.ModTime.Equal(h.ModTime) || !mapsEqual(g.User, want) || len(g.Tags) != 2 {
			t.Fatalf("GetObject: %q %+v", got, g)
		}
		res, err := b.ListObjects(ctx, bucket, backends.ListOptions{Delimiter: "/"})
		if err != nil || len(res.Prefixes) != 1 || res.Prefixes[0] != "their/" {
			t.Fatalf("ListObjects: %+v, %v", res, err)
		}
		res, _ = b.ListObjects(ctx, bucket, backends.ListOptions{Prefix: "their/"})
		if len(res.Objects) != 1 || res.Objects[0].ETag != h.ETag || !res.Objects[0].ModTime.Equal(h.ModTime) || res.Objects[0].Size != h.Size {
			t.Fatalf("ListObjects: %+v, head %+v", res.Objects, h)
		}

		// And the other way: what Strata writes is plain S3 to others.
		m := backends.Meta{ContentType: "application/json", User: map[string]string{"k": "v", "uni": "ü€"}, Tags: map[string]string{"a": "b c"}}
		put(t, b, bucket, "ours.json", []byte(`{}`), m)
		out, err := c.HeadObject(ctx, &s3sdk.HeadObjectInput{Bucket: &bucket, Key: aws.String("ours.json")})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.ContentType) != "application/json" || out.Metadata["k"] != "v" || out.Metadata[sysKey] != "" {
			t.Fatalf("HeadObject with the SDK: %+v %v", out, out.Metadata)
		}
		tags, err := c.GetObjectTagging(ctx, &s3sdk.GetObjectTaggingInput{Bucket: &bucket, Key: aws.String("ours.json")})
		if err != nil || len(tags.TagSet) != 1 || aws.ToString(tags.TagSet[0].Value) != "b c" {
			t.Fatalf("GetObjectTagging with the SDK: %+v, %v", tags, err)
		}
	})
}

// TestLargePut: a PUT larger than a part is streamed as a multipart
// upload; what comes back is consistent everywhere.
func TestLargePut(t *testing.T) {
	servers(t, func(t *testing.T, srv server) {
		ctx := t.Context()
		cfg := srv.cfg
		cfg.PartSize = minPartSize
		b := newBackend(t, cfg)
		bucket := backendtest.NewBucket(t, b)
		data := randBytes(2*minPartSize + 12345)
		m := backends.Meta{ContentType: "video/mp4", User: map[string]string{"x": "y"}, Tags: map[string]string{"t": "1"}}
		rd := &checksumReader{hashReader: hashReader{r: bytes.NewReader(data), meta: &m}}
		info, err := b.PutObject(ctx, bucket, "big.mp4", rd, backends.PutOptions{Meta: &m})
		if err != nil {
			t.Fatal(err)
		}
		if info.Size != int64(len(data)) || !strings.HasSuffix(info.ETag, "-3") {
			t.Fatalf("PutObject: %+v", info)
		}
		got, g := get(t, b, bucket, "big.mp4")
		if !bytes.Equal(got, data) {
			t.Fatal("data differs")
		}
		if g.ETag != info.ETag || !g.ModTime.Equal(info.ModTime) || g.ContentType != "video/mp4" || g.User["x"] != "y" ||
			g.Tags["t"] != "1" || g.Checksums["CRC32"] != "fake==" || g.ChecksumType != "FULL_OBJECT" {
			t.Fatalf("GetObject: %+v, put %+v", g, info)
		}
		res, _ := b.ListObjects(ctx, bucket, backends.ListOptions{})
		if len(res.Objects) != 1 || res.Objects[0].ETag != info.ETag {
			t.Fatalf("ListObjects: %+v", res)
		}
		// New metadata keeps the ETag: the copy follows the parts.
		nm := g.Meta
		nm.ContentType = "video/webm"
		if u, err := b.UpdateMeta(ctx, bucket, "big.mp4", nm); err != nil || u.ETag != info.ETag {
			t.Fatalf("UpdateMeta: %+v, %v; put %+v", u, err, info)
		}
		if h, err := b.HeadObject(ctx, bucket, "big.mp4"); err != nil || h.ETag != info.ETag || h.ContentType != "video/webm" || h.Checksums["CRC32"] != "fake==" {
			t.Fatalf("HeadObject after UpdateMeta: %+v, %v", h, err)
		}
		// A failing stream leaves no object and no upload.
		if _, err := b.PutObject(ctx, bucket, "broken", io.MultiReader(bytes.NewReader(data), &errReader{}), backends.PutOptions{Meta: &backends.Meta{}}); err == nil {
			t.Fatal("PutObject with a failing reader: no error")
		}
		if _, err := b.HeadObject(ctx, bucket, "broken"); !backends.Is(err, backends.NoSuchKey) {
			t.Fatalf("failed stream: %v", err)
		}
		if ups, _ := b.ListMultipartUploads(ctx, bucket, ""); len(ups) != 0 {
			t.Fatalf("uploads left: %+v", ups)
		}
		// Conditional large PUT.
		_, err = b.PutObject(ctx, bucket, "big.mp4", bytes.NewReader(data), backends.PutOptions{Meta: &backends.Meta{}, IfNoneMatch: true})
		if !backends.Is(err, backends.PreconditionFailed) {
			t.Fatalf("large PUT with IfNoneMatch on an existing key: %v", err)
		}
		// Metadata that changed during the upload ends up on the object.
		late := backends.Meta{ContentType: "a/b"}
		lr := &lateMeta{r: bytes.NewReader(data), meta: &late}
		info, err = b.PutObject(ctx, bucket, "late", lr, backends.PutOptions{Meta: &late})
		if err != nil {
			t.Fatal(err)
		}
		if h, err := b.HeadObject(ctx, bucket, "late"); err != nil || h.ContentType != "c/d" || h.User["set"] != "at eof" || h.ETag != info.ETag {
			t.Fatalf("HeadObject(late): %+v, %v; put %+v", h, err, info)
		}
	})
}

type checksumReader struct{ hashReader }

func (c *checksumReader) Read(p []byte) (int, error) {
	n, err := c.hashReader.Read(p)
	if err == io.EOF {
		c.meta.Checksums = map[string]string{"CRC32": "fake=="}
		c.meta.ChecksumType = "FULL_OBJECT"
	}
	return n, err
}

type lateMeta struct {
	r    io.Reader
	meta *backends.Meta
}

func (l *lateMeta) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if err == io.EOF {
		l.meta.ContentType = "c/d"
		l.meta.User = map[string]string{"set": "at eof"}
	}
	return n, err
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, fmt.Errorf("client went away") }

// TestLargePart: a part larger than the memory buffer is spooled; parts
// carry the upload's checksum; the object keeps its parts.
func TestMultipartDetails(t *testing.T) {
	servers(t, func(t *testing.T, srv server) {
		ctx := t.Context()
		cfg := srv.cfg
		cfg.PartSize = minPartSize
		cfg.SpoolDir = t.TempDir()
		b := newBackend(t, cfg)
		bucket := backendtest.NewBucket(t, b)
		meta := backends.Meta{ContentType: "x/y", User: map[string]string{"a": strings.Repeat("z", 2000)}}
		id, err := b.CreateMultipartUpload(ctx, bucket, "mp", meta)
		if err != nil {
			t.Fatal(err)
		}
		p1 := randBytes(minPartSize + 3<<20)
		p2 := []byte("tail")
		var parts []backends.PartInfo
		for i, p := range [][]byte{p1, p2} {
			var m backends.Meta
			pi, err := b.UploadPart(ctx, bucket, "mp", id, i+1, &hashReader{r: bytes.NewReader(p), meta: &m}, &m)
			if err != nil {
				t.Fatal(err)
			}
			if pi.Size != int64(len(p)) || pi.ETag != md5hex(p) {
				t.Fatalf("part %d: %+v", i+1, pi)
			}
			parts = append(parts, pi)
		}
		if ents, _ := os.ReadDir(cfg.SpoolDir); len(ents) != 0 {
			t.Fatalf("spool files left: %v", ents)
		}
		up, lp, err := b.ListParts(ctx, bucket, "mp", id)
		if err != nil || len(lp) != 2 || up.Meta.User["a"] != meta.User["a"] || up.Meta.ContentType != "x/y" {
			t.Fatalf("ListParts: %+v %+v %v", up, lp, err)
		}
		final := up.Meta
		final.Parts = lp
		final.Checksums = map[string]string{"SHA256": "whatever-2"}
		final.ChecksumType = "COMPOSITE"
		info, err := b.CompleteMultipartUpload(ctx, bucket, "mp", id, []int{1, 2}, backends.PutOptions{Meta: &final})
		if err != nil {
			t.Fatal(err)
		}
		h, err := b.HeadObject(ctx, bucket, "mp")
		if err != nil {
			t.Fatal(err)
		}
		if h.ETag != info.ETag || len(h.Parts) != 2 || h.Parts[0].Size != int64(len(p1)) || h.Checksums["SHA256"] != "whatever-2" ||
			h.User["a"] != meta.User["a"] || !h.ModTime.Equal(info.ModTime) {
			t.Fatalf("HeadObject: %+v; complete said %+v", h, info)
		}
		// A new copy of the metadata keeps the ETag: copied along the
		// same part boundaries.
		nm := h.Meta
		nm.ContentType = "new/type"
		nm.User = map[string]string{"b": "c"}
		u, err := b.UpdateMeta(ctx, bucket, "mp", nm)
		if err != nil {
			t.Fatal(err)
		}
		h2, err := b.HeadObject(ctx, bucket, "mp")
		if err != nil || h2.ETag != h.ETag || u.ETag != h.ETag || h2.ContentType != "new/type" || h2.User["b"] != "c" || len(h2.Parts) != 2 {
			t.Fatalf("after UpdateMeta: %+v, %v (before %s)", h2, err, h.ETag)
		}
	})
}

// TestMetadataLimit: metadata beyond what fits in S3's 2 KiB moves to a
// record and comes back whole.
func TestMetadataLimit(t *testing.T) {
	servers(t, func(t *testing.T, srv server) {
		ctx := t.Context()
		b := newBackend(t, srv.cfg)
		bucket := backendtest.NewBucket(t, b)
		m := backends.Meta{
			User:         map[string]string{"big": strings.Repeat("b", 1990), "Odd Name": "x", "strata": "user's"},
			Checksums:    map[string]string{"SHA256": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},
			ChecksumType: "FULL_OBJECT",
		}
		put(t, b, bucket, "k", []byte("v"), m)
		h, err := b.HeadObject(ctx, bucket, "k")
		if err != nil || !mapsEqual(h.User, m.User) || !mapsEqual(h.Checksums, m.Checksums) {
			t.Fatalf("HeadObject: %+v, %v", h, err)
		}
		keys, _ := b.ListObjects(ctx, bucket, backends.ListOptions{})
		if len(keys.Objects) != 1 {
			t.Fatalf("listed %+v", keys.Objects)
		}
		// A conditional write that fails leaves the object's metadata.
		other := backends.Meta{User: map[string]string{"big": strings.Repeat("c", 2040)}}
		_, err = b.PutObject(ctx, bucket, "k", &hashReader{r: strings.NewReader("x"), meta: &other}, backends.PutOptions{Meta: &other, IfNoneMatch: true})
		if !backends.Is(err, backends.PreconditionFailed) {
			t.Fatalf("PutObject(IfNoneMatch): %v", err)
		}
		if h, err := b.HeadObject(ctx, bucket, "k"); err != nil || !mapsEqual(h.User, m.User) || !mapsEqual(h.Checksums, m.Checksums) {
			t.Fatalf("after a failed conditional write: %+v, %v", h, err)
		}
		// Overwritten without the record: the stale record is not used.
		put(t, b, bucket, "k", []byte("w"), backends.Meta{User: map[string]string{"small": "1"}})
		h, _ = b.HeadObject(ctx, bucket, "k")
		if !mapsEqual(h.User, map[string]string{"small": "1"}) || len(h.Checksums) != 0 {
			t.Fatalf("after overwrite: %+v", h)
		}
	})
}

// TestHidden: Strata's objects stay out of listings, whatever the
// delimiter, and keys under its prefix are refused.
func TestHidden(t *testing.T) {
	servers(t, func(t *testing.T, srv server) {
		ctx := t.Context()
		b := newBackend(t, srv.cfg)
		bucket := backendtest.NewBucket(t, b)
		for _, name := range []string{"cors", "tagging", "a", "b", "c"} {
			if err := b.PutBucketConfig(ctx, bucket, name, []byte("x")); err != nil {
				t.Fatal(err)
			}
		}
		put(t, b, bucket, "a.txt", nil, backends.Meta{})
		put(t, b, bucket, "-", nil, backends.Meta{})
		put(t, b, bucket, "z", nil, backends.Meta{})
		for _, tc := range []struct {
			opts backends.ListOptions
			want string
		}{
			{backends.ListOptions{}, "-,a.txt,z"},
			{backends.ListOptions{MaxKeys: 1}, "-"},
			{backends.ListOptions{Marker: "-", MaxKeys: 1}, "a.txt"},
			{backends.ListOptions{Delimiter: "."}, "-,a.,z"},
			{backends.ListOptions{Delimiter: "s"}, "-,a.txt,z"},
			{backends.ListOptions{Prefix: "."}, ""},
			{backends.ListOptions{Prefix: ".", Delimiter: "/"}, ""},
		} {
			res, err := b.ListObjects(ctx, bucket, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range res.Objects {
				got = append(got, o.Key)
			}
			got = append(got, res.Prefixes...)
			if s := strings.Join(sorted(got), ","); s != tc.want {
				t.Errorf("ListObjects(%+v) = %s, want %s", tc.opts, s, tc.want)
			}
		}
		put(t, b, bucket, ".hidden-not", nil, backends.Meta{})
		res, _ := b.ListObjects(ctx, bucket, backends.ListOptions{Delimiter: "h"})
		if len(res.Prefixes) != 1 || res.Prefixes[0] != ".h" {
			t.Errorf("prefix .h with a visible key under it: %+v", res)
		}
		_, err := b.PutObject(ctx, bucket, sysPrefix+"config/cors", strings.NewReader("x"), backends.PutOptions{})
		if !backends.Is(err, backends.InvalidKey) {
			t.Errorf("PutObject under the reserved prefix: %v", err)
		}
		if _, err := b.HeadObject(ctx, bucket, sysPrefix+"config/cors"); !backends.Is(err, backends.NoSuchKey) {
			t.Errorf("HeadObject under the reserved prefix: %v", err)
		}
	})
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestUnavailable: a service that is not there is an Unavailable error,
// soon.
func TestUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	b := newBackend(t, Config{Endpoint: "http://" + addr, AccessKey: "a", SecretKey: "b", PathStyle: true, MaxRetries: -1})
	start := time.Now()
	_, err = b.HeadObject(t.Context(), "bucket", "key")
	if !backends.Is(err, backends.Unavailable) {
		t.Fatalf("HeadObject on a closed port: %v (kind %d)", err, backends.KindOf(err))
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Endpoint: "oss-cn-hangzhou.aliyuncs.com"}, "http:// or https://"},
		{Config{Endpoint: "ftp://x"}, "http:// or https://"},
		{Config{Endpoint: "https://x/?a=b"}, "query"},
		{Config{AccessKey: "a"}, "go together"},
		{Config{SecretKey: "a"}, "go together"},
		{Config{SessionToken: "t"}, "session_token"},
		{Config{PartSize: 1 << 20}, "part_size"},
		{Config{MaxRetries: 100}, "max_retries"},
		{Config{Checksums: "always"}, "checksums"},
		{Config{ConditionalWrites: "maybe"}, "conditional_writes"},
		{Config{Timeout: -time.Second}, "timeout"},
		{Config{SpoolDir: "/nonexistent/dir"}, "spool_dir"},
		{Config{Region: "us east"}, "region"},
	} {
		_, err := New(context.Background(), tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v): %v, want an error about %s", tc.cfg, err, tc.want)
		}
	}
	b, err := New(context.Background(), Config{Endpoint: "https://oss-cn-hangzhou.aliyuncs.com", AccessKey: "a", SecretKey: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if b.cfg.Region != "us-east-1" || b.cfg.PartSize != defaultPartSize || b.cfg.MaxRetries != 3 || b.cfg.ConditionalWrites != "native" {
		t.Fatalf("defaults: %+v", b.cfg)
	}
}

func TestEncodeMeta(t *testing.T) {
	for _, v := range []string{"", "plain", " spaced ", "ü€", "=?UTF-8?B?w7w=?=", "tab\there", "line\nbreak", strings.Repeat("é", 300)} {
		if got := decodeValue(encodeValue(v)); got != v {
			t.Errorf("value %q comes back as %q", v, got)
		}
		for _, c := range encodeValue(v) {
			if c < ' ' || c > '~' {
				t.Errorf("encoded %q holds %q", v, c)
			}
		}
	}
	// Inline when it fits, a record when not; never over the limit.
	small := backends.Meta{User: map[string]string{"a": "b"}, Checksums: map[string]string{"CRC32": "AAAAAA=="}}
	if h := encodeMeta("k", &small, false, 0); h.Record != nil || h.Metadata[sysKey] == "" {
		t.Errorf("small: %+v", h)
	}
	big := backends.Meta{User: map[string]string{}}
	for i := range 30 {
		big.User[fmt.Sprintf("k%02d", i)] = strings.Repeat("v", 100)
	}
	h := encodeMeta("k", &big, false, 0)
	size := 0
	for k, v := range h.Metadata {
		size += len(k) + len(v)
	}
	if h.Record == nil || size > maxUserMeta || len(h.Record.User)+len(h.Metadata)-1 != 30 {
		t.Errorf("big: size %d, record %+v", size, h.Record)
	}
	// Sys goes into the entry, compact, and never shows as user metadata.
	withSys := backends.Meta{User: map[string]string{"a": "b"}, Sys: map[string]string{"sse-key": strings.Repeat("A", 1500)}}
	h = encodeMeta("k", &withSys, false, 0)
	if h.Record != nil || len(h.Metadata) != 2 || len(h.Metadata[sysKey]) > 1500+40 {
		t.Errorf("with Sys: record %+v, metadata %v", h.Record, h.Metadata)
	}
	r := remoteMeta{metadata: h.Metadata}
	if m, _ := r.decode(); !mapsEqual(m.Sys, withSys.Sys) || !mapsEqual(m.User, withSys.User) {
		t.Errorf("with Sys: decoded %+v", m)
	}
	if got := encodeTags(map[string]string{"a b": "c&d", "e": "f=g+h"}); got != "a%20b=c%26d&e=f%3Dg%2Bh" {
		t.Errorf("encodeTags: %s", got)
	}
}

func TestListParse(t *testing.T) {
	out := &s3sdk.ListObjectsV2Output{
		EncodingType:   types.EncodingTypeUrl,
		Contents:       []types.Object{{Key: aws.String("a+b%2Bc")}, {Key: aws.String("%C3%BC")}},
		CommonPrefixes: []types.CommonPrefix{{Prefix: aws.String("p%2F")}},
	}
	items, err := listItems(out)
	if err != nil || len(items) != 3 || items[0].name != "a b+c" || items[1].name != "p/" || items[2].name != "ü" {
		t.Fatalf("%+v %v", items, err)
	}
	if k := maxKey("a/"); len(k) > backends.MaxKeyLen || k <= "a/\U0010FFFF" || !strings.HasPrefix(k, "a/") {
		t.Fatalf("maxKey: %d bytes", len(k))
	}
}

// TestStalls: a service that stops answering, or stops sending in the
// middle of a body, gives an error within the configured timeouts.
func TestStalls(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodHead:
			select { // no answer
			case <-release:
			case <-r.Context().Done():
			}
		default:
			w.Header().Set("Content-Length", "1000")
			w.Header().Set("ETag", `"abc"`)
			w.Header().Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
			w.WriteHeader(http.StatusOK)
			w.Write(make([]byte, 10))
			w.(http.Flusher).Flush()
			select { // the rest never comes
			case <-release:
			case <-r.Context().Done():
			}
		}
	}))
	defer srv.Close()
	defer close(release)
	b := newBackend(t, Config{Endpoint: srv.URL, AccessKey: "a", SecretKey: "b", PathStyle: true, MaxRetries: -1,
		ResponseTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond})
	start := time.Now()
	if _, err := b.HeadObject(t.Context(), "bucket", "key"); err == nil {
		t.Fatal("HeadObject: no error")
	}
	rc, _, err := b.GetObject(t.Context(), "bucket", "key", nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, rc)
	rc.Close()
	if !backends.Is(err, backends.Unavailable) || n != 10 {
		t.Fatalf("read of a stalled body: %d bytes, %v", n, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
}

// TestPartChecksums: the parts of an upload with a checksum algorithm carry
// their checksums to the service, which checks and keeps them.
func TestPartChecksums(t *testing.T) {
	servers(t, func(t *testing.T, srv server) {
		ctx := t.Context()
		b := newBackend(t, srv.cfg)
		bucket := backendtest.NewBucket(t, b)
		id, err := b.CreateMultipartUpload(ctx, bucket, "c", backends.Meta{ChecksumAlgorithm: "CRC32", ChecksumType: "COMPOSITE"})
		if err != nil {
			t.Fatal(err)
		}
		data := []byte("part with a checksum")
		sum := crc32.ChecksumIEEE(data)
		good := base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, sum))
		bad := base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, sum+1))
		m := backends.Meta{Checksums: map[string]string{"CRC32": bad}}
		_, err = b.UploadPart(ctx, bucket, "c", id, 1, bytes.NewReader(data), &m)
		switch {
		case srv.name == "moto":
			t.Logf("moto does not check part checksums: UploadPart with a wrong one: %v", err)
		case !backends.Is(err, backends.BadDigest):
			t.Errorf("UploadPart with a wrong checksum: %v", err)
		}
		m = backends.Meta{Checksums: map[string]string{"CRC32": good}}
		if _, err := b.UploadPart(ctx, bucket, "c", id, 1, bytes.NewReader(data), &m); err != nil {
			t.Fatal(err)
		}
		up, parts, err := b.ListParts(ctx, bucket, "c", id)
		if err != nil || len(parts) != 1 || parts[0].Checksums["CRC32"] != good || up.Meta.ChecksumAlgorithm != "CRC32" {
			t.Fatalf("ListParts: %+v %+v, %v", up, parts, err)
		}
		final := up.Meta
		final.ETag = parts[0].ETag + "-1"
		if _, err := b.CompleteMultipartUpload(ctx, bucket, "c", id, []int{1}, backends.PutOptions{Meta: &final}); err != nil {
			t.Fatal(err)
		}
		if got, _ := get(t, b, bucket, "c"); !bytes.Equal(got, data) {
			t.Fatalf("completed: %q", got)
		}
		// Nothing is left of the upload.
		var left []string
		b.listKeys(ctx, bucket, uploadPrefix, func(k string) { left = append(left, k) })
		if len(left) != 0 {
			t.Fatalf("left after completion: %q", left)
		}
	})
}

// An upload with one of the checksums the service may not know (XXHASH3):
// the service is not asked to keep it, and Strata keeps the parts' own.
func TestPartChecksumsKeptByStrata(t *testing.T) {
	servers(t, func(t *testing.T, srv server) {
		ctx := t.Context()
		b := newBackend(t, srv.cfg)
		bucket := backendtest.NewBucket(t, b)
		id, err := b.CreateMultipartUpload(ctx, bucket, "x", backends.Meta{ChecksumAlgorithm: "XXHASH3", ChecksumType: "COMPOSITE"})
		if err != nil {
			t.Fatal(err)
		}
		data := []byte("part with a newer checksum")
		const sum = "AAECAwQFBgc=" // not checked here: the S3 API checks the data
		m := backends.Meta{Checksums: map[string]string{"XXHASH3": sum}}
		if _, err := b.UploadPart(ctx, bucket, "x", id, 1, bytes.NewReader(data), &m); err != nil {
			t.Fatal(err)
		}
		up, parts, err := b.ListParts(ctx, bucket, "x", id)
		if err != nil || len(parts) != 1 || parts[0].Checksums["XXHASH3"] != sum || up.Meta.ChecksumAlgorithm != "XXHASH3" {
			t.Fatalf("ListParts: %+v %+v, %v", up, parts, err)
		}
		final := up.Meta
		final.ETag = parts[0].ETag + "-1"
		final.Checksums, final.ChecksumType = map[string]string{"XXHASH3": "whole-1"}, "COMPOSITE"
		if _, err := b.CompleteMultipartUpload(ctx, bucket, "x", id, []int{1}, backends.PutOptions{Meta: &final}); err != nil {
			t.Fatal(err)
		}
		info, err := b.HeadObject(ctx, bucket, "x")
		if err != nil || info.Checksums["XXHASH3"] != "whole-1" || len(info.Parts) != 1 || info.Parts[0].Checksums["XXHASH3"] != sum {
			t.Fatalf("HeadObject: %+v, %v", info, err)
		}
	})
}

// A multipart object that another client wrote moves (and is copied onto
// itself) with its ETag, when its parts are all of one size but the last.
func TestMoveForeignMultipart(t *testing.T) {
	srv := motoServer(t)
	ctx := t.Context()
	b := newBackend(t, srv.cfg)
	bucket := backendtest.NewBucket(t, b)
	c := b.Client()
	up, err := c.CreateMultipartUpload(ctx, &s3sdk.CreateMultipartUploadInput{Bucket: &bucket, Key: aws.String("theirs")})
	if err != nil {
		t.Fatal(err)
	}
	var done []types.CompletedPart
	var all []byte
	for i, size := range []int{5 << 20, 5 << 20, 1000} {
		data := randBytes(size)
		all = append(all, data...)
		out, err := c.UploadPart(ctx, &s3sdk.UploadPartInput{Bucket: &bucket, Key: aws.String("theirs"), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(data)})
		if err != nil {
			t.Fatal(err)
		}
		done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag})
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3sdk.CompleteMultipartUploadInput{Bucket: &bucket, Key: aws.String("theirs"),
		UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}); err != nil {
		t.Fatal(err)
	}
	h, err := b.HeadObject(ctx, bucket, "theirs")
	if err != nil || !strings.HasSuffix(h.ETag, "-3") {
		t.Fatalf("HeadObject: %+v, %v", h, err)
	}
	if err := b.MoveObject(ctx, bucket, "theirs", "moved"); err != nil {
		t.Fatal(err)
	}
	got, g := get(t, b, bucket, "moved")
	if !bytes.Equal(got, all) || g.ETag != h.ETag {
		t.Fatalf("moved: %d bytes, ETag %s, want %s", len(got), g.ETag, h.ETag)
	}
}

// Writers racing on one key, each with Sys that needs a record: the object
// that wins always has its own (the record is replaced conditionally).
func TestRecordRace(t *testing.T) {
	servers(t, func(t *testing.T, srv server) {
		ctx := t.Context()
		b := newBackend(t, srv.cfg)
		bucket := backendtest.NewBucket(t, b)
		for round := range 3 {
			var wg sync.WaitGroup
			for w := range 6 {
				wg.Go(func() {
					data := []byte(fmt.Sprintf("writer %d round %d", w, round))
					m := backends.Meta{Sys: map[string]string{"sse-key": strings.Repeat(strconv.Itoa(w), 2100)}}
					if _, err := b.PutObject(ctx, bucket, "hot", &hashReader{r: bytes.NewReader(data), meta: &m}, backends.PutOptions{Meta: &m}); err != nil {
						t.Errorf("PutObject: %v", err)
					}
				})
			}
			wg.Wait()
			got, info := get(t, b, bucket, "hot")
			var w, r int
			fmt.Sscanf(string(got), "writer %d round %d", &w, &r)
			if r != round || info.Sys["sse-key"] != strings.Repeat(strconv.Itoa(w), 2100) {
				t.Fatalf("round %d: the object of writer %d has Sys %.10q...", round, w, info.Sys["sse-key"])
			}
		}
	})
}

// ignoresCompleteConditions is a backend behind Strata's S3 API that drops
// the conditions of a completion, as a service that ignores them does.
type ignoresCompleteConditions struct{ backends.Backend }

func (b ignoresCompleteConditions) CompleteMultipartUpload(ctx context.Context, bucket, key, id string, parts []int, opts backends.PutOptions) (backends.ObjectInfo, error) {
	opts.IfMatch, opts.IfNoneMatch = "", false
	return b.Backend.CompleteMultipartUpload(ctx, bucket, key, id, parts, opts)
}

// Over a service that ignores the conditions of a completion, the HEAD
// before it still refuses a completion whose condition does not hold
// (conditional_writes emulate, and native as a first check), and the
// upload stays.
func TestConditionalCompleteIgnored(t *testing.T) {
	store, err := dir.Open(t.TempDir(), dir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	srv := httptest.NewServer(s3api.New(s3api.Config{
		Backend:     ignoresCompleteConditions{store},
		Credentials: map[string]string{testAccess: testSecret},
	}))
	t.Cleanup(srv.Close)
	for _, mode := range []string{"emulate", "native"} {
		t.Run(mode, func(t *testing.T) {
			ctx := t.Context()
			b := newBackend(t, Config{Endpoint: srv.URL, AccessKey: testAccess, SecretKey: testSecret, PathStyle: true, ConditionalWrites: mode})
			bucket := backendtest.NewBucket(t, b)
			old := put(t, b, bucket, "k", []byte("old"), backends.Meta{})
			id, err := b.CreateMultipartUpload(ctx, bucket, "k", backends.Meta{})
			if err != nil {
				t.Fatal(err)
			}
			var pm backends.Meta
			p, err := b.UploadPart(ctx, bucket, "k", id, 1, &hashReader{r: strings.NewReader("new"), meta: &pm}, &pm)
			if err != nil {
				t.Fatal(err)
			}
			final := backends.Meta{Parts: []backends.PartInfo{p}}
			for _, c := range []struct {
				opts backends.PutOptions
				kind backends.Kind
			}{
				{backends.PutOptions{IfNoneMatch: true}, backends.PreconditionFailed},
				{backends.PutOptions{IfMatch: md5hex([]byte("other"))}, backends.PreconditionFailed},
			} {
				c.opts.Meta = &final
				if _, err := b.CompleteMultipartUpload(ctx, bucket, "k", id, []int{1}, c.opts); !backends.Is(err, c.kind) {
					t.Fatalf("CompleteMultipartUpload(%+v): %v, want kind %v", c.opts, err, c.kind)
				}
			}
			aid, err := b.CreateMultipartUpload(ctx, bucket, "absent", backends.Meta{})
			if err != nil {
				t.Fatal(err)
			}
			var am backends.Meta
			ap, err := b.UploadPart(ctx, bucket, "absent", aid, 1, &hashReader{r: strings.NewReader("a"), meta: &am}, &am)
			if err != nil {
				t.Fatal(err)
			}
			afinal := backends.Meta{Parts: []backends.PartInfo{ap}}
			if _, err := b.CompleteMultipartUpload(ctx, bucket, "absent", aid, []int{1}, backends.PutOptions{Meta: &afinal, IfMatch: old.ETag}); !backends.Is(err, backends.NoSuchKey) {
				t.Fatalf("CompleteMultipartUpload(IfMatch, absent): %v, want NoSuchKey", err)
			}
			if _, err := b.HeadObject(ctx, bucket, "absent"); !backends.Is(err, backends.NoSuchKey) {
				t.Fatalf("a refused IfMatch created the object: %v", err)
			}
			if got, _ := get(t, b, bucket, "k"); string(got) != "old" {
				t.Fatalf("refused completions changed the object: %q", got)
			}
			if _, parts, err := b.ListParts(ctx, bucket, "k", id); err != nil || len(parts) != 1 {
				t.Fatalf("the upload is not kept: %+v, %v", parts, err)
			}
			if _, err := b.CompleteMultipartUpload(ctx, bucket, "k", id, []int{1}, backends.PutOptions{Meta: &final, IfMatch: old.ETag}); err != nil {
				t.Fatalf("CompleteMultipartUpload(IfMatch right): %v", err)
			}
			if got, _ := get(t, b, bucket, "k"); string(got) != "new" {
				t.Fatalf("completed object: %q", got)
			}
		})
	}
}
