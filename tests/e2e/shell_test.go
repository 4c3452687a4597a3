package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// runStrata runs the binary with args and returns its combined output.
func runStrata(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, strataBin, args...).CombinedOutput()
	return string(out), err
}

var flagRE = regexp.MustCompile(`(?m)^\s+--?([a-z][a-z0-9-]*)`)

// TestHelp: `strata --help` explains every flag of `strata server`.
func TestHelp(t *testing.T) {
	top, err := runStrata(t, "--help")
	if err != nil {
		t.Fatalf("strata --help: %v\n%s", err, top)
	}
	srv, err := runStrata(t, "server", "--help")
	if err != nil {
		t.Fatalf("strata server --help: %v\n%s", err, srv)
	}
	var flags []string
	for _, m := range flagRE.FindAllStringSubmatch(srv, -1) {
		if f := m[1]; f != "help" && f != "h" && !slices.Contains(flags, f) {
			flags = append(flags, f)
		}
	}
	for _, want := range []string{"address", "domain", "certs-dir"} {
		if !slices.Contains(flags, want) {
			t.Errorf("strata server --help does not list --%s; it lists %v:\n%s", want, flags, srv)
		}
	}
	for _, f := range flags {
		if !regexp.MustCompile(`(^|[\s,\[])--?` + regexp.QuoteMeta(f) + `\b`).MatchString(top) {
			t.Errorf("strata --help does not mention --%s (listed by strata server --help)", f)
		}
	}
	for _, word := range []string{"server", "version", "STRATA_ROOT_USER", "STRATA_ROOT_PASSWORD"} {
		if !strings.Contains(top, word) {
			t.Errorf("strata --help does not mention %s", word)
		}
	}
	if t.Failed() {
		t.Logf("strata --help:\n%s", top)
	}
}

func TestVersion(t *testing.T) {
	out, err := runStrata(t, "version")
	if err != nil {
		t.Fatalf("strata version: %v\n%s", err, out)
	}
	if strings.TrimSpace(out) == "" || !regexp.MustCompile(`\d|dev`).MatchString(out) {
		t.Errorf("strata version printed %q, want a version", out)
	}
	t.Logf("strata version: %s", strings.TrimSpace(out))
}

// TestUsageErrors: wrong invocations fail with a message, not a panic.
func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"server"},
		{"server", "--no-such-flag", t.TempDir()},
		{"server", "--worm", "on", t.TempDir()}, // the value needs '='
		{"no-such-command"},
	} {
		out, err := runStrata(t, args...)
		if len(args) > 1 && args[1] == "--worm" && !strings.Contains(out, "--auto-encryption=on") {
			t.Errorf("strata %s: %q, want the hint about '='", strings.Join(args, " "), out)
		}
		var ee *exec.ExitError
		if err == nil || !errors.As(err, &ee) || ee.ExitCode() <= 0 {
			t.Errorf("strata %s: %v, want a non-zero exit\n%s", strings.Join(args, " "), err, out)
		}
		if strings.Contains(out, "panic:") || strings.TrimSpace(out) == "" {
			t.Errorf("strata %s printed %q, want a usage message", strings.Join(args, " "), out)
		}
	}
}

// TestStartup: health endpoints without auth, credentials printed with a
// warning, a request id on every answer.
func TestStartup(t *testing.T) {
	s := startServer(t)
	hc := s.HTTPClient()
	for _, p := range []string{"/health/live", "/health/ready"} {
		for _, method := range []string{"GET", "HEAD"} {
			req, _ := http.NewRequest(method, s.URL+p, nil)
			resp, err := hc.Do(req)
			must(t, err, method+" "+p)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("%s %s without auth: HTTP %d, want 200", method, p, resp.StatusCode)
			}
		}
	}
	logs := s.Logs()
	if !strings.Contains(logs, accessKey) {
		t.Errorf("the start-up output does not show the access key %q:\n%s", accessKey, logs)
	}
	r := s.do(t, rawReq{method: "GET", target: "/"})
	wantRaw(t, "ListBuckets", r, 200, "")
	if r.Header.Get("X-Amz-Request-Id") == "" {
		t.Errorf("no x-amz-request-id on a successful answer: %v", r.Header)
	}

	// Default credentials when none are set: printed with a warning.
	addr := freeAddr(t)
	cmd := exec.Command(strataBin, "server", "--address", addr, t.TempDir())
	var out logBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "STRATA_") })
	must(t, cmd.Start(), "start with default credentials")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && !strings.Contains(out.String(), "strataadmin") {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("strata with default credentials exited with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Errorf("strata with default credentials did not stop on SIGTERM")
	}
	o := out.String()
	if !strings.Contains(o, "strataadmin") || !regexp.MustCompile(`(?i)warn|change`).MatchString(o) {
		t.Errorf("with default credentials the output should show strataadmin and a warning to change them:\n%s", o)
	}
}

// TestGracefulShutdown: SIGTERM lets a request in flight finish, then the
// server exits 0; the object is there after a restart.
func TestGracefulShutdown(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	must(t, os.MkdirAll(dir, 0o755), "mkdir")
	s := startServer(t, withDir(dir))
	c := s.S3(t)
	b := newBucket(t, c)
	data := randBytes(77, 4<<20)

	pr, pw := io.Pipe()
	req, _ := http.NewRequest("PUT", s.URL+"/"+b+"/inflight.bin", pr)
	req.ContentLength = int64(len(data))
	defaultSigner().signRequest(req, unsignedPayload, time.Now())
	type result struct {
		status int
		body   []byte
		err    error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := s.HTTPClient().Do(req)
		if err != nil {
			res <- result{err: err}
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		res <- result{status: resp.StatusCode, body: body}
	}()
	half := len(data) / 2
	if _, err := pw.Write(data[:half]); err != nil {
		t.Fatalf("writing the first half: %v", err)
	}
	time.Sleep(300 * time.Millisecond)
	s.Terminate()
	time.Sleep(500 * time.Millisecond)
	select {
	case <-s.done:
		t.Fatalf("strata exited with a request in flight: %v", s.cmd.ProcessState)
	default:
	}
	if _, err := pw.Write(data[half:]); err != nil {
		t.Fatalf("writing the second half after SIGTERM: %v", err)
	}
	pw.Close()
	r := <-res
	if r.err != nil || r.status != 200 {
		t.Fatalf("PUT in flight during SIGTERM: %v HTTP %d\n%s", r.err, r.status, r.body)
	}
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("strata did not exit within 30s of SIGTERM once idle")
	}
	s.Stop() // checks the exit status
	if _, err := http.Get(s.URL + "/health/live"); err == nil {
		t.Errorf("still answering after exit")
	}

	s2 := startServer(t, withDir(dir))
	wantObject(t, s2.S3(t), b, "inflight.bin", data)
}

// TestDirectoryTree: a folder with files in it before Strata starts is served
// as buckets and objects; what clients write lands as plain files.
func TestDirectoryTree(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nas")
	files := map[string][]byte{
		"photos/2024/beach.jpg": randBytes(1, 150<<10),
		"photos/2024/city.jpg":  randBytes(2, 10<<10),
		"photos/readme.txt":     []byte("holiday photos\n"),
		"docs/a/b/c/deep.md":    []byte("# deep\n"),
	}
	for rel, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		must(t, os.MkdirAll(filepath.Dir(p), 0o755), "mkdir")
		must(t, os.WriteFile(p, data, 0o644), "write")
	}
	must(t, os.MkdirAll(filepath.Join(dir, "empty-bucket"), 0o755), "mkdir")
	s := startServer(t, withDir(dir))
	c := s.S3(t)
	ctx := ctxT(t)

	lb, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	must(t, err, "ListBuckets")
	var names []string
	for _, x := range lb.Buckets {
		names = append(names, aws.ToString(x.Name))
	}
	if !slices.Equal(names, []string{"docs", "empty-bucket", "photos"}) {
		t.Errorf("ListBuckets = %v, want [docs empty-bucket photos]", names)
	}

	if keys := listAll(t, c, "photos", ""); !slices.Equal(keys, []string{"2024/beach.jpg", "2024/city.jpg", "readme.txt"}) {
		t.Errorf("photos: %q", keys)
	}
	if keys := listAll(t, c, "docs", ""); !slices.Equal(keys, []string{"a/b/c/deep.md"}) {
		t.Errorf("docs: %q", keys)
	}
	if keys := listAll(t, c, "empty-bucket", ""); len(keys) != 0 {
		t.Errorf("empty-bucket: %q", keys)
	}
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("photos"), Delimiter: aws.String("/")})
	must(t, err, "ListObjectsV2 delimiter")
	if len(out.CommonPrefixes) != 1 || aws.ToString(out.CommonPrefixes[0].Prefix) != "2024/" || len(out.Contents) != 1 {
		t.Errorf("photos with delimiter: %d prefixes, %d objects", len(out.CommonPrefixes), len(out.Contents))
	}
	wantObject(t, c, "photos", "2024/beach.jpg", files["photos/2024/beach.jpg"])

	// A stable ETag for files found on disk, the same in HEAD, GET and LIST.
	etag := func() string {
		h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("photos"), Key: aws.String("readme.txt")})
		must(t, err, "HeadObject")
		if aws.ToInt64(h.ContentLength) < 0 {
			t.Fatal("negative length")
		}
		return aws.ToString(h.ETag)
	}
	e1, e2 := etag(), etag()
	if e1 == "" || e1 != e2 {
		t.Errorf("ETag of a file found on disk: %q then %q, want one stable value", e1, e2)
	}
	lo, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("photos"), Prefix: aws.String("readme.txt")})
	must(t, err, "ListObjectsV2")
	if len(lo.Contents) != 1 || aws.ToString(lo.Contents[0].ETag) != e1 || aws.ToInt64(lo.Contents[0].Size) != int64(len(files["photos/readme.txt"])) {
		t.Errorf("listing of readme.txt: %+v, want ETag %s", lo.Contents, e1)
	}

	// Changed behind Strata's back: new size, new ETag.
	p := filepath.Join(dir, "photos", "readme.txt")
	must(t, os.WriteFile(p, []byte("holiday photos, edited on the NAS\n"), 0o644), "edit")
	later := time.Now().Add(2 * time.Second)
	must(t, os.Chtimes(p, later, later), "chtimes")
	if e3 := etag(); e3 == e1 {
		t.Errorf("ETag unchanged (%s) after the file changed on disk", e3)
	}
	wantObject(t, c, "photos", "readme.txt", []byte("holiday photos, edited on the NAS\n"))

	// A file dropped in while running is an object at once.
	must(t, os.WriteFile(filepath.Join(dir, "photos", "dropped.txt"), []byte("dropped"), 0o644), "drop")
	wantObject(t, c, "photos", "dropped.txt", []byte("dropped"))

	// What clients write is a plain file at the key's path.
	putBytes(t, c, "photos", "2025/new/x.txt", []byte("from S3"))
	np := filepath.Join(dir, "photos", "2025", "new", "x.txt")
	got, err := os.ReadFile(np)
	if err != nil || string(got) != "from S3" {
		t.Errorf("%s: %q %v", np, got, err)
	}
	if fi, err := os.Stat(np); err == nil && fi.Mode().Perm()&0o044 != 0o044 {
		t.Errorf("%s has mode %v: others with the share cannot read it", np, fi.Mode().Perm())
	}

	// Deleting the last object under a prefix leaves no empty prefix behind.
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("photos"), Key: aws.String("2025/new/x.txt")})
	must(t, err, "DeleteObject")
	if _, err := os.Stat(np); !os.IsNotExist(err) {
		t.Errorf("%s still exists after DeleteObject (%v)", np, err)
	}
	out, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("photos"), Delimiter: aws.String("/")})
	must(t, err, "ListObjectsV2 delimiter")
	for _, cp := range out.CommonPrefixes {
		if aws.ToString(cp.Prefix) == "2025/" {
			t.Errorf("prefix 2025/ still listed after its only object was deleted")
		}
	}

	// Key a and key a/b cannot both be files: the second is refused, the
	// first kept.
	putBytes(t, c, "docs", "clash", []byte("file"))
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("docs"), Key: aws.String("clash/inner"), Body: strings.NewReader("x")})
	if err == nil {
		t.Errorf("PUT clash/inner succeeded while clash is a file")
	} else if s := errStatus(err); s < 400 || s > 499 {
		t.Errorf("PUT clash/inner while clash is a file: %v, want a 4xx error", err)
	}
	wantObject(t, c, "docs", "clash", []byte("file"))

	// Strata's own state stays out of every listing.
	if keys := listAll(t, c, "photos", ""); slices.ContainsFunc(keys, func(k string) bool { return strings.Contains(k, ".strata") }) {
		t.Errorf("listing shows Strata's state: %q", keys)
	}
	lb, err = c.ListBuckets(ctx, &s3.ListBucketsInput{})
	must(t, err, "ListBuckets")
	for _, x := range lb.Buckets {
		if strings.HasPrefix(aws.ToString(x.Name), ".") {
			t.Errorf("ListBuckets shows %s", aws.ToString(x.Name))
		}
	}
	// The files that were there are untouched.
	for rel, data := range files {
		if rel == "photos/readme.txt" {
			continue
		}
		if got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel))); err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s changed on disk (%v)", rel, err)
		}
	}
}
