//go:build linux

package mount

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"
)

const (
	accessKey = "mount-access-key"
	secretKey = "mount-secret-key-0123456789"
	region    = "us-east-1"
)

// strataBin is the binary built once by TestMain.
var strataBin string

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "AWS_") || strings.HasPrefix(name, "STRATA_") {
			os.Unsetenv(name)
		}
	}
	os.Setenv("AWS_CONFIG_FILE", os.DevNull)
	os.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	var missing []string
	if _, err := exec.LookPath("fusermount3"); err != nil {
		missing = append(missing, "fusermount3 (apt-get install fuse3, or run tests/install-deps.sh)")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		missing = append(missing, "/dev/fuse")
	}
	if len(missing) > 0 {
		fmt.Fprintf(os.Stderr, "tests/mount: cannot mount FUSE file systems here; missing: %s\n", strings.Join(missing, ", "))
		return 1
	}

	dir, err := os.MkdirTemp("", "strata-mount-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "tests/mount:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	strataBin = filepath.Join(dir, "strata")
	start := time.Now()
	out, err := exec.Command("go", "build", "-o", strataBin, "github.com/strata-storage/strata/cmd/strata").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "tests/mount: building ./cmd/strata failed: %v\n%s", err, out)
		return 1
	}
	fmt.Fprintf(os.Stderr, "tests/mount: built %s in %v\n", strataBin, time.Since(start).Round(time.Millisecond))
	return m.Run()
}

// logBuffer collects a process's output.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 4<<20 {
		b.buf.Reset()
		b.buf.WriteString("[...]\n")
	}
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is a strata process started by a test.
type proc struct {
	cmd  *exec.Cmd
	logs *logBuffer
	done chan struct{}
}

func startProc(t testing.TB, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(strataBin, args...), logs: &logBuffer{}, done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting strata %s: %v", strings.Join(args, " "), err)
	}
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits up to d for the process to exit.
func (p *proc) wait(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// server is a running `strata server`.
type server struct {
	*proc
	Dir, Addr, URL string
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startServer serves a fresh temp directory (or dir) on a free port and
// waits until it is ready; the test's end stops it.
func startServer(t testing.TB, dir string) *server {
	t.Helper()
	if dir == "" {
		dir = filepath.Join(t.TempDir(), "data")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s := &server{Dir: dir}
	s.Addr = freeAddr(t)
	s.URL = "http://" + s.Addr
	s.proc = startProc(t, []string{"STRATA_ROOT_USER=" + accessKey, "STRATA_ROOT_PASSWORD=" + secretKey},
		"server", "--address", s.Addr, dir)
	t.Cleanup(func() {
		s.cmd.Process.Signal(syscall.SIGCONT)
		s.cmd.Process.Signal(syscall.SIGTERM)
		if !s.wait(30 * time.Second) {
			s.cmd.Process.Kill()
			t.Errorf("strata server did not stop within 30s of SIGTERM")
		}
		if t.Failed() {
			t.Logf("server log:\n%s", tail(s.logs.String(), 8<<10))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		if s.exited() || time.Now().After(deadline) {
			t.Fatalf("strata server not ready (%v); log:\n%s", err, s.logs.String())
		}
		time.Sleep(30 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "[...]" + s[len(s)-n:]
	}
	return s
}

// S3 is an SDK client for the server.
func (s *server) S3(t testing.TB, opts ...func(*s3.Options)) *s3.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion(region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(accessKey, secretKey, "")))
	if err != nil {
		t.Fatal(err)
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(s.URL)
		o.UsePathStyle = true
		o.Logger = logging.Nop{}
		for _, f := range opts {
			f(o)
		}
	})
}

// bucket creates a bucket.
func (s *server) bucket(t testing.TB, name string) string {
	t.Helper()
	_, err := s.S3(t).CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String(name)})
	if err != nil {
		t.Fatalf("CreateBucket %s: %v", name, err)
	}
	return name
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return c
}

// mounted is a running `strata mount --foreground`.
type mounted struct {
	*proc
	Dir string
	t   testing.TB
}

// mountBucket mounts what (BUCKET or BUCKET/PREFIX) of the server at a new
// directory with `strata mount --endpoint --foreground` and extra flags,
// and waits until the kernel shows the mount. The test's end unmounts it
// and checks that the process exits 0.
func mountBucket(t testing.TB, s *server, what string, flags ...string) *mounted {
	t.Helper()
	args := append([]string{"mount", "--foreground", "--endpoint", s.URL, "--log-level", "info",
		"--cache-dir", t.TempDir()}, flags...)
	return mountArgs(t, []string{"AWS_ACCESS_KEY_ID=" + accessKey, "AWS_SECRET_ACCESS_KEY=" + secretKey}, what, args...)
}

func mountArgs(t testing.TB, env []string, what string, args ...string) *mounted {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mnt")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	m := &mounted{Dir: dir, t: t}
	m.proc = startProc(t, env, append(args, what, dir)...)
	t.Cleanup(func() { m.unmount() })
	deadline := time.Now().Add(30 * time.Second)
	for !isMounted(dir) {
		if m.exited() || time.Now().After(deadline) {
			t.Fatalf("strata mount did not mount %s; log:\n%s", dir, m.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return m
}

// isMounted reports whether dir is a mount point now.
func isMounted(dir string) bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && fields[4] == dir {
			return true
		}
	}
	return false
}

// unmount unmounts with fusermount3 -u (retrying while busy) and checks
// that the mount process then exits with status 0.
func (m *mounted) unmount() {
	t := m.t
	if m.exited() {
		return
	}
	deadline := time.Now().Add(30 * time.Second)
	for isMounted(m.Dir) {
		out, err := exec.Command("fusermount3", "-u", m.Dir).CombinedOutput()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("fusermount3 -u %s: %v: %s", m.Dir, err, out)
			exec.Command("fusermount3", "-u", "-z", m.Dir).Run()
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !m.wait(60 * time.Second) {
		m.cmd.Process.Kill()
		t.Errorf("strata mount did not exit within 60s of the unmount")
	} else if code := m.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("strata mount exited with %v after the unmount; log:\n%s", m.cmd.ProcessState, tail(m.logs.String(), 8<<10))
	}
	if t.Failed() {
		t.Logf("mount log:\n%s", tail(m.logs.String(), 8<<10))
	}
}

// path is a path inside the mount.
func (m *mounted) path(elem ...string) string {
	return filepath.Join(append([]string{m.Dir}, elem...)...)
}

// sh runs a shell script in dir and fails the test on error.
func sh(t testing.TB, dir, script string) string {
	t.Helper()
	out, err := shErr(dir, script)
	if err != nil {
		t.Fatalf("sh -c %q: %v\n%s", script, err, out)
	}
	return out
}

func shErr(dir, script string) (string, error) {
	c, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(c, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// randBytes returns n pseudo-random bytes, the same for the same seed.
func randBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	rand.NewChaCha8(s).Read(b)
	return b
}

// writeRandomFile writes n pseudo-random bytes to path, streaming.
func writeRandomFile(t testing.TB, path string, seed uint64, n int64) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(rand.NewChaCha8(s), n)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func sha256File(t testing.TB, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func getObject(t testing.TB, c *s3.Client, bucket, key string) []byte {
	t.Helper()
	out, err := c.GetObject(ctx(t), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GetObject %s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func putObject(t testing.TB, c *s3.Client, bucket, key string, data []byte) {
	t.Helper()
	_, err := c.PutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatalf("PutObject %s/%s: %v", bucket, key, err)
	}
}

// keys lists every key under prefix.
func keys(t testing.TB, c *s3.Client, bucket, prefix string) []string {
	t.Helper()
	var out []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx(t))
		if err != nil {
			t.Fatalf("ListObjectsV2 %s: %v", bucket, err)
		}
		for _, o := range page.Contents {
			out = append(out, aws.ToString(o.Key))
		}
	}
	return out
}

// timed logs how long f took.
func timed(t testing.TB, what string, f func()) time.Duration {
	t.Helper()
	start := time.Now()
	f()
	d := time.Since(start)
	t.Logf("%s: %v", what, d.Round(time.Millisecond))
	return d
}
